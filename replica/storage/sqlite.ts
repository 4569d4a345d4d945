/**
 * Opens a SQLite database with the pragmas every durable Quorum store uses:
 * WAL (readers never block the writer), synchronous=FULL (a commit returns only after the WAL is fsynced,
 * so an acknowledged write survives power loss), a busy timeout, and foreign keys on.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

export type Db = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** Milliseconds to wait on a lock held by another connection (default 5000). */
  busyTimeoutMs?: number;
  /**
   * FULL (default): every commit is fsynced. NORMAL: the WAL is fsynced at checkpoints only — for state that can be
   * rebuilt from a FULL store (the chat state, replayed from the Raft log).
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Page size of a new file (ignored for an existing one). */
  pageSize?: number;
  /** Most KiB of pages the connection keeps in memory (SQLite's cache_size; better-sqlite3's default is 16,000). */
  cacheKiB?: number;
}

export function openSqlite(file: string, options: OpenOptions = {}): Db {
  if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    if (!options.readonly) {
      if (options.pageSize) db.pragma(`page_size = ${options.pageSize}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`${file}: cannot enable WAL (journal_mode=${String(mode)})`);
    }
    db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    if (options.cacheKiB !== undefined) db.pragma(`cache_size = ${-Math.max(1, Math.floor(options.cacheKiB))}`);
    db.pragma('foreign_keys = ON');
    // Statement journals of savepoints (one per applied command) in memory, not in temporary files.
    db.pragma('temp_store = MEMORY');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** fsync a file or a directory (directories: so a rename or unlink inside it is durable). */
export function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
