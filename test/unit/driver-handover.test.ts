// Regression (issue 11, finding 5): a leader that applies its own removal (an entry it inherited: a leader never
// proposes one) must hand leadership over; the core sends the transfer in its next Ready. The driver told its
// listeners about the new configuration at once, and the replica closed its links on that event: the transfer never
// left and the others waited out an election timeout. The 'conf' event now comes once it stops leading, after the
// messages of that moment have left.
import { describe, expect, it } from 'vitest';
import { encodeConfChange } from '../../replica/raft/conf.js';
import { SimCluster } from '../sim/cluster.js';

describe('driver: a leader that applies its own removal', () => {
  it('hands leadership over before its links close', async () => {
    const electionTick = 10;
    // Every log holds an uncommitted removal of a (proposed by a leader that lost leadership before it committed).
    const c = new SimCluster({
      voters: ['a', 'b', 'c'],
      electionTick,
      preload: [{ index: 2, term: 1, type: 'conf', data: encodeConfChange({ op: 'remove', id: 'a' }) }],
    });
    const a = c.node('a');
    let confEvents = 0;
    a.driver!.on('conf', () => {
      confEvents++;
      // A listener may stop serving (or close links) on this event: this replica must no longer lead.
      expect(a.raft!.status().role).not.toBe('leader');
    });
    a.driver!.campaign();
    await c.settle();
    // a won, committed its no-op and with it the removal, applied it, and handed over: no election timeout was
    // needed (nobody ticked).
    expect(c.sent.some((m) => m.type === 'timeoutNow' && m.from === 'a')).toBe(true);
    const next = [c.node('b'), c.node('c')].filter((n) => n.raft!.status().role === 'leader');
    expect(next).toHaveLength(1);
    expect(next[0].raft!.status()).toMatchObject({ term: 3, conf: { voters: ['b', 'c'], learners: [] } });
    expect(confEvents).toBe(0);
    // Its next heartbeat meets the new term: it steps down, and only then hears of the configuration (and leaves).
    await c.tick();
    expect(a.raft!.status().role).toBe('follower');
    expect(confEvents).toBe(1);
    expect(a.removed).toBe(true);
  });
});
