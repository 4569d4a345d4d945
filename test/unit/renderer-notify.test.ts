// Notifications and unread counts in the renderer store: only new unread messages notify (not a backlog replayed after
// a reconnect, not messages read elsewhere), and a message arriving while the conversation list loads does not
// overwrite the server's unread count. The web notifier keeps a bounded number of notifications.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../renderer/src/store/store.js';
import { mergeConversations } from '../../renderer/src/store/threads.js';
import { createWebNotifier, type NotificationApi, type NotificationLike } from '../../renderer/src/web-notifier.js';
import type { ConversationSummary } from '../../renderer/src/net/api.js';
import { env, FakeApi, msg } from '../helpers/fake-chat-api.js';
import { settled } from '../helpers/settled.js';

async function loggedIn() {
  const api = new FakeApi();
  const e = env(false);
  const store = createAppStore(api, e);
  await store.getState().login('alice', 'password1');
  return { api, store, env: e };
}

const summary = (withUser: string, last: number, unread: number): ConversationSummary => ({ with: withUser, lastMessage: msg(last, withUser, 'alice'), unread });

describe('notifications', () => {
  it('a backlog replayed after a reconnect counts as unread but does not notify; live messages do', async () => {
    const { api, store, env: e } = await loggedIn();
    api.emit('message', msg(1, 'bob', 'alice', 'live'));
    api.replaying = true;
    api.emit('message', msg(2, 'bob', 'alice', 'backlog 1'));
    api.emit('message', msg(3, 'bob', 'alice', 'backlog 2'));
    api.replaying = false;
    api.emit('message', msg(4, 'bob', 'alice', 'live again'));
    expect(e.incoming).toEqual(['live', 'live again']);
    expect(store.getState().conversations.bob.unread).toBe(4);
  });

  it('a message already read elsewhere neither notifies nor counts as unread', async () => {
    const { api, store, env: e } = await loggedIn();
    api.emit('message', { ...msg(1, 'bob', 'alice', 'read on my phone'), readAt: 1_700_000_000_500 });
    expect(e.incoming).toEqual([]);
    expect(store.getState().conversations.bob.unread).toBe(0);
  });
});

describe('unread counts while the conversation list loads', () => {
  it("a message arriving during the load adds to the server's count instead of replacing it", async () => {
    const api = new FakeApi();
    let answer!: (v: { conversations: ConversationSummary[] }) => void;
    api.conversationList = () => new Promise((resolve) => (answer = resolve));
    const store = createAppStore(api, env(false));
    const login = store.getState().login('alice', 'password1');
    await settled();
    // Arrives live while the list is being read; the answer was made before it (bob: 5 unread up to id 10).
    api.emit('message', msg(11, 'bob', 'alice', 'new'));
    answer({ conversations: [summary('bob', 10, 5), summary('carol', 7, 2)] });
    await login;
    expect(store.getState().conversations.bob).toMatchObject({ unread: 6, lastMessage: { id: 11 } });
    expect(store.getState().conversations.carol.unread).toBe(2);
  });

  it('mergeConversations: the server wins when its answer already has the live message', () => {
    const local = { bob: summary('bob', 11, 1) };
    expect(mergeConversations(local, [summary('bob', 11, 6)], new Map([['bob', new Set([11])]])).bob.unread).toBe(6);
    expect(mergeConversations(local, [summary('bob', 10, 5)], new Map([['bob', new Set([11])]])).bob.unread).toBe(6);
    expect(mergeConversations(local, [summary('bob', 10, 5)], new Map()).bob.unread).toBe(5);
  });
});

describe('web notifier', () => {
  it('keeps one notification per conversation and at most 20 in all, closing what it drops', () => {
    const open: NotificationLike[] = [];
    const bodies: string[] = [];
    const Api = function (this: NotificationLike, _title: string, options: { body: string }) {
      bodies.push(options.body);
      this.onclick = null;
      this.close = () => void open.splice(open.indexOf(this), 1);
      open.push(this);
    } as unknown as NotificationApi;
    Object.assign(Api, { permission: 'granted', requestPermission: async () => 'granted' });
    const opened: string[] = [];
    const notifier = createWebNotifier(Api, (c) => opened.push(c));
    for (let i = 0; i < 100; i++) notifier.message(`user${i % 30}`, `user${i % 30}`, `m${i}`);
    expect(bodies).toHaveLength(100);
    expect(open).toHaveLength(20);
    notifier.message('bob', 'bob', 'hi');
    notifier.message('bob', 'bob', 'again');
    expect(open).toHaveLength(20);
    open[open.length - 1].onclick!();
    expect(opened).toEqual(['bob']);
    expect(open).toHaveLength(19);
  });
});
