// The renderer store's team features against a fake connection (issue 14): group conversations (`#name`) with their
// history, unread and read marks, membership events and renames; sending to a group through the outbox; the New group
// form's validation; editing one's own messages (Up arrow, live edits of others); message search and opening a result
// at its message; presence, typing notices that appear and clear; muting (mentions still notify). Every feature but
// presence and typing is offered only from cluster version 3.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../renderer/src/store/store.js';
import type { AppEnv } from '../../renderer/src/store/store-deps.js';
import { parseMembers } from '../../renderer/src/store/groups.js';
import { markedPieces } from '../../renderer/src/store/search.js';
import { presenceText, typingText, TYPING_EVERY_MS } from '../../renderer/src/store/presence.js';
import { totalUnread } from '../../renderer/src/store/threads.js';
import type { ChatMessage, GroupSummary } from '../../renderer/src/net/api.js';
import { QuorumError } from '../../replica/protocol/errors.js';
import { env, FakeApi, msg } from '../helpers/fake-chat-api.js';
import { settled } from '../helpers/settled.js';

/** A group message as the cluster pushes it. */
const gmsg = (id: number, from: string, group: string, text = `g${id}`, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  ...msg(id, from, `#${group}`, text),
  group,
  ...extra,
});
const team = (unread = 0, last?: ChatMessage): GroupSummary => ({ name: 'team', members: ['alice', 'bob', 'carol'], admins: ['alice'], unread, ...(last ? { lastMessage: last } : {}) });

/** Timers the test fires by hand (typing notices, read marks), and a clock it moves. */
function manualEnv(attentive = true) {
  const base = env(attentive);
  const timers = new Map<number, () => void>();
  let next = 1;
  let now = 1_700_000_000_000;
  const kept = new Map<string, string[]>();
  const e: AppEnv & typeof base & { fire(): void; advance(ms: number): void; kept: Map<string, string[]> } = {
    ...base,
    now: () => now,
    setTimeout: (fn: () => void) => {
      timers.set(next, fn);
      return next++;
    },
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    mutes: { load: (u) => kept.get(u) ?? [], save: (u, names) => void kept.set(u, names) },
    fire() {
      const due = [...timers.values()];
      timers.clear();
      for (const fn of due) fn();
    },
    advance(ms: number) {
      now += ms;
    },
    kept,
  };
  return e;
}

async function loggedIn(opts: { version?: number; attentive?: boolean; groups?: GroupSummary[] } = {}) {
  const api = new FakeApi();
  api.state = { ...api.state, clusterVersion: opts.version ?? 3 };
  api.team!.groupList = opts.groups ?? [];
  const e = manualEnv(opts.attentive ?? true);
  const store = createAppStore(api, e);
  await store.getState().login('alice', 'password1');
  await settled();
  return { api, team: api.team!, store, env: e };
}

describe('group conversations', () => {
  it('lists each group as #name with its unread count, reads its history and marks what others wrote read', async () => {
    const { team: t, store, env: e } = await loggedIn({ groups: [team(2, gmsg(5, 'bob', 'team'))] });
    expect(store.getState().conversations['#team']).toMatchObject({ with: '#team', unread: 2, lastMessage: { id: 5 } });
    expect(store.getState().groups.team.members).toEqual(['alice', 'bob', 'carol']);
    t.groupPages.team = [
      gmsg(1, 'alice', 'team', 'alice created #team', { event: 'created' }),
      gmsg(3, 'alice', 'team', 'mine', { readBy: 1 }),
      gmsg(4, 'carol', 'team'),
      gmsg(5, 'bob', 'team'),
      gmsg(6, 'bob', 'team', 'bob added dan', { event: 'added' }),
    ];
    store.getState().openConversation('#team');
    await settled();
    e.fire();
    await settled();
    expect(t.calls.filter((c) => c[0] === 'groupHistory')).toEqual([['groupHistory', 'team']]);
    expect(store.getState().threads['#team'].messages.map((m) => m.id)).toEqual([1, 3, 4, 5, 6]);
    // Up to the newest message from someone else: not my own, not a membership event.
    expect(t.calls.filter((c) => c[0] === 'markGroupRead')).toEqual([['markGroupRead', 'team', 5]]);
    expect(store.getState().conversations['#team'].unread).toBe(0);
  });

  it('pushed read counts (groupRead) update "read by N" of my messages in the open group, and nothing else', async () => {
    const { api, team: t, store } = await loggedIn({ groups: [team()] });
    t.groupPages.team = [gmsg(3, 'alice', 'team', 'mine', { readBy: 0 }), gmsg(4, 'alice', 'team', 'mine too'), gmsg(5, 'bob', 'team')];
    store.getState().openConversation('#team');
    await settled();
    const before = store.getState().threads;
    api.emit('groupRead', { group: 'other', messages: [{ id: 3, readBy: 2 }] });
    api.emit('groupRead', { group: 'team', messages: [{ id: 99, readBy: 2 }] });
    expect(store.getState().threads).toBe(before);
    api.emit('groupRead', { group: 'team', messages: [{ id: 3, readBy: 1 }, { id: 4, readBy: 2 }] });
    expect(store.getState().threads['#team'].messages.map((m) => [m.id, m.readBy])).toEqual([[3, 1], [4, 2], [5, undefined]]);
  });

  it('a pushed group message counts unread under #name and notifies; a membership event does neither and re-reads the groups', async () => {
    const { api, team: t, store, env: e } = await loggedIn({ attentive: false, groups: [team()] });
    api.emit('message', gmsg(7, 'bob', 'team', 'hello team'));
    expect(store.getState().conversations['#team']).toMatchObject({ unread: 1, lastMessage: { text: 'hello team' } });
    expect(e.incoming).toEqual(['hello team']);
    const before = t.calls.filter((c) => c[0] === 'groups').length;
    t.groupList = [team(1, gmsg(8, 'bob', 'team', 'bob added dan', { event: 'added' }))];
    api.emit('message', gmsg(8, 'bob', 'team', 'bob added dan', { event: 'added' }));
    await settled();
    expect(store.getState().conversations['#team'].unread).toBe(1);
    expect(e.incoming).toEqual(['hello team']);
    expect(t.calls.filter((c) => c[0] === 'groups').length).toBe(before + 1);
  });

  it('a rename event moves the conversation, its thread, draft, mute and the open view to the new name', async () => {
    const { api, team: t, store } = await loggedIn({ groups: [team()] });
    t.groupPages.team = [gmsg(2, 'bob', 'team')];
    store.getState().openConversation('#team');
    await settled();
    store.getState().setDraft('#team', 'half');
    store.getState().toggleMute('#team');
    t.groupList = [{ ...team(), name: 'crew' }];
    api.emit('message', gmsg(9, 'bob', 'crew', 'bob renamed #team to #crew', { event: 'renamed' }));
    await settled();
    const s = store.getState();
    expect(s.active).toBe('#crew');
    expect(Object.keys(s.conversations)).toEqual(['#crew']);
    expect(s.threads['#crew'].messages.map((m) => m.id)).toEqual([2, 9]);
    expect(s.drafts['#crew']).toBe('half');
    expect(s.muted).toEqual({ '#crew': true });
    expect(Object.keys(s.groups)).toEqual(['crew']);
  });

  it('sends to #name through the outbox with groupSend, kept like any message, and shows it committed once', async () => {
    const { api, team: t, store } = await loggedIn({ groups: [team()] });
    store.getState().openConversation('#team');
    await settled();
    expect(store.getState().send('#team', 'to all of you')).toBe(true);
    expect(api.sends).toEqual([]);
    expect(t.groupSends.map((s) => [s.group, s.text])).toEqual([['team', 'to all of you']]);
    expect(typeof t.groupSends[0].kept?.keepSession).toBe('function');
    api.emit('message', gmsg(12, 'alice', 'team', 'to all of you'));
    t.groupSends[0].d.resolve({ id: 12, sentAt: 1 });
    await settled();
    expect(store.getState().outbox).toEqual([]);
    expect(store.getState().threads['#team'].messages.map((m) => [m.id, m.group])).toEqual([[12, 'team']]);
  });

  it('New group: says what is wrong with the name or the members, shows a refusal, and opens the group it made', async () => {
    const { team: t, store } = await loggedIn();
    expect(parseMembers('bob, @carol  bob\ndan;')).toEqual(['bob', 'carol', 'dan']);
    expect(await store.getState().createGroup('', 'bob')).toEqual({ name: 'Give the group a name.' });
    expect(await store.getState().createGroup('no spaces', 'bob!')).toMatchObject({ name: expect.stringMatching(/letters, digits/), members: expect.stringMatching(/Not a username: bob!/) });
    expect(t.calls.filter((c) => c[0] === 'createGroup')).toEqual([]);
    t.refuse.createGroup = new QuorumError('CONFLICT', 'a group named "team" exists: choose another name');
    expect(await store.getState().createGroup('team', 'bob')).toEqual({ form: 'A group named "team" exists: choose another name.' });
    expect(await store.getState().createGroup('#team2', 'bob carol alice')).toBeNull();
    expect(t.calls.filter((c) => c[0] === 'createGroup').at(-1)).toEqual(['createGroup', 'team2', ['bob', 'carol']]);
    expect(store.getState().active).toBe('#team2');
    expect(store.getState().groups.team2.members).toEqual(['alice', 'bob', 'carol']);
  });

  it('leaving a group drops its conversation; an admin adds and removes members', async () => {
    const { team: t, store } = await loggedIn({ groups: [team()] });
    expect(await store.getState().addMembers('team', 'dan')).toBeNull();
    expect(t.calls.at(-1)).toEqual(['addMembers', 'team', ['dan']]);
    expect(await store.getState().addMembers('team', '')).toBe('Name at least one account to add.');
    t.refuse.removeMembers = new QuorumError('FORBIDDEN', 'only the admins of #team may remove members');
    expect(await store.getState().removeMember('team', 'bob')).toBe('Only the admins of #team may remove members.');
    store.getState().openConversation('#team');
    expect(await store.getState().leaveGroup('team')).toBeNull();
    expect(store.getState().conversations['#team']).toBeUndefined();
    expect(store.getState().groups.team).toBeUndefined();
    expect(store.getState().active).toBeNull();
  });

  it('below cluster version 3 nothing asks for groups, edits or search', async () => {
    const { team: t, store } = await loggedIn({ version: 2, groups: [team()] });
    expect(store.getState().conversations['#team']).toBeUndefined();
    store.getState().editLast('bob');
    await store.getState().searchMessages('hello');
    expect(store.getState().messageSearch.error).toMatch(/cannot search/);
    expect(t.calls).toEqual([]);
  });

  it('reads the groups once the cluster moves to version 3 while logged in', async () => {
    const { api, store } = await loggedIn({ version: 2, groups: [team()] });
    expect(store.getState().groups).toEqual({});
    api.setConn({ clusterVersion: 3 });
    await settled();
    expect(Object.keys(store.getState().groups)).toEqual(['team']);
    expect(store.getState().conversations['#team']).toBeDefined();
  });
});

describe('edits', () => {
  it('Up arrow edits my newest message; saving sends the edit and marks it edited; Escape cancels', async () => {
    const { api, team: t, store } = await loggedIn();
    api.history_ = [msg(1, 'alice', 'bob', 'first'), msg(2, 'alice', 'bob', 'tpyo'), msg(3, 'bob', 'alice', 'theirs')];
    store.getState().openConversation('bob');
    await settled();
    expect(store.getState().editLast('bob')).toBe(true);
    expect(store.getState().editing).toEqual({ name: 'bob', id: 2 });
    store.getState().cancelEdit();
    expect(store.getState().editing).toBeNull();
    store.getState().editLast('bob');
    expect(await store.getState().saveEdit('typo')).toBe(true);
    expect(t.calls.at(-1)).toEqual(['edit', 2, 'typo']);
    expect(store.getState().threads.bob.messages[1]).toMatchObject({ text: 'typo', editedAt: 1_700_000_009_000 });
    expect(store.getState().editing).toBeNull();
    // Someone else's message cannot be edited; an empty text is refused here, a refusal is said.
    store.getState().startEdit('bob', 3);
    expect(store.getState().editing).toBeNull();
    store.getState().startEdit('bob', 1);
    expect(await store.getState().saveEdit('  ')).toBe(false);
    expect(store.getState().editError).toMatch(/cannot be empty/);
    t.refuse.edit = new QuorumError('NOT_FOUND', 'no such message');
    expect(await store.getState().saveEdit('first!')).toBe(false);
    expect(store.getState().editError).toBe('Not saved. No such message.');
    expect(store.getState().editing).toEqual({ name: 'bob', id: 1 });
  });

  it("another person's edit, pushed live, replaces the text in the thread and the preview", async () => {
    const { api, store } = await loggedIn();
    api.history_ = [msg(1, 'bob', 'alice', 'helo')];
    api.emit('message', msg(1, 'bob', 'alice', 'helo'));
    store.getState().openConversation('bob');
    await settled();
    api.emit('edited', { ...msg(1, 'bob', 'alice', 'hello'), editedAt: 1_700_000_005_000 });
    expect(store.getState().threads.bob.messages[0]).toMatchObject({ text: 'hello', editedAt: 1_700_000_005_000 });
    expect(store.getState().conversations.bob.lastMessage.text).toBe('hello');
  });
});

describe('message search', () => {
  it('searches, and opening a result loads older pages until its message is there and focuses it', async () => {
    const { api, team: t, store } = await loggedIn();
    api.history_ = Array.from({ length: 450 }, (_, i) => msg(i + 1, i % 2 ? 'bob' : 'alice', i % 2 ? 'alice' : 'bob'));
    const hit = { ...msg(17, 'alice', 'bob', 'the deploy went out'), matches: [[4, 10]] as [number, number][] };
    t.hits = [hit];
    await store.getState().searchMessages('deplo');
    expect(t.calls.at(-1)).toEqual(['search', 'deplo', 50]);
    expect(store.getState().messageSearch).toMatchObject({ query: 'deplo', loading: false, results: [{ id: 17 }] });
    await store.getState().openSearchResult(hit);
    const s = store.getState();
    expect(s.active).toBe('bob');
    expect(s.focus).toEqual({ name: 'bob', id: 17 });
    expect(s.threads.bob.messages.some((m) => m.id === 17)).toBe(true);
    // 450 messages, 200 a page: the third page holds id 17.
    expect(s.threads.bob.messages[0].id).toBe(1);
    await store.getState().searchMessages('');
    expect(store.getState().messageSearch.results).toEqual([]);
  });

  it('marks the matched ranges of a result', () => {
    expect(markedPieces('the deploy went out', [[4, 10]])).toEqual([
      { text: 'the ', marked: false },
      { text: 'deploy', marked: true },
      { text: ' went out', marked: false },
    ]);
    expect(markedPieces('ab', [[0, 1], [0, 2], [5, 9]])).toEqual([
      { text: 'a', marked: true },
      { text: 'b', marked: true },
    ]);
  });
});

describe('presence and typing', () => {
  it('watches everyone in the conversations and groups, and shows presence pushes', async () => {
    const { api, team: t, store, env: e } = await loggedIn({ groups: [team()] });
    t.online = [{ user: 'bob', online: true, lastSeenAt: null }];
    api.emit('message', msg(3, 'dan', 'alice'));
    e.fire();
    await settled();
    expect(t.calls.filter((c) => c[0] === 'presence').at(-1)).toEqual(['presence', ['bob', 'carol', 'dan']]);
    expect(store.getState().presence.bob.online).toBe(true);
    api.emit('presence', { user: 'bob', online: false, lastSeenAt: 1_700_000_000_000 });
    expect(store.getState().presence.bob).toEqual({ user: 'bob', online: false, lastSeenAt: 1_700_000_000_000 });
    expect(presenceText(store.getState().presence.bob, 1_700_000_000_000)).toMatch(/^last seen /);
    expect(presenceText({ user: 'x', online: true, lastSeenAt: null }, 0)).toBe('online');
  });

  it('a typing notice shows in its conversation and clears after a quiet while, or when that person\'s message arrives', async () => {
    const { api, store, env: e } = await loggedIn({ groups: [team()] });
    api.emit('typing', { from: 'bob', group: 'team' });
    api.emit('typing', { from: 'carol', group: 'team' });
    api.emit('typing', { from: 'bob' });
    expect(store.getState().typing).toEqual({ '#team': ['bob', 'carol'], bob: ['bob'] });
    expect(typingText(store.getState().typing['#team'])).toBe('bob and carol are typing…');
    api.emit('message', gmsg(4, 'carol', 'team'));
    expect(store.getState().typing['#team']).toEqual(['bob']);
    e.fire();
    expect(store.getState().typing).toEqual({});
  });

  it('tells the others at most every 3 s while typing', async () => {
    const { team: t, store, env: e } = await loggedIn({ groups: [team()] });
    store.getState().noteTyping('#team');
    store.getState().noteTyping('#team');
    store.getState().noteTyping('bob');
    e.advance(TYPING_EVERY_MS);
    store.getState().noteTyping('#team');
    expect(t.calls.filter((c) => c[0] === 'typing')).toEqual([
      ['typing', { group: 'team' }],
      ['typing', { to: 'bob' }],
      ['typing', { group: 'team' }],
    ]);
  });

  it('after sending, the next keystroke in that conversation is told at once (the others cleared the notice)', async () => {
    const { team: t, store } = await loggedIn({ groups: [team()] });
    store.getState().noteTyping('#team');
    store.getState().noteTyping('bob');
    expect(store.getState().send('#team', 'done')).toBe(true);
    store.getState().noteTyping('#team');
    store.getState().noteTyping('#team');
    // Only the conversation sent in: typing to bob is still within its 3 s.
    store.getState().noteTyping('bob');
    expect(t.calls.filter((c) => c[0] === 'typing')).toEqual([
      ['typing', { group: 'team' }],
      ['typing', { to: 'bob' }],
      ['typing', { group: 'team' }],
    ]);
  });
});

describe('mute', () => {
  it('a muted conversation neither notifies nor counts in the total, except a message that mentions me; kept per account', async () => {
    const { api, store, env: e } = await loggedIn({ attentive: false, groups: [team()] });
    store.getState().toggleMute('#team');
    expect(e.kept.get('alice')).toEqual(['#team']);
    api.emit('message', gmsg(5, 'bob', 'team', 'lunch?'));
    api.emit('message', gmsg(6, 'bob', 'team', '@alice ship it', { mentions: ['alice'] }));
    api.emit('message', msg(7, 'carol', 'alice', 'direct'));
    expect(e.incoming).toEqual(['@alice ship it', 'direct']);
    expect(store.getState().conversations['#team'].unread).toBe(2);
    expect(e.unread.at(-1)).toBe(1);
    expect(totalUnread(store.getState().conversations)).toBe(3);
    // The next login of the account on this device finds it muted.
    await store.getState().logout();
    await store.getState().login('alice', 'password1');
    expect(store.getState().muted).toEqual({ '#team': true });
  });
});
