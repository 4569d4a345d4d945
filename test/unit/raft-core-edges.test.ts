// Edges of the Raft core's public API that the scenario tests (raft-election, raft-log, ...) pass through without
// pinning: option checks, the election timer's range, stale-term answers, resyncApplied, reportUnreachable, status().
// Written against Stryker's surviving mutants of replica/raft/raft.ts (issue 18; README.md "Testing").
import { describe, expect, it } from 'vitest';
import { Raft, RaftError } from '../../replica/raft/raft.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import type { Message } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';
import { snapshotInFlight } from '../helpers/raft-scenarios.js';

const CONF3 = { voters: ['a', 'b', 'c'], learners: [] };

describe('raft core: options', () => {
  it.each([
    [{ heartbeatTick: 0 }, 'heartbeatTick must be > 0'],
    [{ heartbeatTick: Number.NaN }, 'heartbeatTick must be > 0'],
    [{ electionTick: 1 }, 'electionTick must be greater than heartbeatTick'],
    [{ heartbeatTick: 3, electionTick: 3 }, 'electionTick must be greater than heartbeatTick'],
    [{ maxInflight: 0 }, 'maxInflight must be > 0'],
    [{ maxMsgBytes: 0 }, 'maxMsgBytes must be > 0'],
    [{ maxInflightBytes: -1 }, 'maxInflightBytes must be >= 0'],
    [{ maxInflightBytes: Number.NaN }, 'maxInflightBytes must be >= 0'],
  ])('refuses %o', (opts, message) => {
    const storage = new MemoryStorage(CONF3);
    expect(() => new Raft({ id: 'a', storage, applied: 0, random: () => 0, ...opts })).toThrow(new RangeError(message));
  });

  it('accepts the smallest valid values', () => {
    const storage = new MemoryStorage(CONF3);
    expect(() => new Raft({ id: 'a', storage, applied: 0, random: () => 0, heartbeatTick: 1, electionTick: 2, maxInflight: 1, maxMsgBytes: 1, maxInflightBytes: 0 })).not.toThrow();
  });

  // The election timeout is drawn from [electionTick, 2*electionTick): default electionTick 10.
  it.each([
    { random: 0, ticks: 10 },
    { random: 0.5, ticks: 15 },
    { random: 0.99999, ticks: 19 },
    { random: 1, ticks: 19 }, // a source returning 1 (outside [0, 1)) still stays in range
  ])('a follower campaigns after its randomized election timeout (random $random → $ticks ticks)', ({ random, ticks }) => {
    const storage = new MemoryStorage(CONF3);
    const r = new Raft({ id: 'a', storage, applied: 0, random: () => random, preVote: false });
    for (let k = 1; k < ticks; k++) r.tick();
    expect(r.currentRole).toBe('follower');
    r.tick();
    expect(r.currentRole).toBe('candidate');
    expect(r.currentTerm).toBe(1);
  });

  it('with pre-vote the first campaign only pre-votes: no term change', () => {
    const r = new Raft({ id: 'a', storage: new MemoryStorage(CONF3), applied: 0, random: () => 0 });
    r.campaign();
    expect([r.currentRole, r.currentTerm]).toEqual(['preCandidate', 0]);
    const msgs = r.ready().messages;
    expect(msgs.map((m) => [m.type, m.to, m.term])).toEqual([
      ['preVote', 'b', 1],
      ['preVote', 'c', 1],
    ]);
  });
});

describe('raft core: step', () => {
  it('refuses a message addressed to another node, ignores one from itself', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    const m: Message = { type: 'heartbeat', from: 'a', to: 'c', term: 1, commit: 0 };
    let err: unknown;
    try {
      node.raft.step(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RaftError);
    expect(err).toMatchObject({ code: 'INVALID_MESSAGE', message: 'message for c delivered to b' });
    node.raft.step({ type: 'heartbeat', from: 'b', to: 'b', term: 5, commit: 0 });
    expect(node.raft.currentTerm).toBe(0);
    expect(node.raft.hasReady()).toBe(false);
  });

  it('answers stale-term heartbeats and appends with its term; a stale vote gets no answer, a stale pre-vote a rejection', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1, 2], { term: 3 });
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 0 });
    expect(node.drain()).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 3 }]);
    node.raft.step({ type: 'app', from: 'a', to: 'b', term: 2, index: 0, logTerm: 0, commit: 0, entries: [] });
    expect(node.drain()).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 3 }]);
    node.raft.step({ type: 'vote', from: 'c', to: 'b', term: 2, index: 9, logTerm: 9 });
    expect(node.drain()).toEqual([]);
    node.raft.step({ type: 'preVote', from: 'c', to: 'b', term: 2, index: 9, logTerm: 9 });
    expect(node.drain()).toEqual([{ type: 'preVoteResp', from: 'b', to: 'c', term: 3, reject: true }]);
    node.raft.step({ type: 'heartbeatResp', from: 'c', to: 'b', term: 2 });
    expect(node.drain()).toEqual([]);
    expect(node.raft.currentTerm).toBe(3);
  });

  it('without check-quorum and pre-vote a stale heartbeat gets no answer', () => {
    const node = new TestNode('b', CONF3, { checkQuorum: false, preVote: false }, 1);
    node.preload([1], { term: 3 });
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 0 });
    expect(node.drain()).toEqual([]);
  });

  it('with only one of check-quorum or pre-vote a stale heartbeat is still answered', () => {
    for (const opts of [{ checkQuorum: false }, { preVote: false }]) {
      const node = new TestNode('b', CONF3, opts, 1);
      node.preload([1], { term: 3 });
      node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 0 });
      expect(node.drain()).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 3 }]);
    }
  });
});

describe('raft core: resyncApplied', () => {
  const committedFollower = () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1, 1, 1, 1], { term: 1, commit: 3 }, 1);
    return node;
  };

  it('moves applied forward within what is committed and takes the snapshot configuration', () => {
    const node = committedFollower();
    const conf = { voters: ['a', 'b'], learners: ['c'] };
    node.raft.resyncApplied({ index: 3, term: 1, conf });
    conf.voters.push('x');
    expect(node.raft.status()).toMatchObject({ applied: 3, commit: 3, conf: { voters: ['a', 'b'], learners: ['c'] } });
    expect(node.raft.ready().committedEntries).toEqual([]);
  });

  it('accepts the bounds: applied itself and committed', () => {
    const node = committedFollower();
    expect(() => node.raft.resyncApplied({ index: 1, term: 1, conf: CONF3 })).not.toThrow();
    expect(() => node.raft.resyncApplied({ index: 3, term: 1, conf: CONF3 })).not.toThrow();
  });

  it('refuses below applied, above committed, and while a Ready is outstanding', () => {
    const node = committedFollower();
    expect(() => node.raft.resyncApplied({ index: 0, term: 0, conf: CONF3 })).toThrow('resync snapshot at 0 is outside applied 1..committed 3');
    expect(() => node.raft.resyncApplied({ index: 4, term: 1, conf: CONF3 })).toThrow('resync snapshot at 4 is outside applied 1..committed 3');
    node.raft.ready();
    expect(() => node.raft.resyncApplied({ index: 3, term: 1, conf: CONF3 })).toThrow('resync while a Ready is outstanding');
    expect(node.raft.status().applied).toBe(1);
  });
});

describe('raft core: leader bookkeeping', () => {
  it('reportUnreachable stops pipelining to a replicating follower (back to probe); ignored elsewhere', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(net.raft('a').status().progress!.b.state).toBe('replicate');
    net.raft('a').reportUnreachable('b');
    expect(net.raft('a').status().progress!.b.state).toBe('probe');
    net.raft('a').reportUnreachable('zz'); // unknown: nothing
    net.raft('b').reportUnreachable('a'); // not a leader: nothing
    expect(net.raft('b').status().role).toBe('follower');
    // A probing follower gets one append, then waits.
    net.isolate('b');
    net.raft('a').propose('x');
    net.raft('a').propose('y');
    const apps = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'app' && m.to === 'b');
    expect(apps).toHaveLength(1);
  });

  it('status: role, leader, progress of every member with recentActive and learner flags', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'l'], { voters: ['a', 'b', 'c'], learners: ['l'], electionTick: 10 });
    net.campaign('a');
    const a = net.raft('a');
    expect([a.currentTerm, a.currentRole, a.committedIndex]).toEqual([1, 'leader', 1]);
    const st = a.status();
    expect(st).toMatchObject({ id: 'a', term: 1, vote: 'a', role: 'leader', lead: 'a', commit: 1, applied: 1, firstIndex: 1, lastIndex: 1, leadTransferee: null, quorumActive: true });
    expect(st.conf).toEqual({ voters: ['a', 'b', 'c'], learners: ['l'] });
    expect(st.progress).toEqual({
      a: { match: 1, next: 2, state: 'replicate', recentActive: true, isLearner: false, inflight: 0 },
      b: { match: 1, next: 2, state: 'replicate', recentActive: true, isLearner: false, inflight: 0 },
      c: { match: 1, next: 2, state: 'replicate', recentActive: true, isLearner: false, inflight: 0 },
      l: { match: 1, next: 2, state: 'replicate', recentActive: true, isLearner: true, inflight: 0 },
    });
    // A follower's status has no progress.
    expect(net.raft('b').status()).toMatchObject({ role: 'follower', lead: 'a', vote: 'a' });
    expect(net.raft('b').status().progress).toBeUndefined();
    expect(net.raft('b').status().quorumActive).toBeUndefined();
    // c and l go silent: after more than an election timeout they are no longer recently active (the leader is).
    net.isolate('c');
    net.isolate('l');
    net.tickAll(10);
    expect(a.status().progress!.c.recentActive).toBe(true); // exactly electionTick ticks: still recent
    net.tickAll(1);
    const later = a.status();
    expect(later.progress!.c.recentActive).toBe(false);
    expect(later.progress!.l.recentActive).toBe(false);
    expect(later.progress!.a.recentActive).toBe(true);
    expect(later.progress!.b.recentActive).toBe(true);
    expect(later.quorumActive).toBe(true);
  });
});

describe('raft core: heartbeats', () => {
  it("a heartbeat carries the commit index only up to the follower's match: a stale tail is never committed", () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.node('a').preload([1, 1, 2, 2], { term: 2, commit: 2 }, 2);
    net.node('c').preload([1, 1, 2, 2], { term: 2, commit: 2 }, 2);
    // b holds uncommitted entries 3..5 of term 1 that the new leader's log does not have.
    net.node('b').preload([1, 1, 1, 1, 1], { term: 2, commit: 2 }, 2);
    net.filter = (m) => !(m.type === 'app' && m.to === 'b'); // b learns nothing but heartbeats
    net.campaign('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 3 });
    net.tickAll(3);
    expect(net.raft('a').status().commit).toBe(5);
    const hbs = net.delivered.filter((m) => m.type === 'heartbeat' && m.to === 'b');
    expect(hbs.length).toBeGreaterThan(0);
    for (const m of hbs) expect(m.commit).toBe(0);
    expect(net.raft('b').status().commit).toBe(2);
    // c, which matches, learns the commit index from heartbeats too.
    const toC = net.delivered.filter((m) => m.type === 'heartbeat' && m.to === 'c');
    expect(toC.at(-1)!.commit).toBe(5);
    // Once the appends flow, b's tail is replaced and committed.
    net.recover();
    net.tickAll(3);
    expect(net.node('b').logTerms()).toEqual([1, 1, 2, 2, 3]);
    expect(net.raft('b').status().commit).toBe(5);
  });
});

describe('raft core: snapshot answers', () => {
  it('a rejected snapshot puts the follower back to probing from after its match', () => {
    const net = snapshotInFlight();
    const a = net.raft('a');
    expect(a.status().progress!.c.match).toBe(1); // c has the no-op only
    a.step({ type: 'snapResp', from: 'c', to: 'a', term: 1, index: 0, reject: true });
    // Probing resumes after match (not after the snapshot, which c did not take).
    expect(a.status().progress!.c).toMatchObject({ state: 'probe', match: 1, next: 2 });
    // A rejection when not in snapshot state changes nothing.
    a.step({ type: 'snapResp', from: 'c', to: 'a', term: 1, index: 0, reject: true });
    expect(a.status().progress!.c).toMatchObject({ state: 'probe', match: 1, next: 2 });
  });

  it('an accepted snapshot moves match to its index and resumes appends at once', () => {
    const net = snapshotInFlight();
    const a = net.raft('a');
    const snapIndex = net.node('a').storage.firstIndex() - 1;
    a.step({ type: 'snapResp', from: 'c', to: 'a', term: 1, index: snapIndex });
    expect(a.status().progress!.c).toMatchObject({ state: 'probe', match: snapIndex });
    const apps = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'app' && m.to === 'c');
    expect(apps.map((m) => m.index)).toEqual([snapIndex]);
  });

  it('an append answer from a follower in snapshot state that reaches the log resumes replication', () => {
    const net = snapshotInFlight();
    const a = net.raft('a');
    const last = a.status().lastIndex;
    a.step({ type: 'appResp', from: 'c', to: 'a', term: 1, index: last });
    expect(a.status().progress!.c).toMatchObject({ state: 'replicate', match: last, next: last + 1 });
  });

  it('a follower asking for a snapshot (never configured) gets one, once', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.autoReportSnapshot = false;
    net.campaign('a');
    const a = net.raft('a');
    const need: Message = { type: 'appResp', from: 'c', to: 'a', term: 1, index: 0, reject: true, rejectHint: 0, logTerm: 0, context: 'needSnapshot' };
    a.step(need);
    expect(a.status().progress!.c.state).toBe('snapshot');
    let snaps = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'snap');
    expect(snaps.map((m) => m.to)).toEqual(['c']);
    a.step(need);
    snaps = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'snap');
    expect(snaps).toEqual([]);
  });

  it('a follower ignores a snapshot below its committed index (even one older than its own snapshot)', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1, 1, 1, 1, 1, 1], { term: 1, commit: 6 }, 6);
    node.storage.compact(5, 1, CONF3);
    node.restart();
    node.raft.step({ type: 'snap', from: 'a', to: 'b', term: 1, snapshot: { index: 3, term: 1, conf: CONF3 } });
    const rd = node.raft.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages).toEqual([{ type: 'snapResp', from: 'b', to: 'a', term: 1, index: 6 }]);
    expect(node.raft.status()).toMatchObject({ commit: 6, firstIndex: 6, lastIndex: 6 });
  });

  it('a snap message without a snapshot is ignored', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1], { term: 1 });
    node.raft.step({ type: 'snap', from: 'a', to: 'b', term: 1 });
    expect(node.drain()).toEqual([]);
  });
});

describe('raft core: follower appends', () => {
  it('an append behind the commit index is answered with the commit index', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1, 1, 1, 1], { term: 1, commit: 3 }, 3);
    node.raft.step({ type: 'app', from: 'a', to: 'b', term: 1, index: 1, logTerm: 1, commit: 3, entries: [{ index: 2, term: 1, type: 'normal', data: 'e2' }] });
    expect(node.drain()).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 1, index: 3 }]);
    expect(node.raft.status().lastIndex).toBe(4);
  });

  it('an append at the commit index whose previous term disagrees is a divergence, not a rejection', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1, 1, 1], { term: 2, commit: 3 }, 3);
    expect(() => node.raft.step({ type: 'app', from: 'a', to: 'b', term: 2, index: 3, logTerm: 2, commit: 3, entries: [] })).toThrow('conflicts with committed entry 3');
    expect(() => node.raft.step({ type: 'app', from: 'a', to: 'b', term: 2, index: 2, logTerm: 1, commit: 3, entries: [{ index: 3, term: 2, type: 'normal', data: '' }] })).toThrow(
      'conflicts with committed entry 3',
    );
  });

  it('a rejection carries a hint: the last index at or below the leader term, and its term', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.preload([1, 1, 2, 2, 2], { term: 3, commit: 1 }, 1);
    node.raft.step({ type: 'app', from: 'a', to: 'b', term: 3, index: 7, logTerm: 1, commit: 1, entries: [] });
    expect(node.drain()).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 3, index: 7, reject: true, rejectHint: 2, logTerm: 1 }]);
    node.raft.step({ type: 'app', from: 'a', to: 'b', term: 3, index: 4, logTerm: 3, commit: 1, entries: [] });
    expect(node.drain()).toEqual([{ type: 'appResp', from: 'b', to: 'a', term: 3, index: 4, reject: true, rejectHint: 4, logTerm: 2 }]);
  });

  it('a never-configured replica asks for a snapshot with the index it was sent', () => {
    const node = new TestNode('d', { voters: [], learners: [] }, {}, 1);
    node.raft.step({ type: 'app', from: 'a', to: 'd', term: 1, index: 5, logTerm: 1, commit: 5, entries: [] });
    expect(node.drain()).toEqual([{ type: 'appResp', from: 'd', to: 'a', term: 1, index: 5, reject: true, rejectHint: 0, logTerm: 0, context: 'needSnapshot' }]);
  });

  it('a heartbeat answer echoes the context only when there is one', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    expect(node.drain()).toEqual([{ type: 'heartbeatResp', from: 'b', to: 'a', term: 1 }]);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, context: 'r' });
    expect(node.drain()).toEqual([{ type: 'heartbeatResp', from: 'b', to: 'a', term: 1, context: 'r' }]);
  });

  it('a read answer without a context gives an empty one', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    node.drain();
    node.raft.step({ type: 'readIndexResp', from: 'a', to: 'b', term: 1 });
    node.drain();
    expect(node.readStates).toEqual([{ index: 0, context: '' }]);
  });
});

/** An empty append, a heartbeat or a snapshot (of nothing) that a leader `from` of `term` sends to `to`. */
function fromLeader(type: 'app' | 'heartbeat' | 'snap', from: string, to: string, term: number): Message {
  if (type === 'app') return { type, from, to, term, index: 0, logTerm: 0, commit: 0, entries: [] };
  if (type === 'heartbeat') return { type, from, to, term, commit: 0 };
  return { type, from, to, term, snapshot: { index: 0, term: 0, conf: CONF3 } };
}

describe('raft core: candidates', () => {
  it('a candidate rejected by a majority becomes a follower at once, in its term', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { preVote: false });
    net.node('b').preload([1, 1], { term: 1 });
    net.node('c').preload([1, 1], { term: 1 });
    net.node('a').preload([1], { term: 1 });
    net.campaign('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', term: 2, lead: null });
  });

  it('a repeated answer from the same voter counts once', () => {
    const node = new TestNode('a', { voters: ['a', 'b', 'c', 'd', 'e'], learners: [] }, { preVote: false }, 1);
    node.raft.campaign();
    node.drain();
    node.raft.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, reject: true });
    node.raft.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, reject: false });
    node.raft.step({ type: 'voteResp', from: 'c', to: 'a', term: 1, reject: false });
    expect(node.raft.currentRole).toBe('candidate'); // a, c: 2 of 5
    node.raft.step({ type: 'voteResp', from: 'd', to: 'a', term: 1, reject: false });
    expect(node.raft.currentRole).toBe('leader');
  });

  it('a pre-candidate that wins its pre-vote campaigns for real without the transfer context', () => {
    const node = new TestNode('a', CONF3, {}, 1);
    node.raft.campaign();
    node.drain();
    node.raft.step({ type: 'preVoteResp', from: 'b', to: 'a', term: 1, reject: false });
    expect([node.raft.currentRole, node.raft.currentTerm]).toEqual(['candidate', 1]);
    expect(node.drain().map((m) => [m.type, m.to, m.term, m.context])).toEqual([
      ['vote', 'b', 1, undefined],
      ['vote', 'c', 1, undefined],
    ]);
  });

  it('a candidate steps down for a leader of its term (append, heartbeat or snapshot)', () => {
    for (const type of ['app', 'heartbeat', 'snap'] as const) {
      const node = new TestNode('a', CONF3, { preVote: false }, 1);
      node.raft.campaign();
      node.drain();
      node.raft.step(fromLeader(type, 'b', 'a', 1));
      expect(node.raft.status()).toMatchObject({ role: 'follower', lead: 'b', term: 1 });
      const out = node.drain();
      expect(out.map((x) => x.type)).toEqual([type === 'app' ? 'appResp' : type === 'heartbeat' ? 'heartbeatResp' : 'snapResp']);
    }
  });

  it('a higher-term message from a leader sets it as leader; a higher-term answer leaves none', () => {
    for (const type of ['app', 'heartbeat', 'snap'] as const) {
      const node = new TestNode('b', CONF3, {}, 1);
      node.raft.step(fromLeader(type, 'a', 'b', 4));
      expect(node.raft.status()).toMatchObject({ role: 'follower', lead: 'a', term: 4 });
    }
    const node = new TestNode('b', CONF3, {}, 1);
    node.raft.step({ type: 'appResp', from: 'a', to: 'b', term: 4, index: 0 });
    expect(node.raft.status()).toMatchObject({ role: 'follower', lead: null, term: 4 });
  });
});

describe('raft core: leader flow control', () => {
  it('a heartbeat answer from a caught-up follower sends no append; one from a lagging follower does', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    const before = net.delivered.length;
    net.tick('a');
    const round = net.delivered.slice(before);
    expect(round.filter((m) => m.type === 'heartbeat').map((m) => m.to)).toEqual(['b', 'c']);
    expect(round.filter((m) => m.type === 'app')).toEqual([]);
    expect(round.every((m) => m.to !== m.from)).toBe(true);
    // c misses an entry (its append is lost): the next heartbeat answer brings it the entry.
    net.filter = (m) => !(m.type === 'app' && m.to === 'c');
    net.propose('a', 'y');
    net.filter = null;
    net.tick('a');
    expect(net.node('c').appliedData()).toEqual(['x', 'y']);
  });

  it('a heartbeat answer frees one in-flight append only when the window is full', () => {
    const net = new TestNetwork(['a', 'b'], { maxInflight: 3 });
    net.campaign('a');
    net.filter = (m) => !(m.from === 'b' && m.type === 'appResp');
    net.propose('a', 'x1');
    net.propose('a', 'x2');
    expect(net.raft('a').status().progress!.b.inflight).toBe(2);
    net.raft('a').step({ type: 'heartbeatResp', from: 'b', to: 'a', term: 1 });
    expect(net.raft('a').status().progress!.b.inflight).toBe(2);
    net.propose('a', 'x3');
    expect(net.raft('a').status().progress!.b.inflight).toBe(3);
    net.raft('a').step({ type: 'heartbeatResp', from: 'b', to: 'a', term: 1 });
    expect(net.raft('a').status().progress!.b.inflight).toBe(2);
  });

  it('a heartbeat answer with an unknown read context changes nothing', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    net.ignore('heartbeatResp');
    net.raft('a').readIndex('r1');
    net.send(net.node('a').drain());
    net.raft('a').step({ type: 'heartbeatResp', from: 'b', to: 'a', term: 1, context: 'other' });
    net.node('a').drain();
    expect(net.node('a').readStates).toEqual([]);
    net.raft('a').step({ type: 'heartbeatResp', from: 'b', to: 'a', term: 1, context: 'r1' });
    net.node('a').drain();
    expect(net.node('a').readStates).toEqual([{ index: 2, context: 'r1' }]);
  });

  it('entries proposed together go out as several pipelined appends in one Ready', () => {
    const net = new TestNetwork(['a', 'b'], { maxMsgBytes: 1, maxInflight: 16 });
    net.campaign('a');
    const a = net.raft('a');
    for (let k = 0; k < 4; k++) a.propose(`x${k}`);
    const apps = a.ready().messages.filter((m) => m.type === 'app' && m.to === 'b');
    expect(apps.map((m) => m.entries!.map((e) => e.data))).toEqual([['x0'], ['x1'], ['x2'], ['x3']]);
  });

  it('a rejection in replicate state falls back to probing from after match; the hint skips a conflicting term', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    const a = net.raft('a');
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', match: 2 });
    a.step({ type: 'appResp', from: 'b', to: 'a', term: 1, index: 2, reject: true, rejectHint: 1, logTerm: 1 });
    expect(a.status().progress!.b.state).toBe('replicate'); // not above match: stale
    net.isolate('b');
    a.propose('y');
    a.propose('z');
    net.node('a').drain();
    a.step({ type: 'appResp', from: 'b', to: 'a', term: 1, index: 3, reject: true, rejectHint: 2, logTerm: 1 });
    expect(a.status().progress!.b).toMatchObject({ state: 'probe', match: 2, next: 3 });
    const resent = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'app' && m.to === 'b');
    expect(resent.map((m) => m.index)).toEqual([2]);
  });

  it('a probing follower: a rejection hint moves next back by term, and an acceptance starts replication', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.node('a').preload([1, 1, 2, 2, 2], { term: 2, commit: 1 }, 1);
    net.node('c').preload([1, 1, 2, 2, 2], { term: 2, commit: 1 }, 1);
    net.node('b').preload([1, 1, 1, 1, 1, 1, 1], { term: 2, commit: 1 }, 1);
    net.isolate('b');
    net.campaign('a');
    const a = net.raft('a');
    expect(a.status().progress!.b).toMatchObject({ state: 'probe', next: 6 });
    net.recover();
    // b's entry 5 has term 1, not 2: hint (5, term 1) → a's last index with term <= 1 is 2.
    a.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 5, reject: true, rejectHint: 5, logTerm: 1 });
    expect(a.status().progress!.b).toMatchObject({ state: 'probe', next: 3 });
    const probe = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'app' && m.to === 'b');
    expect(probe.map((m) => [m.index, m.logTerm])).toEqual([[2, 1]]);
    // Without a term in the hint, the hint index is used as it is.
    a.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 2, reject: true, rejectHint: 1 });
    expect(a.status().progress!.b).toMatchObject({ state: 'probe', next: 2 });
    net.node('a').drain();
    // b accepts up to 1 (the probe at 1 matched): replicate, everything after 1 is sent.
    a.step({ type: 'appResp', from: 'b', to: 'a', term: 3, index: 1 });
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', match: 1 });
    const rest = net
      .node('a')
      .drain()
      .filter((m) => m.type === 'app' && m.to === 'b');
    expect(rest.flatMap((m) => m.entries!.map((e) => e.index))).toEqual([2, 3, 4, 5, 6]);
  });

  it('heartbeats go out every heartbeatTick ticks', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { heartbeatTick: 3, electionTick: 20 });
    net.campaign('a');
    const count = () => net.delivered.filter((m) => m.type === 'heartbeat').length;
    const base = count();
    net.tick('a', 2);
    expect(count()).toBe(base);
    net.tick('a');
    expect(count()).toBe(base + 2);
    net.tick('a', 3);
    expect(count()).toBe(base + 4);
  });

  it('a transfer survives the ticks before an election timeout', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 5 });
    net.campaign('a');
    net.isolate('b');
    net.raft('a').transferLeadership('b');
    net.tick('a', 4);
    expect(net.raft('a').status().leadTransferee).toBe('b');
    // Asking again for the same transfer does not restart its clock.
    net.raft('a').transferLeadership('b');
    net.tick('a');
    expect(net.raft('a').status().leadTransferee).toBeNull();
  });

  it('a newer transfer to a caught-up voter is sent at once', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('b');
    net.propose('a', 'x');
    net.raft('a').transferLeadership('b');
    net.recover();
    net.raft('a').transferLeadership('c');
    const out = net.node('a').drain();
    expect(out.filter((m) => m.type === 'timeoutNow').map((m) => m.to)).toEqual(['c']);
  });
});

describe('raft core: Ready contents and options', () => {
  it('a Ready carries the hard state only when it changed', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    const rd1 = node.raft.ready();
    expect(rd1.hardState).toEqual({ term: 1, vote: null, commit: 0 });
    expect(rd1.softState).toEqual({ lead: 'a', role: 'follower' });
    node.raft.advance(rd1);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    const rd2 = node.raft.ready();
    expect(rd2.messages).toHaveLength(1);
    expect(rd2.hardState).toBeUndefined();
    expect(rd2.softState).toBeUndefined();
    node.raft.advance(rd2);
    expect(node.raft.hasReady()).toBe(false);
  });

  it('hasReady reports a changed role or leader alone, and unsent entries alone', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.drain();
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 0, commit: 0 }); // same term: only the leader changes
    node.drain();
    // A leader's own proposal: entries to persist.
    const solo = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    solo.raft.campaign();
    solo.drain();
    solo.raft.propose('x');
    expect(solo.raft.hasReady()).toBe(true);
    const rd = solo.raft.ready();
    expect(rd.entries.map((e) => e.data)).toEqual(['x']);
  });

  it('committed entries for applying are limited by maxApplyBytes (default: 16 MiB)', () => {
    const app: Message = {
      type: 'app',
      from: 'a',
      to: 'b',
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 3,
      entries: [1, 2, 3].map((i) => ({ index: i, term: 1, type: 'normal' as const, data: 'xxxx' })),
    };
    const dflt = new TestNode('b', CONF3, {}, 1);
    dflt.raft.step(app);
    expect(dflt.raft.ready().committedEntries.map((e) => e.index)).toEqual([1, 2, 3]);
    const small = new TestNode('b', CONF3, { maxApplyBytes: 4 }, 1);
    small.raft.step(app);
    expect(small.raft.ready().committedEntries.map((e) => e.index)).toEqual([1]);
    const big = 'x'.repeat(6 * 1024 * 1024);
    const large = new TestNode('b', CONF3, {}, 1);
    large.raft.step({ ...app, entries: [1, 2, 3].map((i) => ({ index: i, term: 1, type: 'normal' as const, data: big })) });
    expect(large.raft.ready().committedEntries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('appends in flight to one follower hold at most maxInflightBytes of entry data (default: 8 MiB)', () => {
    const net = new TestNetwork(['a', 'b']);
    net.campaign('a');
    net.filter = (m) => !(m.from === 'b' && m.type === 'appResp');
    const mib = 'x'.repeat(1024 * 1024);
    for (let k = 0; k < 12; k++) net.propose('a', mib);
    // Sent while under 8 MiB: eight appends of 1 MiB, then nothing until b answers.
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', inflight: 8 });
  });

  it('campaign() is ignored by a leader and by a learner', () => {
    const net = new TestNetwork(['a', 'b', 'l'], { voters: ['a', 'b'], learners: ['l'] });
    net.campaign('a');
    net.campaign('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 1 });
    net.campaign('l');
    expect(net.raft('l').status()).toMatchObject({ role: 'follower', term: 1 });
  });

  it('a candidate cannot serve or forward a read', () => {
    const node = new TestNode('a', CONF3, { preVote: false }, 1);
    node.raft.step({ type: 'heartbeat', from: 'b', to: 'a', term: 1, commit: 0 });
    node.drain();
    node.raft.campaign();
    expect(node.raft.currentRole).toBe('candidate');
    expect(() => node.raft.readIndex('r')).toThrow('not the leader, and no leader is known');
  });

  it('the leader tracks membership: a promoted learner counts as a voter, a removed member is forgotten', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'l'], { voters: ['a', 'b', 'c'], learners: ['l'] });
    net.campaign('a');
    net.raft('a').proposeConfChange({ op: 'promote', id: 'l' });
    net.send(net.node('a').drain());
    net.tickAll(2);
    expect(net.raft('a').status().progress!.l.isLearner).toBe(false);
    net.raft('a').proposeConfChange({ op: 'remove', id: 'c' });
    net.send(net.node('a').drain());
    net.tickAll(2);
    expect(Object.keys(net.raft('a').status().progress!).sort()).toEqual(['a', 'b', 'l']);
    net.raft('a').proposeConfChange({ op: 'demote', id: 'b' });
    net.send(net.node('a').drain());
    net.tickAll(2);
    expect(net.raft('a').status().progress!.b.isLearner).toBe(true);
  });
});

describe('raft core: reports from the driver', () => {
  it('reportSnapshot: a failed transfer probes from after match, a finished one from after the snapshot; both wait for a heartbeat answer', () => {
    for (const ok of [false, true]) {
      const net = snapshotInFlight();
      const a = net.raft('a');
      const snapIndex = net.node('a').storage.firstIndex() - 1;
      expect(snapIndex).toBeGreaterThan(2);
      a.reportSnapshot('c', ok);
      expect(a.status().progress!.c).toMatchObject({ state: 'probe', match: 1, next: ok ? snapIndex + 1 : 2 });
      // Paused until c answers a heartbeat: a proposal sends c nothing.
      a.propose('p');
      const toC = net
        .node('a')
        .drain()
        .filter((m) => m.to === 'c');
      expect(toC).toEqual([]);
      a.step({ type: 'heartbeatResp', from: 'c', to: 'a', term: 1 });
      // ...then an append after the snapshot, or (failed: the entries after match are compacted) a new snapshot.
      const next = net
        .node('a')
        .drain()
        .filter((m) => m.to === 'c' && m.type !== 'heartbeat');
      expect(next.map((m) => m.type)).toEqual([ok ? 'app' : 'snap']);
    }
  });

  it('reportSnapshot is ignored outside snapshot state, for unknown peers and on followers', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    const a = net.raft('a');
    a.reportSnapshot('b', true);
    a.reportSnapshot('zz', false);
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', next: 2 });
    net.raft('b').reportSnapshot('a', false);
    expect(net.raft('b').status().role).toBe('follower');
  });

  it('leaderUnreachable is ignored by a leader and by a learner even after a silence', () => {
    const net = new TestNetwork(['a', 'b', 'l'], { voters: ['a', 'b'], learners: ['l'], electionTick: 10 });
    net.campaign('a');
    net.isolate('l');
    net.tickAll(4);
    net.raft('a').leaderUnreachable('a');
    net.raft('a').leaderUnreachable('b');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', lead: 'a' });
    net.raft('l').leaderUnreachable('a');
    expect(net.raft('l').status().lead).toBe('a');
  });
});

describe('raft core: leader lease', () => {
  it('a vote request is ignored for electionTick ticks after hearing the leader, then answered', () => {
    for (const [ticks, answered] of [
      [9, false],
      [10, true],
    ] as const) {
      // A learner never campaigns, so its election clock just counts.
      const node = new TestNode('l', { voters: ['a', 'b', 'c'], learners: ['l'] }, {}, 1);
      node.raft.step({ type: 'heartbeat', from: 'a', to: 'l', term: 1, commit: 0 });
      node.drain();
      for (let k = 0; k < ticks; k++) node.raft.tick();
      node.raft.step({ type: 'vote', from: 'c', to: 'l', term: 2, index: 0, logTerm: 0 });
      const out = node.drain().filter((m) => m.type === 'voteResp');
      expect(out.length).toBe(answered ? 1 : 0);
    }
  });

  it('a transfer vote bypasses the lease', () => {
    const node = new TestNode('b', CONF3, {}, 1);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    node.drain();
    node.raft.step({ type: 'vote', from: 'c', to: 'b', term: 2, index: 0, logTerm: 0, context: 'transfer' });
    expect(node.drain().filter((m) => m.type === 'voteResp')).toEqual([{ type: 'voteResp', from: 'b', to: 'c', term: 2, reject: false }]);
  });
});
