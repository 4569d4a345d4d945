// LogSegments (raft.db's segment tables) directly: how it reads the tables it finds at open (empty ones dropped,
// foreign names ignored, any order of names, damaged layouts refused with a message naming them), where segments
// begin and end, truncation and compaction at segment boundaries, and its in-memory view after a rollback.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DamagedLogError, entryChecksum, LogSegments, type EntryRow } from '../../replica/storage/log-segments.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import { openSqlite, type Db } from '../../replica/storage/sqlite.js';

let dir: string;
let db: Db;
const FILE = 'test/raft.db';

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-segments-'));
  db = openSqlite(path.join(dir, 'raft.db'));
});
afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const rows = (from: number, to: number, term = 1): EntryRow[] =>
  Array.from({ length: to - from + 1 }, (_, k) => ({ idx: from + k, term, type: 0, data: `d${from + k}` }));

/** A segment table as LogSegments writes it, filled with `indices`. */
function table(name: string, indices: number[]): void {
  db.exec(`CREATE TABLE "${name}" (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL, crc INTEGER NOT NULL)`);
  const insert = db.prepare(`INSERT INTO "${name}" VALUES (?, 1, 0, ?, ?)`);
  for (const i of indices) insert.run(i, `d${i}`, entryChecksum(i, 1, 0, `d${i}`));
}

/** Segment tables in the file, by name, with their row counts. */
function tables(): Record<string, number> {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'entries*' ORDER BY name").all() as { name: string }[];
  return Object.fromEntries(names.map(({ name }) => [name, (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]));
}

const open = (segmentEntries = 2) => db.transaction(() => new LogSegments(db, FILE, segmentEntries))();
const indices = (segments: LogSegments, lo: number, hi: number) => [...segments.range(lo, hi)].map((r) => r.idx);

describe('LogSegments at open', () => {
  it('reads segments named in any order by their indices, drops empty ones, ignores foreign tables, numbers new ones after the highest', () => {
    table('entries_9', [1, 2]);
    table('entries_3', [3, 4]);
    table('entries_12', []);
    table('entries_7x', [100]); // not a segment name
    const segments = open();
    expect(indices(segments, 1, 5)).toEqual([1, 2, 3, 4]);
    expect(segments.firstStored()).toBe(1);
    expect(segments.lastEntry()).toEqual({ index: 4, term: 1 });
    expect(tables()).toEqual({ entries_3: 2, entries_7x: 1, entries_9: 2 });
    db.transaction(() => segments.append(rows(5, 5)))();
    expect(tables()).toMatchObject({ entries_13: 1 }); // after entries_12, even though that one was dropped
  });

  it('refuses a segment with a hole, naming it', () => {
    table('entries_1', [1, 3]);
    expect(() => open()).toThrow(`${FILE}: segment entries_1 holds 2 rows for indices 1..3`);
  });

  it('refuses segments that do not follow each other, naming both', () => {
    table('entries_1', [1, 2]);
    table('entries_2', [4, 5]);
    expect(() => open()).toThrow(`${FILE}: segments entries_1 (..2) and entries_2 (4..) are not contiguous`);
  });

  it('names a damaged row', () => {
    table('entries_1', [1, 2]);
    db.exec('UPDATE entries_1 SET data = \'edited\' WHERE idx = 2');
    const segments = open();
    const err = (() => {
      try {
        segments.term(2);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DamagedLogError);
    expect(err).toMatchObject({ name: 'DamagedLogError', index: 2, file: FILE });
  });
});

describe('LogSegments writes', () => {
  it('fills each segment to its size before starting the next, and refuses to skip an index', () => {
    const segments = open(2);
    db.transaction(() => segments.append(rows(1, 5)))();
    expect(tables()).toEqual({ entries_1: 2, entries_2: 2, entries_3: 1 });
    expect(() => segments.append(rows(7, 7))).toThrow(`${FILE}: appending 7 after 5`);
  });

  it('truncates at a segment boundary by dropping the whole segment, and compacts through a segment end', () => {
    const segments = open(2);
    db.transaction(() => segments.append(rows(1, 6)))();
    db.transaction(() => segments.truncateFrom(5))(); // 5 is the first row of entries_3
    expect(tables()).toEqual({ entries_1: 2, entries_2: 2 });
    expect(segments.lastEntry()).toEqual({ index: 4, term: 1 });
    db.transaction(() => segments.dropThrough(2))(); // 2 is the last row of entries_1
    expect(tables()).toEqual({ entries_2: 2 });
    expect(segments.firstStored()).toBe(3);
  });
});

describe('SqliteLogStore after a failed save', () => {
  it('rolls the segments back: the log reads as before and takes the next save', () => {
    db.close();
    const store = SqliteLogStore.open(dir, { maxEntries: 0 }, 2);
    try {
      const entries = (from: number, to: number, term: number) =>
        Array.from({ length: to - from + 1 }, (_, k) => ({ index: from + k, term, type: 'normal' as const, data: `t${term}-${from + k}` }));
      store.save({ entries: entries(1, 6, 1), hardState: { term: 1, vote: null, commit: 0 } });
      // Replaces 3..6 (dropping two segments), then fails on a bad term inside the same transaction.
      expect(() => store.save({ entries: [...entries(3, 4, 2), { index: 5, term: -1, type: 'normal', data: 'bad' }] })).toThrow(/term/);
      expect(store.entries(1, 7, Infinity)).toEqual(entries(1, 6, 1));
      store.save({ entries: entries(3, 4, 2) });
      expect(store.entries(1, 5, Infinity)).toEqual([...entries(1, 2, 1), ...entries(3, 4, 2)]);
    } finally {
      store.close();
    }
  });
});
