// The chaos checker against hand-made histories: a clean one passes, and each kind of violation is found.
import { describe, expect, it } from 'vitest';
import { check, CLOCK_TOLERANCE_MS, type CheckInput } from '../chaos/checker.js';
import type { LeaderObservation, OpRecord, SeenMessage } from '../chaos/types.js';

let n = 0;
function op(p: Partial<OpRecord> & Pick<OpRecord, 'op' | 'user' | 'start' | 'end'>): OpRecord {
  return { n: ++n, worker: Number(p.user.slice(1)), phase: 'run', outcome: 'ok', args: {}, ...p };
}
const send = (user: string, to: string, text: string, start: number, end: number, id?: number, outcome: OpRecord['outcome'] = 'ok') =>
  op({ op: 'send', user, start, end, outcome, args: { to, text }, ...(id !== undefined ? { id } : {}) });
const msg = (id: number, from: string, to: string, text: string, readAt: number | null = 1): SeenMessage => ({ id, from, to, text, readAt });
const read = (user: string, start: number, end: number, messages: SeenMessage[], limit = 20, outcome: OpRecord['outcome'] = 'ok') =>
  op({ op: 'read', user, start, end, outcome, args: { limit }, ...(outcome === 'ok' ? { messages } : {}) });
const history = (user: string, withUser: string, start: number, end: number, messages: SeenMessage[], limit = 50) =>
  op({ op: 'history', user, start, end, args: { with: withUser, limit }, messages });
const del = (user: string, ids: number[], start: number, end: number, outcome: OpRecord['outcome'] = 'ok') => op({ op: 'delete', user, start, end, outcome, args: { ids } });

function input(ops: OpRecord[], finalMessages: SeenMessage[], observations: LeaderObservation[] = []): CheckInput {
  return { ops, finalMessages, observations, digests: [], converged: true, drainComplete: true };
}

/** A clean history: u0 sends two messages to u1, u1 reads them, a history sees them. */
function clean() {
  const a = msg(10, 'u0', 'u1', 'w0-1');
  const b = msg(11, 'u0', 'u1', 'w0-2');
  const ops = [send('u0', 'u1', 'w0-1', 0, 5, 10), send('u0', 'u1', 'w0-2', 6, 9, 11), read('u1', 10, 12, [a, b]), history('u1', 'u0', 13, 14, [a, b])];
  return { ops, final: [a, b], a, b };
}

const zeros = { lost: 0, duplicated: 0, orderViolations: 0, staleReads: 0, phantoms: 0 };
const figures = (r: ReturnType<typeof check>) => ({ lost: r.lost, duplicated: r.duplicated, orderViolations: r.orderViolations, staleReads: r.staleReads, phantoms: r.phantoms });

describe('chaos checker', () => {
  it('passes a clean history', () => {
    const { ops, final } = clean();
    const r = check(input(ops, final, [{ t: 0, replica: 'r1', role: 'leader', term: 2, leader: 'r1' }, { t: 1, replica: 'r2', role: 'follower', term: 2, leader: 'r1' }]));
    expect(figures(r)).toEqual(zeros);
    expect(r.leadersPerTermMax).toBe(1);
    expect(r.acknowledgedSends).toBe(2);
    expect(r.violations).toEqual([]);
  });

  it('finds an acknowledged message missing from the final state, unless a delete named it', () => {
    const { ops, b } = clean();
    const sends = [...ops.slice(0, 2), read('u1', 10, 12, [b], 1)];
    expect(check(input(sends, [b])).lost).toBe(1);
    expect(check(input([...sends, del('u0', [10], 20, 21, 'unknown')], [b])).lost).toBe(0);
    expect(check(input([...sends, del('u0', [10], 20, 21, 'fail')], [b])).lost).toBe(1);
  });

  it('finds a send stored twice and a message read twice', () => {
    const { ops, final, a } = clean();
    expect(check(input(ops, [...final, msg(12, 'u0', 'u1', 'w0-1')])).duplicated).toBe(1);
    expect(check(input([...ops, read('u1', 20, 21, [a])], final)).duplicated).toBe(1);
  });

  it('finds per-sender order violations, in acknowledgements and in the stored order', () => {
    const a = msg(11, 'u0', 'u1', 'w0-1');
    const b = msg(10, 'u0', 'u1', 'w0-2');
    const ops = [send('u0', 'u1', 'w0-1', 0, 5, 11), send('u0', 'u1', 'w0-2', 6, 9, 10), read('u1', 10, 12, [b, a])];
    expect(check(input(ops, [a, b])).orderViolations).toBe(2);
  });

  it('finds a stale history and a stale draining read', () => {
    const { ops, final, a, b } = clean();
    // A history that began after both sends were acknowledged but shows only the first.
    expect(check(input([...ops, history('u0', 'u1', 20, 21, [a])], final)).staleReads).toBe(1);
    // ... unless the page was full and the missing one is older than the page.
    expect(check(input([...ops, history('u0', 'u1', 20, 21, [b], 1)], final)).staleReads).toBe(0);
    // ... or it was deleted before the history ended.
    expect(check(input([...ops, del('u0', [10], 15, 16), history('u0', 'u1', 20, 21, [b])], [b])).staleReads).toBe(0);
    // Reads that drained u1's inbox after both sends were acknowledged, without ever returning the second: each counts.
    const drained = [ops[0], ops[1], read('u1', 10, 12, [a]), read('u1', 13, 14, [])];
    expect(check(input(drained, [a, { ...b, readAt: null }])).staleReads).toBe(3);
    // A full page (limit reached) does not claim the inbox is empty.
    expect(check(input([ops[0], ops[1], read('u1', 10, 12, [a], 1), read('u1', 13, 14, [b], 1)], final)).staleReads).toBe(0);
  });

  it('counts a message still unread after the final drain as stale, and one marked read that no read returned as lost', () => {
    const { ops, a, b } = clean();
    const sends = ops.slice(0, 2);
    expect(check(input([...sends, read('u1', 10, 12, [a], 1)], [a, { ...b, readAt: null }])).staleReads).toBe(1);
    expect(check(input([...sends, read('u1', 10, 12, [a], 1)], [a, b])).lost).toBe(1);
    // A read whose answer was lost may have taken it: allowed.
    const r = check(input([...sends, read('u1', 10, 12, [a], 1), read('u1', 13, 14, [], 20, 'unknown')], [a, b]));
    expect(r.lost).toBe(0);
    expect(r.readByUnknown).toBe(1);
  });

  it('finds phantoms: no send made it, a refused send was applied, a read saw the future', () => {
    const { ops, final } = clean();
    expect(check(input(ops, [...final, msg(50, 'u1', 'u0', 'w1-9')])).phantoms).toBe(1);
    expect(check(input([...ops, send('u1', 'u0', 'w1-1', 20, 21, undefined, 'fail')], [...final, msg(22, 'u1', 'u0', 'w1-1')])).phantoms).toBe(1);
    const early = msg(30, 'u1', 'u0', 'w1-1');
    expect(check(input([...ops, history('u0', 'u1', 20, 21, [...final, early]), send('u1', 'u0', 'w1-1', 25, 26, 30)], [...final, early])).phantoms).toBe(1);
  });

  it('counts unknown sends applied once or not at all', () => {
    const { ops, final } = clean();
    const r = check(input([...ops, send('u1', 'u0', 'w1-1', 20, 30, undefined, 'unknown'), send('u1', 'u0', 'w1-2', 31, 40, undefined, 'unknown')], [...final, msg(25, 'u1', 'u0', 'w1-1')]));
    expect(r.unknownApplied).toBe(1);
    expect(r.unknownNotApplied).toBe(1);
    expect(figures(r)).toEqual(zeros);
  });

  it('finds message times that are not sensible: hours off the real time of the send, or going back along the log', () => {
    const t0 = 1_700_000_000_000;
    const stampedSend = (text: string, id: number, start: number, end: number, sentAt: number) => ({ ...send('u0', 'u1', text, start, end, id), sentAt });
    const a = { ...msg(10, 'u0', 'u1', 'w0-1'), sentAt: t0 + 3 };
    const b = { ...msg(11, 'u0', 'u1', 'w0-2'), sentAt: t0 + 8 };
    const ok = [stampedSend('w0-1', 10, 0, 5, t0 + 3), stampedSend('w0-2', 11, 6, 9, t0 + 8), read('u1', 10, 12, [a, b])];
    expect(check({ ...input(ok, [a, b]), runStartedAt: t0 }).clockViolations).toBe(0);
    // Stamped by a leader five hours fast, and one stamped an hour before its send was made.
    const ahead = [stampedSend('w0-1', 10, 0, 5, t0 + 5 * 3600_000), stampedSend('w0-2', 11, 6, 9, t0 - CLOCK_TOLERANCE_MS - 1), ok[2]];
    const r = check({ ...input(ahead, [a, b]), runStartedAt: t0 });
    expect(r.clockViolations).toBe(2);
    expect(r.violations.map((v) => v.kind)).toEqual(['clock', 'clock']);
    // A message stamped earlier than the one before it.
    const back = { ...b, sentAt: t0 + 1 };
    expect(check({ ...input(ok, [a, back]), runStartedAt: t0 }).clockViolations).toBe(1);
  });

  it('finds two leaders in one term', () => {
    const { ops, final } = clean();
    const obs: LeaderObservation[] = [
      { t: 0, replica: 'r1', role: 'leader', term: 3, leader: 'r1' },
      { t: 1, replica: 'r3', role: 'follower', term: 3, leader: 'r2' },
      { t: 2, replica: 'r2', role: 'unreachable', term: 3, leader: null },
    ];
    const r = check(input(ops, final, obs));
    expect(r.leadersPerTermMax).toBe(2);
    expect(r.splitTerms).toEqual({ 3: ['r1', 'r2'] });
  });
});
