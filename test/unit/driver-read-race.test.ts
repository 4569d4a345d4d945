// Regression (found by the chaos run): a linearizable read issued while the driver still believed it led, but after
// the core had already stepped down (a higher term arrived, or check-quorum), made the core throw NotLeaderError
// inside the driver's loop, which treated it as a storage failure and stopped the replica ("replica driver failed;
// stopping to protect durability", exit 0). The read must fail with NOT_LEADER and the replica keep running.
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Driver } from '../../replica/node/driver.js';
import { NODE_TIMERS } from '../../replica/node/driver-contract.js';
import { createMetrics } from '../../replica/node/metrics.js';
import { NotLeaderError } from '../../replica/raft/errors.js';
import type { Ready } from '../../replica/raft/types.js';
import { QuorumError } from '../../replica/protocol/errors.js';

/** Just enough of the core: it reports leadership once, then (having stepped down) refuses reads. */
class SteppedDownCore {
  private pending: Ready[] = [{ softState: { role: 'leader', lead: 'r1' }, entries: [], committedEntries: [], messages: [], readStates: [] }];
  readIndexCalls = 0;
  leading = true;
  currentTerm = 3;
  tick(): void {}
  step(): void {}
  hasReady(): boolean {
    return this.pending.length > 0;
  }
  ready(): Ready {
    return this.pending.shift()!;
  }
  advance(): void {}
  status() {
    return { term: 3, role: this.leading ? 'leader' : 'follower', lead: this.leading ? 'r1' : null };
  }
  readIndex(): void {
    this.readIndexCalls++;
    if (!this.leading) throw new NotLeaderError(null);
  }
  reportUnreachable(): void {}
}

function driverWith(core: SteppedDownCore): Driver<unknown> {
  return new Driver({
    id: 'r1',
    timers: NODE_TIMERS,
    snapshotFiles: { outgoing: () => '/nonexistent', remove: () => {} },
    log: pino({ level: 'silent' }),
    raft: core as never,
    logStore: { save() {}, firstIndex: () => 1, term: () => 1, compact() {}, initialState: () => ({ hardState: { term: 3, vote: 'r1', commit: 1 } }) } as never,
    sm: { applied: () => ({ index: 1, term: 1 }), applyEntries: () => [], maybeCommitGroup() {}, conf: () => ({ voters: ['r1'], learners: [] }) } as never,
    metrics: createMetrics('r1', false),
    send: () => {},
    sendSnapshot: () => Promise.resolve(),
    compactEvery: 20_000,
    keepEntries: 5_000,
    proposalTimeoutMs: 1_000,
  });
}

describe('driver: a read racing a step-down', () => {
  it('fails the read with NOT_LEADER and keeps the replica running', async () => {
    const core = new SteppedDownCore();
    const d = driverWith(core);
    let fatal: unknown = null;
    d.on('fatal', (err: Error) => (fatal = err));
    d.tick(); // processes the Ready that says "leader"
    await new Promise((r) => setImmediate(r));
    expect(d.isLeader).toBe(true);

    core.leading = false; // the core stepped down; the driver has not seen a Ready about it yet
    const read = d.readBarrier();
    const err = await read.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QuorumError);
    expect((err as QuorumError).code).toBe('NOT_LEADER');
    expect(fatal).toBeNull();
    expect(core.readIndexCalls).toBe(1);

    // Still alive: the next read reaches the core again.
    core.leading = true;
    const again = d.readBarrier();
    await new Promise((r) => setImmediate(r));
    expect(core.readIndexCalls).toBe(2);
    d.stop();
    await again.catch(() => {});
  });
});
