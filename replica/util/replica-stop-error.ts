/**
 * A condition under which a replica must stop, which is neither a bug nor a storage failure: its message is the one
 * line the replica stops with, saying what is wrong and what to do (e.g. "this log holds a command from a newer
 * Quorum ...: upgrade this replica"). Isomorphic: no imports.
 */
export class ReplicaStopError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReplicaStopError';
  }
}

/**
 * The replica is too old for its data or its cluster: a data folder written by a newer Quorum (state.db or raft.db of
 * a newer schema), a cluster that moved to a version this replica does not support, or a log entry only a newer
 * release can apply. Upgrading this replica is the fix; the host stops it with its own exit status (VERSION).
 */
export class VersionStopError extends ReplicaStopError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VersionStopError';
  }
}
