import { describe, expect, it } from 'vitest';
import { NotLeaderError, RaftError, TransferInProgressError } from '../../replica/raft/raft.js';
import { TestNetwork } from '../sim/harness.js';

describe('raft leadership transfer', () => {
  it('to an up-to-date follower: it campaigns at once and wins (despite the leader lease)', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    net.tickAll(1);
    net.raft('a').transferLeadership('b');
    net.send(net.node('a').drain());
    expect(net.delivered.some((m) => m.type === 'timeoutNow' && m.to === 'b')).toBe(true);
    expect(net.raft('b').status()).toMatchObject({ role: 'leader', term: 2 });
    expect(net.raft('a').status()).toMatchObject({ role: 'follower', term: 2, lead: 'b' });
    net.propose('b', 'y');
    for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(['x', 'y']);
  });

  it('to a lagging follower: the leader first brings it up to date', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('c');
    for (let k = 0; k < 5; k++) net.propose('a', `x${k}`);
    net.recover();
    net.ignore('heartbeat'); // c only catches up through the transfer itself
    net.raft('a').transferLeadership('c');
    net.send(net.node('a').drain());
    expect(net.raft('c').status().role).toBe('leader');
    // It won with the whole log: five entries after the first leader's no-op, then its own no-op.
    expect(net.node('c').logTerms()).toEqual([1, 1, 1, 1, 1, 1, 2]);
    net.recover();
    net.tickAll(2);
    for (const n of net.nodes.values()) expect(n.appliedData()).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
  });

  it('refuses proposals while transferring, and aborts after an election timeout', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { electionTick: 5 });
    net.campaign('a');
    net.isolate('b');
    net.raft('a').transferLeadership('b');
    expect(net.raft('a').status().leadTransferee).toBe('b');
    try {
      net.raft('a').propose('x');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TransferInProgressError);
      expect((e as TransferInProgressError).transferee).toBe('b');
      expect((e as RaftError).code).toBe('TRANSFERRING');
    }
    net.tick('a', 5);
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: null });
    expect(() => net.propose('a', 'x')).not.toThrow();
  });

  it('a newer transfer replaces an older one; a transfer to the leader itself is a no-op', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.isolate('b');
    net.isolate('c');
    net.raft('a').transferLeadership('b');
    net.raft('a').transferLeadership('c');
    expect(net.raft('a').status().leadTransferee).toBe('c');
    net.raft('a').transferLeadership('a');
    expect(net.raft('a').status()).toMatchObject({ role: 'leader', leadTransferee: 'c' });
  });

  it.each([
    { to: 'd', why: /not a voter/ },
    { to: 'zz', why: /not a voter/ },
  ])('refuses a transfer to $to', ({ to, why }) => {
    const net = new TestNetwork(['a', 'b', 'c', 'd'], { voters: ['a', 'b', 'c'], learners: ['d'] });
    net.campaign('a');
    expect(() => net.raft('a').transferLeadership(to)).toThrow(why);
  });

  it('only the leader can transfer', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    expect(() => net.raft('b').transferLeadership('c')).toThrow(NotLeaderError);
  });
});
