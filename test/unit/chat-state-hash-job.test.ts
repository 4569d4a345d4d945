// The state check's hash computed in the background (replica/chat/state-hash-job.ts) on a real state.db: the same
// digest as stateHash, of the state as it was when the job began however much is applied meanwhile, in slices that let
// the event loop turn; one job at a time; cancelled (its snapshot released) by makeDurable, restoreFrom and close.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateHashJob } from '../../replica/chat/state-hash-job.js';
import { Harness } from '../helpers/chat-harness.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
  h.user('ann');
  h.user('bob');
});
afterEach(() => h.dispose());

/** Resolves with `p`'s value and how many event-loop turns (setImmediate) went by until it settled. */
async function turnsUntil<T>(p: Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let settled = false;
  const spin = () => {
    if (settled) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const value = await p.finally(() => (settled = true));
  return { value, turns };
}

describe('the state hash job', () => {
  it('gives stateHash of the state when it began, though more is applied meanwhile, a slice at a time', async () => {
    for (let i = 0; i < 1_500; i++) h.send('ann', 'bob', `m${i}`);
    h.sm.commitGroup();
    const before = h.sm.stateHash();
    const job = new StateHashJob(path.join(h.dir, 'state.db'), 'all', h.sm.clusterVersion(), 0);
    h.send('bob', 'ann', 'after the job began');
    h.sm.commitGroup();
    const { value, turns } = await turnsUntil(job.result);
    expect(value).toBe(before);
    expect(h.sm.stateHash()).not.toBe(before);
    // 1,500 messages and more rows, a pause every 256 rows: the event loop turned between the slices.
    expect(turns).toBeGreaterThanOrEqual(6);
    expect(h.sm.stateHash('chat')).toBe(await new StateHashJob(path.join(h.dir, 'state.db'), 'chat', h.sm.clusterVersion()).result);
  });

  it('the state machine runs one at a time (another resolves null at once) and hashes what it applied, committed first', async () => {
    h.send('ann', 'bob', 'still in the open group transaction');
    const first = h.sm.stateHashLater();
    expect(await h.sm.stateHashLater()).toBeNull();
    expect(await first).toBe(h.sm.stateHash());
    // Done: the next one runs.
    expect(await h.sm.stateHashLater()).toBe(h.sm.stateHash());
  });

  it('makeDurable cancels a running hash (null) so that the checkpoint copies the whole WAL', async () => {
    for (let i = 0; i < 2_000; i++) h.send('ann', 'bob', `m${i}`);
    const hashing = h.sm.stateHashLater();
    h.send('bob', 'ann', 'applied while the hash holds its snapshot');
    expect(h.sm.makeDurable()).toBe(true);
    expect(await hashing).toBeNull();
  });

  it('close cancels a running hash', async () => {
    for (let i = 0; i < 2_000; i++) h.send('ann', 'bob', `m${i}`);
    const hashing = h.sm.stateHashLater();
    h.sm.close();
    expect(await hashing).toBeNull();
  });
});
