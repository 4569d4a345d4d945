// Groups (cluster version 3) on the real state machine and SQLite: who may do what, names, limits, membership events
// in the history, per-member unread and read state, messages reaching every member (pushes, read, resuming live
// delivery), mentions, edits and deletes of group messages, search over groups, account deletion, snapshots.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../replica/protocol/limits.js';
import { Harness, pw, tempDir, tok } from '../helpers/chat-harness.js';

let h: Harness;
const ids: Record<string, number> = {};
const cleanup: (() => void)[] = [];

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  for (const name of ['ann', 'bob', 'carl', 'dora']) ids[name] = h.user(name);
  h.raiseClusterVersion(3);
});
afterEach(() => {
  h.dispose();
  for (const f of cleanup.splice(0)) f();
});

const as = (who: string) => ({ tokenHash: tok(who) });
const create = (who: string, name: string, members: string[]) => h.apply({ kind: 'createGroup', ...as(who), name, members });
const groupSend = (who: string, group: string, text: string) => h.ok<{ id: number }>({ kind: 'groupSend', ...as(who), group, text }).id;
const groups = (who: string) => h.sm.groups(ids[who]);
const history = (who: string, group: string) => h.sm.groupHistory(ids[who], group, 100);

describe('groups', () => {
  it('create: the creator and the members, the creator an admin; a created event; names unique ignoring case', () => {
    const created = create('ann', 'Team.core', ['bob', 'carl', 'BOB']);
    expect(created.response).toMatchObject({ ok: true, result: { group: { name: 'Team.core', members: ['ann', 'bob', 'carl'], admins: ['ann'], unread: 0 } } });
    // Every member is pushed the event.
    expect(created.events.map((e) => e.toUser)).toEqual(['ann', 'bob', 'carl']);
    expect(history('bob', 'team.core')).toEqual([
      expect.objectContaining({ from: 'ann', to: '#Team.core', group: 'Team.core', event: 'created', text: 'ann created #Team.core with bob, carl' }),
    ]);
    expect(h.err({ kind: 'createGroup', ...as('dora'), name: 'TEAM.CORE', members: [] })).toBe('CONFLICT');
    expect(h.err({ kind: 'createGroup', ...as('dora'), name: 'other', members: ['nobody'] })).toBe('NOT_FOUND');
    expect(h.apply({ kind: 'createGroup', ...as('dora'), name: 'has space', members: [] }).response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(h.apply({ kind: 'createGroup', ...as('dora'), name: 'x'.repeat(33), members: [] }).response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(h.sm.audit()).toEqual([]);
  });

  it('at most 256 members', () => {
    const names: string[] = [];
    for (let i = 0; i < LIMITS.groupMembersMax; i++) {
      names.push(`m${i}`);
      h.signup(`m${i}`);
    }
    expect(h.err({ kind: 'createGroup', ...as('ann'), name: 'big', members: names })).toBe('INVALID');
    h.ok({ kind: 'createGroup', ...as('ann'), name: 'big', members: names.slice(0, 255) });
    expect(h.err({ kind: 'addMembers', ...as('ann'), group: 'big', members: ['bob'] })).toBe('INVALID');
    expect(groups('ann')[0].members).toHaveLength(256);
  });

  it('a message reaches every member: pushed live, unread per member, read by read and markGroupRead, readBy counts', () => {
    create('ann', 'team', ['bob', 'carl']);
    const first = h.apply({ kind: 'groupSend', ...as('ann'), group: 'team', text: 'hello team' });
    expect(first.response).toMatchObject({ ok: true });
    expect(first.events.map((e) => [e.toUser, e.frame])).toEqual(
      ['ann', 'bob', 'carl'].map((u) => [u, { type: 'push', event: 'message', message: expect.objectContaining({ group: 'team', to: '#team', text: 'hello team' }) }]),
    );
    const second = groupSend('bob', 'team', 'hi ann');
    expect(groups('ann')[0]).toMatchObject({ unread: 1 });
    expect(groups('bob')[0]).toMatchObject({ unread: 1 });
    expect(groups('carl')[0]).toMatchObject({ unread: 2, lastMessage: expect.objectContaining({ id: second }) });
    // read returns group messages too, oldest first, and moves the watermark.
    const read = h.ok<{ messages: { text: string }[] }>({ kind: 'read', ...as('carl'), limit: 1 });
    expect(read.messages.map((m) => m.text)).toEqual(['hello team']);
    expect(groups('carl')[0].unread).toBe(1);
    expect(h.ok({ kind: 'markGroupRead', ...as('carl'), group: 'team', upTo: second })).toEqual({ marked: 1 });
    expect(h.ok({ kind: 'markGroupRead', ...as('carl'), group: 'team', upTo: second })).toEqual({ marked: 0 });
    expect(groups('carl')[0].unread).toBe(0);
    // "read by 1 of 2": carl read both, ann has not read bob's, bob has not read ann's.
    expect(history('ann', 'team').filter((m) => !m.event).map((m) => [m.text, m.readBy])).toEqual([
      ['hello team', 1],
      ['hi ann', 1],
    ]);
    expect(h.sm.unreadCount(ids.ann)).toBe(0); // one-to-one counters untouched
  });

  it('non-members and unknown groups are refused, changing nothing', () => {
    create('ann', 'team', ['bob']);
    const before = h.sm.stateHash('chat');
    expect(h.err({ kind: 'groupSend', ...as('carl'), group: 'team', text: 'let me in' })).toBe('FORBIDDEN');
    expect(h.err({ kind: 'groupSend', ...as('carl'), group: 'nope', text: 'x' })).toBe('NOT_FOUND');
    expect(() => history('carl', 'team')).toThrow(/you are not a member of #team/);
    expect(() => history('carl', 'nope')).toThrow(/no group named "#nope"/);
    expect(h.err({ kind: 'addMembers', ...as('bob'), group: 'team', members: ['carl'] })).toBe('FORBIDDEN');
    expect(h.err({ kind: 'renameGroup', ...as('bob'), group: 'team', name: 'mine' })).toBe('FORBIDDEN');
    expect(h.err({ kind: 'removeMembers', ...as('ann'), group: 'team', members: ['carl'] })).toBe('NOT_FOUND');
    expect(h.sm.stateHash('chat')).toBe(before);
  });

  it('add, remove, rename, admins, leave: events in the history; the last admin leaving hands over; an empty group goes', () => {
    create('ann', 'team', ['bob']);
    h.ok({ kind: 'addMembers', ...as('ann'), group: 'team', members: ['carl', 'dora'] });
    h.ok({ kind: 'setAdmin', ...as('ann'), group: 'team', member: 'bob', admin: true });
    h.ok({ kind: 'removeMembers', ...as('bob'), group: 'team', members: ['dora'] });
    expect(h.err({ kind: 'removeMembers', ...as('bob'), group: 'team', members: ['ann'] })).toBe('FORBIDDEN');
    h.ok({ kind: 'renameGroup', ...as('bob'), group: 'team', name: 'crew' });
    expect(history('carl', 'crew').map((m) => [m.event, m.text])).toEqual([
      ['created', 'ann created #team with bob'],
      ['added', 'ann added carl, dora'],
      ['admin', 'ann made bob an admin'],
      ['removed', 'bob removed dora'],
      ['renamed', 'bob renamed #team to #crew'],
    ]);
    expect(groups('dora')).toEqual([]);
    // Events are never unread.
    expect(groups('carl')[0].unread).toBe(0);
    h.ok({ kind: 'leaveGroup', ...as('ann'), group: 'crew' });
    h.ok({ kind: 'leaveGroup', ...as('bob'), group: 'crew' });
    // carl is all that is left: admin now.
    expect(groups('carl')[0]).toMatchObject({ members: ['carl'], admins: ['carl'] });
    expect(h.ok({ kind: 'leaveGroup', ...as('carl'), group: 'crew' })).toEqual({ left: true });
    // The name is free again.
    h.ok({ kind: 'createGroup', ...as('dora'), name: 'Crew', members: [] });
    expect(h.sm.audit()).toEqual([]);
  });

  it('mentions, edits and deletes of group messages; search over the groups one is in', () => {
    create('ann', 'team', ['bob', 'carl']);
    const id = groupSend('ann', 'team', 'ping @Bob and @dora, deploy at 5');
    expect(history('bob', 'team').at(-1)).toMatchObject({ mentions: ['bob'] }); // dora is no member
    expect(h.sm.search(ids.carl, 'deploy', 10).map((m) => m.id)).toEqual([id]);
    expect(h.sm.search(ids.dora, 'deploy', 10)).toEqual([]);
    const edited = h.apply({ kind: 'edit', ...as('ann'), messageId: id, text: 'ping @carl: release at 6' });
    expect(edited.events.map((e) => e.toUser)).toEqual(['ann', 'bob', 'carl']);
    expect(h.sm.search(ids.carl, 'deploy', 10)).toEqual([]);
    expect(h.sm.search(ids.carl, 'release', 10)).toEqual([expect.objectContaining({ id, mentions: ['carl'], editedAt: expect.any(Number) })]);
    expect(h.err({ kind: 'delete', ...as('bob'), ids: [id] })).toBe('FORBIDDEN');
    expect(h.err({ kind: 'edit', ...as('ann'), messageId: id - 1, text: 'rewrite history' })).toBe('FORBIDDEN'); // the created event
    expect(groups('bob')[0].unread).toBe(1);
    h.ok({ kind: 'delete', ...as('ann'), ids: [id] });
    expect(groups('bob')[0].unread).toBe(0);
    expect(h.sm.search(ids.carl, 'release', 10)).toEqual([]);
    // A member who leaves no longer finds the group's messages.
    groupSend('ann', 'team', 'secret plans');
    h.ok({ kind: 'leaveGroup', ...as('carl'), group: 'team' });
    expect(h.sm.search(ids.carl, 'secret', 10)).toEqual([]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('resuming live delivery includes group messages; deleting an account removes it from its groups', () => {
    create('ann', 'team', ['bob']);
    const mark = h.sm.applied().index;
    const m1 = groupSend('ann', 'team', 'one');
    const m2 = groupSend('bob', 'team', 'two');
    expect(h.sm.messagesAfter(ids.bob, mark, 50).map((m) => m.id)).toEqual([m1, m2]);
    expect(h.sm.messagesAfter(ids.carl, mark, 50)).toEqual([]);
    h.ok({ kind: 'deleteAccount', ...as('bob'), passwordHash: pw('bob') });
    expect(groups('ann')[0]).toMatchObject({ members: ['ann'] });
    expect(history('ann', 'team').at(-1)).toMatchObject({ event: 'left', text: 'bob deleted their account' });
    expect(h.sm.audit()).toEqual([]);
  });

  it('below cluster version 3 group commands are refused with UNSUPPORTED_BY_CLUSTER', () => {
    const old = new Harness();
    cleanup.push(() => old.dispose());
    old.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    old.user('ann');
    old.raiseClusterVersion(2);
    const refused = old.apply({ kind: 'createGroup', tokenHash: tok('ann'), name: 'team', members: [] });
    expect(refused.response).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_BY_CLUSTER', message: expect.stringMatching(/^update every member to use groups/) } });
    expect(old.sm.groups(old.sm.account('ann')!.id)).toEqual([]);
  });

  it('groups travel with a snapshot', async () => {
    create('ann', 'team', ['bob', 'carl']);
    for (let i = 0; i < 20; i++) groupSend(i % 2 ? 'ann' : 'bob', 'team', `update ${i}`);
    h.ok({ kind: 'read', ...as('carl'), limit: 5 });
    const out = tempDir('quorum-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const file = path.join(out, 'snap.db');
    await h.sm.snapshotTo(file);
    const other = new Harness();
    cleanup.push(() => other.dispose());
    other.sm.restoreFrom(file);
    expect(other.sm.groups(ids.carl)).toEqual(groups('carl'));
    expect(other.sm.groupHistory(ids.ann, 'team', 100)).toEqual(history('ann', 'team'));
    expect(other.sm.search(ids.bob, 'update', 100)).toEqual(h.sm.search(ids.bob, 'update', 100));
    expect(other.sm.stateHash('all')).toBe(h.sm.stateHash('all'));
  });
});
