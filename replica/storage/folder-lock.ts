/**
 * One process per data folder: two replica processes on one folder would write the same raft.db and state.db
 * (chaos once found an orphaned process beside its own restart: "no such table: entries_2"). The lock is SQLite's own
 * file lock on `<dataDir>/LOCK`, taken exclusively and held for the life of the connection: fcntl locks on Linux and
 * macOS, LockFileEx on Windows, released by the operating system when the process dies (a SIGKILL or a crash leaves
 * no stale lock to clean up), and kept by a process that is merely paused (SIGSTOP, a laptop asleep), unlike locks
 * that expire by time. SQLite also refuses a second connection of the same process. `LOCK.holder` names the holder
 * (pid, replica id, since when) so a refusal can say which process to stop.
 */
import Database from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Who holds a data folder, as its holder wrote it. */
interface Holder {
  pid: number;
  id: string;
  since: string;
}

export class DataFolderInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: Holder | null,
  ) {
    const who = holder ? `process ${holder.pid} (replica ${holder.id}, since ${holder.since})` : 'another process';
    super(`data folder ${dataDir} is in use by ${who}: one replica process per data folder; stop that one first`);
    this.name = 'DataFolderInUseError';
  }
}

export class DataFolderLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly holderFile: string,
  ) {}

  /** Takes the lock on `dataDir` (which must exist) for replica `id`; throws DataFolderInUseError when it is held. */
  static acquire(dataDir: string, id: string): DataFolderLock {
    const holderFile = join(dataDir, 'LOCK.holder');
    // A short busy wait only: a holder keeps the lock for its whole life, so waiting longer would not help.
    const db = new Database(join(dataDir, 'LOCK'), { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // No journal file beside LOCK: the table it creates holds nothing worth a rollback.
      db.pragma('journal_mode = MEMORY');
      // The first write in EXCLUSIVE locking mode takes the exclusive lock and keeps it until the connection closes.
      db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lock (id INTEGER PRIMARY KEY); COMMIT');
    } catch (err) {
      db.close();
      if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY')) {
        throw new DataFolderInUseError(dataDir, readHolder(holderFile));
      }
      throw err;
    }
    const holder: Holder = { pid: process.pid, id, since: new Date().toISOString() };
    try {
      writeFileSync(holderFile, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
    } catch (err) {
      // A full disk: the start fails (and says so); it must not keep the folder locked meanwhile.
      db.close();
      throw err;
    }
    return new DataFolderLock(db, holderFile);
  }

  /** Releases the lock (idempotent). */
  release(): void {
    if (!this.db.open) return;
    rmSync(this.holderFile, { force: true });
    this.db.close();
  }
}

function readHolder(file: string): Holder | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Holder>;
    if (typeof parsed.pid === 'number' && typeof parsed.id === 'string' && typeof parsed.since === 'string') {
      return { pid: parsed.pid, id: parsed.id, since: parsed.since };
    }
  } catch {
    // the holder may not have written it yet (it writes it just after taking the lock): "another process"
  }
  return null;
}
