import { describe, expect, it } from 'vitest';
import { Raft, NoQuorumError, NotLeaderError, LEADER_SILENCE_HEARTBEATS } from '../../replica/raft/raft.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import type { Message } from '../../replica/raft/types.js';
import { TestNetwork, TestNode } from '../sim/harness.js';

const ids = (n: number) => Array.from({ length: n }, (_, k) => String.fromCharCode(97 + k));

function voteMsg(from: string, to: string, term: number, index: number, logTerm: number, type: 'vote' | 'preVote' = 'vote', context?: string): Message {
  return { type, from, to, term, index, logTerm, ...(context ? { context } : {}) };
}

describe('raft elections', () => {
  it.each([
    { size: 1, isolated: [], leader: true },
    { size: 3, isolated: [], leader: true },
    { size: 3, isolated: ['b'], leader: true },
    { size: 3, isolated: ['b', 'c'], leader: false },
    { size: 5, isolated: ['d', 'e'], leader: true },
    { size: 5, isolated: ['c', 'd', 'e'], leader: false },
  ])('a candidate wins with a majority of votes ($size nodes, isolated $isolated)', ({ size, isolated, leader }) => {
    for (const preVote of [true, false]) {
      const net = new TestNetwork(ids(size), { preVote });
      for (const id of isolated) net.isolate(id);
      net.campaign('a');
      const st = net.raft('a').status();
      expect(st.role === 'leader').toBe(leader);
      if (leader) expect(st.term).toBe(1);
      // With pre-vote, a candidate that cannot win does not even bump its term.
      else expect(st.term).toBe(preVote ? 0 : 1);
    }
  });

  it('grants at most one vote per term, and persists it with the response', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.raft.step(voteMsg('a', 'b', 1, 0, 0));
    const rd = node.raft.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(rd.messages).toEqual([{ type: 'voteResp', from: 'b', to: 'a', term: 1, reject: false }]);
    node.storage.setHardState(rd.hardState!);
    node.raft.advance(rd);
    node.raft.step(voteMsg('c', 'b', 1, 0, 0));
    expect(node.raft.ready().messages).toEqual([{ type: 'voteResp', from: 'b', to: 'c', term: 1, reject: true }]);
  });

  it('a vote survives a restart (it is in the hard state)', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.raft.step(voteMsg('a', 'b', 1, 0, 0));
    node.drain();
    node.restart();
    node.raft.step(voteMsg('c', 'b', 1, 0, 0));
    expect(node.drain()[0]).toMatchObject({ type: 'voteResp', to: 'c', reject: true });
    // ...and a request from the same candidate is granted again (idempotent).
    node.raft.step(voteMsg('a', 'b', 1, 0, 0));
    expect(node.drain()[0]).toMatchObject({ type: 'voteResp', to: 'a', reject: false });
  });

  // The voter's log has terms [1, 1, 2]: last index 3, last term 2 (Raft §5.4.1).
  it.each([
    { index: 3, logTerm: 2, grant: true },
    { index: 4, logTerm: 2, grant: true },
    { index: 1, logTerm: 3, grant: true },
    { index: 2, logTerm: 2, grant: false },
    { index: 9, logTerm: 1, grant: false },
    { index: 0, logTerm: 0, grant: false },
  ])('votes only for a candidate whose log is at least as up to date (last $index/$logTerm → $grant)', ({ index, logTerm, grant }) => {
    for (const type of ['vote', 'preVote'] as const) {
      const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
      node.preload([1, 1, 2], { term: 2 });
      node.raft.step(voteMsg('a', 'b', 3, index, logTerm, type));
      const resp = node.drain().find((m) => m.type === (type === 'vote' ? 'voteResp' : 'preVoteResp'))!;
      expect(resp.reject ?? false).toBe(!grant);
    }
  });

  it('a leader steps down when it sees a higher term', () => {
    const net = new TestNetwork(ids(3));
    net.campaign('a');
    net.raft('a').step({ type: 'app', from: 'c', to: 'a', term: 5, index: 0, logTerm: 0, entries: [], commit: 0 });
    const st = net.raft('a').status();
    expect(st).toMatchObject({ role: 'follower', term: 5, lead: 'c' });
  });

  it.each([
    { r: 0, ticks: 10 },
    { r: 0.5, ticks: 15 },
    { r: 0.9999, ticks: 19 },
  ])('the election timeout is drawn from [electionTick, 2*electionTick) (random $r → $ticks ticks)', ({ r, ticks }) => {
    const storage = new MemoryStorage({ voters: ['a', 'b', 'c'], learners: [] });
    const raft = new Raft({ id: 'a', storage, applied: 0, electionTick: 10, random: () => r });
    let n = 0;
    while (raft.status().role === 'follower' && n < 100) {
      raft.tick();
      n++;
    }
    expect(raft.status().role).toBe('preCandidate');
    expect(n).toBe(ticks);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('elections converge to exactly one leader (seed %i)', (seed) => {
    const net = new TestNetwork(ids(5), { seed, electionTick: 5 });
    for (let t = 0; t < 200 && net.leaders().length === 0; t++) net.tickAll();
    expect(net.leaders()).toHaveLength(1);
    const term = net.leaders()[0].raft.status().term;
    for (const n of net.nodes.values()) expect(n.raft.status()).toMatchObject({ term, lead: net.leaders()[0].id });
  });

  it('proposals at a follower are refused with the leader it knows', () => {
    const net = new TestNetwork(ids(3));
    expect(() => net.raft('b').propose('x')).toThrow(NotLeaderError);
    net.campaign('a');
    try {
      net.raft('b').propose('x');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(NotLeaderError);
      expect((e as NotLeaderError).leader).toBe('a');
      expect((e as NotLeaderError).code).toBe('NOT_LEADER');
    }
  });
});

describe('raft pre-vote', () => {
  it('a partitioned node does not bump its term, and does not disrupt the leader when it returns', () => {
    const net = new TestNetwork(ids(3), { electionTick: 5 });
    net.campaign('a');
    net.isolate('c');
    net.tickAll(50);
    expect(net.raft('c').status().term).toBe(1);
    expect(net.raft('c').status().role).toBe('preCandidate');
    net.recover();
    net.tickAll(3);
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 1 });
    expect(net.raft('c').status()).toMatchObject({ role: 'follower', term: 1, lead: 'a' });
  });

  it('without pre-vote (and check-quorum) the returning node forces a new election', () => {
    const net = new TestNetwork(ids(3), { electionTick: 5, preVote: false, checkQuorum: false });
    net.campaign('a');
    net.isolate('c');
    net.tickAll(50);
    expect(net.raft('c').status().term).toBeGreaterThan(3);
    net.recover();
    net.tickAll(30);
    expect(net.raft('a').status().term).toBeGreaterThan(3);
  });

  it('a pre-vote is granted without changing the voter term or vote', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.preload([1], { term: 1 });
    node.raft.step(voteMsg('a', 'b', 2, 1, 1, 'preVote'));
    const out = node.drain();
    expect(out).toEqual([{ type: 'preVoteResp', from: 'b', to: 'a', term: 2, reject: false }]);
    expect(node.raft.status()).toMatchObject({ term: 1, vote: null });
  });

  it('a pre-vote with a stale term is rejected with the current term', () => {
    const node = new TestNode('b', { voters: ['a', 'b', 'c'], learners: [] }, {}, 1);
    node.preload([1], { term: 4 });
    node.raft.step(voteMsg('a', 'b', 3, 1, 1, 'preVote'));
    expect(node.drain()).toEqual([{ type: 'preVoteResp', from: 'b', to: 'a', term: 4, reject: true }]);
  });
});

describe('raft check-quorum and leader lease', () => {
  it('a leader that hears from no majority for an election timeout steps down', () => {
    const net = new TestNetwork(ids(3), { electionTick: 5 });
    net.campaign('a');
    net.isolate('a');
    // Activity is counted per election timeout window (as etcd does): it steps down at the end of the first full
    // window without a majority, i.e. between one and two election timeouts after it last heard from one.
    net.tick('a', 5);
    expect(net.raft('a').status().role).toBe('leader');
    net.tick('a', 5);
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', lead: null, term: 1 });
    expect(() => net.raft('a').propose('x')).toThrow(NotLeaderError);
  });

  it('a leader keeps leading while a majority answers', () => {
    const net = new TestNetwork(ids(5), { electionTick: 5 });
    net.campaign('a');
    net.isolate('d');
    net.isolate('e');
    net.tickAll(30);
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 1, quorumActive: true });
  });

  it('refuses proposals with NoQuorumError when no majority was heard from recently', () => {
    const net = new TestNetwork(ids(3), { electionTick: 5, checkQuorum: false });
    net.campaign('a');
    net.isolate('a');
    net.tick('a', 6);
    expect(net.raft('a').status().role).toBe('leader');
    expect(net.raft('a').status().quorumActive).toBe(false);
    try {
      net.raft('a').propose('x');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(NoQuorumError);
      expect((e as NoQuorumError).code).toBe('NO_QUORUM');
    }
    net.recover();
    net.tickAll(2);
    expect(() => net.propose('a', 'x')).not.toThrow();
  });

  it.each([
    { type: 'vote' as const, context: undefined, answered: false },
    { type: 'preVote' as const, context: undefined, answered: false },
    { type: 'vote' as const, context: 'transfer', answered: true },
  ])('a follower in lease ignores $type requests (context $context → answered $answered)', ({ type, context, answered }) => {
    const net = new TestNetwork(ids(3));
    net.campaign('a');
    const b = net.node('b');
    b.raft.step(voteMsg('c', 'b', 5, 1, 1, type, context));
    const out = b.drain();
    expect(out.length > 0).toBe(answered);
    if (!answered) expect(b.raft.status().term).toBe(1);
  });

  it('a deposed leader learns the higher term from the answer to its stale append', () => {
    // Without check-quorum the isolated leader would lead on forever; pre-vote makes the others answer its stale
    // appends with their term.
    const net = new TestNetwork(ids(3), { electionTick: 5, checkQuorum: false });
    net.campaign('a');
    net.isolate('a');
    net.campaign('b');
    expect(net.raft('b').status()).toMatchObject({ role: 'leader', term: 2 });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 1 });
    net.recover();
    net.tick('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', term: 2 });
  });
});

describe('raft leaderUnreachable (the driver saw the leader connection close for good)', () => {
  /** A follower of 'a' (term 1) that drew `r` for every random choice. */
  function follower(r: number, opts: { preVote?: boolean; checkQuorum?: boolean } = {}): Raft {
    const storage = new MemoryStorage({ voters: ['a', 'b', 'c'], learners: [] });
    const raft = new Raft({ id: 'b', storage, applied: 0, electionTick: 10, random: () => r, ...opts });
    raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    raft.advance(raft.ready());
    return raft;
  }

  /** Ticks a follower that hears nothing until its leader has been silent long enough for a report to be believed. */
  function silence(raft: Raft): void {
    for (let k = 0; k < LEADER_SILENCE_HEARTBEATS; k++) raft.tick();
  }

  /**
   * Three nodes; 'a' led, then died: it is cut off, both survivors were told their leader is gone, and have not heard
   * from it since (they believe the report).
   */
  function leaderDied(seed?: number): TestNetwork {
    const net = new TestNetwork(ids(3), { electionTick: 10, ...(seed === undefined ? {} : { seed }) });
    net.campaign('a');
    net.isolate('a');
    for (const id of ['b', 'c']) {
      net.raft(id).leaderUnreachable('a');
      silence(net.raft(id));
      expect(net.raft(id).status()).toMatchObject({ role: 'follower', lead: null });
    }
    return net;
  }

  function ticksUntilCampaign(raft: Raft, max = 100): number {
    let n = 0;
    while (raft.status().role === 'follower' && n < max) {
      raft.tick();
      n++;
    }
    return n;
  }

  it.each([
    { r: 0, ticks: 1 },
    { r: 0.5, ticks: 3 },
    { r: 0.9999, ticks: 5 },
  ])('a follower forgets a silent leader and campaigns within [1, electionTick/2] ticks (random $r → $ticks)', ({ r, ticks }) => {
    const raft = follower(r);
    silence(raft);
    raft.leaderUnreachable('a');
    expect(raft.status()).toMatchObject({ role: 'follower', lead: null, term: 1 });
    expect(raft.ready().softState).toEqual({ lead: null, role: 'follower' });
    expect(ticksUntilCampaign(raft)).toBe(ticks);
    expect(raft.status()).toMatchObject({ role: 'preCandidate', term: 1 });
  });

  it('is ignored for another peer than its leader (regular timeout)', () => {
    const raft = follower(0);
    raft.leaderUnreachable('c');
    expect(raft.status().lead).toBe('a');
    expect(ticksUntilCampaign(raft)).toBe(10);
  });

  it('a report about a leader heard recently is believed only after LEADER_SILENCE_HEARTBEATS of silence', () => {
    const raft = follower(0);
    raft.leaderUnreachable('a');
    for (let k = 1; k < LEADER_SILENCE_HEARTBEATS; k++) {
      raft.tick();
      expect(raft.status().lead).toBe('a');
    }
    raft.tick();
    expect(raft.status()).toMatchObject({ role: 'follower', lead: null });
    expect(ticksUntilCampaign(raft)).toBe(1);
  });

  it('a leader reported gone (no connection with it either way) is forgotten at once, however recently heard', () => {
    const raft = follower(0);
    raft.leaderUnreachable('a', true);
    expect(raft.status()).toMatchObject({ role: 'follower', lead: null, term: 1 });
    expect(ticksUntilCampaign(raft)).toBe(1);
    // A plain report waiting for the leader's silence is believed at once when the leader is then reported gone.
    const waiting = follower(0);
    waiting.leaderUnreachable('a');
    waiting.tick();
    expect(waiting.status().lead).toBe('a');
    waiting.leaderUnreachable('a', true);
    expect(waiting.status().lead).toBe(null);
  });

  it('hearing from the leader withdraws a report not yet believed', () => {
    const raft = follower(0);
    raft.leaderUnreachable('a');
    raft.tick();
    raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    silence(raft);
    expect(raft.status().lead).toBe('a');
    expect(ticksUntilCampaign(raft)).toBe(10 - LEADER_SILENCE_HEARTBEATS);
  });

  it('false reports at every follower do not depose a leader they still hear (a flapping link, one direction)', () => {
    // Production timing: heartbeats every 2 ticks, election timeout 10..19 ticks, quick campaigns within 1..5 ticks.
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const net = new TestNetwork(ids(3), { electionTick: 10, heartbeatTick: 2, seed });
      net.campaign('a');
      net.tickAll(3);
      net.delivered = [];
      net.raft('b').leaderUnreachable('a');
      net.raft('c').leaderUnreachable('a');
      net.tickAll(40);
      expect(net.delivered.filter((m) => m.type === 'preVote')).toEqual([]);
      for (const id of ids(3)) expect(net.raft(id).status()).toMatchObject({ term: 1, lead: 'a' });
      expect(net.raft('a').status().role).toBe('leader');
    }
  });

  it('a repeated report does not postpone the campaign (the leader is already forgotten)', () => {
    const raft = follower(0.9999);
    silence(raft);
    raft.leaderUnreachable('a');
    raft.tick();
    raft.tick();
    raft.tick();
    raft.leaderUnreachable('a');
    expect(ticksUntilCampaign(raft)).toBe(2);
  });

  it.each([
    { preVote: false, checkQuorum: true },
    { preVote: true, checkQuorum: false },
  ])('is ignored without pre-vote or check-quorum (preVote $preVote, checkQuorum $checkQuorum)', (opts) => {
    const raft = follower(0, opts);
    raft.leaderUnreachable('a');
    expect(raft.status().lead).toBe('a');
    expect(ticksUntilCampaign(raft)).toBe(10);
  });

  it('is ignored by a learner (it never campaigns)', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'd'], { electionTick: 10, voters: ['a', 'b', 'c'], learners: ['d'] });
    net.campaign('a');
    expect(net.raft('d').status().lead).toBe('a');
    net.raft('d').leaderUnreachable('a');
    expect(net.raft('d').status().lead).toBe('a');
  });

  it('is ignored by the leader and by candidates', () => {
    const net = new TestNetwork(ids(3), { electionTick: 10 });
    net.campaign('a');
    net.raft('a').leaderUnreachable('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', lead: 'a' });
    net.isolate('a');
    net.campaign('b');
    expect(net.raft('b').status().role).toBe('preCandidate');
    net.raft('b').leaderUnreachable('a');
    expect(net.raft('b').status()).toMatchObject({ role: 'preCandidate', lead: null });
  });

  it('when the leader died, the survivors elect a new one within electionTick/2 ticks (not 1-2 election timeouts)', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const net = leaderDied(seed);
      let t = 0;
      while (net.leaders().filter((n) => n.id !== 'a').length === 0 && t < 100) {
        net.tickAll();
        t++;
      }
      // Each survivor campaigns within 5 ticks; a collision (both in the same tick: a split vote, term 3) costs a
      // quick round more.
      expect(t).toBeLessThanOrEqual(15);
      const survivors = net.leaders().filter((n) => n.id !== 'a');
      expect(survivors).toHaveLength(1);
      expect(net.raft(survivors[0].id === 'b' ? 'c' : 'b').status().lead).toBe(survivors[0].id);
    }
  });

  it('the first survivor to campaign wins although the other has not timed out: the lease is forgotten', () => {
    const net = leaderDied();
    net.campaign('b');
    expect(net.raft('b').status()).toMatchObject({ role: 'leader', term: 2 });
    expect(net.raft('c').status()).toMatchObject({ role: 'follower', term: 2, lead: 'b' });
  });

  it('a split vote between the survivors is retried within the short range, not a full election timeout', () => {
    const net = leaderDied();
    // Both start at once: each grants the other's pre-vote, then each votes for itself.
    net.raft('b').campaign();
    net.raft('c').campaign();
    net.send([...net.node('b').drain(), ...net.node('c').drain()]);
    expect(net.raft('b').status()).toMatchObject({ role: 'candidate', term: 2 });
    expect(net.raft('c').status()).toMatchObject({ role: 'candidate', term: 2 });
    let t = 0;
    while (net.leaders().filter((n) => n.id !== 'a').length === 0 && t < 100) {
      net.tickAll();
      t++;
    }
    expect(t).toBeLessThanOrEqual(5);
    expect(net.leaders().filter((n) => n.id !== 'a')[0].raft.status().term).toBe(3);
  });

  it('a false report about a live leader does not disrupt it: no term bump, and the follower returns to it', () => {
    const net = new TestNetwork(ids(3), { electionTick: 10 });
    net.campaign('a');
    // b's connections to a flap: b hears nothing from a for a while, but c does and a leads on.
    net.cutLink('a', 'b');
    net.raft('b').leaderUnreachable('a');
    const preVotes = () => net.delivered.filter((m) => m.type === 'preVote' && m.from === 'b').length;
    net.tickAll(15);
    // Quick pre-votes went out (ignored: c is in a's lease, a leads), and did not change any term.
    expect(preVotes()).toBeGreaterThan(0);
    for (const id of ids(3)) expect(net.raft(id).status().term).toBe(1);
    expect(net.raft('a').status().role).toBe('leader');
    // The quick rounds are bounded: after QUICK_ELECTIONS of them, b retries at the regular pace.
    const before = preVotes();
    net.tickAll(19);
    expect(preVotes() - before).toBeLessThanOrEqual(2);
    net.recover();
    net.tickAll(2);
    expect(net.raft('b').status()).toMatchObject({ role: 'follower', lead: 'a', term: 1 });
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', term: 1 });
  });

  it('hearing from the leader again ends the quick timeouts', () => {
    const raft = follower(0);
    silence(raft);
    raft.leaderUnreachable('a');
    raft.step({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 });
    expect(raft.status().lead).toBe('a');
    expect(ticksUntilCampaign(raft)).toBe(10);
  });
});
