// Groups against a model (fast-check, seeded): random group sends, reads, markGroupRead, deletes, edits, joins and
// leaves by four people; after every step each member's unread count, what `read` returns, and who may see what in
// search agree with a plain model of per-member unread sets, and the derived state audits clean.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, tok } from '../helpers/chat-harness.js';

const USERS = ['ann', 'bob', 'cat', 'dan'] as const;
type User = (typeof USERS)[number];
const user = fc.constantFrom(...USERS);

type Op =
  | { kind: 'send'; from: User; word: number }
  | { kind: 'read'; who: User; limit: number }
  | { kind: 'markAll'; who: User }
  | { kind: 'delete'; who: User; pick: number }
  | { kind: 'edit'; who: User; pick: number; word: number }
  | { kind: 'add'; who: User }
  | { kind: 'leave'; who: User };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('send' as const), from: user, word: fc.nat(5) }),
  fc.record({ kind: fc.constant('read' as const), who: user, limit: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('markAll' as const), who: user }),
  fc.record({ kind: fc.constant('delete' as const), who: user, pick: fc.nat() }),
  fc.record({ kind: fc.constant('edit' as const), who: user, pick: fc.nat(), word: fc.nat(5) }),
  fc.record({ kind: fc.constant('add' as const), who: user }),
  fc.record({ kind: fc.constant('leave' as const), who: user }),
);

const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.dispose();
});

describe('groups against a model', () => {
  it('unread counts, read, and search visibility match the model after every step', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const h = new Harness();
        harnesses.push(h);
        h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
        const ids = Object.fromEntries(USERS.map((u) => [u, h.user(u)])) as Record<User, number>;
        h.raiseClusterVersion(3);
        // ann creates the group with everyone but dan; ann stays (the admin who adds people back).
        h.ok({ kind: 'createGroup', tokenHash: tok('ann'), name: 'g', members: ['bob', 'cat'] });
        const members = new Set<User>(['ann', 'bob', 'cat']);
        const live = new Map<number, { from: User; word: number }>();
        const unread = new Map<User, Set<number>>(USERS.map((u) => [u, new Set()]));
        for (const o of ops) {
          switch (o.kind) {
            case 'send': {
              if (!members.has(o.from)) {
                expect(h.err({ kind: 'groupSend', tokenHash: tok(o.from), group: 'g', text: `w${o.word}` })).toBe('FORBIDDEN');
                break;
              }
              const id = h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok(o.from), group: 'g', text: `w${o.word}` }).id;
              live.set(id, { from: o.from, word: o.word });
              for (const m of members) if (m !== o.from) unread.get(m)!.add(id);
              break;
            }
            case 'read': {
              const got = h.ok<{ messages: { id: number }[] }>({ kind: 'read', tokenHash: tok(o.who), limit: o.limit }).messages.map((m) => m.id);
              const expected = [...unread.get(o.who)!].sort((a, b) => a - b).slice(0, o.limit);
              expect(got).toEqual(expected);
              for (const id of got) unread.get(o.who)!.delete(id);
              break;
            }
            case 'markAll': {
              if (!members.has(o.who)) break;
              h.ok({ kind: 'markGroupRead', tokenHash: tok(o.who), group: 'g', upTo: h.sm.applied().index });
              unread.get(o.who)!.clear();
              break;
            }
            case 'delete': {
              const own = [...live].filter(([, m]) => m.from === o.who).map(([id]) => id);
              if (own.length === 0) break;
              const id = own[o.pick % own.length];
              h.ok({ kind: 'delete', tokenHash: tok(o.who), ids: [id] });
              live.delete(id);
              for (const set of unread.values()) set.delete(id);
              break;
            }
            case 'edit': {
              const own = [...live].filter(([, m]) => m.from === o.who).map(([id]) => id);
              if (own.length === 0 || !members.has(o.who)) break;
              const id = own[o.pick % own.length];
              h.ok({ kind: 'edit', tokenHash: tok(o.who), messageId: id, text: `w${o.word}` });
              live.get(id)!.word = o.word;
              break;
            }
            case 'add': {
              if (members.has(o.who) || !members.has('ann')) break;
              h.ok({ kind: 'addMembers', tokenHash: tok('ann'), group: 'g', members: [o.who] });
              members.add(o.who);
              break;
            }
            case 'leave': {
              if (!members.has(o.who) || o.who === 'ann') break;
              h.ok({ kind: 'leaveGroup', tokenHash: tok(o.who), group: 'g' });
              members.delete(o.who);
              unread.get(o.who)!.clear();
              break;
            }
          }
          for (const u of USERS) {
            const listed = h.sm.groups(ids[u]);
            expect(listed.map((g) => g.unread)).toEqual(members.has(u) ? [unread.get(u)!.size] : []);
          }
        }
        // Search: members find exactly the live messages with the word (as last edited), others nothing.
        for (const u of USERS) {
          for (let w = 0; w <= 5; w++) {
            const found = h.sm.search(ids[u], `w${w}`, 500).map((m) => m.id).sort((a, b) => a - b);
            const expected = members.has(u) ? [...live].filter(([, m]) => m.word === w).map(([id]) => id).sort((a, b) => a - b) : [];
            expect(found).toEqual(expected);
          }
        }
        expect(h.sm.audit()).toEqual([]);
      }),
      { seed: 0x6a0c, numRuns: 40 },
    );
  });
});
