/**
 * Free space on the disk of the replica's data folder, as main and the replica process measure it, and how a stop on a
 * full disk is recognised. The replica's own exit-status table (integrity: replica/node/exit-status.ts, "Exit
 * statuses" in docs/operations.md) numbers a full disk 3 and its stop error carries `code: 'DISK_FULL'`; main keeps
 * the two facts it relies on here until it can import that module.
 */
import { statfsSync } from 'node:fs';

/** Exit status of a replica process that stopped because its data folder's disk is full. */
export const EXIT_DISK_FULL = 3;

/** Below this much free space the desktop warns (a banner) before the replica has to stop. */
export const LOW_DISK_BYTES = 512 * 2 ** 20;

/** True when a replica's stop error (ReplicaHandle.failure(), or a start error) says its disk is full. */
export function isDiskFullStop(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'DISK_FULL';
}

/** Free bytes for this user on the disk that holds `dir`, or null when it cannot be measured. */
export function freeBytes(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    // the folder is gone or the system has no statfs: unknown, not zero
    return null;
  }
}
