// SqliteLogStore's in-memory copy of the newest entries (the "tail"), against a model of the log (seeded): appends,
// conflicting overwrites, compactions, snapshots and reopenings in random order, with a small bound. After every step
// every answer (term, entries with a byte budget) equals the model's, and the cache is what its contract says: the
// newest entries, contiguous up to the last index, exactly their sizes, within maxEntries (plus its 1/16 slack) and
// maxBytes (but never emptied by a single large entry), and refilled by every append.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entrySize } from '../../replica/raft/log.js';
import type { ConfState, Entry } from '../../replica/raft/types.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import { Rng } from '../helpers/random.js';

const CONF: ConfState = { voters: ['r1'], learners: [] };
const MAX_ENTRIES = 16;
const SLACK = 1; // ceil(16 / 16)
const MAX_BYTES = 900;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-log-cache-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function check(store: SqliteLogStore, log: Map<number, Entry>, snap: { index: number; term: number }, rng: Rng): void {
  const last = snap.index + log.size;
  expect(store.firstIndex()).toBe(snap.index + 1);
  expect(store.lastIndex()).toBe(last);
  expect(store.term(snap.index)).toBe(snap.term);
  for (let i = snap.index + 1; i <= last; i++) expect(store.term(i)).toBe(log.get(i)!.term);
  for (let k = 0; k < 6 && log.size > 0; k++) {
    const lo = rng.range(snap.index + 1, last);
    const hi = rng.range(lo, last + 1);
    const budget = rng.range(1, 600);
    const want: Entry[] = [];
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const e = log.get(i)!;
      if (want.length > 0 && total + entrySize(e) > budget) break;
      total += entrySize(e);
      want.push(e);
    }
    expect(store.entries(lo, hi, budget)).toEqual(want);
  }
  const cache = store.cacheStats();
  if (cache.entries === 0) {
    expect(cache).toEqual({ entries: 0, bytes: 0, first: 0 });
    return;
  }
  expect(cache.first).toBeGreaterThan(snap.index);
  expect(cache.first + cache.entries - 1).toBe(last);
  let bytes = 0;
  for (let i = cache.first; i <= last; i++) bytes += entrySize(log.get(i)!);
  expect(cache.bytes).toBe(bytes);
  expect(cache.entries).toBeLessThanOrEqual(MAX_ENTRIES + SLACK);
  if (cache.entries > 1) expect(cache.bytes).toBeLessThanOrEqual(MAX_BYTES);
}

describe('SqliteLogStore cache of the newest entries', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`answers as the model does and keeps its bounds through appends, overwrites, compactions and snapshots (seed ${seed})`, () => {
      const rng = new Rng(seed);
      let store = SqliteLogStore.open(dir, { maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES });
      store.bootstrap(CONF);
      let snap = { index: 1, term: 1 };
      let term = 1;
      const log = new Map<number, Entry>();
      for (let step = 0; step < 250; step++) {
        const last = snap.index + log.size;
        const roll = rng.int(100);
        if (roll < 60) {
          // Append (sometimes over a conflicting suffix, with a newer term).
          const overwrite = log.size > 0 && rng.int(4) === 0;
          const from = overwrite ? rng.range(snap.index + 1, last) : last + 1;
          if (overwrite) term++;
          const n = rng.range(1, 6);
          const fresh: Entry[] = [];
          for (let k = 0; k < n; k++) {
            // Mostly small entries; now and then one larger than the whole byte bound.
            const size = rng.int(30) === 0 ? MAX_BYTES + 50 : rng.range(1, 60);
            fresh.push({ index: from + k, term, type: 'normal', data: 'x'.repeat(size) });
          }
          for (let i = from; i <= last; i++) log.delete(i);
          for (const e of fresh) log.set(e.index, e);
          store.save({ entries: fresh, hardState: { term, vote: 'r1', commit: snap.index } });
          const cache = store.cacheStats();
          // The newest entry is always cached, and as many of the newest as the bounds allow after the trim.
          expect(cache.entries).toBeGreaterThanOrEqual(1);
          expect(cache.first + cache.entries - 1).toBe(from + n - 1);
          expect(store.entries(from + n - 1, from + n, 1)[0]).toBe(fresh[n - 1]);
          // It keeps at least the newest of this append that fit both bounds (always the newest one).
          let fit = 1;
          let fitBytes = entrySize(fresh[n - 1]);
          while (fit < n && fit < MAX_ENTRIES && fitBytes + entrySize(fresh[n - 1 - fit]) <= MAX_BYTES) fitBytes += entrySize(fresh[n - 1 - fit++]);
          expect(cache.entries).toBeGreaterThanOrEqual(fit);
        } else if (roll < 75 && log.size > 0) {
          // Compact up to some index (its term must match).
          const at = rng.range(snap.index + 1, last);
          const t = log.get(at)!.term;
          store.compact(at, t, CONF);
          for (let i = snap.index + 1; i <= at; i++) log.delete(i);
          snap = { index: at, term: t };
        } else if (roll < 82) {
          // A snapshot from the leader replaces the whole log.
          term++;
          const at = last + rng.range(1, 5);
          store.save({ entries: [], snapshot: { index: at, term, conf: CONF }, hardState: { term, vote: null, commit: at } });
          log.clear();
          snap = { index: at, term };
          expect(store.cacheStats()).toEqual({ entries: 0, bytes: 0, first: 0 });
        } else if (roll < 87) {
          store.close();
          store = SqliteLogStore.open(dir, { maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES });
          expect(store.cacheStats()).toEqual({ entries: 0, bytes: 0, first: 0 });
        }
        check(store, log, snap, rng);
      }
      store.close();
    });
  }

  it('compaction into the cached range drops the compacted entries from it, and past it empties it', () => {
    const store = SqliteLogStore.open(dir, { maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES });
    store.bootstrap(CONF);
    const ents = (from: number, to: number): Entry[] => Array.from({ length: to - from + 1 }, (_, k) => ({ index: from + k, term: 1, type: 'normal', data: `e${from + k}` }));
    store.save({ entries: ents(2, 11), hardState: { term: 1, vote: 'r1', commit: 11 } });
    expect(store.cacheStats()).toEqual({ entries: 10, bytes: ents(2, 11).reduce((n, e) => n + entrySize(e), 0), first: 2 });
    store.compact(5, 1, CONF);
    expect(store.cacheStats()).toEqual({ entries: 6, bytes: ents(6, 11).reduce((n, e) => n + entrySize(e), 0), first: 6 });
    store.compact(11, 1, CONF);
    expect(store.cacheStats()).toEqual({ entries: 0, bytes: 0, first: 0 });
    expect([store.firstIndex(), store.lastIndex(), store.term(11)]).toEqual([12, 11, 1]);
    store.close();
  });
});
