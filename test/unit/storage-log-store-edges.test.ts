// SqliteLogStore's edges that the contract suite does not reach: bootstrap, a closed store, index arguments out of
// range, a clean close keeping a commit-only change, and a raft.db whose entries do not follow its snapshot.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConfState, Entry } from '../../replica/raft/types.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import { openSqlite } from '../../replica/storage/sqlite.js';

const CONF: ConfState = { voters: ['r1'], learners: [] };
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-log-edges-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const ents = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, k) => ({ index: from + k, term, type: 'normal', data: `e${from + k}` }));

describe('SqliteLogStore edges', () => {
  it('bootstraps an empty store with its configuration as a snapshot at 1, once, durably', () => {
    const store = SqliteLogStore.open(dir);
    store.bootstrap(CONF);
    expect(store.initialState()).toEqual({ hardState: { term: 1, vote: null, commit: 1 }, conf: CONF });
    expect([store.firstIndex(), store.lastIndex(), store.term(1)]).toEqual([2, 1, 1]);
    expect(() => store.bootstrap(CONF)).toThrow('bootstrap: the log store is not empty');
    store.close();
    const again = SqliteLogStore.open(dir);
    expect(again.initialState()).toEqual({ hardState: { term: 1, vote: null, commit: 1 }, conf: CONF });
    expect(() => again.bootstrap(CONF)).toThrow(/not empty/);
    again.close();
  });

  it('refuses every write once closed, naming the file; a second close is harmless', () => {
    const store = SqliteLogStore.open(dir);
    store.close();
    const closed = `${path.join(dir, 'raft.db')}: log store is closed`;
    expect(() => store.save({ entries: ents(1, 1, 1) })).toThrow(closed);
    expect(() => store.compact(1, 1, CONF)).toThrow(closed);
    expect(() => store.resetToSnapshot({ index: 5, term: 1, conf: CONF })).toThrow(closed);
    expect(() => store.bootstrap(CONF)).toThrow(closed);
    expect(() => store.close()).not.toThrow();
  });

  it('keeps a commit-only change through a clean close', () => {
    const store = SqliteLogStore.open(dir);
    store.save({ entries: ents(1, 3, 1), hardState: { term: 1, vote: 'r1', commit: 1 } });
    store.save({ entries: [], hardState: { term: 1, vote: 'r1', commit: 3 } });
    store.close();
    const again = SqliteLogStore.open(dir);
    expect(again.initialState().hardState.commit).toBe(3);
    again.close();
  });

  it('refuses negative or fractional terms and indices, naming the argument', () => {
    const store = SqliteLogStore.open(dir);
    try {
      expect(() => store.save({ entries: [{ index: 1, term: -1, type: 'normal', data: '' }] })).toThrow('entry.term must be a non-negative safe integer, got -1');
      expect(() => store.save({ entries: [{ index: 1, term: 1.5, type: 'normal', data: '' }] })).toThrow(RangeError);
      expect(() => store.resetToSnapshot({ index: -3, term: 1, conf: CONF })).toThrow('snapshot.index must be a non-negative safe integer, got -3');
      expect(() => store.compact(Number.NaN, 1, CONF)).toThrow('index must be a non-negative safe integer, got NaN');
      store.save({ entries: [{ index: 1, term: 0, type: 'normal', data: '' }] }); // 0 is allowed
      expect(store.term(1)).toBe(0);
    } finally {
      store.close();
    }
  });

  it('refuses at open a log whose first entry does not follow the snapshot, naming both', () => {
    const store = SqliteLogStore.open(dir);
    store.save({ entries: ents(1, 6, 1), hardState: { term: 1, vote: null, commit: 6 } });
    store.close();
    const db = openSqlite(path.join(dir, 'raft.db'));
    db.exec("INSERT INTO snapshot_meta (id, idx, term, conf) VALUES (0, 0, 0, '{\"voters\":[],\"learners\":[]}') ON CONFLICT (id) DO NOTHING");
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'entries_*'").all() as { name: string }[];
    for (const { name } of tables) db.exec(`DELETE FROM "${name}" WHERE idx < 3`); // entries 1..2 vanish
    db.close();
    expect(() => SqliteLogStore.open(dir)).toThrow(`${path.join(dir, 'raft.db')}: corrupt log: first entry 3 does not follow snapshot index 0`);
  });
});
