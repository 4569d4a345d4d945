/**
 * Recognising a full disk, and asking a filesystem how much room is left. A write that fails for lack of space is not
 * a bug: the replica stops with one line that says to free space (node/exit-status.ts), and hosts (the `replica`
 * CLI, the desktop app) wait for space instead of restarting it in a loop.
 */
import Database from 'better-sqlite3';
import { statfsSync } from 'node:fs';

/** Room on the filesystem holding a folder. */
export interface FilesystemSpace {
  /** Bytes an unprivileged writer may still use. */
  freeBytes: number;
  /** Size of the filesystem. */
  totalBytes: number;
}

/** Room on the filesystem holding `dir`; null where it cannot be asked (no statfs on that platform or path). */
export function filesystemSpace(dir: string): FilesystemSpace | null {
  try {
    const fs = statfsSync(dir);
    return { freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
  } catch {
    // the caller then has the error code alone to go by
    return null;
  }
}

/** Below this many free bytes an I/O error while writing is taken for a full disk (SQLite may say IOERR on ENOSPC). */
const NEARLY_FULL_BYTES = 1024 * 1024;

/** The errno and SQLite codes that say "no space left" outright. */
const FULL_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** `err` and the errors it was caused by (`cause`), outermost first. */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * Whether `err` (or an error it was caused by: the driver's stop keeps the SqliteError as its cause) means that a
 * filesystem is full: SQLITE_FULL, ENOSPC, EDQUOT, or the DISK_FULL stop of a replica. With `dataDir`, a SQLite I/O
 * error also counts when that folder's filesystem has (nearly) no room left.
 */
export function isDiskFull(err: unknown, dataDir?: string): boolean {
  const chain = causeChain(err);
  if (chain.some((e) => FULL_CODES.has(codeOf(e)) || codeOf(e) === 'DISK_FULL')) return true;
  if (dataDir === undefined) return false;
  const ioError = chain.some((e) => e instanceof Database.SqliteError && e.code.startsWith('SQLITE_IOERR'));
  if (!ioError) return false;
  const space = filesystemSpace(dataDir);
  return space !== null && space.freeBytes < NEARLY_FULL_BYTES;
}

/** The one line a replica on a full disk stops with. */
export function diskFullMessage(dataDir: string): string {
  return `disk full at ${dataDir}: stopped; free space and restart`;
}
