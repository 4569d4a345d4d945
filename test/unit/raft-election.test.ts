import { describe, expect, it } from 'vitest';
import { Raft, NoQuorumError, NotLeaderError } from '../../replica/raft/raft.js';
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
