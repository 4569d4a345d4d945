// The state check's hash computed in the background (replica/chat/state-hash-job.ts) on a real state.db: the same
// digest as stateHash, of the state as it was when the job began however much is applied meanwhile, in slices that let
// the event loop turn; one job hashing at a time, later ones waiting on their own snapshots; cancelled (its snapshot released) by makeDurable, restoreFrom and close.
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
    // Its own connection reads each page once: a 1 MB page cache, not better-sqlite3's 16 MB.
    expect((job as unknown as { db: { pragma(p: string, o: object): unknown } }).db.pragma('cache_size', { simple: true })).toBe(-1024);
    h.send('bob', 'ann', 'after the job began');
    h.sm.commitGroup();
    const { value, turns } = await turnsUntil(job.result);
    expect(value).toBe(before);
    expect(h.sm.stateHash()).not.toBe(before);
    // 1,500 messages and more rows, a pause every 256 rows: the event loop turned between the slices.
    expect(turns).toBeGreaterThanOrEqual(6);
    expect(h.sm.stateHash('chat')).toBe(await new StateHashJob(path.join(h.dir, 'state.db'), 'chat', h.sm.clusterVersion()).result);
  });

  it('a job queued behind another starts hashing only once that one settles, on the snapshot it pinned when made', async () => {
    h.sm.commitGroup();
    const before = h.sm.stateHash();
    let release!: () => void;
    const first = new Promise<void>((r) => (release = r));
    const job = new StateHashJob(path.join(h.dir, 'state.db'), 'all', h.sm.clusterVersion(), 0, first);
    h.send('bob', 'ann', 'after the job was made');
    h.sm.commitGroup();
    let settled = false;
    void job.result.then(() => (settled = true));
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    release();
    expect(await job.result).toBe(before);
  });

  it('the state machine hashes what it applied, committed first; later ones wait their turn on their own snapshots, up to 4', async () => {
    h.send('ann', 'bob', 'still in the open group transaction');
    const hashes: string[] = [];
    const jobs: Promise<string | null>[] = [];
    for (let i = 0; i < 4; i++) {
      hashes.push(h.sm.stateHash());
      jobs.push(h.sm.stateHashLater());
      h.send('ann', 'bob', `applied after hash ${i} was asked for`);
    }
    // A fifth while four are pinned: skipped.
    expect(await h.sm.stateHashLater()).toBeNull();
    const done: number[] = [];
    jobs.forEach((j, i) => void j.then(() => done.push(i)));
    // Each gives the state as it was when it was asked for, and they finish in order.
    expect(await Promise.all(jobs)).toEqual(hashes);
    expect(done).toEqual([0, 1, 2, 3]);
    expect(h.sm.hashing()).toBe(false);
    // All done: the next one runs.
    expect(await h.sm.stateHashLater()).toBe(h.sm.stateHash());
  });

  it('makeDurable cancels a running hash (null) so that the checkpoint copies the whole WAL', async () => {
    for (let i = 0; i < 2_000; i++) h.send('ann', 'bob', `m${i}`);
    const hashing = h.sm.stateHashLater();
    h.send('bob', 'ann', 'applied while the hash holds its snapshot');
    expect(h.sm.makeDurable()).toBe(true);
    expect(await hashing).toBeNull();
  });

  it('makeDurable cancels waiting hashes too; hashing() tells the driver (whose compaction waits) while any is there', async () => {
    expect(h.sm.hashing()).toBe(false);
    for (let i = 0; i < 2_000; i++) h.send('ann', 'bob', `m${i}`);
    const running = h.sm.stateHashLater();
    const waiting = h.sm.stateHashLater();
    expect(h.sm.hashing()).toBe(true);
    expect(h.sm.makeDurable()).toBe(true);
    expect(h.sm.hashing()).toBe(false);
    expect(await running).toBeNull();
    expect(await waiting).toBeNull();
    expect(await h.sm.stateHashLater()).toBe(h.sm.stateHash());
  });

  it('close cancels a running hash', async () => {
    for (let i = 0; i < 2_000; i++) h.send('ann', 'bob', `m${i}`);
    const hashing = h.sm.stateHashLater();
    h.sm.close();
    expect(await hashing).toBeNull();
  });
});
