// A leader saves its own appends without waiting for the disk and syncs them on the thread pool (driver.ts
// syncOwnEntries, Raft.advance 'pending'): until that fsync completes it neither counts them toward commit nor applies
// them, and a power cut before it loses them without losing anything acknowledged. The driver and core run here over
// in-memory stores that keep what a crash keeps: a power cut drops the entries not synced yet (MemoryStorage).
import { describe, expect, it } from 'vitest';
import { SimCluster } from '../sim/cluster.js';

async function threeWithLeader(): Promise<SimCluster> {
  const c = new SimCluster({ voters: ['a', 'b', 'c'] });
  await c.node('a').driver!.campaign();
  await c.settle();
  expect(c.node('a').raft!.status().role).toBe('leader');
  return c;
}

describe("driver: a leader's own fsync off its event loop", () => {
  it('a lone voter commits and applies a write only once its own fsync completed', async () => {
    const c = new SimCluster({ voters: ['a'] });
    c.ownSyncMs = 100;
    await c.settle();
    const a = c.node('a');
    expect(a.raft!.status().role).toBe('leader');
    let done = false;
    const w = a.driver!.propose('w').then(() => (done = true));
    await c.settle();
    expect(a.store.lastIndex()).toBe(a.raft!.status().lastIndex); // saved: readable at once
    expect(a.raft!.status().commit).toBeLessThan(a.store.lastIndex());
    expect(done).toBe(false);
    await c.tick(3); // 75 ms: still syncing
    expect(done).toBe(false);
    await c.tick(2);
    await w;
    expect(c.appliedData('a')).toEqual(['w']);
  });

  it('followers commit a write the leader has not synced; the leader applies and answers it only after its own fsync', async () => {
    const c = await threeWithLeader();
    const a = c.node('a');
    c.ownSyncMs = 100;
    let done = false;
    const w = a.driver!.propose('w').then(() => (done = true));
    await c.settle();
    const st = a.raft!.status();
    expect(st.commit).toBe(st.lastIndex); // b and c acknowledged: committed
    expect(st.progress!.a.match).toBeLessThan(st.lastIndex); // not counting itself yet
    expect(c.appliedData('a')).toEqual([]);
    expect(done).toBe(false);
    await c.tick(5);
    await w;
    expect(c.appliedData('a')).toEqual(['w']);
    expect(a.raft!.status().progress!.a.match).toBe(a.raft!.status().lastIndex);
  });

  it('a power cut before the fsync loses the write from the leader only: nothing acknowledged is lost', async () => {
    const c = await threeWithLeader();
    const a = c.node('a');
    c.ownSyncMs = 1_000_000;
    // b and c are cut off: only the leader has the write, unsynced.
    c.filter = (m) => m.from !== 'a';
    let outcome = 'pending';
    a.driver!.propose('lost').then(
      () => (outcome = 'acknowledged'),
      () => (outcome = 'failed'),
    );
    await c.settle();
    const last = a.store.lastIndex();
    expect(a.raft!.status().commit).toBeLessThan(last);
    a.crash(true);
    expect(a.store.lastIndex()).toBe(last - 1); // the unsynced entry is gone
    expect(outcome).toBe('pending'); // never acknowledged
    c.filter = null;
    c.ownSyncMs = 0;
    a.start();
    await c.node('b').driver!.campaign();
    await c.settle();
    expect(c.leader()?.id).toBe('b');
    const w = c.node('b').driver!.propose('after');
    await c.tick(5);
    await w;
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toEqual(['after']);
  });
});
