/**
 * Why a replica stopped (or refused to start) by itself when the reason is a condition of its machine or its data, not
 * a bug, and the exit status each reason gives the `replica` process: a host (the `replica` CLI, the desktop app's
 * utility process, systemd) can then tell "free some space" from "stop the other process" from "rebuild this replica"
 * from "restart me". docs/operations.md "Exit statuses" lists them; keep both in step.
 */
import { DamagedLogError } from '../storage/log-segments.js';
import { LogDivergenceError } from '../raft/log.js';
import { DataFolderInUseError } from '../storage/folder-lock.js';
import { causeChain, diskFullMessage, isDiskFull } from '../storage/disk-full.js';
import { ReplicaStopError, VersionStopError } from '../util/replica-stop-error.js';

export type ReplicaStopCode = 'DISK_FULL' | 'DATA_FOLDER_IN_USE' | 'DAMAGED' | 'VERSION';

/** A stop whose `message` is the whole story (no stack trace helps the operator); `code` says what to do. */
export class ReplicaStop extends ReplicaStopError {
  constructor(
    readonly code: ReplicaStopCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReplicaStop';
  }
}

/** Exit statuses of `replica` (and of the desktop app's replica process). */
export const EXIT_STATUS = {
  /** Stopped on request (SIGTERM, SIGINT, the host's stop). */
  stopped: 0,
  /** Any other failure: the message says what. */
  failed: 1,
  /** Invalid command line or secret file: nothing was started. */
  invalid: 2,
  /** The data folder's filesystem is full: free space, then restart (restarting before only fails again). */
  DISK_FULL: 3,
  /** Another process holds the data folder (<dataDir>/LOCK): stop that one first. */
  DATA_FOLDER_IN_USE: 4,
  /** The data folder holds damaged or diverged data: rebuild the replica (docs/operations.md "A damaged replica"). */
  DAMAGED: 5,
  /**
   * This replica is too old for its data folder (written by a newer Quorum) or for its cluster (which moved to a newer
   * version, or logged a command only a newer release applies): upgrade this replica, then restart it.
   */
  VERSION: 6,
} as const satisfies Record<'stopped' | 'failed' | 'invalid' | ReplicaStopCode, number>;

/** The exit status for the error a replica stopped (or failed to start) with; null: it stopped on request. */
export function exitStatusOf(err: Error | null): number {
  if (!err) return EXIT_STATUS.stopped;
  return err instanceof ReplicaStop ? EXIT_STATUS[err.code] : EXIT_STATUS.failed;
}

/**
 * The stop an error means, when it is one of the conditions above (disk full, data folder in use, damaged or diverged
 * data, a replica too old for its data or cluster); null for anything else (a failure, whose message and stack are worth logging).
 */
export function replicaStopFor(err: unknown, dataDir: string): ReplicaStop | null {
  if (err instanceof ReplicaStop) return err;
  if (isDiskFull(err, dataDir)) return new ReplicaStop('DISK_FULL', diskFullMessage(dataDir), { cause: err });
  const chain = causeChain(err);
  const inUse = chain.find((e): e is DataFolderInUseError => e instanceof DataFolderInUseError);
  if (inUse) return new ReplicaStop('DATA_FOLDER_IN_USE', inUse.message, { cause: err });
  const version = chain.find((e): e is VersionStopError => e instanceof VersionStopError);
  if (version) return new ReplicaStop('VERSION', version.message, { cause: err });
  if (chain.some((e) => e instanceof DamagedLogError || e instanceof LogDivergenceError)) {
    return new ReplicaStop('DAMAGED', err instanceof Error ? err.message : String(err), { cause: err });
  }
  return null;
}
