import { describe, expect, it } from 'vitest';
import { NotLeaderError } from '../../replica/raft/raft.js';
import { TestNetwork, TestNode } from '../sim/harness.js';

describe('raft ReadIndex', () => {
  it('a single-voter leader answers at once with its commit index', () => {
    const node = new TestNode('a', { voters: ['a'], learners: [] }, {}, 1);
    node.raft.campaign();
    node.drain();
    node.raft.propose('x');
    node.drain();
    node.raft.readIndex('r1');
    node.drain();
    expect(node.readStates).toEqual([{ index: 2, context: 'r1' }]);
  });

  it('a leader answers only after a majority acknowledged a heartbeat round', () => {
    const net = new TestNetwork(['a', 'b', 'c', 'd', 'e']);
    net.campaign('a');
    net.propose('a', 'x');
    net.isolate('b');
    net.isolate('c');
    net.isolate('d');
    net.raft('a').readIndex('r1');
    net.send(net.node('a').drain());
    expect(net.node('a').readStates).toEqual([]);
    // The next heartbeats repeat the pending round; with d back, a + d + e is a majority.
    net.recover();
    net.isolate('b');
    net.isolate('c');
    net.tick('a');
    expect(net.node('a').readStates).toEqual([{ index: 2, context: 'r1' }]);
  });

  it('a follower forwards the request to the leader and gets the leader commit index', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.propose('a', 'x');
    net.raft('c').readIndex('r1');
    net.send(net.node('c').drain());
    expect(net.node('c').readStates).toEqual([{ index: 2, context: 'r1' }]);
    expect(net.delivered.some((m) => m.type === 'readIndex' && m.from === 'c' && m.to === 'a')).toBe(true);
  });

  it('a new leader answers only once it has committed an entry of its own term', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { checkQuorum: false });
    net.campaign('a');
    net.propose('a', 'x');
    net.isolate('a');
    // Hold b's no-op back from c: b's commit index still is the previous term's.
    net.ignore('app');
    net.campaign('b');
    expect(net.raft('b').status().role).toBe('leader');
    net.raft('b').readIndex('r1');
    net.send(net.node('b').drain());
    expect(net.node('b').readStates).toEqual([]);
    net.recover();
    net.isolate('a');
    net.tick('b');
    net.tick('b');
    const st = net.raft('b').status();
    expect(net.node('b').readStates).toEqual([{ index: st.commit, context: 'r1' }]);
    expect(st.commit).toBe(3); // a's no-op, x, b's no-op
  });

  it('a deposed leader cut off from the majority never answers', () => {
    const net = new TestNetwork(['a', 'b', 'c'], { checkQuorum: false });
    net.campaign('a');
    net.isolate('a');
    net.campaign('b');
    expect(net.raft('b').status().role).toBe('leader');
    net.propose('b', 'y');
    net.raft('a').readIndex('stale');
    net.send(net.node('a').drain());
    net.tick('a', 5);
    expect(net.node('a').readStates).toEqual([]);
  });

  it('without a known leader a read is refused', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    expect(() => net.raft('a').readIndex('r')).toThrow(NotLeaderError);
  });

  it('requests answered in one round are released in order', () => {
    const net = new TestNetwork(['a', 'b', 'c']);
    net.campaign('a');
    net.ignore('heartbeatResp');
    net.raft('a').readIndex('r1');
    net.propose('a', 'x');
    net.raft('a').readIndex('r2');
    net.send(net.node('a').drain());
    expect(net.node('a').readStates).toEqual([]);
    net.recover();
    net.tick('a');
    expect(net.node('a').readStates).toEqual([
      { index: 1, context: 'r1' },
      { index: 2, context: 'r2' },
    ]);
  });
});
