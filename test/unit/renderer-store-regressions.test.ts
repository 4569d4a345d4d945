/**
 * Store regressions found by the browser tests against real replicas (test/e2e/web-cluster.test.ts):
 * - receipts and deletions pushed while a window was disconnected were lost (resume replays only messages), so after
 *   a reconnect the window kept showing a deleted message and "Delivered" for a message the other person had read;
 * - the replica pushes my own message to my connections before it answers the send, so for a moment the message was
 *   shown twice: as the queued outbox entry and as the committed message.
 */
import { describe, expect, it } from 'vitest';
import { FakeApiEvents } from '../helpers/fake-api-events.js';
import { createAppStore } from '../../renderer/src/store/store.js';
import type { AppEnv } from '../../renderer/src/store/store-deps.js';
import { HISTORY_PAGE } from '../../renderer/src/store/threads.js';
import type { ChatApi, ChatMessage, ClientState, ConversationSummary, ReplicaStatus } from '../../renderer/src/net/api.js';
import { settled } from '../helpers/settled.js';


const T0 = 1_700_000_000_000;
const msg = (id: number, from: string, to: string, over: Partial<ChatMessage> = {}): ChatMessage => ({
  id,
  from,
  to,
  text: `m${id}`,
  sentAt: T0 + id,
  deliveredAt: null,
  readAt: null,
  ...over,
});

/** The server side of one account's conversations, edited directly by the tests. */
class Server extends FakeApiEvents implements ChatApi {
  state: ClientState = { status: 'connected', replica: { id: 'r1', address: 'a:1' }, leader: { id: 'r1', address: 'a:1' }, readOnly: false };
  messages: ChatMessage[] = [];
  historyCalls = 0;
  statusOf = null;
  replaying = false;
  cluster = null;
  team = null;
  setConn(status: ClientState['status']) {
    this.state = { ...this.state, status };
    this.emit('state', this.state);
  }
  signup = async (u: string) => ({ user: u });
  login = async (u: string) => ({ user: u, token: 't'.repeat(32), unread: 0 });
  logout = async () => ({});
  accounts = async () => ({ accounts: [], nextPageToken: null });
  send = async () => ({ id: 0, sentAt: 0 });
  history = async (w: string, o: { before?: number; limit?: number }) => {
    this.historyCalls++;
    const all = this.messages.filter((m) => (m.from === w || m.to === w) && (o.before === undefined || m.id < o.before));
    return { messages: all.slice(-(o.limit ?? 50)) };
  };
  conversations = async () => {
    const by = new Map<string, ConversationSummary>();
    for (const m of this.messages) {
      const other = m.from === 'alice' ? m.to : m.from;
      by.set(other, { with: other, lastMessage: m, unread: 0 });
    }
    return { conversations: [...by.values()] };
  };
  markRead = async () => ({});
  delete = async () => ({});
  deleteAccount = async () => ({});
  status = async (): Promise<ReplicaStatus> => {
    throw new Error('not here');
  };
  servers = () => ['a:1'];
  close() {}
}

const env: AppEnv = {
  now: () => T0 + 1_000_000,
  isAttentive: () => false,
  setTimeout: (fn) => (queueMicrotask(fn), 0),
  clearTimeout: () => {},
};

async function withThread(messages: ChatMessage[]) {
  const api = new Server();
  api.messages = messages;
  const store = createAppStore(api, env);
  await store.getState().login('alice', 'password-1');
  store.getState().openConversation('bob');
  await settled();
  return { api, store };
}

describe('store: resync after a reconnect', () => {
  it('takes receipts and deletions that happened while disconnected from the server', async () => {
    const { api, store } = await withThread([msg(1, 'alice', 'bob', { deliveredAt: T0 }), msg(2, 'bob', 'alice'), msg(3, 'bob', 'alice')]);
    expect(store.getState().threads.bob.messages.map((m) => m.id)).toEqual([1, 2, 3]);
    api.setConn('reconnecting');
    // While away: bob read message 1 and deleted message 3 (their pushes went to a dead connection).
    api.messages = [msg(1, 'alice', 'bob', { deliveredAt: T0, readAt: T0 + 5 }), msg(2, 'bob', 'alice')];
    api.setConn('connected');
    await settled();
    const t = store.getState().threads.bob;
    expect(t.messages.map((m) => m.id)).toEqual([1, 2]);
    expect(t.messages[0].readAt).toBe(T0 + 5);
    expect(store.getState().conversations.bob.lastMessage.id).toBe(2);
  });

  it('keeps messages older than the re-read page, and live ones that arrive meanwhile', async () => {
    const many = Array.from({ length: HISTORY_PAGE + 20 }, (_, i) => msg(i + 1, i % 2 ? 'bob' : 'alice', i % 2 ? 'alice' : 'bob'));
    const { api, store } = await withThread(many);
    // The first page is the newest HISTORY_PAGE; load the older rest too.
    await store.getState().loadOlder('bob');
    expect(store.getState().threads.bob.messages.length).toBe(HISTORY_PAGE + 20);
    api.setConn('reconnecting');
    api.messages = many.filter((m) => m.id !== 5 && m.id !== HISTORY_PAGE + 10); // 5 is older than the page: not checked
    // A live message committed after the server computed the page arrives before the page does.
    const live = msg(HISTORY_PAGE + 21, 'bob', 'alice');
    const read = api.history;
    api.history = async (w, o) => {
      const page = await read(w, o);
      api.messages.push(live);
      api.emit('message', live);
      return page;
    };
    api.setConn('connected');
    await settled();
    const ids = store.getState().threads.bob.messages.map((m) => m.id);
    expect(ids).toContain(5);
    expect(ids).not.toContain(HISTORY_PAGE + 10);
    expect(ids).toContain(HISTORY_PAGE + 21);
    expect(ids.length).toBe(HISTORY_PAGE + 20); // 220 - 1 deleted + 1 live
  });

  it('does not re-read anything on the first connection or while logged out', async () => {
    const api = new Server();
    api.state = { ...api.state, status: 'connecting' };
    createAppStore(api, env);
    api.setConn('connected');
    api.setConn('reconnecting');
    api.setConn('connected');
    await settled();
    expect(api.historyCalls).toBe(0);
  });
});

describe('store: my own message pushed before the send is answered', () => {
  it('is shown once: the in-flight outbox entry gives way to the committed message', async () => {
    const { api, store } = await withThread([msg(1, 'bob', 'alice')]);
    const answers: Array<(r: { id: number; sentAt: number }) => void> = [];
    api.send = () => new Promise((resolve) => answers.push(resolve));
    store.getState().send('bob', 'hello');
    store.getState().send('bob', 'again');
    expect(answers).toHaveLength(1);
    const shown = () => {
      const s = store.getState();
      return [...s.threads.bob.messages.map((m) => `sent:${m.text}`), ...s.outbox.map((e) => `queued:${e.text}`)];
    };
    expect(shown()).toEqual(['sent:m1', 'queued:hello', 'queued:again']);
    // The push of the committed message arrives first...
    api.emit('message', msg(2, 'alice', 'bob', { text: 'hello' }));
    expect(shown()).toEqual(['sent:m1', 'sent:hello', 'queued:again']);
    // ...then the answer: nothing doubles, and the next entry goes out.
    answers[0]({ id: 2, sentAt: T0 + 2 });
    await settled();
    expect(shown()).toEqual(['sent:m1', 'sent:hello', 'queued:again']);
    expect(answers).toHaveLength(2);
  });

  it('leaves the outbox alone for a message of mine sent elsewhere', async () => {
    const { api, store } = await withThread([]);
    api.send = () => new Promise(() => {});
    store.getState().send('bob', 'from here');
    api.emit('message', msg(5, 'alice', 'bob', { text: 'from my other device' }));
    expect(store.getState().outbox.map((e) => e.text)).toEqual(['from here']);
    expect(store.getState().threads.bob.messages.map((m) => m.text)).toEqual(['from my other device']);
  });
});
