/**
 * Snapshots of the chat state: the state database *is* the snapshot. writeSnapshot copies it consistently to a file;
 * installSnapshot replaces a data folder's state.db with such a file, atomically, migrating an older schema.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ConfState, SnapshotMeta } from '../raft/types.js';
import { fsyncPath, type Db } from '../storage/sqlite.js';
import { isKnownSchemaVersion, migrateSchema } from './migration.js';
import { STATE_SCHEMA_VERSION } from './schema.js';
import { readMeta, type MetaRow } from './statements.js';

function removeWithSidecars(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) fs.rmSync(f, { force: true });
}

/** The snapshot metadata of a state's meta row (conf is empty if no conf entry was ever applied). */
export function snapshotMetaOf(meta: MetaRow): SnapshotMeta {
  const conf: ConfState = meta.conf ? (JSON.parse(meta.conf) as ConfState) : { voters: [], learners: [] };
  return { index: meta.applied_index, term: meta.applied_term, conf };
}

/**
 * Writes a consistent copy of `db` to `file` with SQLite's online backup (the event loop keeps running; applies during
 * the copy are folded into it; the caller must have committed its open transaction and commit every apply at once
 * while this runs), converts it to a self-contained rollback-journal file, fsyncs it, and returns the metadata of the
 * state it holds.
 */
export async function writeSnapshot(db: Db, file: string): Promise<SnapshotMeta> {
  removeWithSidecars(file);
  await db.backup(file);
  const copy = new Database(file);
  let meta: MetaRow | undefined;
  try {
    copy.pragma('journal_mode = DELETE');
    meta = readMeta(copy);
  } finally {
    copy.close();
  }
  if (!meta) throw new Error(`snapshot ${file}: no meta row`);
  fsyncPath(file);
  fsyncPath(path.dirname(file));
  return snapshotMetaOf(meta);
}

/**
 * Replaces `<dataDir>/state.db` with a snapshot file, atomically: the snapshot is copied beside it, checked (and
 * migrated if it is of an older schema) and fsynced; the old database is checkpointed so no stale WAL can be replayed
 * onto the new file; then a rename and a directory fsync. A crash at any point leaves either the old or the new
 * state. Nothing may have the database open.
 */
export function installSnapshot(snapshotPath: string, dataDir: string): SnapshotMeta {
  fs.mkdirSync(dataDir, { recursive: true });
  const target = path.join(dataDir, 'state.db');
  const staged = `${target}.restore`;
  removeWithSidecars(staged);
  fs.copyFileSync(snapshotPath, staged);
  let meta: MetaRow | undefined;
  const check = new Database(staged);
  try {
    const version = check.pragma('user_version', { simple: true });
    // Version 0 is an empty file, never a state; older versions are migrated like a data folder would be.
    if (version === 0 || !isKnownSchemaVersion(version)) throw new Error(`snapshot ${snapshotPath}: schema version ${String(version)}`);
    check.pragma('journal_mode = DELETE');
    if (version !== STATE_SCHEMA_VERSION) migrateSchema(check, snapshotPath);
    meta = readMeta(check);
    if (!meta) throw new Error(`snapshot ${snapshotPath}: no meta row`);
  } catch (err) {
    check.close();
    fs.rmSync(staged, { force: true });
    throw err;
  }
  check.close();
  fsyncPath(staged);
  if (fs.existsSync(target)) {
    // Fold any WAL into the old file and drop it, so nothing stale can be replayed onto the new one.
    const old = new Database(target);
    try {
      old.pragma('wal_checkpoint(TRUNCATE)');
      old.pragma('journal_mode = DELETE');
    } finally {
      old.close();
    }
  }
  for (const f of [`${target}-wal`, `${target}-shm`, `${target}-journal`]) fs.rmSync(f, { force: true });
  fs.renameSync(staged, target);
  fsyncPath(dataDir);
  return snapshotMetaOf(meta);
}
