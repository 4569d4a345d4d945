// Configuration changes asked for at the same moment (replica/node/driver.ts proposeConfChange): Raft takes one at a
// time, and the core refuses a change while an earlier one is not applied. A cluster administration request (a
// machine joining, `cluster add`) and autopilot's promotions wait their turn instead of failing; a plain proposal is
// refused.
import { afterEach, describe, expect, it } from 'vitest';
import { QuorumError } from '../../replica/protocol/errors.js';
import { CountingStateMachine } from '../helpers/counting-state-machine.js';
import { loneLeader, type LoneDriver } from '../helpers/lone-driver.js';

let lone: LoneDriver | undefined;
afterEach(() => {
  lone?.close();
  lone = undefined;
});

describe('driver: one configuration change at a time', () => {
  it('refuses a second change while the first is not applied (CONFLICT), unless asked to wait its turn', async () => {
    const sm = new CountingStateMachine();
    lone = await loneLeader(sm);
    const { driver } = lone;
    const first = driver.proposeConfChange({ op: 'addLearner', id: 'b', address: 'b:1' });
    const refused = await driver.proposeConfChange({ op: 'addLearner', id: 'c', address: 'c:1' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QuorumError);
    expect((refused as QuorumError).code).toBe('CONFLICT');
    expect((refused as QuorumError).message).toMatch(/a configuration change is pending/);
    // Three at once, each waiting its turn: all applied, in the order asked.
    const waiting = ['c', 'd', 'e'].map((id) => driver.proposeConfChange({ op: 'addLearner', id, address: `${id}:1` }, { waitTurn: true }));
    await first;
    await Promise.all(waiting);
    expect(sm.conf()).toEqual({ voters: ['a'], learners: ['b', 'c', 'd', 'e'] });
  });

  it('a change waiting its turn still fails with the refusal when the turn does not come within the proposal timeout', async () => {
    const sm = new CountingStateMachine();
    lone = await loneLeader(sm, { proposalTimeoutMs: 200 });
    const { driver, store } = lone;
    // The leader's own fsync never completes: the first change is never applied.
    store.sync = () => new Promise(() => {});
    void driver.proposeConfChange({ op: 'addLearner', id: 'b', address: 'b:1' }).catch(() => {});
    const t0 = Date.now();
    const refused = await driver.proposeConfChange({ op: 'addLearner', id: 'c', address: 'c:1' }, { waitTurn: true }).catch((e: unknown) => e);
    expect((refused as QuorumError).code).toBe('CONFLICT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });
});
