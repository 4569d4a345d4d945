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

  it('knows a hash it already holds (a resend, to be answered) and its own hash at an index', () => {
    const c = new StateCheck('r1', members);
    expect(c.holds('r2', 100, A)).toBe(false);
    c.recordPeer('r2', 100, A);
    expect(c.holds('r2', 100, A)).toBe(true);
    expect(c.holds('r2', 100, B)).toBe(false);
    expect(c.holds('r2', 120, A)).toBe(false);
    expect(c.ownHash(100)).toBeUndefined();
    c.recordOwn(100, B);
    expect(c.ownHash(100)).toBe(B);
  });
});
