// openSqlite's durability settings, read back from SQLite itself: WAL, synchronous FULL unless NORMAL is asked for,
// the busy timeout, foreign keys, in-memory statement journals; read-only opens; fsyncPath on files and folders.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncPath, openSqlite, type Db } from '../../replica/storage/sqlite.js';

let dir: string;
const open: Db[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-sqlite-'));
});
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function opened(db: Db): Db {
  open.push(db);
  return db;
}

const pragma = (db: Db, name: string) => db.pragma(name, { simple: true });

describe('openSqlite', () => {
  it('opens a durable store: WAL, synchronous FULL, 5 s busy timeout, foreign keys, statement journals in memory', () => {
    const file = path.join(dir, 'nested', 'folder', 'x.db'); // the folder is created
    const db = opened(openSqlite(file));
    expect(fs.existsSync(file)).toBe(true);
    expect(pragma(db, 'journal_mode')).toBe('wal');
    expect(pragma(db, 'synchronous')).toBe(2); // FULL
    expect(pragma(db, 'busy_timeout')).toBe(5000);
    expect(pragma(db, 'foreign_keys')).toBe(1);
    expect(pragma(db, 'temp_store')).toBe(2); // MEMORY
  });

  it('keeps better-sqlite3\'s 16 MB page cache unless given a size in KiB', () => {
    expect(pragma(opened(openSqlite(path.join(dir, 'a.db'))), 'cache_size')).toBe(-16000);
    expect(pragma(opened(openSqlite(path.join(dir, 'b.db'), { cacheKiB: 2048 })), 'cache_size')).toBe(-2048);
    expect(pragma(opened(openSqlite(path.join(dir, 'b.db'), { readonly: true, cacheKiB: 0.5 })), 'cache_size')).toBe(-1);
  });

  it('takes synchronous NORMAL and a busy timeout when asked (negative or fractional timeouts are clamped)', () => {
    const db = opened(openSqlite(path.join(dir, 'a.db'), { synchronous: 'NORMAL', busyTimeoutMs: 1234.9 }));
    expect(pragma(db, 'synchronous')).toBe(1); // NORMAL
    expect(pragma(db, 'busy_timeout')).toBe(1234);
    expect(pragma(opened(openSqlite(path.join(dir, 'b.db'), { busyTimeoutMs: -5 })), 'busy_timeout')).toBe(0);
    expect(pragma(opened(openSqlite(path.join(dir, 'c.db'), { synchronous: 'FULL' })), 'synchronous')).toBe(2);
  });

  it('opens read-only: reads work, writes are refused, and a missing file is not created', () => {
    const file = path.join(dir, 'r.db');
    const writer = opened(openSqlite(file));
    writer.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7)');
    const reader = opened(openSqlite(file, { readonly: true }));
    expect(reader.prepare('SELECT x FROM t').get()).toEqual({ x: 7 });
    expect(() => reader.exec('INSERT INTO t VALUES (8)')).toThrow(/readonly/);
    expect(() => openSqlite(path.join(dir, 'missing', 'r.db'), { readonly: true })).toThrow();
    expect(fs.existsSync(path.join(dir, 'missing'))).toBe(false);
  });

  it('opens a read-only connection to a file in rollback-journal mode without trying to switch it to WAL', () => {
    const file = path.join(dir, 'legacy.db');
    const plain = new Database(file);
    plain.pragma('journal_mode = DELETE');
    plain.exec('CREATE TABLE t (x INTEGER)');
    plain.close();
    const reader = opened(openSqlite(file, { readonly: true }));
    expect(pragma(reader, 'journal_mode')).toBe('delete');
  });

  it('refuses a database that cannot use WAL, naming it', () => {
    expect(() => openSqlite(':memory:')).toThrow(/^:memory:: cannot enable WAL \(journal_mode=memory\)$/);
  });

  it('enforces foreign keys', () => {
    const db = opened(openSqlite(path.join(dir, 'fk.db')));
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id))');
    expect(() => db.exec('INSERT INTO child VALUES (1)')).toThrow(/FOREIGN KEY/);
  });
});

describe('fsyncPath', () => {
  it('syncs a file and a folder, and throws for a missing path', () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    expect(() => fsyncPath(file)).not.toThrow();
    expect(() => fsyncPath(dir)).not.toThrow();
    expect(() => fsyncPath(path.join(dir, 'missing'))).toThrow(/ENOENT/);
    // Every descriptor it opens is closed again.
    const descriptors = () => fs.readdirSync('/proc/self/fd').length;
    const before = descriptors();
    for (let i = 0; i < 20; i++) fsyncPath(file);
    expect(descriptors()).toBe(before);
  });
});
