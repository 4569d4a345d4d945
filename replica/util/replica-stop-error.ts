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
