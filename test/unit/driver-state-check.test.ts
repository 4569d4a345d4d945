// The driver's state check checkpoints (replica/node/driver.ts checkpoint, state-check.ts stateCheckDue): a replica
// with no one to compare with never hashes; with a peer it hashes at every multiple of --state-check-every while the
// state is small, and only at every stride-th one once the state machine reports a large state.
import { afterEach, describe, expect, it } from 'vitest';
import { CountingStateMachine } from '../helpers/counting-state-machine.js';
import { loneLeader, type LoneDriver } from '../helpers/lone-driver.js';
import { NODE_TIMERS } from '../../replica/node/driver-contract.js';

/** Records the applied index at each hash; reports `rows` as the size of its state. */
class HashingStateMachine extends CountingStateMachine {
  hashedAt: number[] = [];
  rows = 0;
  stateHash(): string {
    this.hashedAt.push(this.index);
    return 'h'.repeat(64);
  }
  stateHashRows(): number {
    return this.rows;
  }
}

let lone: LoneDriver | undefined;

afterEach(() => {
  lone?.close();
  lone = undefined;
});

async function leader(sm: HashingStateMachine, every: number, clock = { now: 0 }) {
  const sent: string[] = [];
  lone = await loneLeader(sm, {
    send: (_to, msgs) => sent.push(...msgs.filter((m) => m.type === 'stateHash').map((m) => `${m.to}@${m.index}`)),
    stateCheckEvery: every,
    timers: { ...NODE_TIMERS, now: () => clock.now },
  });
  const { driver } = lone;
  /** Proposes until the applied index reaches `index`. */
  const upTo = async (index: number) => {
    while (sm.index < index) await Promise.all(Array.from({ length: Math.min(500, index - sm.index) }, (_, k) => driver.propose(`x${k}`)));
  };
  return { driver, sent, upTo };
}

describe('driver: state check checkpoints', () => {
  it('never hashes on a replica alone in its configuration', async () => {
    const sm = new HashingStateMachine();
    const { driver, upTo } = await leader(sm, 5);
    await upTo(40);
    driver.stop();
    expect(sm.hashedAt).toEqual([]);
  });

  it('with a peer, hashes at every checkpoint of a small state and at every stride-th of a large one, and tells the peer', async () => {
    const sm = new HashingStateMachine();
    const { driver, sent, upTo } = await leader(sm, 2_500);
    // A learner: a peer to compare with that does not vote (this leader commits alone).
    await driver.proposeConfChange({ op: 'addLearner', id: 'b', address: 'b:1' });
    await upTo(5_000);
    expect(sm.hashedAt).toEqual([2_500, 5_000]);
    // 10,001 rows: stride 8 (the first power of two with stride × 2,500 ≥ 10,001): of 7,500 … 20,000 only 20,000 is due.
    sm.rows = 10_001;
    await upTo(20_000);
    expect(sm.hashedAt).toEqual([2_500, 5_000, 20_000]);
    // Small again: every checkpoint.
    sm.rows = 100;
    await upTo(22_500);
    driver.stop();
    expect(sm.hashedAt).toEqual([2_500, 5_000, 20_000, 22_500]);
    expect(sent).toEqual(['b@2500', 'b@5000', 'b@20000', 'b@22500']);
  });

  it('resends a hash the peer has not answered on later ticks, and answers a hash the peer sent again', async () => {
    const sm = new HashingStateMachine();
    const clock = { now: 0 };
    const { driver, sent, upTo } = await leader(sm, 50, clock);
    await driver.proposeConfChange({ op: 'addLearner', id: 'b', address: 'b:1' });
    await upTo(50);
    // The hash at 50 went out once; b never answered (its copy may have been dropped while its link was down).
    expect(sent).toEqual(['b@50']);
    driver.tick();
    clock.now = 1_999;
    driver.tick();
    expect(sent).toEqual(['b@50']);
    clock.now = 2_000;
    driver.tick();
    expect(sent).toEqual(['b@50', 'b@50']);
    // b reports its hash: no more resends. The same report again means b lacks this replica's hash: it is answered.
    const fromB = { type: 'stateHash' as const, from: 'b', to: 'a', term: 0, index: 50, context: 'h'.repeat(64) };
    driver.step([fromB]);
    clock.now = 60_000;
    driver.tick();
    expect(sent).toEqual(['b@50', 'b@50']);
    driver.step([fromB]);
    driver.stop();
    expect(sent).toEqual(['b@50', 'b@50', 'b@50']);
  });
});
