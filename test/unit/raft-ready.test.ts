import { describe, expect, it } from 'vitest';
import { Raft } from '../../replica/raft/raft.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import { CompactedError, UnavailableError, type Entry } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';
import { Rng } from '../helpers/random.js';

const ent = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data });

describe('raft Ready contract', () => {
  it('one Ready at a time: hasReady is false and ready() throws until advance()', () => {
    const node = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    node.raft.campaign();
    const rd = node.raft.ready();
    expect(rd.softState).toEqual({ lead: 'a', role: 'leader' });
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(rd.entries).toEqual([ent(1, 1, '')]);
    node.raft.propose('x'); // cores keep working while the driver persists
    expect(node.raft.hasReady()).toBe(false);
    expect(() => node.raft.ready()).toThrow(/advance/);
    expect(() => node.raft.advance({ ...rd })).toThrow(/outstanding/);
    node.storage.append(rd.entries);
    node.storage.setHardState(rd.hardState!);
    node.raft.advance(rd);
    const rd2 = node.raft.ready();
    // The entry proposed meanwhile is handed out once, in the next Ready; state already handed out is not repeated.
    expect(rd2.entries).toEqual([ent(2, 1, 'x')]);
    expect(rd2.softState).toBeUndefined();
    expect(rd2.hardState).toEqual({ term: 1, vote: 'a', commit: 1 });
    expect(rd2.committedEntries).toEqual([ent(1, 1, '')]);
  });

  it('proposals between two Readys are batched into one persist (group commit) and one append per follower', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    const a = net.raft('a');
    for (let k = 0; k < 5; k++) a.propose(`x${k}`);
    const rd = a.ready();
    expect(rd.entries.map((e) => e.data)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
    const apps = rd.messages.filter((m) => m.type === 'app');
    expect(apps.map((m) => [m.to, m.entries!.length])).toEqual([
      ['b', 5],
      ['c', 5],
    ]);
  });

  it('a crash loses only what was not persisted', () => {
    const node = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    node.raft.campaign();
    node.drain();
    node.raft.propose('kept');
    node.drain();
    node.raft.propose('lost');
    node.raft.ready(); // handed out, never persisted
    node.restart();
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 1, lastIndex: 2, commit: 2 });
    node.raft.campaign();
    node.drain();
    expect(node.appliedData()).toEqual(['kept']);
  });

  it('is deterministic: the same seed gives the same message history', () => {
    const run = () => {
      const net = new TestNetwork(['a', 'b', 'c', 'd', 'e'], { seed: 42, electionTick: 5 });
      const rng = new Rng(7);
      for (let t = 0; t < 100; t++) {
        if (rng.chance(0.1)) net.isolate(rng.pick(['a', 'b', 'c', 'd', 'e']));
        if (rng.chance(0.1)) net.recover();
        net.tickAll();
        const l = net.leaders()[0];
        if (l && rng.chance(0.5)) {
          try {
            net.propose(l.id, `p${t}`);
          } catch {
            /* refused: fine */
          }
        }
      }
      return JSON.stringify(net.delivered);
    };
    const a = run();
    expect(a.length).toBeGreaterThan(1000);
    expect(run()).toBe(a);
  });

  it('validates its options and the restart state', () => {
    const storage = new MemoryStorage({ voters: ['a'], learners: [] });
    const random = () => 0.5;
    expect(() => new Raft({ id: 'a', storage, applied: 0, random, electionTick: 2, heartbeatTick: 2 })).toThrow(/electionTick/);
    storage.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    storage.compact(2, 1, { voters: ['a'], learners: [] });
    expect(() => new Raft({ id: 'a', storage, applied: 1, random })).toThrow(/snapshot/);
    expect(() => new Raft({ id: 'a', storage, applied: 4, random })).toThrow(/beyond/);
    expect(new Raft({ id: 'a', storage, applied: 2, random }).status()).toMatchObject({ commit: 2, applied: 2, firstIndex: 3, lastIndex: 3 });
  });
});

describe('MemoryStorage', () => {
  it('appends, truncating a conflicting suffix', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 1)]);
    s.append([ent(2, 2, 'new')]);
    expect(s.lastIndex()).toBe(2);
    expect(s.entries(1, 3, Infinity)).toEqual([ent(1, 1), ent(2, 2, 'new')]);
    expect(() => s.append([ent(5, 2)])).toThrow(/gap/);
    s.truncate(2);
    expect(s.lastIndex()).toBe(1);
  });

  it('compacts behind a snapshot; term() and entries() report compacted and unavailable indices', () => {
    const s = new MemoryStorage({ voters: ['a'], learners: [] });
    s.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
    expect(() => s.compact(2, 2, { voters: ['a'], learners: [] })).toThrow(/term 1, not 2/);
    s.compact(2, 1, { voters: ['a'], learners: [] });
    expect(s.firstIndex()).toBe(3);
    expect(s.snapshotMeta()).toEqual({ index: 2, term: 1, conf: { voters: ['a'], learners: [] } });
    expect(s.term(2)).toBe(1);
    expect(() => s.term(1)).toThrow(CompactedError);
    expect(() => s.term(5)).toThrow(UnavailableError);
    expect(() => s.entries(2, 4, Infinity)).toThrow(CompactedError);
    expect(() => s.entries(3, 6, Infinity)).toThrow(UnavailableError);
    expect(s.entries(3, 5, Infinity)).toEqual([ent(3, 2), ent(4, 2)]);
  });

  it('limits entries() by size, returning at least one', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1, 'aaaa'), ent(2, 1, 'bb'), ent(3, 1, 'cc')]);
    expect(s.entries(1, 4, 0).map((e) => e.index)).toEqual([1]);
    expect(s.entries(1, 4, 6).map((e) => e.index)).toEqual([1, 2]);
    expect(s.entries(1, 4, 8).map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('applySnapshot replaces the log and raises the commit index', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1)]);
    s.setHardState({ term: 3, vote: 'b', commit: 1 });
    s.applySnapshot({ index: 9, term: 3, conf: { voters: ['x'], learners: [] } });
    expect(s.firstIndex()).toBe(10);
    expect(s.lastIndex()).toBe(9);
    expect(s.initialState()).toEqual({ hardState: { term: 3, vote: 'b', commit: 9 }, conf: { voters: ['x'], learners: [] } });
  });

  it('save() keeps a commit-only change in memory, like the SQLite store: a crash loses it, the next durable save keeps it', () => {
    const s = new MemoryStorage({ voters: ['a'], learners: [] });
    s.save({ entries: [ent(1, 1), ent(2, 1)], hardState: { term: 1, vote: 'a', commit: 0 } });
    s.save({ entries: [], hardState: { term: 1, vote: 'a', commit: 2 } });
    expect(s.initialState().hardState.commit).toBe(2);
    expect(s.durableHardState().commit).toBe(0);
    s.crash();
    expect(s.initialState().hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    s.save({ entries: [], hardState: { term: 1, vote: 'a', commit: 1 } });
    s.save({ entries: [ent(3, 1)] });
    s.crash();
    expect(s.initialState().hardState.commit).toBe(1);
    expect(s.lastIndex()).toBe(3);
  });
});
