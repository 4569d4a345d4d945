import { describe, expect, it } from 'vitest';
import { env, FakeApi, msg } from '../helpers/fake-chat-api.js';
import { createAppStore } from '../../renderer/src/store/store.js';
import { toPattern } from '../../renderer/src/store/directory.js';
import { sortedConversations } from '../../renderer/src/store/threads.js';
import { clusterHealth, connectionLabel, surviveText } from '../../renderer/src/store/health.js';
import { readableError } from '../../renderer/src/errors.js';
import { mergePage, insertMessage } from '../../renderer/src/store/messages.js';
import type { ClientState, ReplicaStatus } from '../../renderer/src/net/api.js';
import { ERROR_CODES, QuorumError } from '../../replica/protocol/errors.js';
import { settled } from '../helpers/settled.js';


async function loggedIn(attentive = true) {
  const api = new FakeApi();
  const e = env(attentive);
  const store = createAppStore(api, e);
  await store.getState().login('alice', 'password1');
  return { api, store, env: e };
}

describe('outbox', () => {
  it('hands each message to the client once, in order, one at a time; queued until committed', async () => {
    const { api, store } = await loggedIn();
    api.setConn({ status: 'reconnecting' });
    store.getState().send('bob', 'one');
    store.getState().send('bob', 'two');
    store.getState().send('carol', 'three');
    expect(store.getState().outbox.map((e) => [e.text, e.state])).toEqual([
      ['one', 'queued'],
      ['two', 'queued'],
      ['three', 'queued'],
    ]);
    expect(api.sends.map((s) => s.text)).toEqual(['one']);
    // reconnects and failovers do not make the store send again: the library resends with the same seq
    api.setConn({ status: 'connected' });
    api.setConn({ status: 'reconnecting' });
    api.setConn({ status: 'connected' });
    expect(api.sends.map((s) => s.text)).toEqual(['one']);
    api.sends[0].d.resolve({ id: 10, sentAt: 1 });
    await settled();
    expect(api.sends.map((s) => s.text)).toEqual(['one', 'two']);
    api.sends[1].d.resolve({ id: 11, sentAt: 2 });
    await settled();
    api.sends[2].d.resolve({ id: 12, sentAt: 3 });
    await settled();
    expect(api.sends.map((s) => s.text)).toEqual(['one', 'two', 'three']);
    expect(store.getState().outbox).toEqual([]);
    const convs = sortedConversations(store.getState().conversations);
    expect(convs.map((c) => [c.with, c.lastMessage.text, c.unread])).toEqual([
      ['carol', 'three', 0],
      ['bob', 'two', 0],
    ]);
  });

  it('a definite refusal (NO_QUORUM) requeues without losing order; other refusals fail and can be retried', async () => {
    const { api, store } = await loggedIn();
    store.getState().send('bob', 'one');
    store.getState().send('bob', 'two');
    api.sends[0].d.reject(new QuorumError('NO_QUORUM', 'no quorum'));
    api.setConn({ readOnly: true });
    await settled();
    expect(store.getState().outbox.map((e) => e.state)).toEqual(['queued', 'queued']);
    api.setConn({ readOnly: false });
    expect(api.sends.map((s) => s.text)).toEqual(['one', 'one']);
    api.sends[1].d.reject(new QuorumError('NOT_FOUND', 'no such account'));
    await settled();
    expect(store.getState().outbox.map((e) => [e.text, e.state])).toEqual([
      ['one', 'failed'],
      ['two', 'queued'],
    ]);
    expect(store.getState().outbox[0].error).toBe('There is no such account or message.');
    expect(api.sends.map((s) => s.text)).toEqual(['one', 'one', 'two']);
    api.sends[2].d.resolve({ id: 5, sentAt: 1 });
    await settled();
    store.getState().retry(store.getState().outbox[0].localId);
    expect(api.sends).toHaveLength(4);
  });

  it('a pushed copy of my own message does not duplicate it', async () => {
    const { api, store } = await loggedIn();
    store.getState().openConversation('bob');
    await settled();
    store.getState().send('bob', 'hello');
    store.getState().send('bob', 'second');
    api.emit('message', msg(7, 'alice', 'bob', 'hello'));
    api.sends[0].d.resolve({ id: 7, sentAt: msg(7, 'a', 'b').sentAt });
    await settled();
    expect(store.getState().threads.bob.messages.map((m) => m.id)).toEqual([7]);
    api.sends[1].d.resolve({ id: 8, sentAt: 2 });
    await settled();
    expect(store.getState().conversations.bob.lastMessage.text).toBe('second');
    // deleting the newest message moves the preview back to the one before it
    store.getState().toggleSelect(8);
    await store.getState().deleteSelected();
    expect(store.getState().conversations.bob.lastMessage.text).toBe('hello');
  });

  it('keeps a draft per conversation', async () => {
    const { store } = await loggedIn();
    store.getState().setDraft('bob', 'half a thought');
    store.getState().setDraft('carol', 'other');
    expect(store.getState().drafts).toEqual({ bob: 'half a thought', carol: 'other' });
    store.getState().send('bob', 'half a thought');
    expect(store.getState().drafts).toEqual({ bob: '', carol: 'other' });
  });
});

describe('conversations and messages', () => {
  it('counts unread for conversations not on screen, newest first, and marks the open one read', async () => {
    const { api, store, env: e } = await loggedIn();
    api.emit('message', msg(1, 'bob', 'alice'));
    api.emit('message', msg(2, 'carol', 'alice'));
    api.emit('message', msg(3, 'bob', 'alice'));
    expect(sortedConversations(store.getState().conversations).map((c) => [c.with, c.unread])).toEqual([
      ['bob', 2],
      ['carol', 1],
    ]);
    expect(e.unread.at(-1)).toBe(3);
    expect(e.incoming).toEqual(['m1', 'm2', 'm3']);
    api.history_ = [msg(1, 'bob', 'alice'), msg(3, 'bob', 'alice')];
    store.getState().openConversation('bob');
    await settled();
    expect(api.marks).toEqual([['bob', 3]]);
    expect(store.getState().conversations.bob.unread).toBe(0);
    expect(e.unread.at(-1)).toBe(1);
    api.emit('message', msg(4, 'bob', 'alice'));
    await settled();
    expect(store.getState().conversations.bob.unread).toBe(0);
    expect(api.marks).toEqual([
      ['bob', 3],
      ['bob', 4],
    ]);
  });

  it('a message that arrives as the user looks away stays unread (the delayed mark checks the view when it fires)', async () => {
    const api = new FakeApi();
    const timers: (() => void)[] = [];
    const e = { ...env(), setTimeout: (fn: () => void) => (timers.push(fn), timers.length) };
    const store = createAppStore(api, e);
    await store.getState().login('alice', 'password1');
    api.history_ = [msg(1, 'bob', 'alice')];
    store.getState().openConversation('bob');
    await settled();
    for (const fn of timers.splice(0)) fn();
    await settled();
    expect(api.marks).toEqual([['bob', 1]]);
    // A new message schedules a mark; before it fires the user opens the cluster view.
    api.emit('message', msg(2, 'bob', 'alice'));
    store.getState().setView('cluster');
    for (const fn of timers.splice(0)) fn();
    await settled();
    expect(api.marks).toEqual([['bob', 1]]);
    // Back in the conversation, it is marked read.
    store.getState().setView('chat');
    for (const fn of timers.splice(0)) fn();
    await settled();
    expect(api.marks).toEqual([
      ['bob', 1],
      ['bob', 2],
    ]);
  });

  it('loads older pages until the beginning and applies receipts and deletions', async () => {
    const { api, store } = await loggedIn();
    api.history_ = Array.from({ length: 450 }, (_, i) => msg(i + 1, i % 2 ? 'bob' : 'alice', i % 2 ? 'alice' : 'bob'));
    store.getState().openConversation('bob');
    await settled();
    expect(store.getState().threads.bob.messages).toHaveLength(200);
    await store.getState().loadOlder('bob');
    await store.getState().loadOlder('bob');
    const t = store.getState().threads.bob;
    expect(t.messages).toHaveLength(450);
    expect(t.hasOlder).toBe(false);
    expect(t.messages[0].id).toBe(1);
    api.emit('receipt', { ids: [449], kind: 'read', at: 99 });
    expect(store.getState().threads.bob.messages[448]).toMatchObject({ readAt: 99, deliveredAt: 99 });
    store.getState().toggleSelect(449);
    store.getState().toggleSelect(447);
    expect(await store.getState().deleteSelected()).toBe(true);
    expect(store.getState().threads.bob.messages).toHaveLength(448);
    expect(store.getState().selection).toEqual([]);
    api.emit('deleted', [1]);
    expect(store.getState().threads.bob.messages[0].id).toBe(2);
  });

  it('session ended elsewhere returns to the login screen with a notice', async () => {
    const { api, store } = await loggedIn();
    api.emit('sessionEnded', { reason: 'logged out on another device' });
    expect(store.getState().user).toBeNull();
    expect(store.getState().notice).toMatch(/logged out on another device/);
  });
});

describe('directory', () => {
  it('searches with wildcards and loads more pages', async () => {
    const { store } = await loggedIn();
    expect(toPattern('bo')).toBe('*bo*');
    expect(toPattern('b?b*')).toBe('b?b*');
    await store.getState().search('bo');
    expect(store.getState().directory.results).toEqual(['bob', 'bobby']);
    await store.getState().loadMoreAccounts();
    expect(store.getState().directory.results).toEqual(['bob', 'bobby', 'bob2']);
    expect(store.getState().directory.nextPageToken).toBeNull();
    await store.getState().search('bad name!');
    expect(store.getState().directory.error).toMatch(/wildcards/);
  });
});

describe('auth', () => {
  it('shows a readable refusal', async () => {
    const store = createAppStore(new FakeApi(), env());
    await store.getState().login('alice', 'wrong-password');
    expect(store.getState().authError).toBe('Wrong username or password.');
    await store.getState().signup('no spaces', 'password1');
    expect(store.getState().authError).toMatch(/Usernames/);
  });
});

describe('connection bar and health', () => {
  const status = (reach: (boolean | undefined)[], role: ReplicaStatus['role'] = 'leader'): ReplicaStatus => ({
    id: 'r0',
    address: 'a:0',
    role,
    term: 3,
    leader: { id: 'r0', address: 'a:0' },
    commitIndex: 1,
    appliedIndex: 1,
    lastIndex: 1,
    voter: true,
    quorum: true,
    members: reach.map((r, i) => ({ id: `r${i}`, address: `a:${i}`, voter: true, match: 1, reachable: r })),
  });
  it('computes failures the cluster survives from the leader view', () => {
    expect(clusterHealth(status([undefined, true, true]))).toEqual({ voters: 3, reachable: 3, survive: 1 });
    expect(clusterHealth(status([undefined, true, false]))).toEqual({ voters: 3, reachable: 2, survive: 0 });
    expect(clusterHealth(status([undefined, true, true, true, true]))?.survive).toBe(2);
    expect(clusterHealth(status([undefined, false, false, true, true]))?.survive).toBe(0);
    expect(clusterHealth(status([undefined]))).toEqual({ voters: 1, reachable: 1, survive: 0 });
    expect(clusterHealth(status([undefined, true], 'follower'))).toBeNull();
    expect(surviveText({ voters: 5, reachable: 5, survive: 2 })).toBe('can survive 2 more replica failures');
  });
  it('says Connected, Reconnecting or Read-only', () => {
    const base: ClientState = { status: 'connected', replica: { id: 'r2', address: 'x' }, leader: { id: 'r1', address: 'y' }, readOnly: false };
    expect(connectionLabel(base).text).toBe('Connected to r1');
    expect(connectionLabel({ ...base, status: 'reconnecting' }).text).toBe('Reconnecting…');
    expect(connectionLabel({ ...base, readOnly: true }).text).toBe('Read-only: no majority reachable');
    expect(connectionLabel({ ...base, status: 'closed' }).text).not.toContain('Connected');
  });
});

describe('errors and message lists', () => {
  it('has a readable sentence for every refusal code', () => {
    for (const code of ERROR_CODES) {
      const text = readableError(new QuorumError(code, 'detail'));
      expect(text.length).toBeGreaterThan(10);
      expect(text).not.toMatch(/^[A-Z_]+$/);
    }
    expect(readableError(new QuorumError('INVALID', 'text: too long'))).toBe('That was not accepted: text: too long');
  });
  it('merges pages and inserts without duplicates, in id order', () => {
    const list = mergePage([], [msg(5, 'a', 'b'), msg(3, 'a', 'b')]);
    expect(mergePage(list, [msg(1, 'a', 'b'), msg(2, 'a', 'b')]).map((m) => m.id)).toEqual([1, 2, 3, 5]);
    expect(insertMessage(list, msg(4, 'a', 'b')).map((m) => m.id)).toEqual([3, 4, 5]);
    expect(insertMessage(list, msg(5, 'a', 'b')).map((m) => m.id)).toEqual([3, 5]);
  });
});
