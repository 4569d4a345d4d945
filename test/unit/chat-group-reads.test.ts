// Live group read counts on the real state machine: when a member's read watermark moves (markGroupRead, or `read`
// taking group messages), the senders of what it newly read get a `groupRead` push with each message's count of
// readers, the count a history page shows; in a seeded random run every push agrees with groupHistory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushFrame } from '../../replica/protocol/client.js';
import { Harness, tok } from '../helpers/chat-harness.js';
import { seededRandom } from '../helpers/random.js';

let h: Harness;
const ids: Record<string, number> = {};
const MEMBERS = ['ann', 'bob', 'carl', 'dora'];

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  for (const name of [...MEMBERS, 'eve']) ids[name] = h.user(name);
  h.raiseClusterVersion(3);
  h.ok({ kind: 'createGroup', tokenHash: tok('ann'), name: 'Team', members: ['bob', 'carl', 'dora'] });
});
afterEach(() => h.dispose());

const groupSend = (who: string, text: string) => h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok(who), group: 'team', text }).id;
const groupReads = (events: { toUser: string; frame: PushFrame }[]) =>
  events.filter((e) => e.frame.event === 'groupRead').map((e) => [e.toUser, e.frame] as const);
/** readBy of each message (not events) as `who`'s history page shows it. */
const readByOnPage = (who: string) => new Map(h.sm.groupHistory(ids[who], 'team', 500).filter((m) => !m.event).map((m) => [m.id, m.readBy]));

describe('group read counts pushed live', () => {
  it('markGroupRead: each sender gets its messages the reader passed, with their counts; nothing for the reader, events or deleted messages', () => {
    const a1 = groupSend('ann', 'a1');
    const b1 = groupSend('bob', 'b1');
    const a2 = groupSend('ann', 'a2');
    const gone = groupSend('bob', 'gone');
    h.ok({ kind: 'delete', tokenHash: tok('bob'), ids: [gone] });
    const c1 = groupSend('carl', 'c1'); // carl's own: not counted for carl
    const marked = h.apply({ kind: 'markGroupRead', tokenHash: tok('carl'), group: 'team', upTo: c1 });
    expect(marked.response).toMatchObject({ ok: true, result: { marked: 3 } });
    expect(groupReads(marked.events)).toEqual([
      ['ann', { type: 'push', event: 'groupRead', group: 'Team', messages: [{ id: a1, readBy: 1 }, { id: a2, readBy: 1 }] }],
      ['bob', { type: 'push', event: 'groupRead', group: 'Team', messages: [{ id: b1, readBy: 1 }] }],
    ]);
    // dora reads up to a1 only: ann's a1 is read by 2 now (carl, dora).
    const dora = h.apply({ kind: 'markGroupRead', tokenHash: tok('dora'), group: 'team', upTo: a1 });
    expect(groupReads(dora.events)).toEqual([['ann', { type: 'push', event: 'groupRead', group: 'Team', messages: [{ id: a1, readBy: 2 }] }]]);
    // The same counts a history page shows.
    const page = readByOnPage('ann');
    expect([page.get(a1), page.get(a2), page.get(b1)]).toEqual([2, 1, 1]);
    // Reading nothing new pushes nothing.
    expect(groupReads(h.apply({ kind: 'markGroupRead', tokenHash: tok('dora'), group: 'team', upTo: a1 }).events)).toEqual([]);
  });

  it('read (the oldest unread, groups merged in) pushes the counts of the group messages it took', () => {
    const b1 = groupSend('bob', 'b1');
    const b2 = groupSend('bob', 'b2');
    const read = h.apply({ kind: 'read', tokenHash: tok('dora'), limit: 1 });
    expect(groupReads(read.events)).toEqual([['bob', { type: 'push', event: 'groupRead', group: 'Team', messages: [{ id: b1, readBy: 1 }] }]]);
    const rest = h.apply({ kind: 'read', tokenHash: tok('ann'), limit: 10 });
    expect(groupReads(rest.events)).toEqual([['bob', { type: 'push', event: 'groupRead', group: 'Team', messages: [{ id: b1, readBy: 2 }, { id: b2, readBy: 1 }] }]]);
  });

  it('a seeded random run: every pushed count equals the count on the sender\'s history page right after', () => {
    const rand = seededRandom(14);
    const pick = () => MEMBERS[Math.floor(rand() * MEMBERS.length)];
    let pushes = 0;
    const sent: number[] = [];
    for (let step = 0; step < 400; step++) {
      const who = pick();
      const r = rand();
      let events;
      if (r < 0.5) {
        sent.push(groupSend(who, `m${step}`));
        continue;
      } else if (r < 0.8 && sent.length) {
        events = h.apply({ kind: 'markGroupRead', tokenHash: tok(who), group: 'team', upTo: sent[Math.floor(rand() * sent.length)] }).events;
      } else {
        events = h.apply({ kind: 'read', tokenHash: tok(who), limit: 1 + Math.floor(rand() * 5) }).events;
      }
      for (const [to, frame] of groupReads(events)) {
        if (frame.event !== 'groupRead') continue;
        const page = readByOnPage(to);
        for (const m of frame.messages) {
          expect(m.readBy).toBe(page.get(m.id));
          expect(h.sm.groupHistory(ids[to], 'team', 500).find((x) => x.id === m.id)?.from).toBe(to);
          pushes++;
        }
      }
    }
    expect(pushes).toBeGreaterThan(100);
  });
});
