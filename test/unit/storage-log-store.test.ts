import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import { openSqlite } from '../../replica/storage/sqlite.js';
import { DamagedLogError, entryChecksum } from '../../replica/storage/log-segments.js';
import { CompactedError, UnavailableError, type Entry } from '../../replica/raft/types.js';

let dir: string;
let store: SqliteLogStore;

function ents(from: number, to: number, term: number, data = (i: number) => `cmd-${i}`): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: 'normal', data: data(i) });
  return out;
}

function reopen(): void {
  store.close();
  store = SqliteLogStore.open(dir);
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-log-'));
  store = SqliteLogStore.open(dir);
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('SqliteLogStore', () => {
  it('starts empty', () => {
    expect(store.initialState()).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, conf: { voters: [], learners: [] } });
    expect(store.firstIndex()).toBe(1);
    expect(store.lastIndex()).toBe(0);
    expect(store.term(0)).toBe(0);
    expect(store.entries(1, 1, 1000)).toEqual([]);
    expect(() => store.term(1)).toThrow(UnavailableError);
  });

  it('opens the database with WAL, synchronous=FULL and foreign keys', () => {
    const db = openSqlite(path.join(dir, 'x.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    db.close();
  });

  it('keeps a 2 MB page cache, not better-sqlite3\'s 16 MB: entries are read back from the in-memory tail', () => {
    const db = (store as unknown as { db: Database.Database }).db;
    expect(db.pragma('cache_size', { simple: true })).toBe(-2048);
  });

  it("saveUnsynced commits without synchronous=FULL and puts it back, even when the save fails: every later save waits for the disk", async () => {
    const sync = () => (store as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
    store.save({ entries: ents(1, 2, 1), hardState: { term: 1, vote: 'a', commit: 0 } });
    store.saveUnsynced({ entries: ents(3, 4, 1) });
    expect(sync()).toBe(2); // FULL
    // Passes the contract's check (starts right after the last index), then fails inside the transaction.
    expect(() => store.saveUnsynced({ entries: [...ents(5, 5, 1), ...ents(7, 7, 1)] })).toThrow(/not contiguous/);
    expect(sync()).toBe(2);
    expect(store.lastIndex()).toBe(4);
    await store.sync();
    store.close();
    expect(() => store.sync()).toThrow(/closed/);
    store = SqliteLogStore.open(dir);
    expect(store.entries(1, 5, Infinity)).toEqual(ents(1, 4, 1));
  });

  it('a new raft.db has 1 KiB pages; one made with 4 KiB pages keeps them and its entries', () => {
    const pageSize = (d: string) => {
      const db = new Database(path.join(d, 'raft.db'), { readonly: true });
      try {
        return db.pragma('page_size', { simple: true });
      } finally {
        db.close();
      }
    };
    store.save({ entries: ents(1, 3, 1) });
    expect(pageSize(dir)).toBe(1024);
    // A folder from before: its raft.db was made with SQLite's default page size.
    const old = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-log-old-'));
    try {
      const db = openSqlite(path.join(old, 'raft.db'));
      db.exec('CREATE TABLE t (x)');
      db.close();
      expect(pageSize(old)).toBe(4096);
      const kept = SqliteLogStore.open(old);
      kept.save({ entries: ents(1, 2, 1) });
      expect(kept.entries(1, 3, Infinity).map((e) => e.data)).toEqual(['cmd-1', 'cmd-2']);
      kept.close();
      expect(pageSize(old)).toBe(4096);
    } finally {
      fs.rmSync(old, { recursive: true, force: true });
    }
  });

  it('appends entries and hard state in one batch and reads them back', () => {
    store.save({ hardState: { term: 2, vote: 'b', commit: 1 }, entries: ents(1, 3, 2) });
    expect(store.lastIndex()).toBe(3);
    expect(store.term(2)).toBe(2);
    expect(store.entries(1, 4, 1e9).map((e) => e.data)).toEqual(['cmd-1', 'cmd-2', 'cmd-3']);
    expect(store.initialState().hardState).toEqual({ term: 2, vote: 'b', commit: 1 });
    store.save({ entries: [{ index: 4, term: 2, type: 'conf', data: '{"op":"remove","id":"c"}' }] });
    expect(store.entries(4, 5, 0)).toEqual([{ index: 4, term: 2, type: 'conf', data: '{"op":"remove","id":"c"}' }]);
  });

  it('truncates a conflicting suffix when appending at or below the last index', () => {
    store.save({ entries: ents(1, 5, 1) });
    store.save({ entries: ents(3, 4, 2, (i) => `new-${i}`) });
    expect(store.lastIndex()).toBe(4);
    expect(store.term(4)).toBe(2);
    expect(store.entries(1, 5, 1e9).map((e) => `${e.index}/${e.term}/${e.data}`)).toEqual([
      '1/1/cmd-1',
      '2/1/cmd-2',
      '3/2/new-3',
      '4/2/new-4',
    ]);
    expect(() => store.term(5)).toThrow(UnavailableError);
    reopen();
    expect(store.lastIndex()).toBe(4);
    expect(store.term(4)).toBe(2);
  });

  it('refuses a gap and non-contiguous batches, changing nothing', () => {
    store.save({ entries: ents(1, 2, 1) });
    expect(() => store.save({ entries: ents(4, 5, 1) })).toThrow(/gap/);
    expect(() => store.save({ entries: [...ents(3, 3, 1), ...ents(5, 5, 1)] })).toThrow(/contiguous/);
    expect(() => store.save({ hardState: { term: 9, vote: 'x', commit: 0 }, entries: ents(5, 5, 1) })).toThrow(/gap/);
    expect(store.lastIndex()).toBe(2);
    expect(store.initialState().hardState.term).toBe(0); // the whole batch rolled back
    reopen();
    expect(store.initialState().hardState.term).toBe(0);
    expect(store.lastIndex()).toBe(2);
  });

  it('limits entries() by bytes but always returns at least one', () => {
    store.save({ entries: ents(1, 10, 1, () => 'x'.repeat(100)) });
    expect(store.entries(1, 11, 0)).toHaveLength(1);
    expect(store.entries(1, 11, 250)).toHaveLength(2);
    expect(store.entries(1, 11, 300)).toHaveLength(3);
    expect(store.entries(3, 11, 1e9).map((e) => e.index)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    // the measure is the data's length, as the core's limitSize and MemoryStorage count it (log-store-contract.test.ts)
    store.save({ entries: ents(11, 12, 1, () => 'é'.repeat(50)) });
    expect(store.entries(11, 13, 100)).toHaveLength(2);
    expect(store.entries(11, 13, 99)).toHaveLength(1);
  });

  it('throws CompactedError / UnavailableError outside the stored range', () => {
    store.save({ entries: ents(1, 10, 1) });
    store.compact(5, 1, { voters: ['a'], learners: [] });
    expect(store.firstIndex()).toBe(6);
    expect(store.term(5)).toBe(1); // the snapshot's term
    expect(() => store.term(4)).toThrow(CompactedError);
    expect(() => store.term(11)).toThrow(UnavailableError);
    expect(() => store.entries(5, 7, 1e9)).toThrow(CompactedError);
    expect(() => store.entries(6, 12, 1e9)).toThrow(UnavailableError);
    expect(store.entries(6, 11, 1e9).map((e) => e.index)).toEqual([6, 7, 8, 9, 10]);
  });

  it('compacts, keeps the snapshot meta and survives reopen', () => {
    store.save({ hardState: { term: 3, vote: 'a', commit: 8 }, entries: [...ents(1, 4, 1), ...ents(5, 10, 3)] });
    store.compact(7, 3, { voters: ['a', 'b'], learners: ['c'] });
    store.compact(6, 3, { voters: [], learners: [] }); // older: ignored
    expect(() => store.compact(8, 2, { voters: ['a'], learners: [] })).toThrow(/term/);
    expect(() => store.compact(11, 3, { voters: ['a'], learners: [] })).toThrow(UnavailableError);
    reopen();
    expect(store.snapshotMeta()).toEqual({ index: 7, term: 3, conf: { voters: ['a', 'b'], learners: ['c'] } });
    expect(store.initialState()).toEqual({
      hardState: { term: 3, vote: 'a', commit: 8 },
      conf: { voters: ['a', 'b'], learners: ['c'] },
    });
    expect(store.firstIndex()).toBe(8);
    expect(store.lastIndex()).toBe(10);
    expect(store.entries(8, 11, 1e9).map((e) => e.index)).toEqual([8, 9, 10]);
    // compacting the whole log leaves last index/term at the snapshot
    store.compact(10, 3, { voters: ['a'], learners: [] });
    expect(store.lastIndex()).toBe(10);
    expect(store.term(10)).toBe(3);
    store.save({ entries: ents(11, 11, 4) });
    reopen();
    expect(store.firstIndex()).toBe(11);
    expect(store.lastIndex()).toBe(11);
  });

  it('keeps a commit-only change in memory and writes it with the next durable batch or at close', () => {
    store.save({ hardState: { term: 2, vote: 'b', commit: 1 }, entries: ents(1, 5, 2) });
    store.save({ hardState: { term: 2, vote: 'b', commit: 4 }, entries: [] });
    expect(store.initialState().hardState.commit).toBe(4);
    // A crash now (another connection reads the file) finds the older commit index: allowed, never newer.
    const peek = () => {
      const db = new Database(path.join(dir, 'raft.db'), { readonly: true });
      try {
        return (db.prepare('SELECT commit_index AS c FROM hard_state').get() as { c: number }).c;
      } finally {
        db.close();
      }
    };
    expect(peek()).toBe(1);
    store.save({ entries: ents(6, 6, 2) });
    expect(peek()).toBe(4);
    store.save({ hardState: { term: 2, vote: 'b', commit: 6 }, entries: [] });
    reopen();
    expect(store.initialState().hardState).toEqual({ term: 2, vote: 'b', commit: 6 });
  });

  it('resets to a snapshot (drops all entries, raises commit) and appends after it', () => {
    store.save({ hardState: { term: 2, vote: null, commit: 3 }, entries: ents(1, 5, 2) });
    store.resetToSnapshot({ index: 20, term: 4, conf: { voters: ['x', 'y', 'z'], learners: [] } });
    expect(store.firstIndex()).toBe(21);
    expect(store.lastIndex()).toBe(20);
    expect(store.term(20)).toBe(4);
    expect(() => store.term(5)).toThrow(CompactedError);
    expect(store.initialState().hardState.commit).toBe(20);
    store.save({ entries: ents(21, 22, 4) });
    reopen();
    expect(store.lastIndex()).toBe(22);
    expect(store.snapshotMeta().conf.voters).toEqual(['x', 'y', 'z']);
    expect(store.entries(21, 23, 1e9).map((e) => e.index)).toEqual([21, 22]);
  });

  it('save() with a snapshot replaces the log in the same transaction as the entries and hard state', () => {
    store.save({ entries: ents(1, 5, 1) });
    store.save({
      snapshot: { index: 8, term: 2, conf: { voters: ['a'], learners: [] } },
      entries: [...ents(7, 8, 2), ...ents(9, 10, 3)], // 7 and 8 are covered by the snapshot: skipped
      hardState: { term: 3, vote: 'a', commit: 9 },
    });
    expect(store.firstIndex()).toBe(9);
    expect(store.lastIndex()).toBe(10);
    reopen();
    expect(store.entries(9, 11, 1e9).map((e) => `${e.index}/${e.term}`)).toEqual(['9/3', '10/3']);
    expect(store.initialState().hardState).toEqual({ term: 3, vote: 'a', commit: 9 });
  });

  it('bootstrap records the initial configuration of an empty store only', () => {
    store.bootstrap({ voters: ['a', 'b', 'c'], learners: [] });
    reopen();
    expect(store.initialState().conf).toEqual({ voters: ['a', 'b', 'c'], learners: [] });
    store.save({ entries: ents(1, 1, 1) });
    expect(() => store.bootstrap({ voters: ['z'], learners: [] })).toThrow(/not empty/);
  });

  it('persists everything across close and reopen', () => {
    store.save({ hardState: { term: 5, vote: 'n2', commit: 40 }, entries: ents(1, 50, 5) });
    reopen();
    expect(store.initialState().hardState).toEqual({ term: 5, vote: 'n2', commit: 40 });
    expect(store.lastIndex()).toBe(50);
    expect(store.term(50)).toBe(5);
    expect(store.entries(49, 51, 1e9).map((e) => e.data)).toEqual(['cmd-49', 'cmd-50']);
  });

  it.each([
    ['default', {}, undefined],
    ['a tail bounded to 50 entries, segments of 7 rows', { maxEntries: 50 }, 7],
    ['a tail bounded to 3 KB, segments of 64 rows', { maxBytes: 3000 }, 64],
  ])('reads back exactly what it stored, from memory or from segment tables (%s; seeded appends, truncations, compactions, snapshots)', (_name, tail, segmentEntries) => {
    store.close();
    store = SqliteLogStore.open(dir, tail, segmentEntries);
    let seed = 0x5eed;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let term = 1;
    for (let step = 0; step < 400; step++) {
      const first = store.firstIndex();
      const last = store.lastIndex();
      const op = rnd(20);
      if (op < 14 || last < first) {
        // Append a batch, sometimes replacing a suffix (a follower's conflicting entries).
        const from = last >= first && rnd(4) === 0 ? first + rnd(last - first + 1) : last + 1;
        if (rnd(5) === 0) term++;
        store.save({ entries: ents(from, from + rnd(40), term, (i) => `t${term}-${i}-${'x'.repeat(rnd(300))}`) });
      } else if (op < 18) {
        const upTo = first + rnd(last - first + 1);
        store.compact(upTo, store.term(upTo), { voters: ['a'], learners: [] });
      } else {
        store.save({ entries: [], snapshot: { index: last + 1 + rnd(10), term, conf: { voters: ['a'], learners: [] } } });
      }
      // Compare with what a fresh reader finds on disk (it has no in-memory tail).
      const disk = SqliteLogStore.open(dir, {}, segmentEntries);
      try {
        expect([disk.firstIndex(), disk.lastIndex()]).toEqual([store.firstIndex(), store.lastIndex()]);
        const lo = store.firstIndex();
        const hi = store.lastIndex() + 1;
        for (let k = 0; k < 3 && hi > lo; k++) {
          const a = lo + rnd(hi - lo);
          const b = a + 1 + rnd(hi - a);
          const maxBytes = rnd(3) === 0 ? 1 + rnd(2000) : 1e9;
          expect(store.entries(a, b, maxBytes)).toEqual(disk.entries(a, b, maxBytes));
          expect(store.term(a)).toBe(disk.term(a));
        }
      } finally {
        disk.close();
      }
    }
  });

  it('hot statements use the primary key, never a full scan', () => {
    store.save({ entries: ents(1, 10, 1) });
    store.close();
    const db = new Database(path.join(dir, 'raft.db'), { readonly: true });
    const [table] = (db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'entries_*'").all() as { name: string }[]).map((r) => r.name);
    const plans = [
      `SELECT idx, term, type, data, crc FROM "${table}" WHERE idx = 5`,
      `SELECT idx, term, type, data, crc FROM "${table}" WHERE idx >= 5 AND idx < 9 ORDER BY idx`,
      `DELETE FROM "${table}" WHERE idx >= 5`,
    ].map((sql) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; '));
    db.close();
    for (const p of plans) expect(p).toMatch(/^SEARCH entries_1 USING INTEGER PRIMARY KEY/);
    store = SqliteLogStore.open(dir);
  });

  it('compacts by dropping whole segment tables, and opens a version-1 file (one `entries` table) as its oldest segment', () => {
    store.close();
    store = SqliteLogStore.open(dir, {}, 10);
    store.save({ hardState: { term: 1, vote: null, commit: 0 }, entries: ents(1, 35, 1) });
    const tables = () => {
      const db = new Database(path.join(dir, 'raft.db'), { readonly: true });
      try {
        return (db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'entries*' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      } finally {
        db.close();
      }
    };
    expect(tables()).toEqual(['entries_1', 'entries_2', 'entries_3', 'entries_4']);
    store.compact(25, 1, { voters: ['a'], learners: [] });
    expect(tables()).toEqual(['entries_3', 'entries_4']); // 21..30 straddles 25: it stays until it can go whole
    expect(store.firstIndex()).toBe(26);
    expect(() => store.entries(25, 27, 1e9)).toThrow(CompactedError);
    reopen();
    expect(store.firstIndex()).toBe(26);
    expect(store.entries(26, 36, 1e9).map((e) => e.index)).toEqual([26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
    store.close();

    // A version-1 file: the single `entries` table is the first segment (appends fill it up, then entries_1...).
    const v1 = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-log-v1-'));
    try {
      const db = openSqlite(path.join(v1, 'raft.db'));
      db.exec(`CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 0), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL);
        CREATE TABLE entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE snapshot_meta (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL, term INTEGER NOT NULL, conf TEXT NOT NULL);
        INSERT INTO hard_state VALUES (0, 2, 'a', 3);
        INSERT INTO snapshot_meta VALUES (0, 1, 1, '{"voters":["a"],"learners":[]}');
        INSERT INTO entries VALUES (2, 1, 0, 'x2'), (3, 2, 0, 'x3');
        PRAGMA user_version = 1;`);
      db.close();
      const old = SqliteLogStore.open(v1, {}, 10);
      expect([old.firstIndex(), old.lastIndex(), old.term(3)]).toEqual([2, 3, 2]);
      old.save({ entries: [{ index: 4, term: 2, type: 'normal', data: 'x4' }] });
      expect(old.entries(2, 5, 1e9).map((e) => e.data)).toEqual(['x2', 'x3', 'x4']);
      old.close();
      const again = SqliteLogStore.open(v1);
      expect(again.entries(2, 5, 1e9).map((e) => e.data)).toEqual(['x2', 'x3', 'x4']);
      again.close();
    } finally {
      fs.rmSync(v1, { recursive: true, force: true });
    }
    store = SqliteLogStore.open(dir);
  });

  describe('checksums (schema 3)', () => {
    /** Changes one stored row behind the store's back (a damaged disk, or an edited file). */
    function tamper(sql: string): void {
      store.close();
      const db = new Database(path.join(dir, 'raft.db'));
      const [table] = (db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'entries_*'").all() as { name: string }[]).map((r) => r.name);
      db.prepare(sql.replace('TABLE', `"${table}"`)).run();
      db.close();
    }

    it('refuses at open a file with a damaged entry, in one line naming the file and the index and saying what to do', () => {
      store.save({ hardState: { term: 1, vote: 'a', commit: 3 }, entries: ents(1, 8, 1) });
      tamper("UPDATE TABLE SET data = 'cmd-x' WHERE idx = 5");
      let message = '';
      try {
        store = SqliteLogStore.open(dir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toBe(
        `${path.join(dir, 'raft.db')}: log entry 5 is damaged (its checksum does not match), so this replica's log cannot be trusted; ` +
          'rebuild the replica as "A damaged replica" in docs/operations.md says',
      );
      tamper("UPDATE TABLE SET data = 'cmd-5' WHERE idx = 5");
      store = SqliteLogStore.open(dir);
      expect(store.entries(5, 6, 1e9)[0].data).toBe('cmd-5');
    });

    it('catches a changed term or type as well as changed data', () => {
      store.save({ entries: ents(1, 4, 2) });
      tamper('UPDATE TABLE SET term = 3 WHERE idx = 4');
      expect(() => (store = SqliteLogStore.open(dir))).toThrow(/log entry 4 is damaged/);
      tamper('UPDATE TABLE SET term = 2, type = 1 WHERE idx = 4');
      expect(() => (store = SqliteLogStore.open(dir))).toThrow(/log entry 4 is damaged/);
      tamper('UPDATE TABLE SET type = 0 WHERE idx = 4');
      store = SqliteLogStore.open(dir);
    });

    it('checks rows read while open (entries older than the in-memory tail, and their terms)', () => {
      store.close();
      store = SqliteLogStore.open(dir, { maxEntries: 2 });
      store.save({ entries: ents(1, 40, 1) });
      const db = new Database(path.join(dir, 'raft.db'));
      db.prepare("UPDATE entries_1 SET data = 'evil' WHERE idx = 7").run();
      db.close();
      expect(() => store.entries(5, 10, 1e9)).toThrow(DamagedLogError);
      expect(() => store.term(7)).toThrow(/log entry 7 is damaged/);
      expect(store.entries(8, 10, 1e9).map((e) => e.index)).toEqual([8, 9]);
    });

    it('opens a schema-2 file (entries without checksums), adding them from its rows in one step', () => {
      store.close();
      const v2 = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-log-v2-'));
      try {
        const db = openSqlite(path.join(v2, 'raft.db'));
        db.exec(`CREATE TABLE hard_state (id INTEGER PRIMARY KEY CHECK (id = 0), term INTEGER NOT NULL, vote TEXT, commit_index INTEGER NOT NULL);
          CREATE TABLE snapshot_meta (id INTEGER PRIMARY KEY CHECK (id = 0), idx INTEGER NOT NULL, term INTEGER NOT NULL, conf TEXT NOT NULL);
          CREATE TABLE entries_1 (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL);
          CREATE TABLE entries_2 (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL);
          INSERT INTO hard_state VALUES (0, 2, 'a', 4);
          INSERT INTO snapshot_meta VALUES (0, 1, 1, '{"voters":["a"],"learners":[]}');
          INSERT INTO entries_1 VALUES (2, 1, 0, 'x2'), (3, 2, 1, '{"op":"remove","id":"c"}');
          INSERT INTO entries_2 VALUES (4, 2, 0, 'x4');
          PRAGMA user_version = 2;`);
        db.close();
        const old = SqliteLogStore.open(v2);
        expect(old.entries(2, 5, 1e9)).toEqual([
          { index: 2, term: 1, type: 'normal', data: 'x2' },
          { index: 3, term: 2, type: 'conf', data: '{"op":"remove","id":"c"}' },
          { index: 4, term: 2, type: 'normal', data: 'x4' },
        ]);
        old.save({ entries: [{ index: 5, term: 2, type: 'normal', data: 'x5' }] });
        old.close();
        const check = new Database(path.join(v2, 'raft.db'));
        expect(check.pragma('user_version', { simple: true })).toBe(3);
        const rows = [
          ...(check.prepare('SELECT idx, term, type, data, crc FROM entries_1').all() as { idx: number; term: number; type: number; data: string; crc: number }[]),
          ...(check.prepare('SELECT idx, term, type, data, crc FROM entries_2').all() as { idx: number; term: number; type: number; data: string; crc: number }[]),
        ];
        expect(rows.map((r) => r.crc)).toEqual(rows.map((r) => entryChecksum(r.idx, r.term, r.type, r.data)));
        check.prepare("UPDATE entries_2 SET data = 'y4' WHERE idx = 4").run();
        check.close();
        expect(() => SqliteLogStore.open(v2)).toThrow(/log entry 4 is damaged/);
      } finally {
        fs.rmSync(v2, { recursive: true, force: true });
      }
      store = SqliteLogStore.open(dir);
    });

    it('refuses a file of a newer schema', () => {
      store.close();
      const db = new Database(path.join(dir, 'raft.db'));
      db.pragma('user_version = 4');
      db.close();
      expect(() => SqliteLogStore.open(dir)).toThrow(/raft.db schema version 4 is newer than this Quorum understands \(3\); upgrade this replica/);
      const fix = new Database(path.join(dir, 'raft.db'));
      fix.pragma('user_version = 3');
      fix.close();
      store = SqliteLogStore.open(dir);
    });
  });
});
