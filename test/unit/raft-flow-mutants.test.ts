// The leader's flow control, message by message: what the leader sends right after one answer from a follower
// (appResp, heartbeatResp, snapResp), not what the cluster converges to. Several of these branches only make the leader
// act sooner than the next heartbeat would; the scenario tests cannot tell them apart, these tests can.
// Written against Stryker's surviving mutants of replica/raft/raft.ts (bcastAppend .. handleSnapResp; README.md "Testing").
import { describe, expect, it } from 'vitest';
import type { Message } from '../../replica/raft/types.js';
import { UnavailableError } from '../../replica/raft/types.js';
import { TestNetwork } from '../sim/harness.js';
import { snapshotInFlight } from '../helpers/raft-scenarios.js';

const CONF3 = { voters: ['a', 'b', 'c'], learners: [] };

/** Data of the entries of each append to `to`, one array per message, in send order. */
function appEntries(msgs: Message[], to: string): string[][] {
  return msgs.filter((m) => m.type === 'app' && m.to === to).map((m) => m.entries!.map((e) => e.data));
}

/** What the leader sends (the whole Ready loop) in answer to `m`, delivered to it directly. */
function answer(net: TestNetwork, m: Omit<Message, 'to' | 'term'>): Message[] {
  const a = net.raft('a');
  a.step({ to: 'a', term: a.currentTerm, ...m } as Message);
  return net.node('a').drain();
}

/**
 * a leads a, b, c with one entry per append (maxMsgBytes 1) and a window of 3; b's appends are lost, so after
 * `n` proposals (indices 2..n+1, committed by c) b has entries 2, 3, 4 in flight and the rest waits.
 */
function fullWindow(n: number): TestNetwork {
  const net = new TestNetwork(['a', 'b', 'c'], { maxInflight: 3, maxMsgBytes: 1 });
  net.campaign('a');
  net.filter = (m) => !(m.type === 'app' && m.to === 'b');
  for (let k = 0; k < n; k++) net.propose('a', `x${k + 2}`);
  net.filter = null;
  expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 1, next: 5, inflight: 3 });
  expect(net.raft('a').status().commit).toBe(n + 1);
  return net;
}

/** a leads a, b, c; everyone has the no-op and `x` (index 2, committed); b's progress is then reported unreachable. */
function caughtUpProbe(): TestNetwork {
  const net = new TestNetwork(['a', 'b', 'c']);
  net.campaign('a');
  net.propose('a', 'x');
  net.raft('a').reportUnreachable('b');
  expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'probe', match: 2, next: 3 });
  expect(net.node('a').drain()).toEqual([]);
  return net;
}

describe('raft flow control: acknowledgements in replicate state', () => {
  it('a partial ack frees only its slots and sends only new entries: what is in flight is not sent again', () => {
    const net = fullWindow(7);
    let out = answer(net, { type: 'appResp', from: 'b', index: 2 });
    expect(appEntries(out, 'b')).toEqual([['x5']]);
    expect(out.filter((m) => m.to !== 'b')).toEqual([]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 2, next: 6, inflight: 3 });
    // Acking everything in flight frees the whole window: it refills at once, one append per entry.
    out = answer(net, { type: 'appResp', from: 'b', index: 5 });
    expect(appEntries(out, 'b')).toEqual([['x6'], ['x7'], ['x8']]);
    expect(out.map((m) => [m.index, m.logTerm, m.commit])).toEqual([
      [5, 1, 8],
      [6, 1, 8],
      [7, 1, 8],
    ]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 5, next: 9, inflight: 3 });
  });

  it('an ack that neither commits nor unpauses sends nothing', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'c');
    net.propose('a', 'x'); // committed by b's ack
    net.filter = null;
    expect(net.raft('a').status()).toMatchObject({ commit: 2, progress: { c: { state: 'replicate', match: 1, next: 3, inflight: 1 } } });
    expect(answer(net, { type: 'appResp', from: 'c', index: 2 })).toEqual([]);
    expect(net.raft('a').status().progress!.c).toMatchObject({ state: 'replicate', match: 2, next: 3, inflight: 0 });
  });
});

describe('raft flow control: a probing follower', () => {
  /** b misses y, z (indices 2, 3) and is then reported unreachable; its next heartbeat answer gets a probe with both. */
  function lagging(): TestNetwork {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('b');
    net.propose('a', 'y');
    net.propose('a', 'z');
    net.recover();
    const a = net.raft('a');
    a.reportUnreachable('b');
    expect(a.status()).toMatchObject({ commit: 3, progress: { b: { state: 'probe', match: 1, next: 2 } } });
    const probe = answer(net, { type: 'heartbeatResp', from: 'b' });
    expect(probe.map((m) => [m.type, m.to, m.index, m.entries?.length])).toEqual([['app', 'b', 1, 2]]);
    return net;
  }

  it('a paused follower that catches up on committed entries is sent the commit index at once (an empty append)', () => {
    const net = lagging();
    const out = answer(net, { type: 'appResp', from: 'b', index: 3 });
    expect(out).toEqual([{ type: 'app', from: 'a', to: 'b', term: 1, index: 3, logTerm: 1, entries: [], commit: 3 }]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 3, next: 4 });
  });

  it('an ack that commits leaves the commit to the broadcast: one empty append per follower', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('b');
    net.isolate('c');
    net.propose('a', 'x'); // index 2, not committed: nobody acks
    net.recover();
    const a = net.raft('a');
    a.reportUnreachable('b');
    expect(answer(net, { type: 'heartbeatResp', from: 'b' }).map((m) => [m.to, m.index, m.entries?.length])).toEqual([['b', 1, 1]]);
    const out = answer(net, { type: 'appResp', from: 'b', index: 2 });
    expect(a.status().commit).toBe(2);
    expect(out).toEqual([
      { type: 'app', from: 'a', to: 'b', term: 1, index: 2, logTerm: 1, entries: [], commit: 2 },
      { type: 'app', from: 'a', to: 'c', term: 1, index: 2, logTerm: 1, entries: [], commit: 2 },
    ]);
  });

  it('a late rejection of a probe at the match is taken: the leader probes again at once, with an empty append', () => {
    const net = caughtUpProbe();
    // b rejected an earlier probe at 2 before it had entry 2; the answer arrives only now.
    const out = answer(net, { type: 'appResp', from: 'b', index: 2, reject: true, rejectHint: 2, logTerm: 1 });
    expect(out).toEqual([{ type: 'app', from: 'a', to: 'b', term: 1, index: 2, logTerm: 1, entries: [], commit: 2 }]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'probe', match: 2, next: 3 });
  });

  it('a heartbeat answer from a probing follower that has everything is probed (empty append) and then replicates', () => {
    const net = caughtUpProbe();
    const empty = { type: 'app', from: 'a', to: 'b', term: 1, index: 2, logTerm: 1, entries: [], commit: 2 };
    expect(answer(net, { type: 'heartbeatResp', from: 'b' })).toEqual([empty]);
    // The probe's answer unpauses b: it is told the commit index at once (there is nothing else to send).
    expect(answer(net, { type: 'appResp', from: 'b', index: 2 })).toEqual([empty]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 2, next: 3 });
  });

  it('a stale ack below the match of a probing follower does not start replication', () => {
    const net = caughtUpProbe();
    expect(answer(net, { type: 'heartbeatResp', from: 'b' }).map((m) => m.type)).toEqual(['app']);
    expect(answer(net, { type: 'appResp', from: 'b', index: 1 })).toEqual([]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'probe', match: 2, next: 3 });
  });
});

describe('raft flow control: a follower in snapshot state', () => {
  it('a late ack still below the compacted log moves match but sends nothing: the snapshot is in flight', () => {
    const net = snapshotInFlight();
    expect(answer(net, { type: 'appResp', from: 'c', index: 2 })).toEqual([]);
    expect(net.raft('a').status().progress!.c).toMatchObject({ state: 'snapshot', match: 2 });
  });

  it('a duplicate ack at its match, while a requested snapshot is in flight, changes nothing', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.autoReportSnapshot = false;
    net.campaign('a');
    const need = answer(net, { type: 'appResp', from: 'c', index: 0, reject: true, rejectHint: 0, logTerm: 0, context: 'needSnapshot' });
    expect(need.map((m) => [m.type, m.to])).toEqual([['snap', 'c']]);
    expect(answer(net, { type: 'appResp', from: 'c', index: 1 })).toEqual([]);
    expect(net.raft('a').status().progress!.c).toMatchObject({ state: 'snapshot', match: 1 });
  });

  it('the snap message carries the index, term and configuration of the stored snapshot', () => {
    const net = snapshotInFlight();
    const a = net.raft('a');
    a.step({ type: 'snapResp', from: 'c', to: 'a', term: 1, index: 0, reject: true });
    net.node('a').drain();
    a.step({ type: 'heartbeatResp', from: 'c', to: 'a', term: 1 }); // the probe needs compacted entries: snapshot
    const rd = a.ready();
    expect(rd.messages).toEqual([{ type: 'snap', from: 'a', to: 'c', term: 1, snapshot: { index: 4, term: 1, conf: CONF3 } }]);
    a.advance(rd);
  });

  it('no snapshot for a follower not heard from for an election timeout; one as soon as it answers', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 10 });
    net.autoReportSnapshot = false;
    net.campaign('a');
    net.isolate('c');
    net.propose('a', 'x');
    net.propose('a', 'y');
    net.tickAll(11);
    const a = net.raft('a');
    expect(a.status().progress!.c.recentActive).toBe(false);
    const node = net.node('a');
    node.storage.compact(node.appliedIndex, node.storage.term(node.appliedIndex), node.smConf);
    a.reportUnreachable('c');
    expect(a.status().progress!.c).toMatchObject({ state: 'probe', match: 1, next: 2 });
    a.propose('z'); // c needs entry 2 on: compacted
    const sent = net.node('a').drain();
    expect(sent.map((m) => [m.type, m.to])).toEqual([['app', 'b']]);
    expect(a.status().progress!.c.state).toBe('probe');
    // c answers a heartbeat: now it gets the snapshot.
    expect(answer(net, { type: 'heartbeatResp', from: 'c' }).map((m) => [m.type, m.to])).toEqual([['snap', 'c']]);
    expect(a.status().progress!.c.state).toBe('snapshot');
  });
});

describe('raft flow control: snapshot answers from a replicating follower', () => {
  /** b replicates with entries 2 and 3 in flight (its acks are lost). */
  function inFlight(): TestNetwork {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'b');
    net.propose('a', 'x');
    net.propose('a', 'y');
    net.filter = null;
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 1, next: 4, inflight: 2 });
    return net;
  }

  it('a stale snapshot rejection does not stop the pipeline', () => {
    const net = inFlight();
    expect(answer(net, { type: 'snapResp', from: 'b', index: 0, reject: true })).toEqual([]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 1, next: 4, inflight: 2 });
  });

  it('a stale snapshot acceptance does not stop the pipeline: nothing is sent again', () => {
    const net = inFlight();
    const out = answer(net, { type: 'snapResp', from: 'b', index: 1 });
    expect(appEntries(out, 'b')).toEqual([[]]);
    expect(net.raft('a').status().progress!.b).toMatchObject({ state: 'replicate', match: 1, next: 4, inflight: 2 });
  });
});

describe('raft flow control: heartbeats, transfers, corrupt answers', () => {
  it('a heartbeat without a pending read has no context field at all', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { heartbeatTick: 1 });
    net.campaign('a');
    const a = net.raft('a');
    a.tick();
    const rd = a.ready();
    expect(rd.messages).toStrictEqual([
      { type: 'heartbeat', to: 'b', commit: 1, from: 'a', term: 1 },
      { type: 'heartbeat', to: 'c', commit: 1, from: 'a', term: 1 },
    ]);
    a.advance(rd);
  });

  it('a transfer target that acks only part of the log is not told to campaign yet', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { maxMsgBytes: 1 });
    net.campaign('a');
    net.filter = (m) => !(m.type === 'app' && m.to === 'b');
    for (const d of ['x', 'y', 'z']) net.propose('a', d);
    net.filter = null;
    net.raft('a').transferLeadership('b');
    net.node('a').drain();
    expect(answer(net, { type: 'appResp', from: 'b', index: 2 }).filter((m) => m.type === 'timeoutNow')).toEqual([]);
    expect(answer(net, { type: 'appResp', from: 'b', index: 3 }).filter((m) => m.type === 'timeoutNow')).toEqual([]);
    expect(answer(net, { type: 'appResp', from: 'b', index: 4 }).filter((m) => m.type === 'timeoutNow').map((m) => m.to)).toEqual(['b']);
  });

  it('an ack of entries the leader does not have is a broken invariant: step throws, no snapshot papers over it', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(() => net.raft('a').step({ type: 'appResp', from: 'b', to: 'a', term: 1, index: 9 })).toThrow(UnavailableError);
  });
});

describe('raft flow control: commits and reads', () => {
  it('a read deferred until the first commit is served once: later commits send no read heartbeats', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.filter = (m) => m.type !== 'appResp';
    net.campaign('a');
    net.filter = null;
    const a = net.raft('a');
    a.readIndex('r1'); // the no-op is not committed: the read waits for it
    expect(net.node('a').drain()).toEqual([]);
    const out = answer(net, { type: 'appResp', from: 'b', index: 1 });
    expect(out.filter((m) => m.type === 'heartbeat').map((m) => [m.to, m.context])).toEqual([
      ['b', 'r1'],
      ['c', 'r1'],
    ]);
    net.send(out);
    expect(net.node('a').readStates).toEqual([{ index: 1, context: 'r1' }]);
    net.raft('a').propose('x');
    const more = net.node('a').drain();
    expect(more.map((m) => [m.type, m.to])).toEqual([
      ['app', 'b'],
      ['app', 'c'],
    ]);
    const commit = answer(net, { type: 'appResp', from: 'b', index: 2 });
    expect(commit.map((m) => [m.type, m.to, m.commit])).toEqual([
      ['app', 'b', 2],
      ['app', 'c', 2],
    ]);
    expect(net.node('a').readStates).toEqual([{ index: 1, context: 'r1' }]);
  });

  it("a leader's resync to a snapshot with a fourth voter replicates to it and counts it in quorums", () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    const a = net.raft('a');
    // The replica became leader while a resync was pending; the resync snapshot's configuration has a fourth voter.
    a.resyncApplied({ index: 1, term: 1, conf: { voters: ['a', 'b', 'c', 'd'], learners: [] } });
    expect(Object.keys(a.status().progress ?? {}).sort()).toEqual(['a', 'b', 'c', 'd']);
    net.filter = (m) => !(m.type === 'appResp' && m.from === 'c');
    a.propose('x');
    const out = net.node('a').drain();
    expect(out.filter((m) => m.type === 'app').map((m) => m.to).sort()).toEqual(['b', 'c', 'd']);
    net.send(out); // d does not exist here: what goes to it is lost
    expect(a.status().commit).toBe(1); // a and b of four voters: no quorum
    net.filter = null;
    expect(() => answer(net, { type: 'appResp', from: 'c', index: 2 })).not.toThrow();
    expect(a.status().commit).toBe(2); // a, b and c of four
  });

  it('a leader alone among the voters answers a forwarded read at once, with its context; one without a context is dropped', () => {
    const net = new TestNetwork(['a', 'b'], { voters: ['a'], learners: ['b'] });
    net.campaign('a');
    expect(answer(net, { type: 'readIndex', from: 'b', context: 'q' })).toEqual([{ type: 'readIndexResp', from: 'a', to: 'b', term: 1, index: 1, context: 'q' }]);
    expect(answer(net, { type: 'readIndex', from: 'b' })).toEqual([]);
    expect(answer(net, { type: 'readIndex', from: 'b', context: '' })).toEqual([]);
  });

  it('a read with an empty context is refused at once: no heartbeat answer could ever acknowledge it', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(() => net.raft('a').readIndex('')).toThrow('a read needs a non-empty context');
    expect(() => net.raft('b').readIndex('')).toThrow('a read needs a non-empty context');
    // With a context, the same read is served.
    net.raft('a').readIndex('r');
    net.settle();
    expect(net.node('a').readStates).toEqual([{ index: 1, context: 'r' }]);
  });
});
