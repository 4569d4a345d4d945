// Regression (issue 11, finding 4): a leader's entry that conflicts with one this replica already committed means the
// logs diverged (a disk lost or changed acknowledged data). The driver logged it as a warning and went on; it must stop
// the replica like a storage error, with one line that says what happened and what to do.
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../sim/cluster.js';

describe('driver: a diverged log stops the replica', () => {
  it('an append that conflicts with a committed entry stops the follower with one clear line', async () => {
    const c = new SimCluster({ voters: ['a', 'b', 'c'] });
    c.node('a').driver!.campaign();
    await c.settle();
    const a = c.node('a');
    const writes = ['w1', 'w2', 'w3'].map((w) => a.driver!.propose(w));
    await c.tick(2);
    await Promise.all(writes);
    const b = c.node('b');
    const commit = b.raft!.status().commit;
    expect(c.appliedData('b')).toEqual(['w1', 'w2', 'w3']);

    // A leader of a later term whose log says something else at a committed index.
    const term = b.raft!.status().term + 1;
    b.deliver([
      { type: 'app', from: 'c', to: 'b', term, index: commit - 1, logTerm: b.store.term(commit - 1), entries: [{ index: commit, term, type: 'normal', data: 'other' }], commit },
    ]);
    await c.settle();

    expect(c.stops.map((s) => s.id)).toEqual(['b']);
    const message = c.stops[0].error.message;
    expect(message).toMatch(new RegExp(`^log divergence: the leader's entry ${commit} conflicts with committed entry ${commit} .*rebuild the replica as "A damaged replica" in docs/operations.md says$`));
    expect(message).not.toContain('\n');
    // Stopped: it steps nothing more and refuses work.
    await expect(b.driver!.propose('later')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(c.appliedData('b')).toEqual(['w1', 'w2', 'w3']);
  });
});
