// The LogStore contract (replica/raft/types.ts), run against both implementations: SqliteLogStore (what ships) and
// MemoryStorage (what the simulation runs on). Every behaviour the driver and the core rely on is asserted here the
// same way for both, so the simulation cannot drift from the store the replica uses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import { CompactedError, UnavailableError, type ConfState, type Entry, type LogStore } from '../../replica/raft/types.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';

/** One implementation under test: a fresh store, and a crash (what a restarted process finds on disk). */
interface Subject {
  store: LogStore;
  /** The process dies without a clean shutdown and starts again: returns the store it reopens. */
  crash(): LogStore;
  dispose(): void;
}

const CONF: ConfState = { voters: ['r1', 'r2', 'r3'], learners: [] };

/**
 * SqliteLogStore in a fresh folder; `tail` sizes its in-memory copy of the newest entries (0: every read is a query),
 * `segmentEntries` its segment tables (small: every test crosses segments).
 */
function sqlite(tail: { maxEntries?: number } = {}, segmentEntries?: number): Subject {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-contract-'));
  const open: SqliteLogStore[] = [SqliteLogStore.open(dir, tail, segmentEntries)];
  const subject: Subject = {
    store: open[0],
    crash() {
      // The dying process's connection goes without close() (which would write a commit-only change).
      (open.at(-1) as unknown as { db: { close(): void } }).db.close();
      open.push(SqliteLogStore.open(dir, tail, segmentEntries));
      return (subject.store = open.at(-1)!);
    },
    dispose() {
      open.at(-1)!.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return subject;
}

const implementations: Record<string, () => Subject> = {
  SqliteLogStore: () => sqlite(),
  'SqliteLogStore reading from SQLite (no in-memory tail)': () => sqlite({ maxEntries: 0 }),
  'SqliteLogStore reading from SQLite, 2-entry segments': () => sqlite({ maxEntries: 0 }, 2),
  MemoryStorage: () => {
    const store = new MemoryStorage();
    return {
      store,
      crash() {
        store.crash();
        return store;
      },
      dispose() {},
    };
  },
};

function ents(from: number, to: number, term: number, data = (i: number) => `cmd-${i}`): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, term, type: i % 4 === 0 ? 'conf' : 'normal', data: data(i) });
  return out;
}

const subjects: Subject[] = [];
afterEach(() => {
  for (const s of subjects.splice(0)) s.dispose();
});

describe.each(Object.keys(implementations))('LogStore contract: %s', (name) => {
  function subject(): Subject {
    const s = implementations[name]();
    subjects.push(s);
    return s;
  }

  it('starts empty: first index 1, last 0, term(0) = 0, nothing readable', () => {
    const { store } = subject();
    expect(store.initialState().hardState).toEqual({ term: 0, vote: null, commit: 0 });
    expect(store.firstIndex()).toBe(1);
    expect(store.lastIndex()).toBe(0);
    expect(store.term(0)).toBe(0);
    expect(() => store.term(1)).toThrow(UnavailableError);
    expect(store.entries(1, 1, Infinity)).toEqual([]);
    expect(() => store.entries(1, 2, Infinity)).toThrow(UnavailableError);
    expect(store.snapshotMeta()).toMatchObject({ index: 0, term: 0 });
  });

  it('saves entries and the hard state; reads them back by index and term', () => {
    const { store } = subject();
    store.save({ hardState: { term: 2, vote: 'r2', commit: 0 }, entries: ents(1, 6, 2) });
    expect(store.lastIndex()).toBe(6);
    expect([1, 2, 3, 4, 5, 6].map((i) => store.term(i))).toEqual([2, 2, 2, 2, 2, 2]);
    expect(store.entries(2, 5, Infinity)).toEqual(ents(2, 4, 2));
    expect(store.initialState().hardState).toEqual({ term: 2, vote: 'r2', commit: 0 });
    expect(() => store.term(7)).toThrow(UnavailableError);
    expect(() => store.entries(5, 8, Infinity)).toThrow(UnavailableError);
  });

  it('limits a read by the data length: at least one entry, then stops before the total exceeds maxBytes', () => {
    const { store } = subject();
    // Multi-byte text: the limit counts the data's length the same way in both stores.
    store.save({ entries: ents(1, 5, 1, (i) => `é${'x'.repeat(9)}${i}`), hardState: { term: 1, vote: null, commit: 0 } });
    const size = store.entries(1, 2, Infinity)[0].data.length;
    expect(store.entries(1, 6, 1)).toHaveLength(1);
    expect(store.entries(1, 6, size * 2)).toHaveLength(2);
    expect(store.entries(1, 6, size * 3 - 1)).toHaveLength(2);
    expect(store.entries(1, 6, size * 3)).toHaveLength(3);
    expect(store.entries(1, 6, Infinity)).toHaveLength(5);
  });

  it('replaces a conflicting suffix from the first new index on', () => {
    const { store } = subject();
    store.save({ entries: ents(1, 6, 1), hardState: { term: 1, vote: null, commit: 0 } });
    store.save({ entries: ents(4, 5, 3), hardState: { term: 3, vote: null, commit: 0 } });
    expect(store.lastIndex()).toBe(5);
    expect([1, 2, 3, 4, 5].map((i) => store.term(i))).toEqual([1, 1, 1, 3, 3]);
    expect(store.entries(1, 6, Infinity)).toEqual([...ents(1, 3, 1), ...ents(4, 5, 3)]);
  });

  it('refuses a gap and entries that are not contiguous, changing nothing', () => {
    const { store } = subject();
    store.save({ entries: ents(1, 3, 1), hardState: { term: 1, vote: null, commit: 0 } });
    expect(() => store.save({ entries: ents(5, 6, 1) })).toThrow();
    expect(() => store.save({ entries: [...ents(4, 4, 1), ...ents(6, 6, 1)] })).toThrow();
    expect(store.lastIndex()).toBe(3);
    expect(store.entries(1, 4, Infinity)).toEqual(ents(1, 3, 1));
  });

  it('compacts: entries up to the index are gone, the snapshot metadata takes their place', () => {
    const { store } = subject();
    store.save({ entries: [...ents(1, 4, 1), ...ents(5, 8, 2)], hardState: { term: 2, vote: null, commit: 8 } });
    store.compact(5, 2, CONF);
    expect(store.firstIndex()).toBe(6);
    expect(store.lastIndex()).toBe(8);
    expect(store.term(5)).toBe(2);
    expect(() => store.term(4)).toThrow(CompactedError);
    expect(() => store.entries(5, 7, Infinity)).toThrow(CompactedError);
    expect(store.entries(6, 9, Infinity)).toEqual(ents(6, 8, 2));
    expect(store.snapshotMeta()).toEqual({ index: 5, term: 2, conf: CONF });
    store.compact(3, 1, CONF); // behind the snapshot: nothing to do
    expect(store.firstIndex()).toBe(6);
    expect(() => store.compact(9, 2, CONF)).toThrow(UnavailableError);
    expect(() => store.compact(7, 1, CONF)).toThrow(/term/);
    store.compact(8, 2, CONF); // the whole log
    expect([store.firstIndex(), store.lastIndex(), store.term(8)]).toEqual([9, 8, 2]);
    store.save({ entries: ents(9, 9, 3), hardState: { term: 3, vote: null, commit: 8 } });
    expect(store.entries(9, 10, Infinity)).toEqual(ents(9, 9, 3));
  });

  it('resets to a snapshot: the log is replaced, the commit index rises to it', () => {
    const { store } = subject();
    store.save({ entries: ents(1, 4, 1), hardState: { term: 2, vote: 'r1', commit: 2 } });
    store.resetToSnapshot({ index: 10, term: 4, conf: CONF });
    expect([store.firstIndex(), store.lastIndex(), store.term(10)]).toEqual([11, 10, 4]);
    expect(() => store.term(4)).toThrow(CompactedError);
    expect(store.initialState()).toEqual({ hardState: { term: 2, vote: 'r1', commit: 10 }, conf: CONF });
    expect(store.snapshotMeta()).toEqual({ index: 10, term: 4, conf: CONF });
  });

  it('applies a batch in order: snapshot, then entries (those under it skipped), then hard state', () => {
    const { store } = subject();
    store.save({ entries: ents(1, 3, 1), hardState: { term: 1, vote: null, commit: 1 } });
    store.save({ snapshot: { index: 6, term: 2, conf: CONF }, entries: ents(5, 8, 2), hardState: { term: 2, vote: 'r3', commit: 6 } });
    expect([store.firstIndex(), store.lastIndex()]).toEqual([7, 8]);
    expect(store.entries(7, 9, Infinity)).toEqual(ents(7, 8, 2));
    expect(store.initialState().hardState).toEqual({ term: 2, vote: 'r3', commit: 6 });
  });

  it('keeps everything but a commit-only change through a crash; the next durable write carries the commit', () => {
    const s = subject();
    s.store.save({ entries: ents(1, 5, 1), hardState: { term: 1, vote: 'r1', commit: 2 } });
    s.store.compact(2, 1, CONF);
    s.store.save({ hardState: { term: 1, vote: 'r1', commit: 4 }, entries: [] }); // commit-only
    expect(s.store.initialState().hardState.commit).toBe(4);
    let store = s.crash();
    expect(store.initialState().hardState).toEqual({ term: 1, vote: 'r1', commit: 2 });
    expect([store.firstIndex(), store.lastIndex()]).toEqual([3, 5]);
    expect(store.entries(3, 6, Infinity)).toEqual(ents(3, 5, 1));
    expect(store.snapshotMeta()).toEqual({ index: 2, term: 1, conf: CONF });
    // A commit-only change followed by a durable write: the commit index is on disk with it.
    store.save({ hardState: { term: 1, vote: 'r1', commit: 5 }, entries: [] });
    store.save({ entries: ents(6, 6, 1) });
    store = s.crash();
    expect(store.initialState().hardState).toEqual({ term: 1, vote: 'r1', commit: 5 });
    expect(store.lastIndex()).toBe(6);
    // A new term or vote is never kept in memory only.
    store.save({ hardState: { term: 2, vote: 'r2', commit: 5 }, entries: [] });
    store = s.crash();
    expect(store.initialState().hardState).toEqual({ term: 2, vote: 'r2', commit: 5 });
  });

  it("saveUnsynced (a leader's own appends): readable at once, kept through a process crash with its commit index; sync() resolves", async () => {
    const s = subject();
    s.store.save({ entries: ents(1, 3, 1), hardState: { term: 1, vote: 'r1', commit: 1 } });
    s.store.saveUnsynced({ entries: ents(4, 6, 1), hardState: { term: 1, vote: 'r1', commit: 3 } });
    expect(s.store.lastIndex()).toBe(6);
    expect(s.store.entries(4, 7, Infinity)).toEqual(ents(4, 6, 1));
    await s.store.sync();
    s.store.saveUnsynced({ entries: ents(7, 7, 1) });
    const store = s.crash();
    expect(store.initialState().hardState).toEqual({ term: 1, vote: 'r1', commit: 3 });
    expect(store.entries(1, 8, Infinity)).toEqual(ents(1, 7, 1));
  });

  it('saveUnsynced refuses what must reach the disk first (overwriting the log, a new term or vote, a snapshot), changing nothing', () => {
    const s = subject();
    s.store.save({ entries: ents(1, 3, 1), hardState: { term: 1, vote: 'r1', commit: 1 } });
    expect(() => s.store.saveUnsynced({ entries: ents(3, 4, 2) })).toThrow(/not right after the last index 3/);
    expect(() => s.store.saveUnsynced({ entries: ents(4, 4, 2), hardState: { term: 2, vote: 'r1', commit: 1 } })).toThrow(/new term or vote/);
    expect(() => s.store.saveUnsynced({ entries: ents(4, 4, 1), hardState: { term: 1, vote: 'r2', commit: 1 } })).toThrow(/new term or vote/);
    expect(() => s.store.saveUnsynced({ entries: [], hardState: { term: 1, vote: 'r1', commit: 2 } })).toThrow(/no entries/);
    expect(() => s.store.saveUnsynced({ entries: ents(4, 4, 1), snapshot: { index: 3, term: 1, conf: CONF } })).toThrow(/a snapshot/);
    expect(s.store.lastIndex()).toBe(3);
    expect(s.store.entries(1, 4, Infinity)).toEqual(ents(1, 3, 1));
    expect(s.store.initialState().hardState).toEqual({ term: 1, vote: 'r1', commit: 1 });
  });
});
