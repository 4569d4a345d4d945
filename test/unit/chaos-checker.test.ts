// The chaos checker against hand-made histories: a clean one passes, and each kind of violation is found.
import { describe, expect, it } from 'vitest';
import { check, CLOCK_TOLERANCE_MS, type CheckInput } from '../chaos/checker.js';
import type { GroupRecord, LeaderObservation, OpRecord, SeenMessage } from '../chaos/types.js';

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

const createGroup = (user: string, group: string, members: string[], start: number, end: number, outcome: OpRecord['outcome'] = 'ok') =>
  op({ op: 'createGroup', user, start, end, outcome, args: { group, members } });
const groupSend = (user: string, group: string, text: string, start: number, end: number, id?: number, outcome: OpRecord['outcome'] = 'ok') =>
  op({ op: 'groupSend', user, start, end, outcome, args: { group, text }, ...(id !== undefined ? { id } : {}) });
const gmsg = (id: number, from: string, group: string, text: string): SeenMessage => ({ id, from, to: `#${group}`, text, readAt: null, group });
const groupHistory = (user: string, group: string, start: number, end: number, messages: SeenMessage[], limit = 50) =>
  op({ op: 'groupHistory', user, start, end, args: { group, limit }, messages });
const edit = (user: string, messageId: number, text: string, start: number, end: number, outcome: OpRecord['outcome'] = 'ok') =>
  op({ op: 'edit', user, start, end, outcome, args: { messageId, text } });

function input(ops: OpRecord[], finalMessages: SeenMessage[], observations: LeaderObservation[] = [], finalGroups?: GroupRecord[]): CheckInput {
  return { ops, finalMessages, observations, digests: [], converged: true, drainComplete: true, ...(finalGroups ? { finalGroups } : {}) };
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

  describe('groups', () => {
    /** u0 makes #g with u1 and u2, sends two messages to it; u1 and u2 each read both once. */
    function team() {
      const a = gmsg(20, 'u0', 'g', 'w0-1');
      const b = gmsg(21, 'u0', 'g', 'w0-2');
      const made = createGroup('u0', 'g', ['u1', 'u2'], 0, 4);
      const sends = [made, groupSend('u0', 'g', 'w0-1', 5, 8, 20), groupSend('u0', 'g', 'w0-2', 9, 12, 21)];
      const groups: GroupRecord[] = [{ name: 'g', members: ['u0', 'u1', 'u2'] }];
      return { a, b, sends, groups, final: [a, b] };
    }

    it('passes when every member but the sender reads each group message once, in order', () => {
      const { a, b, sends, groups, final } = team();
      const r = check(input([...sends, read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a], 1), read('u2', 16, 17, [b]), groupHistory('u1', 'g', 18, 19, [a, b])], final, [], groups));
      expect(figures(r)).toEqual(zeros);
      expect(r.groupMessages).toBe(2);
      expect(r.violations).toEqual([]);
    });

    it('finds a member that never read an acknowledged group message, and one that read it twice', () => {
      const { a, b, sends, groups, final } = team();
      // u2 never got b: lost (the drain completed, so its watermark passed b).
      const missing = check(input([...sends, read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a])], final, [], groups));
      expect(missing.lost).toBe(1);
      expect(missing.violations[0].detail).toContain('never read by member u2');
      // ... unless a read of u2's with an unknown outcome could have taken it.
      expect(check(input([...sends, read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a]), read('u2', 16, 17, [], 20, 'unknown')], final, [], groups)).lost).toBe(0);
      // u1 read a twice.
      expect(check(input([...sends, read('u1', 13, 14, [a, b]), read('u1', 15, 16, [a]), read('u2', 13, 15, [a, b])], final, [], groups)).duplicated).toBe(1);
      // The same message read by two members is not a duplicate; nor is the sender expected to read its own.
      expect(check(input([...sends, read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a, b]), read('u0', 13, 14, [])], final, [], groups)).duplicated).toBe(0);
    });

    it('finds a member reading a group out of order, and a draining read or group history that misses a message', () => {
      const { a, b, sends, groups, final } = team();
      const r = check(input([...sends, read('u1', 13, 14, [b], 1), read('u1', 15, 16, [a], 1), read('u2', 13, 15, [a, b])], final, [], groups));
      expect(r.orderViolations).toBe(1);
      // u2's read emptied its inbox after both sends were acknowledged but returned only a (then b later): stale.
      expect(check(input([...sends, read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a]), read('u2', 16, 17, [b])], final, [], groups)).staleReads).toBe(1);
      // A group history begun after b was acknowledged that holds a (older) but not b.
      expect(check(input([...sends, read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a, b]), groupHistory('u2', 'g', 20, 21, [a])], final, [], groups)).staleReads).toBe(1);
    });

    it('finds groups whose members differ from their creation, refused creations that exist, acknowledged ones missing', () => {
      const { a, b, sends, final } = team();
      const reads = [read('u1', 13, 14, [a, b]), read('u2', 13, 15, [a, b])];
      expect(check(input([...sends, ...reads], final, [], [{ name: 'g', members: ['u0', 'u1'] }])).phantoms).toBe(1);
      expect(check(input([...sends, ...reads, createGroup('u1', 'h', ['u0'], 20, 21, 'fail')], final, [], [{ name: 'g', members: ['u0', 'u1', 'u2'] }, { name: 'h', members: ['u0', 'u1'] }])).phantoms).toBe(1);
      expect(check(input([...sends, ...reads, createGroup('u1', 'h', ['u0'], 20, 21)], final, [], [{ name: 'g', members: ['u0', 'u1', 'u2'] }])).lost).toBe(1);
    });

    it('finds a group message seen in another group or from another sender', () => {
      const { a, b, sends, groups, final } = team();
      const elsewhere = { ...b, to: '#h', group: 'h' };
      expect(check(input([...sends, read('u1', 13, 14, [a, elsewhere]), read('u2', 13, 15, [a, b])], final, [], groups)).phantoms).toBe(1);
    });
  });

  describe('edits', () => {
    /** u0 sends w0-1 (id 10) to u1, edits it twice (acknowledged); u1 reads it. */
    function edited() {
      const sent = send('u0', 'u1', 'w0-1', 0, 5, 10);
      const e1 = edit('u0', 10, 'w0-1-e1', 10, 15);
      const e2 = edit('u0', 10, 'w0-1-e2', 20, 25);
      const v = (text: string) => ({ ...msg(10, 'u0', 'u1', text), editedAt: 1 });
      return { sent, e1, e2, v };
    }

    it('passes when reads and the final state follow the acknowledged edits', () => {
      const { sent, e1, e2, v } = edited();
      const ops = [sent, read('u1', 6, 7, [msg(10, 'u0', 'u1', 'w0-1')]), e1, history('u1', 'u0', 16, 17, [v('w0-1-e1')]), e2, history('u1', 'u0', 30, 31, [v('w0-1-e2')])];
      const r = check(input(ops, [v('w0-1-e2')]));
      expect(figures(r)).toEqual(zeros);
      expect(r.editViolations).toBe(0);
      expect(r.edits).toBe(2);
      // A history that overlaps an edit may show either version.
      expect(check(input([...ops, history('u1', 'u0', 19, 22, [v('w0-1-e1')])], [v('w0-1-e2')])).editViolations).toBe(0);
    });

    it('finds an acknowledged edit that the final state or a later read does not show', () => {
      const { sent, e1, e2, v } = edited();
      const base = [sent, read('u1', 6, 7, [msg(10, 'u0', 'u1', 'w0-1')]), e1, e2];
      // The replicas store the first edit's text though the second was acknowledged after it.
      const r = check(input(base, [v('w0-1-e1')]));
      expect(r.editViolations).toBe(1);
      expect(r.violations[0].kind).toBe('edit');
      // A history begun after e2 was acknowledged shows the original text.
      expect(check(input([...base, history('u1', 'u0', 30, 31, [msg(10, 'u0', 'u1', 'w0-1')])], [v('w0-1-e2')])).editViolations).toBe(1);
      // An edit whose outcome is unknown may take effect after a later acknowledged one.
      const unknown = edit('u0', 10, 'w0-1-e3', 26, 28, 'unknown');
      expect(check(input([...base, unknown], [v('w0-1-e3')])).editViolations).toBe(0);
    });

    it('finds an edit applied twice (its text comes back after another replaced it)', () => {
      const { sent, e1, v } = edited();
      const unknown = edit('u0', 10, 'w0-1-e2', 20, 25, 'unknown');
      const e3 = edit('u0', 10, 'w0-1-e3', 30, 35);
      const ops = [sent, read('u1', 6, 7, [msg(10, 'u0', 'u1', 'w0-1')]), e1, unknown, history('u1', 'u0', 26, 27, [v('w0-1-e2')]), e3, history('u1', 'u0', 40, 41, [v('w0-1-e3')])];
      expect(check(input(ops, [v('w0-1-e3')])).editViolations).toBe(0);
      // e2 (unknown) was seen, then e3, then e2 again in the final state.
      const r = check(input(ops, [v('w0-1-e2')]));
      expect(r.editViolations).toBe(1);
      expect(r.violations.some((x) => x.detail.includes('again'))).toBe(true);
    });

    it('finds a refused edit applied, and a text no edit wrote', () => {
      const { sent, v } = edited();
      const reads = [read('u1', 6, 7, [msg(10, 'u0', 'u1', 'w0-1')])];
      expect(check(input([sent, ...reads, edit('u0', 10, 'w0-1-e1', 10, 15, 'fail')], [v('w0-1-e1')])).phantoms).toBe(1);
      expect(check(input([sent, ...reads], [v('w0-1-e7')])).phantoms).toBe(1);
    });
  });
});
