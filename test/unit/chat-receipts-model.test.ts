// Receipts against a model (fast-check, seeded): four people exchange one-to-one messages and write in two groups,
// and read (the oldest unread across every conversation and group), markRead and delivered in any order. After every
// step: what `read` returned and in which order, the counts markRead and delivered report, the receipts pushed to each
// sender, and every unread count (conversations, groups, the account's total) agree with a plain model.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, tok } from '../helpers/chat-harness.js';
import type { ApplyOutcome } from '../../replica/chat/outcome.js';

const USERS = ['ann', 'bob', 'cat', 'dan'] as const;
type User = (typeof USERS)[number];
const GROUPS = { g1: ['ann', 'bob', 'cat'], g2: ['ann', 'bob', 'dan'] } as const satisfies Record<string, readonly User[]>;
type Group = keyof typeof GROUPS;
const user = fc.constantFrom(...USERS);

type Op =
  | { kind: 'dm'; from: User; to: User }
  | { kind: 'gsend'; group: Group; pick: number }
  | { kind: 'read'; who: User; limit: number }
  | { kind: 'markRead'; who: User; peer: User; pick: number }
  | { kind: 'delivered'; who: User; pick: number }
  | { kind: 'del'; who: User; pick: number }
  | { kind: 'gdel'; group: Group; pick: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('dm' as const), from: user, to: user }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('gsend' as const), group: fc.constantFrom<Group>('g1', 'g2'), pick: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), who: user, limit: fc.integer({ min: 1, max: 5 }) }) },
  fc.record({ kind: fc.constant('markRead' as const), who: user, peer: user, pick: fc.nat() }),
  fc.record({ kind: fc.constant('delivered' as const), who: user, pick: fc.nat() }),
  fc.record({ kind: fc.constant('del' as const), who: user, pick: fc.nat() }),
  fc.record({ kind: fc.constant('gdel' as const), group: fc.constantFrom<Group>('g1', 'g2'), pick: fc.nat() }),
);

interface Dm {
  id: number;
  from: User;
  to: User;
  read: boolean;
  delivered: boolean;
  deleted?: boolean;
}

/** The `deleted` pushes of one outcome, as "to:ids". */
function deletions(outcome: ApplyOutcome): string[] {
  return outcome.events
    .filter((e) => e.frame.event === 'deleted')
    .map((e) => `${e.toUser}:${(e.frame as unknown as { ids: number[] }).ids.join(',')}`)
    .sort();
}

/** The receipt pushes of one outcome, as "to:kind:ids". */
function receipts(outcome: ApplyOutcome): string[] {
  return outcome.events
    .filter((e) => e.frame.event === 'receipt')
    .map((e) => {
      const frame = e.frame as unknown as { ids: number[]; kind: string };
      return `${e.toUser}:${frame.kind}:${frame.ids.join(',')}`;
    })
    .sort();
}

/** What the model expects pushed: one receipt per sender, its ids ascending. */
function expectedReceipts(dms: Dm[], kind: string): string[] {
  const bySender = new Map<User, number[]>();
  for (const m of dms) bySender.set(m.from, [...(bySender.get(m.from) ?? []), m.id]);
  return [...bySender].map(([from, ids]) => `${from}:${kind}:${ids.sort((a, b) => a - b).join(',')}`).sort();
}

const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.dispose();
});

describe('receipts against a model', () => {
  it('read, markRead and delivered take exactly what the model says, push it to the senders, and keep every count', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 10, maxLength: 45, size: 'max' }), (ops) => {
        const h = new Harness();
        harnesses.push(h);
        h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
        const ids = Object.fromEntries(USERS.map((u) => [u, h.user(u)])) as Record<User, number>;
        h.raiseClusterVersion(3);
        for (const [name, members] of Object.entries(GROUPS)) {
          h.ok({ kind: 'createGroup', tokenHash: tok(members[0]), name, members: members.slice(1) });
        }
        const all: Dm[] = [];
        let dms: Dm[] = [];
        const groupSent: { id: number; from: User; group: Group; deleted: boolean }[] = [];
        // Per member, the group messages not yet read (the group's own "created" events are not unread).
        const groupUnread = new Map<User, Map<number, Group>>(USERS.map((u) => [u, new Map()]));
        for (const o of ops) {
          dms = all.filter((m) => !m.deleted);
          switch (o.kind) {
            case 'dm': {
              const id = h.send(o.from, o.to, `${o.from} to ${o.to}`);
              // A note to oneself is born read.
              all.push({ id, from: o.from, to: o.to, read: o.from === o.to, delivered: o.from === o.to });
              break;
            }
            case 'gsend': {
              const members = GROUPS[o.group];
              const from = members[o.pick % members.length];
              const { id } = h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok(from), group: o.group, text: `in ${o.group}` });
              for (const m of members) if (m !== from) groupUnread.get(m)!.set(id, o.group);
              groupSent.push({ id, from, group: o.group, deleted: false });
              break;
            }
            case 'del': {
              const mine = dms.filter((m) => m.from === o.who || m.to === o.who);
              if (mine.length === 0) break;
              const m = mine[o.pick % mine.length];
              const outcome = h.apply({ kind: 'delete', tokenHash: tok(o.who), ids: [m.id] });
              expect(outcome.response).toEqual({ ok: true, result: { deleted: 1 } });
              expect(deletions(outcome)).toEqual([...new Set([m.from, m.to])].map((u) => `${u}:${m.id}`).sort());
              m.deleted = true;
              break;
            }
            case 'gdel': {
              const live = groupSent.filter((m) => m.group === o.group && !m.deleted);
              if (live.length === 0) break;
              const m = live[o.pick % live.length];
              const outcome = h.apply({ kind: 'delete', tokenHash: tok(m.from), ids: [m.id] });
              expect(outcome.response).toEqual({ ok: true, result: { deleted: 1 } });
              expect(deletions(outcome)).toEqual(GROUPS[o.group].map((u) => `${u}:${m.id}`).sort());
              m.deleted = true;
              for (const u of USERS) groupUnread.get(u)!.delete(m.id);
              break;
            }
            case 'read': {
              const outcome = h.apply({ kind: 'read', tokenHash: tok(o.who), limit: o.limit });
              expect(outcome.response.ok).toBe(true);
              const got = (outcome.response as { result: { messages: { id: number; readAt: number | null; deliveredAt: number | null }[] } }).result.messages;
              const candidates = [
                ...dms.filter((m) => m.to === o.who && !m.read).map((m) => m.id),
                ...groupUnread.get(o.who)!.keys(),
              ].sort((a, b) => a - b);
              const expected = candidates.slice(0, o.limit);
              expect(got.map((m) => m.id)).toEqual(expected);
              const takenDms = dms.filter((m) => expected.includes(m.id));
              for (const m of got) if (takenDms.some((d) => d.id === m.id)) expect(m.readAt).not.toBeNull();
              expect(receipts(outcome)).toEqual(expectedReceipts(takenDms, 'read'));
              for (const m of takenDms) {
                m.read = true;
                m.delivered = true;
              }
              for (const id of expected) groupUnread.get(o.who)!.delete(id);
              break;
            }
            case 'markRead': {
              const conversation = dms.filter((m) => (m.from === o.peer && m.to === o.who) || (m.from === o.who && m.to === o.peer));
              if (o.peer === o.who || conversation.length === 0) {
                expect(h.apply({ kind: 'markRead', tokenHash: tok(o.who), with: o.peer, upTo: 1 }).response).toMatchObject(
                  o.peer === o.who ? { ok: true, result: { marked: 0 } } : { ok: true, result: { marked: 0 } },
                );
                break;
              }
              const upTo = conversation[o.pick % conversation.length].id;
              const outcome = h.apply({ kind: 'markRead', tokenHash: tok(o.who), with: o.peer, upTo });
              const taken = conversation.filter((m) => m.from === o.peer && m.to === o.who && !m.read && m.id <= upTo);
              expect(outcome.response).toEqual({ ok: true, result: { marked: taken.length } });
              expect(receipts(outcome)).toEqual(expectedReceipts(taken, 'read'));
              for (const m of taken) {
                m.read = true;
                m.delivered = true;
              }
              break;
            }
            case 'delivered': {
              const inbox = dms.filter((m) => m.to === o.who && m.from !== o.who);
              const upTo = inbox.length ? inbox[o.pick % inbox.length].id : 1;
              const outcome = h.apply({ kind: 'delivered', tokenHash: tok(o.who), upTo });
              const taken = inbox.filter((m) => !m.delivered && m.id <= upTo);
              expect(outcome.response).toEqual({ ok: true, result: { marked: taken.length } });
              expect(receipts(outcome)).toEqual(expectedReceipts(taken, 'delivered'));
              for (const m of taken) m.delivered = true;
              break;
            }
          }
          dms = all.filter((m) => !m.deleted);
          for (const u of USERS) {
            const unreadFrom = (peer: User) => dms.filter((m) => m.to === u && m.from === peer && !m.read).length;
            const convs = h.sm.conversations(ids[u], 50);
            expect(Object.fromEntries(convs.map((c) => [c.with, c.unread]))).toEqual(
              Object.fromEntries(USERS.filter((p) => dms.some((m) => (m.from === p && m.to === u) || (m.from === u && m.to === p))).map((p) => [p, unreadFrom(p)])),
            );
            for (const c of convs) {
              const between = dms.filter((m) => (m.from === c.with && m.to === u) || (m.from === u && m.to === c.with));
              expect(c.lastMessage.id).toBe(Math.max(...between.map((m) => m.id)));
            }
            for (const g of h.sm.groups(ids[u])) {
              const live = groupSent.filter((m) => m.group === g.name && !m.deleted).map((m) => m.id);
              if (live.length) expect(g.lastMessage?.id).toBe(Math.max(...live));
              else expect(g.lastMessage?.event ?? null).not.toBeNull();
            }
            expect(h.sm.unreadCount(ids[u])).toBe(dms.filter((m) => m.to === u && !m.read).length);
            const groups = Object.fromEntries(h.sm.groups(ids[u]).map((g) => [g.name, g.unread]));
            const expectedGroups = Object.fromEntries(
              (Object.keys(GROUPS) as Group[])
                .filter((g) => (GROUPS[g] as readonly User[]).includes(u))
                .map((g) => [g, [...groupUnread.get(u)!.values()].filter((x) => x === g).length]),
            );
            expect(groups).toEqual(expectedGroups);
          }
        }
        expect(h.sm.audit()).toEqual([]);
      }),
      { seed: 0x7ecb, numRuns: 40 },
    );
  });

  it('markRead of someone who does not exist is NOT_FOUND naming them; read with nothing unread takes nothing', () => {
    const h = new Harness();
    harnesses.push(h);
    h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    h.user('ann');
    h.user('bob');
    expect(h.apply({ kind: 'markRead', tokenHash: tok('ann'), with: 'nobody', upTo: 1 }).response).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'no conversation with "nobody"' },
    });
    // A conversation whose messages are all read: nothing to mark, nothing pushed.
    const id = h.send('bob', 'ann', 'hello');
    expect(h.ok({ kind: 'markRead', tokenHash: tok('ann'), with: 'bob', upTo: id })).toEqual({ marked: 1 });
    const again = h.apply({ kind: 'markRead', tokenHash: tok('ann'), with: 'bob', upTo: id });
    expect(again.response).toEqual({ ok: true, result: { marked: 0 } });
    expect(again.events).toEqual([]);
    const read = h.apply({ kind: 'read', tokenHash: tok('ann'), limit: 10 });
    expect(read.response).toEqual({ ok: true, result: { messages: [] } });
    expect(read.events).toEqual([]);
    // markRead below the first unread message marks nothing.
    const second = h.send('bob', 'ann', 'again');
    expect(h.ok({ kind: 'markRead', tokenHash: tok('ann'), with: 'bob', upTo: id })).toEqual({ marked: 0 });
    expect(h.ok({ kind: 'markRead', tokenHash: tok('ann'), with: 'bob', upTo: second })).toEqual({ marked: 1 });
  });

  it('deleting messages of two groups at once tells each group only of its own; refusals name what is wrong', () => {
    const h = new Harness();
    harnesses.push(h);
    h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    for (const u of USERS) h.user(u);
    h.raiseClusterVersion(3);
    h.ok({ kind: 'createGroup', tokenHash: tok('ann'), name: 'g1', members: ['bob'] });
    h.ok({ kind: 'createGroup', tokenHash: tok('ann'), name: 'g2', members: ['cat'] });
    const a = h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok('ann'), group: 'g1', text: 'one' }).id;
    const b = h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok('ann'), group: 'g2', text: 'two' }).id;
    const outcome = h.apply({ kind: 'delete', tokenHash: tok('ann'), ids: [b, a] });
    expect(outcome.response).toEqual({ ok: true, result: { deleted: 2 } });
    expect(deletions(outcome)).toEqual([`ann:${a}`, `ann:${b}`, `bob:${a}`, `cat:${b}`]);

    expect(h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'nobody', text: 'x' }).response).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'no account named "nobody"' },
    });
    expect(h.apply({ kind: 'edit', tokenHash: tok('ann'), messageId: 99999, text: 'x' }).response).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'no message 99999' },
    });
    expect(h.apply({ kind: 'delete', tokenHash: tok('ann'), ids: [99999] }).response).toEqual({
      ok: false,
      error: { code: 'NOT_FOUND', message: 'no message 99999' },
    });
    const dm = h.send('bob', 'cat', 'private');
    expect(h.apply({ kind: 'delete', tokenHash: tok('ann'), ids: [dm] }).response).toEqual({
      ok: false,
      error: { code: 'FORBIDDEN', message: `message ${dm} is not yours to delete` },
    });
    // Either side of a one-to-one message may delete it; a group message only its sender.
    const inGroup = h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok('bob'), group: 'g1', text: 'mine' }).id;
    expect(h.apply({ kind: 'delete', tokenHash: tok('ann'), ids: [inGroup] }).response).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(h.ok({ kind: 'delete', tokenHash: tok('cat'), ids: [dm] })).toEqual({ deleted: 1 });

    // An edit of one's own group message after leaving the group is refused, saying so.
    h.ok({ kind: 'leaveGroup', tokenHash: tok('bob'), group: 'g1' });
    expect(h.apply({ kind: 'edit', tokenHash: tok('bob'), messageId: inGroup, text: 'changed' }).response).toEqual({
      ok: false,
      error: { code: 'FORBIDDEN', message: `message ${inGroup} is in a group you are no longer a member of` },
    });
  });

  it('an edit answers with its time and reaches both sides; once the other account is deleted the message is gone', () => {
    const h = new Harness();
    harnesses.push(h);
    h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    h.user('ann');
    h.user('bob');
    h.raiseClusterVersion(3);
    const id = h.send('ann', 'bob', 'first');
    const at = h.at + 5000;
    const edit = h.apply({ kind: 'edit', tokenHash: tok('ann'), messageId: id, text: 'second' }, { at });
    expect(edit.response).toEqual({ ok: true, result: { edited: true, editedAt: at } });
    expect(edit.events.map((e) => e.toUser).sort()).toEqual(['ann', 'bob']);
    h.ok({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: 'scrypt$16384$8$1$salt$bob' });
    const later = h.apply({ kind: 'edit', tokenHash: tok('ann'), messageId: id, text: 'third' });
    // The other account's deletion took the conversation with it: nothing is left to edit.
    expect(later.response).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: `no message ${id}` } });
    expect(later.events).toEqual([]);
  });
});
