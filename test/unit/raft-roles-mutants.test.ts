/**
 * Role changes of the Raft core that the other raft-*.test.ts files leave loose (found by mutation testing): the
 * departed voter's campaign for stale voters, a leadership hand-over requested while a conf entry is unapplied, the
 * hand-over of a leader that applied its own removal, and the election timeouts of pre-candidates.
 */
import { describe, expect, it } from 'vitest';
import { Raft, TransferInProgressError } from '../../replica/raft/raft.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import { encodeConfChange } from '../../replica/raft/conf.js';
import type { ConfState, Entry, Message } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';
import { demotedLeaderAhead } from '../helpers/raft-scenarios.js';

const ABC: ConfState = { voters: ['a', 'b', 'c'], learners: [] };

function entry(index: number, type: 'normal' | 'conf' = 'normal', data = `e${index}`, term = 1): Entry {
  return { index, term, type, data };
}

/**
 * Replica 'a' after it led term 1, committed and applied its own demotion (entry 2) and appended entries 3 and 4:
 * voters b and c, a a learner, no leader known. Its log (4 entries of term 1) is ahead of a voter that has only 3.
 */
function departedA(opts: { preVote?: boolean; vote?: string | null; term?: number } = {}): TestNode {
  const node = new TestNode('a', ABC, opts.preVote === undefined ? {} : { preVote: opts.preVote }, 1);
  node.storage.append([entry(1, 'normal', ''), entry(2, 'conf', encodeConfChange({ op: 'demote', id: 'a' })), entry(3), entry(4)]);
  node.storage.setHardState({ term: opts.term ?? 1, vote: opts.vote === undefined ? 'a' : opts.vote, commit: 2 });
  node.storage.setConfState({ voters: ['b', 'c'], learners: ['a'] });
  node.appliedIndex = 2;
  node.smConf = { voters: ['b', 'c'], learners: ['a'] };
  node.restart();
  return node;
}

/** A vote request from a voter whose log ends at index 3, term 1 (behind departedA). */
function staleRequest(type: 'vote' | 'preVote', from: string, term: number): Message {
  return { type, from, to: 'a', term, index: 3, logTerm: 1 };
}

describe('raft departed replica: campaigns for stale voters it turns down', () => {
  it('turns down a stale voter, then runs a pre-vote among the new voters, with its longer log and no transfer context', () => {
    const a = departedA();
    a.raft.step(staleRequest('vote', 'b', 2));
    expect(a.raft.status()).toMatchObject({ role: 'preCandidate', term: 2, lead: null });
    const msgs = a.drain();
    expect(msgs).toEqual([
      { type: 'voteResp', from: 'a', to: 'b', term: 2, reject: true },
      { type: 'preVote', from: 'a', to: 'b', term: 3, index: 4, logTerm: 1 },
      { type: 'preVote', from: 'a', to: 'c', term: 3, index: 4, logTerm: 1 },
    ]);
    // Not a transfer: the voters' leader lease still protects a live leader from this campaign.
    for (const m of msgs) expect(m.context).toBeUndefined();
  });

  it('without pre-vote it campaigns for real: a new term and vote requests to the new voters', () => {
    const a = departedA({ preVote: false });
    a.raft.step(staleRequest('vote', 'b', 2));
    expect(a.raft.status()).toMatchObject({ role: 'candidate', term: 3, vote: 'a' });
    expect(a.drain()).toEqual([
      { type: 'voteResp', from: 'a', to: 'b', term: 2, reject: true },
      { type: 'vote', from: 'a', to: 'b', term: 3, index: 4, logTerm: 1 },
      { type: 'vote', from: 'a', to: 'c', term: 3, index: 4, logTerm: 1 },
    ]);
  });

  it('a learner that still knows a leader turns down a stale pre-vote without campaigning', () => {
    const a = departedA();
    a.raft.step({ type: 'heartbeat', from: 'c', to: 'a', term: 1, commit: 2 });
    a.drain();
    // Past the leader lease (a learner never times out into a campaign): the pre-vote is answered.
    for (let k = 0; k < 10; k++) a.raft.tick();
    a.raft.step(staleRequest('preVote', 'b', 2));
    expect(a.raft.status()).toMatchObject({ role: 'follower', term: 1, lead: 'c' });
    expect(a.drain()).toEqual([{ type: 'preVoteResp', from: 'a', to: 'b', term: 1, reject: true }]);
  });

  it('a replica without any configuration never campaigns, even when it turns down a candidate behind its log', () => {
    const node = new TestNode('a', { voters: [], learners: [] }, {}, 1);
    node.preload([1, 1, 1], { term: 1 });
    node.raft.step({ type: 'vote', from: 'b', to: 'a', term: 2, index: 1, logTerm: 1 });
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 2 });
    expect(node.drain()).toEqual([{ type: 'voteResp', from: 'a', to: 'b', term: 2, reject: true }]);
  });
});

describe('raft vote requests in the current term', () => {
  it('a follower that knows the leader of its term turns down another candidate of that term', () => {
    const node = new TestNode('b', ABC, {}, 1);
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 2, commit: 0 });
    node.drain();
    expect(node.raft.status()).toMatchObject({ term: 2, vote: null, lead: 'a' });
    node.raft.step({ type: 'vote', from: 'c', to: 'b', term: 2, index: 0, logTerm: 0 });
    expect(node.drain()).toEqual([{ type: 'voteResp', from: 'b', to: 'c', term: 2, reject: true }]);
    expect(node.raft.status()).toMatchObject({ term: 2, vote: null, lead: 'a' });
  });

  it('a pre-vote for the current term is granted only to the candidate this replica voted for', () => {
    const node = new TestNode('b', ABC, {}, 1);
    node.preload([], { term: 2, vote: 'c' });
    node.raft.step({ type: 'preVote', from: 'a', to: 'b', term: 2, index: 0, logTerm: 0 });
    node.raft.step({ type: 'preVote', from: 'c', to: 'b', term: 2, index: 0, logTerm: 0 });
    expect(node.drain()).toEqual([
      { type: 'preVoteResp', from: 'b', to: 'a', term: 2, reject: true },
      { type: 'preVoteResp', from: 'b', to: 'c', term: 2, reject: false },
    ]);
    expect(node.raft.status()).toMatchObject({ term: 2, vote: 'c' });
  });
});

/** Follower 'b' of leader 'a' (term 1) with entries 1..n committed up to `commit` and nothing applied. */
function followerWithConf(ents: Entry[], commit: number): TestNode {
  const node = new TestNode('b', ABC, {}, 1);
  node.storage.append(ents);
  node.storage.setHardState({ term: 1, vote: 'a', commit });
  node.restart();
  return node;
}

const timeoutNow: Message = { type: 'timeoutNow', from: 'a', to: 'b', term: 1 };

describe('raft timeoutNow while a conf entry is committed but not applied', () => {
  it('the follower waits for the conf entry to be applied, then campaigns at once for real, with the transfer context', () => {
    const node = followerWithConf([entry(1, 'normal', ''), entry(2, 'conf', encodeConfChange({ op: 'addLearner', id: 'd', address: 'x' }))], 2);
    node.raft.step(timeoutNow);
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 1 });
    const rd = node.raft.ready();
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1, 2]);
    expect(rd.messages).toEqual([]);
    node.raft.applyConfChange({ op: 'addLearner', id: 'd', address: 'x' });
    node.raft.advance(rd);
    // Applied: it campaigns (no pre-vote: the leader asked it to), in a new term.
    expect(node.raft.status()).toMatchObject({ role: 'candidate', term: 2, vote: 'b' });
    const votes = node.raft.ready().messages;
    expect(votes).toEqual([
      { type: 'vote', from: 'b', to: 'a', term: 2, index: 2, logTerm: 1, context: 'transfer' },
      { type: 'vote', from: 'b', to: 'c', term: 2, index: 2, logTerm: 1, context: 'transfer' },
    ]);
  });

  it('a request dropped because the applied change removed the follower is not honoured after it is promoted again', () => {
    const node = followerWithConf(
      [entry(1, 'normal', ''), entry(2, 'conf', encodeConfChange({ op: 'demote', id: 'b' })), entry(3, 'conf', encodeConfChange({ op: 'promote', id: 'b' }))],
      2,
    );
    node.raft.step(timeoutNow);
    node.drain();
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 1, applied: 2, conf: { voters: ['a', 'c'], learners: ['b'] } });
    // The leader commits the promotion: the old request must not make b campaign now.
    node.raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 3 });
    expect(node.drain()).toEqual([{ type: 'heartbeatResp', from: 'b', to: 'a', term: 1 }]);
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 1, lead: 'a', applied: 3, conf: { voters: ['a', 'c', 'b'] } });
  });

  it('a leader of a newer term heard meanwhile cancels the request', () => {
    const node = followerWithConf([entry(1, 'normal', ''), entry(2, 'conf', encodeConfChange({ op: 'addLearner', id: 'd', address: 'x' }))], 2);
    node.raft.step(timeoutNow);
    node.raft.step({ type: 'heartbeat', from: 'c', to: 'b', term: 2, commit: 2 });
    node.drain();
    expect(node.raft.status()).toMatchObject({ role: 'follower', term: 2, lead: 'c', applied: 2 });
  });
});

describe('raft configuration changes applied by a leader', () => {
  /** Leader 'a' of a, b, c (term 1) after 'x' was proposed while `lagging` (if any) was cut off. */
  function leaderWith(lagging?: string): TestNetwork {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 5 });
    net.campaign('a');
    if (lagging) net.isolate(lagging);
    net.propose('a', 'x');
    return net;
  }

  it('applying a change sends at once what a follower put back to probing lacks (no wait for the next heartbeat)', () => {
    const net = leaderWith('c');
    const a = net.raft('a');
    net.recover();
    // The link to c broke: a probes c again from its match, and c lacks 'x'.
    a.reportUnreachable('c');
    expect(a.status().progress?.c).toMatchObject({ state: 'probe' });
    a.applyConfChange({ op: 'addLearner', id: 'd', address: 'x' });
    const out = net.node('a').drain();
    const toC = out.filter((m) => m.type === 'app' && m.to === 'c');
    expect(toC).toHaveLength(1);
    expect(toC[0]!.entries?.map((e) => e.data)).toContain('x');
  });

  it('applying its own removal hands over to the most caught-up voter, even one listed after a lagging one', () => {
    const net = leaderWith('b');
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'c' });
    expect(net.node('a').drain().filter((m) => m.type === 'timeoutNow')).toEqual([{ type: 'timeoutNow', from: 'a', to: 'c', term: 1 }]);
  });

  it('between equally caught-up voters the hand-over goes to the first one in the configuration', () => {
    const net = leaderWith();
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'b' });
    expect(net.node('a').drain().filter((m) => m.type === 'timeoutNow')).toEqual([{ type: 'timeoutNow', from: 'a', to: 'b', term: 1 }]);
  });

  it('a transfer already under way when the leader applies its own removal is kept', () => {
    const net = leaderWith('c');
    net.raft('a').transferLeadership('c');
    net.send(net.node('a').drain());
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'c' });
    expect(net.node('a').drain().filter((m) => m.to === 'b')).toEqual([]);
  });

  it('the hand-over sends the chosen voter an append at once, even when all its entries are already in flight', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 5 });
    net.campaign('a');
    net.ignore('appResp');
    net.propose('a', 'x'); // b and c have it; the leader has not heard so
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'b' });
    expect(net.node('a').drain()).toEqual([{ type: 'app', from: 'a', to: 'b', term: 1, index: 2, logTerm: 1, entries: [], commit: 1 }]);
  });

  it('removing the transfer target aborts the transfer: proposals are accepted again', () => {
    const net = leaderWith();
    net.isolate('c');
    net.raft('a').transferLeadership('c');
    net.send(net.node('a').drain());
    expect(net.raft('a').status().leadTransferee).toBe('c');
    net.raft('a').applyConfChange({ op: 'remove', id: 'c' });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: null });
    expect(() => net.raft('a').propose('y')).not.toThrow();
  });

  it('a change that keeps the transfer target a voter leaves the transfer under way', () => {
    const net = leaderWith();
    net.isolate('c');
    net.raft('a').transferLeadership('c');
    net.send(net.node('a').drain());
    net.raft('a').applyConfChange({ op: 'addLearner', id: 'd', address: 'x' });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'c' });
    expect(() => net.raft('a').propose('y')).toThrow(TransferInProgressError);
  });

  it('a follower applying its own removal stays a quiet follower: no hand-over, nothing to send', () => {
    const net = leaderWith();
    const c = net.node('c');
    c.raft.applyConfChange({ op: 'remove', id: 'c' });
    expect(c.raft.status()).toMatchObject({ role: 'follower', lead: 'a', leadTransferee: null });
    expect(c.raft.hasReady()).toBe(false);
    expect(c.drain()).toEqual([]);
  });

  it('a pre-candidate removed mid-election abandons its pre-vote and never campaigns on late answers', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'd', 'e']);
    net.ignore('preVoteResp');
    net.campaign('a');
    expect(net.raft('a').status().role).toBe('preCandidate');
    net.raft('a').applyConfChange({ op: 'remove', id: 'a' });
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', term: 0 });
    net.recover();
    for (const id of ['b', 'c', 'd']) net.raft('a').step({ type: 'preVoteResp', from: id, to: 'a', term: 1, reject: false });
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', term: 0 });
  });

  it('a new leader has no read pending: it sends no heartbeat before its first heartbeat tick', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', commit: 1 });
    const types = new Set(net.delivered.map((m) => m.type));
    expect([...types].sort()).toEqual(['app', 'appResp', 'preVote', 'preVoteResp', 'vote', 'voteResp']);
  });
});

describe('raft: a replica elected while outside the voters', () => {
  it('hands leadership to a voter as soon as it is elected: the stale voter leads before any tick', () => {
    const net = new TestNetwork(['a', 'b'], { electionTick: 5 });
    demotedLeaderAhead(net);
    const [a, b] = [net.node('a'), net.node('b')];
    net.campaign('b');
    // a turned b down, won among the new voters (b) in term 2, brought b up to date and handed over: b won term 3.
    expect(net.delivered.some((m) => m.type === 'timeoutNow' && m.from === 'a' && m.to === 'b' && m.term === 2)).toBe(true);
    expect(net.leaders().map((n) => n.id)).toEqual(['b']);
    expect(b.raft.status()).toMatchObject({ term: 3, conf: { voters: ['b'], learners: ['a'] } });
    expect(a.raft.status()).toMatchObject({ role: 'follower', term: 3, lead: 'b' });
  });
});

describe('raft election timeouts', () => {
  /** A voter of a, b, c that hears nobody; `draws` are its random numbers in order (then 0.9999). */
  function isolatedVoter(draws: number[]): Raft {
    const queue = [...draws];
    return new Raft({ id: 'b', storage: new MemoryStorage(ABC), applied: 0, electionTick: 10, random: () => queue.shift() ?? 0.9999 });
  }

  /** The ticks (1-based) at which the node sent pre-votes, over `n` ticks. */
  function preVoteTicks(raft: Raft, n: number): number[] {
    const out: number[] = [];
    for (let t = 1; t <= n; t++) {
      raft.tick();
      if (!raft.hasReady()) continue;
      const rd = raft.ready();
      if (rd.messages.some((m) => m.type === 'preVote')) out.push(t);
      raft.advance(rd);
    }
    return out;
  }

  it('a pre-candidate that hears nothing retries every election timeout drawn once (no new draw per round)', () => {
    // The first draw (0) gives the regular minimum, electionTick; any later draw would give 19.
    expect(preVoteTicks(isolatedVoter([0]), 45)).toEqual([10, 20, 30, 40]);
  });

  it('after a leader was reported unreachable: three quick rounds, then the regular timeout', () => {
    const raft = isolatedVoter([0, 0, 0, 0, 0, 0.5]);
    raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    raft.advance(raft.ready());
    for (let k = 0; k < 3; k++) raft.tick();
    raft.leaderUnreachable('a');
    expect(raft.status().lead).toBeNull();
    // Quick draws of 0 give 1 tick each; the third quick round draws the regular timeout (0.5 → 15 ticks).
    expect(preVoteTicks(raft, 50)).toEqual([1, 2, 3, 18, 33, 48]);
  });
});
