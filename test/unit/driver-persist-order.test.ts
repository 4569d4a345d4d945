// Regression (issue 11, finding 1): a single voter wins its election within one Ready, so that Ready carries its new
// term and vote, its no-op, the proposals of that turn and the appends to its learners. The driver sent a leader's
// messages before persisting whenever the Ready had entries: the appends left at a term the leader had not saved. If
// it then died before the write, it restarted in the old term, won the same term again with a different entry at the
// same index, and the learner (which kept the first one: same index, same term) applied something else.
// The driver (replica/node/driver.ts) runs here over in-memory stores that keep only what a crash keeps.
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../sim/cluster.js';

describe('driver: persist before send when a Ready carries a new term or vote', () => {
  it('a single voter that dies before saving its new term has sent nothing at that term, and its learner applies what it applies', async () => {
    const c = new SimCluster({ voters: ['a'], learners: ['b'] });
    const a = c.node('a');
    await c.settle();
    expect(a.raft!.status()).toMatchObject({ role: 'leader', term: 2 });
    const w1 = a.driver!.propose('w1');
    await c.tick(3);
    await w1;
    expect(c.appliedData('b')).toEqual(['w1']);

    // Restart: a campaigns for term 3 at once and, in the same turn, takes a write; its disk write of that turn fails
    // to happen (the process dies first).
    a.crash(false);
    a.start();
    expect(a.raft!.status()).toMatchObject({ role: 'leader', term: 3 });
    void a.driver!.propose('x').catch(() => {});
    c.plan('a', 'save', 'crash');
    const sentBefore = c.sent.length;
    await c.settle();
    expect(a.alive).toBe(false);
    expect(c.sent.slice(sentBefore).filter((m) => m.from === 'a')).toEqual([]);
    expect(a.store.initialState().hardState.term).toBe(2);

    // Restart again: term 3 once more, with another write at the same index.
    a.start();
    expect(a.raft!.status()).toMatchObject({ role: 'leader', term: 3 });
    const y = a.driver!.propose('y');
    await c.tick(3);
    await y;
    expect(c.appliedData('a')).toEqual(['w1', 'y']);
    expect(c.appliedData('b')).toEqual(['w1', 'y']);
  });

  it('a leader in its steady state still sends its appends before its own write (Raft thesis §10.2.1)', async () => {
    const c = new SimCluster({ voters: ['a', 'b', 'c'] });
    await c.node('a').driver!.campaign();
    await c.settle();
    const a = c.node('a');
    expect(a.raft!.status().role).toBe('leader');
    // The write of the next turn fails (disk full): the appends of that turn must already have left.
    void a.driver!.propose('z').catch(() => {});
    c.plan('a', 'save', 'diskFull');
    const sentBefore = c.sent.length;
    await c.settle();
    expect(a.alive).toBe(false);
    expect(c.sent.slice(sentBefore).filter((m) => m.from === 'a' && m.type === 'app' && m.entries?.some((e) => e.data === 'z'))).toHaveLength(2);
  });
});
