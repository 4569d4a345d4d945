// Replicas comparing state hashes (replica/node/state-check.ts): who is named when hashes differ at one index.
import { describe, expect, it } from 'vitest';
import { StateCheck, stateCheckDue } from '../../replica/node/state-check.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const members = () => ['r1', 'r2', 'r3'];

describe('state check', () => {
  it('finds nothing while every replica holds the same hash, in whichever order the reports come', () => {
    const c = new StateCheck('r1', members);
    expect(c.recordPeer('r2', 100, A)).toEqual([]);
    expect(c.recordOwn(100, A)).toEqual([]);
    expect(c.recordPeer('r3', 100, A)).toEqual([]);
    expect(c.diverged).toEqual([]);
    expect(c.member('r3')).toEqual({ index: 100, agrees: true });
    expect(c.lastIndex).toBe(100);
    expect(c.mismatches).toBe(0);
  });

  it('names the replica that differs from the majority, once per index, and clears it when a later index agrees', () => {
    const c = new StateCheck('r1', members);
    c.recordOwn(100, A);
    // r3 first: no majority has reported yet (r1 alone): status shows the difference, the line waits for r2.
    expect(c.recordPeer('r3', 100, B)).toEqual([]);
    expect(c.member('r3')).toEqual({ index: 100, agrees: false });
    expect(c.diverged).toEqual([]);
    const found = c.recordPeer('r2', 100, A);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ index: 100, replica: 'r3', hash: B, majorityHash: A, diverged: true });
    expect(found[0].line).toMatch(/^state hash mismatch at index 100: replica r3 holds bbbbbbbbbbbb, a majority of the 3 members hold aaaaaaaaaaaa/);
    expect(found[0].line).toContain('resync r3');
    expect(c.diverged).toEqual(['r3']);
    expect(c.member('r3')).toEqual({ index: 100, agrees: false });
    // The same report again is not a new mismatch.
    expect(c.recordPeer('r3', 100, B)).toEqual([]);
    expect(c.mismatches).toBe(1);
    // Repaired: at the next index r3 agrees.
    c.recordOwn(200, A);
    c.recordPeer('r2', 200, A);
    expect(c.recordPeer('r3', 200, A)).toEqual([]);
    expect(c.diverged).toEqual([]);
  });

  it('knows when it is itself the one that diverged', () => {
    const c = new StateCheck('r3', members);
    c.recordPeer('r1', 100, A);
    c.recordPeer('r2', 100, A);
    const found = c.recordOwn(100, B);
    expect(found.map((v) => v.replica)).toEqual(['r3']);
    expect(found[0].line).toContain('this replica (r3) holds');
    expect(c.diverged).toEqual(['r3']);
    c.resetOwn();
    expect(c.diverged).toEqual([]);
  });

  it('names both when every member reported and no majority agrees', () => {
    const c = new StateCheck('r1', () => ['r1', 'r2']);
    c.recordOwn(100, A);
    const found = c.recordPeer('r2', 100, B);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ replica: 'r2', diverged: false, majorityHash: null });
    expect(found[0].line).toBe('state hash mismatch at index 100: replica r2 holds bbbbbbbbbbbb, this replica (r1) holds aaaaaaaaaaaa; no majority agrees to say which one diverged');
    expect(c.diverged).toEqual([]);
  });

  it('compares only members of the configuration, and only at the same index', () => {
    const c = new StateCheck('r1', members);
    c.recordOwn(100, A);
    expect(c.recordPeer('r9', 100, B)).toEqual([]);
    expect(c.recordPeer('r2', 120, B)).toEqual([]);
    expect(c.diverged).toEqual([]);
  });

  it('hashes a small state at every checkpoint and a large one at fewer, the same ones on every replica', () => {
    const due = (every: number, rows: number, upTo: number) =>
      Array.from({ length: upTo }, (_, i) => i + 1).filter((index) => stateCheckDue(index, every, rows));
    // Up to 10,000 rows: every multiple of `every`, however small `every` is.
    expect(due(20, 10_000, 100)).toEqual([20, 40, 60, 80, 100]);
    expect(due(10_000, 0, 40_000)).toEqual([10_000, 20_000, 30_000, 40_000]);
    // Larger: the stride is the smallest power of two with stride × every ≥ rows (at most about one row hashed per entry).
    expect(due(10_000, 10_001, 80_000)).toEqual([20_000, 40_000, 60_000, 80_000]);
    expect(due(10_000, 20_000, 80_000)).toEqual([20_000, 40_000, 60_000, 80_000]);
    expect(due(10_000, 20_001, 80_000)).toEqual([40_000, 80_000]);
    expect(due(10_000, 1_000_000, 2_560_000)).toEqual([1_280_000, 2_560_000]);
    // Off, or not a checkpoint.
    expect(due(0, 0, 100)).toEqual([]);
    expect(stateCheckDue(10_001, 10_000, 0)).toBe(false);
  });

  it('resends its latest hash to members that reported none at that index, backing off, and stops once they do', () => {
    const c = new StateCheck('r1', members);
    expect(c.resendDue(0)).toEqual([]);
    c.recordOwn(100, A);
    c.recordPeer('r2', 100, A);
    // Found due now; the first resend to r3 comes 2 s later, the next ones after 4, 8, 16, 32 and 64 s more.
    expect(c.resendDue(0)).toEqual([]);
    expect(c.resendDue(1_999)).toEqual([]);
    const sentAt: number[] = [];
    for (let t = 2_000; t <= 300_000; t += 1_000) {
      const due = c.resendDue(t);
      if (due.length) {
        expect(due).toEqual([{ to: 'r3', index: 100, hash: A }]);
        sentAt.push(t);
      }
    }
    expect(sentAt).toEqual([2_000, 6_000, 14_000, 30_000, 62_000, 126_000]);
    // A newer own hash starts over; a member that reported it (or a later one) is not sent it again.
    c.recordOwn(120, A);
    expect(c.resendDue(400_000)).toEqual([]);
    expect(c.resendDue(402_000)).toEqual([
      { to: 'r2', index: 120, hash: A },
      { to: 'r3', index: 120, hash: A },
    ]);
    c.recordPeer('r2', 140, A);
    c.recordPeer('r3', 120, A);
    expect(c.resendDue(500_000)).toEqual([]);
    // After a resync nothing of its own is left to resend.
    c.recordOwn(160, A);
    c.resetOwn();
    expect(c.resendDue(600_000)).toEqual([]);
  });

  it('answers a hash it already holds (a resend) with its own, at most once per 2 s to that member', () => {
    const c = new StateCheck('r1', members);
    expect(c.ownHash(100)).toBeUndefined();
    // First report: compared, not answered (the sender broadcast it; it will get this replica's own broadcast).
    expect(c.receivePeer('r2', 100, A, 0).answer).toBeNull();
    // The same again, but nothing of its own to answer with yet.
    expect(c.receivePeer('r2', 100, A, 10).answer).toBeNull();
    c.recordOwn(100, B);
    expect(c.ownHash(100)).toBe(B);
    expect(c.receivePeer('r2', 100, A, 20).answer).toEqual({ to: 'r2', index: 100, hash: B });
    expect(c.receivePeer('r2', 100, A, 1_000).answer).toBeNull();
    expect(c.receivePeer('r2', 100, A, 2_020).answer).toEqual({ to: 'r2', index: 100, hash: B });
    // A different hash at the index is a new report, not a resend.
    expect(c.receivePeer('r3', 100, A, 2_030).answer).toBeNull();
  });

  it('two replicas whose hashes crossed, were dropped and repeated settle with a bounded number of messages', () => {
    // The driver's wiring: a new own hash goes to every member, due resends on every tick, answers on receipt.
    const ids = ['r1', 'r2'];
    const checks = new Map(ids.map((id) => [id, new StateCheck(id, () => ids)]));
    const queue: { at: number; from: string; to: string; index: number; hash: string }[] = [];
    let sent = 0;
    const send = (now: number, from: string, to: string, index: number, hash: string, dropped = false) => {
      sent++;
      if (!dropped) queue.push({ at: now + 5, from, to, index, hash });
    };
    // r1 hashes at 100 and its message to r2 is dropped (r2's link was down); r2 hashes 300 ms later, and its message
    // arrives. Then both resend, answer and cross for five simulated minutes of 10 ms ticks.
    checks.get('r1')!.recordOwn(100, A);
    send(0, 'r1', 'r2', 100, A, true);
    for (let now = 0; now <= 300_000; now += 10) {
      if (now === 300) {
        checks.get('r2')!.recordOwn(100, A);
        send(now, 'r2', 'r1', 100, A);
      }
      // A stray copy of r2's hash reaches r1 again at 10 s (a resend that crossed an answer).
      if (now === 10_000) send(now, 'r2', 'r1', 100, A);
      for (const m of queue.filter((q) => q.at <= now)) {
        queue.splice(queue.indexOf(m), 1);
        const { answer } = checks.get(m.to)!.receivePeer(m.from, m.index, m.hash, now);
        if (answer) send(now, m.to, answer.to, answer.index, answer.hash);
      }
      for (const id of ids) for (const r of checks.get(id)!.resendDue(now)) send(now, id, r.to, r.index, r.hash);
    }
    // Each side holds the other's hash, and all went quiet: a handful of messages, not one per round trip.
    expect(checks.get('r1')!.member('r2')).toEqual({ index: 100, agrees: true });
    expect(checks.get('r2')!.member('r1')).toEqual({ index: 100, agrees: true });
    expect(sent).toBeLessThanOrEqual(8);
    expect(queue).toEqual([]);
  });
});
