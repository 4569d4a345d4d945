// The group commands as applied by the real state machine on SQLite (replica/chat/apply/groups.ts), case by case:
// the exact refusals (code and message) of create, add, remove, leave, rename, setAdmin, send and markGroupRead; the
// results each returns; the events written into the history and pushed (to whom, in which order, with which frame);
// members listed in name order ignoring case; and who becomes admin when the last admin goes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResponse } from '../../replica/chat/state-machine.js';
import { LIMITS } from '../../replica/protocol/limits.js';
import { Harness, tok } from '../helpers/chat-harness.js';

let h: Harness;
const ids: Record<string, number> = {};

// Signed up in this order on purpose: account id order (zoe, ann, Mia, bob, carl, dora) differs from name order
// ignoring case (ann, bob, carl, dora, Mia, zoe), and "Mia" has a capital.
const USERS = ['zoe', 'ann', 'Mia', 'bob', 'carl', 'dora'];

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  for (const name of USERS) ids[name] = h.user(name);
  h.raiseClusterVersion(3);
});
afterEach(() => h.dispose());

const as = (who: string) => ({ tokenHash: tok(who) });
const history = (who: string, group: string) => h.sm.groupHistory(ids[who], group, 100);
const events = (who: string, group: string) => history(who, group).map((m) => [m.event, m.text]);
const groupOf = (who: string) => h.sm.groups(ids[who]);
const refusal = (code: string, message: string): CommandResponse => ({ ok: false, error: { code, message } }) as CommandResponse;
/** The accounts pushed to, in push order. */
const pushedTo = (o: { events: { toAccount: number }[] }) => o.events.map((e) => e.toAccount);
const idsOf = (...names: string[]) => names.map((n) => ids[n]);
const eventFrame = (event: string, text: string) => ({
  type: 'push',
  event: 'message',
  message: expect.objectContaining({ event, text, from: expect.any(String), group: expect.any(String) }),
});

describe('createGroup', () => {
  it('a group of one: the event says so, and it is the summary\'s last message, pushed as a message frame', () => {
    const created = h.apply({ kind: 'createGroup', ...as('ann'), name: 'solo', members: [] });
    expect(created.response).toEqual({
      ok: true,
      result: {
        group: {
          name: 'solo',
          members: ['ann'],
          admins: ['ann'],
          unread: 0,
          lastMessage: expect.objectContaining({ id: created.index, event: 'created', text: 'ann created #solo' }),
        },
      },
    });
    expect(created.events).toEqual([{ toAccount: ids.ann, toUser: 'ann', frame: eventFrame('created', 'ann created #solo') }]);
    expect(events('ann', 'solo')).toEqual([['created', 'ann created #solo']]);
  });

  it('the creator named among the members counts once; members listed by name ignoring case, pushed in account id order', () => {
    const created = h.apply({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['zoe', 'ANN', 'mia', 'ann'] });
    expect(created.response).toMatchObject({ ok: true, result: { group: { name: 'crew', members: ['ann', 'Mia', 'zoe'], admins: ['ann'], unread: 0 } } });
    expect(pushedTo(created)).toEqual(idsOf('zoe', 'ann', 'Mia'));
    expect(created.events.map((e) => e.frame)).toEqual(Array(3).fill(eventFrame('created', 'ann created #crew with zoe, Mia')));
    expect(events('zoe', 'crew')).toEqual([['created', 'ann created #crew with zoe, Mia']]);
    expect(groupOf('Mia')[0]).toMatchObject({ members: ['ann', 'Mia', 'zoe'], admins: ['ann'] });
    expect(h.sm.audit()).toEqual([]);
  });

  it('refusals: a name taken ignoring case, an unknown member; nothing is created', () => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['bob'] });
    expect(h.apply({ kind: 'createGroup', ...as('dora'), name: 'CREW', members: [] }).response).toEqual(
      refusal('CONFLICT', 'a group named "CREW" exists: choose another name'),
    );
    expect(h.apply({ kind: 'createGroup', ...as('dora'), name: 'other', members: ['carl', 'nobody'] }).response).toEqual(
      refusal('NOT_FOUND', 'no account named "nobody"'),
    );
    expect(groupOf('dora')).toEqual([]);
    expect(groupOf('carl')).toEqual([]);
  });
});

describe('addMembers', () => {
  beforeEach(() => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['zoe'] });
  });

  it('only admins; members already in are left out; nothing new to add is no event', () => {
    expect(h.apply({ kind: 'addMembers', ...as('zoe'), group: 'crew', members: ['bob'] }).response).toEqual(
      refusal('FORBIDDEN', 'only the admins of #crew may add members'),
    );
    expect(h.apply({ kind: 'addMembers', ...as('ann'), group: 'crew', members: ['bob', 'ghost'] }).response).toEqual(
      refusal('NOT_FOUND', 'no account named "ghost"'),
    );
    const added = h.apply({ kind: 'addMembers', ...as('ann'), group: 'CREW', members: ['zoe', 'Bob', 'mia'] });
    expect(added.response).toEqual({
      ok: true,
      result: {
        group: {
          name: 'crew',
          members: ['ann', 'bob', 'Mia', 'zoe'],
          admins: ['ann'],
          unread: 0,
          lastMessage: expect.anything(),
        },
      },
    });
    expect(pushedTo(added)).toEqual(idsOf('zoe', 'ann', 'Mia', 'bob'));
    expect(added.events.map((e) => e.frame)).toEqual(Array(4).fill(eventFrame('added', 'ann added bob, Mia')));

    const nothing = h.apply({ kind: 'addMembers', ...as('ann'), group: 'crew', members: ['bob', 'ZOE', 'ann'] });
    expect(nothing.response).toEqual({
      ok: true,
      result: {
        group: {
          name: 'crew',
          members: ['ann', 'bob', 'Mia', 'zoe'],
          admins: ['ann'],
          unread: 0,
          lastMessage: expect.objectContaining({ event: 'added', text: 'ann added bob, Mia' }),
        },
      },
    });
    expect(nothing.events).toEqual([]);
    expect(events('bob', 'crew')).toEqual([
      ['created', 'ann created #crew with zoe'],
      ['added', 'ann added bob, Mia'],
    ]);
    expect(h.sm.audit()).toEqual([]);
  });

  it(`a group fills up to exactly ${LIMITS.groupMembersMax} members, and no further`, () => {
    const names: string[] = [];
    for (let i = 0; i < LIMITS.groupMembersMax - 2; i++) {
      names.push(`m${i}`);
      h.signup(`m${i}`);
    }
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'big', members: names });
    expect(groupOf('ann')[0].members).toHaveLength(LIMITS.groupMembersMax - 1);
    // The last place: taken.
    const full = h.ok<{ group: { members: string[] } }>({ kind: 'addMembers', ...as('ann'), group: 'big', members: ['bob'] });
    expect(full.group.members).toHaveLength(LIMITS.groupMembersMax);
    expect(h.apply({ kind: 'addMembers', ...as('ann'), group: 'big', members: ['carl'] }).response).toEqual(
      refusal('INVALID', `a group has at most ${LIMITS.groupMembersMax} members`),
    );
    // Naming only members already in is no growth: fine.
    expect(h.apply({ kind: 'addMembers', ...as('ann'), group: 'big', members: ['bob'] }).response).toMatchObject({ ok: true });
    expect(groupOf('carl')).toEqual([]);
  });
});

describe('removeMembers and leaveGroup', () => {
  beforeEach(() => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['zoe', 'Mia', 'bob'] });
  });

  it('refusals: not an admin, not a member (named lowercased), the creator by anyone else', () => {
    expect(h.apply({ kind: 'removeMembers', ...as('bob'), group: 'crew', members: ['zoe'] }).response).toEqual(
      refusal('FORBIDDEN', 'only the admins of #crew may remove members'),
    );
    expect(h.apply({ kind: 'removeMembers', ...as('ann'), group: 'crew', members: ['zoe', 'DORA'] }).response).toEqual(
      refusal('NOT_FOUND', '"dora" is not a member of #crew'),
    );
    h.ok({ kind: 'setAdmin', ...as('ann'), group: 'crew', member: 'zoe', admin: true });
    expect(h.apply({ kind: 'removeMembers', ...as('zoe'), group: 'crew', members: ['bob', 'Ann'] }).response).toEqual(
      refusal('FORBIDDEN', "only ann may remove the group's creator"),
    );
    expect(groupOf('bob')[0]).toMatchObject({ members: ['ann', 'bob', 'Mia', 'zoe'] });
  });

  it('removing: an event pushed to everyone (the removed too), the group as the remover now sees it', () => {
    const removed = h.apply({ kind: 'removeMembers', ...as('ann'), group: 'crew', members: ['mia', 'BOB', 'bob'] });
    expect(removed.response).toEqual({
      ok: true,
      result: {
        group: {
          name: 'crew',
          members: ['ann', 'zoe'],
          admins: ['ann'],
          unread: 0,
          lastMessage: expect.anything(),
        },
      },
    });
    expect(pushedTo(removed)).toEqual(idsOf('zoe', 'ann', 'Mia', 'bob'));
    expect(removed.events.map((e) => e.frame)).toEqual(Array(4).fill(eventFrame('removed', 'ann removed Mia, bob')));
    expect(groupOf('bob')).toEqual([]);
    expect(events('zoe', 'crew').at(-1)).toEqual(['removed', 'ann removed Mia, bob']);
  });

  it('the creator may remove itself; the admins left stay the only admins', () => {
    h.ok({ kind: 'addMembers', ...as('ann'), group: 'crew', members: ['dora'] });
    h.ok({ kind: 'setAdmin', ...as('ann'), group: 'crew', member: 'dora', admin: true });
    const out = h.apply({ kind: 'removeMembers', ...as('ann'), group: 'crew', members: ['ann'] });
    // ann, no member now, sees no unread; dora (the newest member) is the only admin: nobody else is promoted.
    expect(out.response).toMatchObject({ ok: true, result: { group: { name: 'crew', members: ['bob', 'dora', 'Mia', 'zoe'], admins: ['dora'], unread: 0 } } });
    expect(groupOf('zoe')[0]).toMatchObject({ admins: ['dora'] });
    expect(groupOf('ann')).toEqual([]);
  });

  it('removing everyone, the remover included, ends the group: an empty summary, and the name is free again', () => {
    const out = h.apply({ kind: 'removeMembers', ...as('ann'), group: 'crew', members: ['zoe', 'ann', 'mia', 'bob'] });
    expect(out.response).toEqual({ ok: true, result: { group: { name: 'crew', members: [], admins: [], unread: 0 } } });
    expect(pushedTo(out)).toEqual(idsOf('zoe', 'ann', 'Mia', 'bob'));
    for (const u of ['ann', 'zoe', 'Mia', 'bob']) expect(groupOf(u)).toEqual([]);
    h.ok({ kind: 'createGroup', ...as('dora'), name: 'Crew', members: [] });
    expect(h.sm.audit()).toEqual([]);
  });

  it('leaving: a "left" event pushed to everyone, the leaver included; a non-member may not leave', () => {
    const left = h.apply({ kind: 'leaveGroup', ...as('Mia'), group: 'CREW' });
    expect(left.response).toEqual({ ok: true, result: { left: true } });
    expect(pushedTo(left)).toEqual(idsOf('zoe', 'ann', 'Mia', 'bob'));
    expect(left.events.map((e) => e.frame)).toEqual(Array(4).fill(eventFrame('left', 'Mia left')));
    expect(events('ann', 'crew').at(-1)).toEqual(['left', 'Mia left']);
    expect(groupOf('ann')[0]).toMatchObject({ members: ['ann', 'bob', 'zoe'], admins: ['ann'], lastMessage: expect.objectContaining({ event: 'left', text: 'Mia left' }) });
    expect(h.apply({ kind: 'leaveGroup', ...as('Mia'), group: 'crew' }).response).toEqual(refusal('FORBIDDEN', 'you are not a member of #crew'));
    expect(h.apply({ kind: 'leaveGroup', ...as('Mia'), group: 'nope' }).response).toEqual(refusal('NOT_FOUND', 'no group named "#nope"'));
  });
});

describe('the last admin going: the longest-standing member becomes admin', () => {
  it('the earliest to join, not the first by name nor by account id', () => {
    // carl joins first (with the group), bob later: bob comes first by name and by account id.
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'g', members: ['carl'] });
    h.ok({ kind: 'addMembers', ...as('ann'), group: 'g', members: ['bob'] });
    h.ok({ kind: 'leaveGroup', ...as('ann'), group: 'g' });
    expect(groupOf('bob')[0]).toMatchObject({ members: ['bob', 'carl'], admins: ['carl'] });
  });

  it('among those who joined together, the lowest account id (not the first by name)', () => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'g', members: ['Mia', 'zoe', 'dora'] });
    const out = h.apply({ kind: 'removeMembers', ...as('ann'), group: 'g', members: ['ann'] });
    expect(out.response).toMatchObject({ ok: true, result: { group: { members: ['dora', 'Mia', 'zoe'], admins: ['zoe'] } } });
  });

  it('nobody is promoted while an admin remains', () => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'g', members: ['bob', 'carl'] });
    h.ok({ kind: 'addMembers', ...as('ann'), group: 'g', members: ['dora'] });
    h.ok({ kind: 'setAdmin', ...as('ann'), group: 'g', member: 'dora', admin: true });
    h.ok({ kind: 'leaveGroup', ...as('ann'), group: 'g' });
    expect(groupOf('bob')[0]).toMatchObject({ members: ['bob', 'carl', 'dora'], admins: ['dora'] });
    h.ok({ kind: 'removeMembers', ...as('dora'), group: 'g', members: ['carl'] });
    expect(groupOf('bob')[0]).toMatchObject({ members: ['bob', 'dora'], admins: ['dora'] });
  });
});

describe('renameGroup', () => {
  beforeEach(() => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['bob'] });
    h.ok({ kind: 'createGroup', ...as('carl'), name: 'solo', members: [] });
  });

  it('only admins; not to another group\'s name in any case', () => {
    expect(h.apply({ kind: 'renameGroup', ...as('bob'), group: 'crew', name: 'mine' }).response).toEqual(
      refusal('FORBIDDEN', 'only the admins of #crew may rename it'),
    );
    expect(h.apply({ kind: 'renameGroup', ...as('ann'), group: 'crew', name: 'SOLO' }).response).toEqual(
      refusal('CONFLICT', 'a group named "SOLO" exists: choose another name'),
    );
    expect(h.apply({ kind: 'renameGroup', ...as('ann'), group: 'crew', name: 'solo' }).response).toEqual(
      refusal('CONFLICT', 'a group named "solo" exists: choose another name'),
    );
    expect(groupOf('bob')[0].name).toBe('crew');
    expect(groupOf('carl')[0].name).toBe('solo');
  });

  it('to its own name in another case: renamed, with an event; the result is the renamed group', () => {
    const out = h.apply({ kind: 'renameGroup', ...as('ann'), group: 'crew', name: 'Crew' });
    expect(out.response).toEqual({
      ok: true,
      result: {
        group: {
          name: 'Crew',
          members: ['ann', 'bob'],
          admins: ['ann'],
          unread: 0,
          lastMessage: expect.objectContaining({ group: 'Crew', to: '#Crew' }),
        },
      },
    });
    expect(pushedTo(out)).toEqual(idsOf('ann', 'bob'));
    expect(out.events.map((e) => e.frame)).toEqual(Array(2).fill(eventFrame('renamed', 'ann renamed #crew to #Crew')));
    const next = h.apply({ kind: 'renameGroup', ...as('ann'), group: 'crew', name: 'team' });
    expect(next.response).toMatchObject({ ok: true, result: { group: { name: 'team' } } });
    expect(events('bob', 'TEAM').map(([, text]) => text)).toEqual(['ann created #crew with bob', 'ann renamed #crew to #Crew', 'ann renamed #Crew to #team']);
  });
});

describe('setAdmin', () => {
  beforeEach(() => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['zoe', 'bob'] });
  });
  const setAdmin = (who: string, member: string, admin: boolean) => h.apply({ kind: 'setAdmin', ...as(who), group: 'crew', member, admin });

  it('refusals: not an admin, not a member (named as asked), the creator demoted', () => {
    expect(setAdmin('bob', 'zoe', true).response).toEqual(refusal('FORBIDDEN', 'only the admins of #crew may change admins'));
    expect(setAdmin('ann', 'Dora', true).response).toEqual(refusal('NOT_FOUND', '"Dora" is not a member of #crew'));
    expect(setAdmin('ann', 'ANN', false).response).toEqual(refusal('FORBIDDEN', "the group's creator stays an admin"));
    h.ok({ kind: 'setAdmin', ...as('ann'), group: 'crew', member: 'zoe', admin: true });
    expect(setAdmin('zoe', 'ann', false).response).toEqual(refusal('FORBIDDEN', "the group's creator stays an admin"));
    expect(groupOf('bob')[0].admins).toEqual(['ann', 'zoe']);
  });

  it('making and unmaking admins: an event each time it changes, none when it does not', () => {
    const made = setAdmin('ann', 'ZOE', true);
    expect(made.response).toEqual({
      ok: true,
      result: {
        group: {
          name: 'crew',
          members: ['ann', 'bob', 'zoe'],
          admins: ['ann', 'zoe'],
          unread: 0,
          lastMessage: expect.anything(),
        },
      },
    });
    expect(pushedTo(made)).toEqual(idsOf('zoe', 'ann', 'bob'));
    expect(made.events.map((e) => e.frame)).toEqual(Array(3).fill(eventFrame('admin', 'ann made zoe an admin')));
    // Already so: no event, no push, the group as it is.
    const again = setAdmin('zoe', 'zoe', true);
    expect(again.response).toMatchObject({ ok: true, result: { group: { admins: ['ann', 'zoe'] } } });
    expect(again.events).toEqual([]);
    const creator = setAdmin('zoe', 'ann', true);
    expect(creator.response).toMatchObject({ ok: true, result: { group: { admins: ['ann', 'zoe'] } } });
    expect(creator.events).toEqual([]);
    expect(setAdmin('ann', 'bob', false).events).toEqual([]);
    // An admin who is not the creator may be unmade (by another admin or by itself).
    const unmade = setAdmin('zoe', 'zoe', false);
    expect(unmade.response).toMatchObject({ ok: true, result: { group: { admins: ['ann'] } } });
    expect(unmade.events).toHaveLength(3);
    expect(events('bob', 'crew')).toEqual([
      ['created', 'ann created #crew with zoe, bob'],
      ['admin', 'ann made zoe an admin'],
      ['admin', 'zoe no longer made zoe an admin'],
    ]);
  });
});

describe('groupSend and markGroupRead', () => {
  beforeEach(() => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['zoe', 'carl'] });
  });
  const groupSend = (who: string, text: string) => h.ok<{ id: number }>({ kind: 'groupSend', ...as(who), group: 'crew', text }).id;

  it('refusals name the group as asked when there is none, as it is called when not a member', () => {
    expect(h.apply({ kind: 'groupSend', ...as('dora'), group: 'Nope', text: 'hi' }).response).toEqual(refusal('NOT_FOUND', 'no group named "#Nope"'));
    expect(h.apply({ kind: 'groupSend', ...as('dora'), group: 'CREW', text: 'hi' }).response).toEqual(refusal('FORBIDDEN', 'you are not a member of #crew'));
    expect(h.apply({ kind: 'markGroupRead', ...as('dora'), group: 'crew', upTo: 1 }).response).toEqual(refusal('FORBIDDEN', 'you are not a member of #crew'));
  });

  it('a send is pushed to every member in account id order', () => {
    const sent = h.apply({ kind: 'groupSend', ...as('carl'), group: 'crew', text: 'hello' });
    expect(pushedTo(sent)).toEqual(idsOf('zoe', 'ann', 'carl'));
    expect(sent.events.map((e) => e.frame)).toEqual(
      Array(3).fill({ type: 'push', event: 'message', message: expect.objectContaining({ id: sent.index, from: 'carl', text: 'hello', group: 'crew' }) }),
    );
  });

  it('the read watermark never moves back: marking an older message changes nothing', () => {
    const m1 = groupSend('ann', 'one');
    const m2 = groupSend('zoe', 'two');
    expect(h.ok({ kind: 'markGroupRead', ...as('carl'), group: 'crew', upTo: m2 })).toEqual({ marked: 2 });
    const back = h.apply({ kind: 'markGroupRead', ...as('carl'), group: 'crew', upTo: m1 });
    expect(back.response).toEqual({ ok: true, result: { marked: 0 } });
    expect(back.events).toEqual([]);
    expect(history('ann', 'crew').filter((m) => !m.event).map((m) => [m.text, m.readBy])).toEqual([
      ['one', 1],
      ['two', 1],
    ]);
    expect(h.ok({ kind: 'markGroupRead', ...as('carl'), group: 'crew', upTo: m2 })).toEqual({ marked: 0 });
    expect(groupOf('carl')[0].unread).toBe(0);
    expect(groupOf('ann')[0].unread).toBe(1);
    expect(h.sm.audit()).toEqual([]);
  });
});

describe("a command's answer shows the group as it now is", () => {
  it('its last message is the event the command itself just wrote (add, remove, rename, admin)', () => {
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'crew', members: ['zoe', 'bob'] });
    const last = (r: { group: { lastMessage?: { event?: string; text: string; group?: string } } }) => r.group.lastMessage;
    expect(last(h.ok({ kind: 'setAdmin', ...as('ann'), group: 'crew', member: 'zoe', admin: true }))).toMatchObject({
      event: 'admin',
      text: 'ann made zoe an admin',
    });
    expect(last(h.ok({ kind: 'addMembers', ...as('ann'), group: 'crew', members: ['carl'] }))).toMatchObject({ event: 'added', text: 'ann added carl' });
    expect(last(h.ok({ kind: 'removeMembers', ...as('ann'), group: 'crew', members: ['carl'] }))).toMatchObject({
      event: 'removed',
      text: 'ann removed carl',
    });
    expect(last(h.ok({ kind: 'renameGroup', ...as('ann'), group: 'crew', name: 'team' }))).toMatchObject({
      event: 'renamed',
      text: 'ann renamed #crew to #team',
      group: 'team',
    });
    // The same as listing the groups afterwards.
    expect(groupOf('ann')[0].lastMessage).toMatchObject({ event: 'renamed' });
  });
});
