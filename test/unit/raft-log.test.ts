import { describe, expect, it } from 'vitest';
import type { Message } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';

const FIG7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

describe('raft log replication', () => {
  // Raft paper, Figure 7: whatever the follower's log looks like, the new leader of term 8 makes it match its own,
  // with fast backtracking (a few round trips, not one per entry).
  it.each([
    { name: 'a (missing an entry)', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6] },
    { name: 'b (missing many)', follower: [1, 1, 1, 4] },
    { name: 'c (one extra entry)', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6] },
    { name: 'd (extra entries of a newer term)', follower: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7] },
    { name: 'e (conflicting suffix)', follower: [1, 1, 1, 4, 4, 4, 4] },
    { name: 'f (long conflicting suffix)', follower: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3] },
    { name: 'empty', follower: [] },
  ])('Figure 7: the leader repairs follower log $name', ({ follower }) => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 10 });
    net.node('a').preload(FIG7_LEADER, { term: 7, commit: 0 });
    net.node('b').preload(follower, { term: 7, commit: 0 });
    net.node('c').preload(FIG7_LEADER, { term: 7, commit: 0 });
    net.campaign('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 8 });
    net.tickAll(2);
    const expected = [...FIG7_LEADER, 8];
    expect(net.node('b').logTerms()).toEqual(expected);
    expect(net.node('b').raft.status().commit).toBe(11);
    const rejects = net.delivered.filter((m) => m.type === 'appResp' && m.from === 'b' && m.reject).length;
    expect(rejects).toBeLessThanOrEqual(3);
  });

  // Raft paper, Figure 8: an entry from an earlier term is never committed by counting replicas; it commits only
  // once an entry of the leader's own term is replicated on a majority.
  it.each([
    { noopReplicated: false, overwritten: true },
    { noopReplicated: true, overwritten: false },
  ])('Figure 8: commit rule (leader no-op replicated: $noopReplicated)', ({ noopReplicated, overwritten }) => {
    const ids = ['s1', 's2', 's3', 's4', 's5'];
    // One entry per append message, so the term-2 entry can reach a majority without the leader's no-op.
    // No check-quorum: no leader lease to wait out when s5 campaigns later.
    const net = new TestNetwork(ids, { electionTick: 10, maxMsgBytes: 1, checkQuorum: false });
    // State (c) of Figure 8: index 2 was written in term 2 on s1 and s2 only; s5 wrote index 2 in term 3.
    net.node('s1').preload([1, 2], { term: 3, commit: 1 }, 1);
    net.node('s2').preload([1, 2], { term: 3, commit: 1 }, 1);
    net.node('s3').preload([1], { term: 3, commit: 1 }, 1);
    net.node('s4').preload([1], { term: 3, commit: 1 }, 1);
    net.node('s5').preload([1, 3], { term: 4, commit: 1 }, 1);
    net.isolate('s5');
    // The leader's term-4 no-op (index 3) is lost on the way to everyone (stripped from every append).
    if (!noopReplicated) {
      net.filter = (m) => {
        if (m.type === 'app' && m.entries) m.entries = m.entries.filter((e) => e.index < 3);
        return true;
      };
    }
    net.campaign('s1');
    expect(net.raft('s1').status()).toMatchObject({ role: 'leader', term: 4 });
    net.tickAll(3);
    // The term-2 entry is now on s1, s2, s3 (a majority) ...
    expect(net.node('s3').logTerms()).toEqual(noopReplicated ? [1, 2, 4] : [1, 2]);
    // ... but it is committed only if the term-4 no-op is too.
    expect(net.raft('s1').status().commit).toBe(noopReplicated ? 3 : 1);

    // s1 crashes; s5 returns and campaigns.
    net.recover();
    net.isolate('s1');
    net.campaign('s5');
    const s5 = net.raft('s5').status();
    expect(s5.role === 'leader').toBe(overwritten);
    if (overwritten) {
      net.tickAll(3);
      // s5's term-3 entry replaced the uncommitted term-2 entry: safe, it was never committed.
      expect(net.node('s3').logTerms().slice(0, 2)).toEqual([1, 3]);
    }
    for (const n of net.nodes.values()) {
      const at2 = n.applied.find((e) => e.index === 2);
      if (at2) expect(at2.term).toBe(overwritten ? 3 : 2);
    }
  });

  it('a leader counts its own entries toward commit only after they were persisted (advance)', () => {
    const node = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    node.raft.campaign();
    node.drain();
    const index = node.raft.propose('x');
    const rd = node.raft.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([index]);
    expect(rd.committedEntries.map((e) => e.index)).not.toContain(index);
    expect(node.raft.status().commit).toBe(index - 1);
    node.storage.append(rd.entries);
    node.raft.advance(rd);
    expect(node.raft.status().commit).toBe(index);
    expect(node.raft.ready().committedEntries.map((e) => e.data)).toEqual(['x']);
  });

  it('a follower acknowledges entries only in the Ready that persists them', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    const app: Message = { type: 'app', from: 'a', to: 'b', term: 1, index: 0, logTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: 'normal', data: 'x' }] };
    node.raft.step(app);
    const rd = node.raft.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.hardState).toMatchObject({ term: 1 });
    expect(rd.messages).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 1, index: 1 }]);
  });

  it('entries a follower lost in a crash (never persisted, never acknowledged) are sent again', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.ignore('app');
    const index = net.propose('a', 'x');
    net.recover();
    // b receives the append but crashes before its Ready is persisted: the entry and the answer are lost.
    const b = net.node('b');
    b.raft.step({ type: 'app', from: 'a', to: 'b', term: 1, index: index - 1, logTerm: 1, commit: index - 1, entries: [{ index, term: 1, type: 'normal', data: 'x' }] });
    b.raft.ready();
    b.restart();
    expect(b.raft.status().lastIndex).toBe(index - 1);
    net.tickAll(3);
    for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(['x']);
  });

  it('pipelining: at most maxInflight unacknowledged appends per follower', () => {
    const net = new TestNetwork(['a', 'b'], { maxInflight: 2 });
    net.campaign('a');
    // Answers from b are lost: a keeps at most 2 appends in flight.
    net.filter = (m) => !(m.from === 'b' && m.type === 'appResp');
    for (let k = 0; k < 6; k++) net.propose('a', `x${k}`);
    const apps = net.delivered.filter((m) => m.type === 'app' && m.to === 'b' && m.entries?.length && m.entries.some((e) => e.data.startsWith('x')));
    expect(apps).toHaveLength(2);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', inflight: 2 });
    net.recover();
    net.tickAll(3);
    expect(net.node('b').appliedData()).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
  });

  it('pipelining: at most maxInflightBytes of entry data in flight to a follower, more as it answers', () => {
    const net = new TestNetwork(['a', 'b'], { maxInflight: 256, maxMsgBytes: 10, maxInflightBytes: 30 });
    net.campaign('a');
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate' });
    // b's answers are held back: a sends appends while less than 30 bytes are in flight, then stops.
    net.filter = (m) => !(m.from === 'b' && m.type === 'appResp');
    for (let k = 0; k < 40; k++) net.propose('a', `x${String(k).padStart(4, '0')}`); // 5 bytes each, one append each
    const appends = () => net.delivered.filter((m) => m.type === 'app' && m.to === 'b' && m.entries?.some((e) => e.data.startsWith('x')));
    const bytes = (ms: ReturnType<typeof appends>) => ms.reduce((n, m) => n + m.entries!.reduce((k, e) => k + e.data.length, 0), 0);
    expect(appends()).toHaveLength(6);
    expect(bytes(appends())).toBe(30);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', inflight: 6 });
    // A heartbeat's answer frees the oldest (as with maxInflight), so one more goes.
    net.tickAll(1);
    expect(appends()).toHaveLength(7);
    net.recover();
    net.tickAll(6);
    expect(net.node('b').appliedData()).toHaveLength(40);
    expect(bytes(appends())).toBe(40 * 5); // every entry sent once: no window sent again
  });

  it.each([
    { maxMsgBytes: 1, perMessage: 1 },
    { maxMsgBytes: 4, perMessage: 2 },
    { maxMsgBytes: 1 << 20, perMessage: 8 },
  ])('batching: an append carries entries up to maxMsgBytes ($maxMsgBytes → $perMessage per message)', ({ maxMsgBytes, perMessage }) => {
    const net = new TestNetwork(['a', 'b'], { maxMsgBytes, maxInflight: 64 });
    net.campaign('a');
    net.isolate('b');
    const a = net.raft('a');
    for (let k = 0; k < 8; k++) a.propose(`x${k}`); // 2 bytes each
    net.node('a').drain();
    net.recover();
    net.tickAll(2);
    const sizes = net.delivered
      .filter((m) => m.type === 'app' && m.to === 'b' && m.entries?.length && m.entries[0].data.startsWith('x'))
      .map((m) => m.entries!.length);
    expect(Math.max(...sizes)).toBe(perMessage);
    expect(net.node('b').appliedData()).toHaveLength(8);
  });

  it('a follower in probe state gets one append per heartbeat until it answers', () => {
    const net = new TestNetwork(['a', 'b']);
    net.node('b').preload([1, 1, 1], { term: 1 });
    net.node('a').preload([1, 2, 2, 2, 2], { term: 2 });
    net.isolate('b');
    net.campaign('a'); // single vote is not enough: b is needed
    net.recover();
    net.campaign('a');
    expect(net.raft('a').status().role).toBe('leader');
    net.tickAll(2);
    expect(net.node('b').logTerms()).toEqual(net.node('a').logTerms());
  });

  it('entries of earlier terms commit together with the new leader no-op', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) net.node(id).preload([1, 1, 2], { term: 2, commit: 1 }, 1);
    net.campaign('a');
    net.tickAll(1);
    for (const n of net.nodes.values()) {
      expect(n.raft.status().commit).toBe(4);
      expect(n.applied.map((e) => e.index)).toEqual([2, 3, 4]);
    }
  });
});

describe('raft unstable log', () => {
  const app = (term: number, index: number, logTerm: number, ents: [number, number][], commit = 0): Message => ({
    type: 'app',
    from: 'a',
    to: 'b',
    term,
    index,
    logTerm,
    commit,
    entries: ents.map(([i, t]) => ({ index: i, term: t, type: 'normal' as const, data: `d${i}t${t}` })),
  });

  it('a conflicting append truncates inside the unstable tail, even while a Ready with the old entries is being persisted', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.raft.step(app(1, 0, 0, [[1, 1], [2, 1], [3, 1], [4, 1]]));
    const rd1 = node.raft.ready(); // the driver is persisting 1..4
    expect(rd1.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    // Meanwhile a new leader (term 2) overwrites from index 3.
    node.raft.step({ ...app(2, 2, 1, [[3, 2]]), from: 'c' });
    node.storage.append(rd1.entries);
    node.storage.setHardState(rd1.hardState!);
    node.raft.advance(rd1);
    expect(node.logTerms()).toEqual([1, 1, 2]);
    const rd2 = node.raft.ready();
    // The next Ready rewrites index 3 (the storage still holds the old 3 and 4 until it is persisted).
    expect(rd2.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    expect(rd2.messages).toEqual([{ type: 'appResp', from: 'b', to: 'c', term: 2, index: 3 }]);
    node.storage.append(rd2.entries);
    node.raft.advance(rd2);
    expect(node.storage.lastIndex()).toBe(3);
    node.restart();
    expect(node.logTerms()).toEqual([1, 1, 2]);
  });

  it('a duplicate append of entries already present changes nothing and is acknowledged', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.raft.step(app(1, 0, 0, [[1, 1], [2, 1], [3, 1]]));
    node.drain();
    node.raft.step(app(1, 1, 1, [[2, 1]]));
    const rd = node.raft.ready();
    expect(rd.entries).toEqual([]);
    expect(rd.messages).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 1, index: 2 }]);
    expect(node.logTerms()).toEqual([1, 1, 1]);
  });
});
