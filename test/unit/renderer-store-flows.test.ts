// The renderer store's flows that had no test (issue 18): logout with unsent messages, restoring a kept login (and
// one that ended meanwhile), deleting the account, discarding an unsent message, probing the members, toasts. The
// real store runs over the real client library, through the renderer's own adapter (renderer/src/net/client.ts),
// against the fake cluster of test/helpers/fake-replica.ts (WebSocket servers following the replica's rules), with
// the outbox kept in IndexedDB (fake-indexeddb) as in a browser. Conditions are awaited, never a fixed delay.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectToCluster } from '../../renderer/src/net/client.js';
import type { ChatApi } from '../../renderer/src/net/api.js';
import { openOutboxStore, type TabIdStore } from '../../renderer/src/storage/outbox-db.js';
import { createAppStore, type AppStore } from '../../renderer/src/store/store.js';
import type { AppEnv, KeptLogin, KeptLoginStore } from '../../renderer/src/store/store-deps.js';
import { FakeCluster, until } from '../helpers/fake-replica.js';
import { env, FakeApi } from '../helpers/fake-chat-api.js';
import { settled } from '../helpers/settled.js';

// The adapter takes the page's WebSocket; Node 20 has none, so the tests lend it ws's (what the client tests use).
(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;

/** What survives a reload of the tab: its session storage (the kept login, the tab id). */
class Tab {
  login: KeptLogin | null = null;
  id: string | null = null;
  readonly keptLogin: KeptLoginStore = {
    save: (login) => void (this.login = login),
    load: () => this.login,
    clear: () => void (this.login = null),
  };
  readonly ids: TabIdStore = { get: () => this.id, set: (id) => void (this.id = id) };
}

let tab: Tab;
let tabs = 0;
const clusters: FakeCluster[] = [];
const open: { api: ChatApi; store: AppStore }[] = [];

beforeEach(() => {
  tab = new Tab();
  globalThis.indexedDB = new IDBFactory();
});

afterEach(async () => {
  for (const { api, store } of open.splice(0)) {
    api.close();
    store.getState().dispose();
  }
  for (const c of clusters.splice(0)) await c.close();
});

/** A fake cluster with alice and bob; sends whose text starts with "held" are never answered (a stuck leader). */
async function cluster(size = 1): Promise<FakeCluster> {
  const c = await FakeCluster.start(size);
  clusters.push(c);
  c.addAccount('alice', 'password1');
  c.addAccount('bob', 'password1');
  for (const r of c.replicas) r.hook = (req) => (req.op === 'send' && String(req.text).startsWith('held') ? { drop: true } : undefined);
  return c;
}

/** A page load in `tab`: the real client library through the renderer's adapter, and a fresh store. */
function load(c: FakeCluster, over: Partial<AppEnv> = {}): { api: ChatApi; store: AppStore } {
  const api = connectToCluster(c.addresses);
  // Timers (the outbox's retry after a refusal, toasts going away) never fire here: these tests wait for none.
  const e: AppEnv = { ...env(), setTimeout: () => 0, keptLogin: tab.keptLogin, outboxStore: openOutboxStore(tab.ids, null, () => `tab-${++tabs}`), ...over };
  const page = { api, store: createAppStore(api, e) };
  open.push(page);
  return page;
}

/** A reload: the page's store and client go away; the tab's session storage and IndexedDB stay. */
function unload(page: { api: ChatApi; store: AppStore }): void {
  // As main.tsx does on pagehide: the client closes (its unanswered sends are rejected; the store sees 'closed').
  page.api.close();
  page.store.getState().dispose();
  open.splice(open.indexOf(page), 1);
}

/** What the device keeps in its outbox for `user`, read directly. */
async function keptTexts(user: string): Promise<string[]> {
  return (await openOutboxStore(tab.ids, null).load(user)).map((e) => e.text).sort();
}

const texts = (store: AppStore) => store.getState().outbox.map((e) => e.text);
const sentTexts = (c: FakeCluster) => c.messages.map((m) => m.text);

describe('logout with unsent messages', () => {
  it('says how many were discarded, empties the outbox here and on the device, and the next login sends none of them', async () => {
    const c = await cluster();
    const { store } = load(c);
    await store.getState().login('alice', 'password1');
    store.getState().send('bob', 'held: stuck at the leader');
    store.getState().send('bob', 'queued behind it');
    await until('the first handed over', () => c.framesOf('send').length === 1);
    await until('both kept on the device', async () => (await keptTexts('alice')).length === 2);

    await store.getState().logout();
    expect(store.getState().user).toBeNull();
    expect(store.getState().notice).toBe('Logged out. 2 unsent messages were discarded.');
    expect(store.getState().outbox).toEqual([]);
    expect(tab.login).toBeNull();
    await until('the device outbox cleared', async () => (await keptTexts('alice')).length === 0);

    // The same account logs in again: nothing of the discarded outbox comes back or goes out.
    await store.getState().login('alice', 'password1');
    expect(store.getState().user).toBe('alice');
    await settled();
    expect(store.getState().outbox).toEqual([]);
    expect(c.framesOf('send').map((f) => f.text)).toEqual(['held: stuck at the leader']);
    expect(sentTexts(c)).toEqual([]);
  });

  it('a refused logout keeps the login and its outbox, and says why in a toast', async () => {
    const c = await cluster();
    const { store } = load(c);
    await store.getState().login('alice', 'password1');
    store.getState().send('bob', 'held: unsent');
    await until('handed over', () => c.framesOf('send').length === 1);
    c.replica('r1').hook = (req) => (req.op === 'logout' ? { error: { code: 'FORBIDDEN', message: 'not now' } } : { drop: true });

    await store.getState().logout();
    expect(store.getState().user).toBe('alice');
    expect(texts(store)).toEqual(['held: unsent']);
    expect(store.getState().notice).toBeNull();
    expect(store.getState().toasts.map((t) => [t.text, t.tone])).toEqual([['You are not allowed to do that.', 'error']]);
    expect(tab.login?.user).toBe('alice');
  });
});

describe('restoring a kept login after a reload', () => {
  it('resumes the login with the real client: signed in, live messages arrive, and writes go out', async () => {
    const c = await cluster();
    const first = load(c);
    await first.store.getState().login('alice', 'password1', true);
    expect(tab.login?.user).toBe('alice');
    unload(first);

    const second = load(c);
    const restoring = second.store.getState().restore();
    expect(second.store.getState().user).toBe('alice');
    await restoring;
    expect(second.store.getState().resuming).toBe(false);
    // Bound to the login again: the cluster pushes bob's message to this connection.
    c.deliver('bob', 'alice', 'welcome back');
    await until('the pushed message', () => second.store.getState().conversations.bob?.lastMessage.text === 'welcome back');
    expect(second.store.getState().conversations.bob.unread).toBe(1);
    second.store.getState().send('bob', 'thanks');
    await until('sent', () => second.store.getState().outbox.length === 0);
    expect(c.messages.map((m) => [m.from, m.text])).toEqual([
      ['bob', 'welcome back'],
      ['alice', 'thanks'],
    ]);
  });

  it('a kept login that ended meanwhile returns to the login screen, keeping the unsent messages for the next login', async () => {
    const c = await cluster();
    const first = load(c);
    await first.store.getState().login('alice', 'password1');
    first.store.getState().send('bob', 'held: written before the reload');
    await until('kept on the device', async () => (await keptTexts('alice')).length === 1);
    unload(first);
    // Logged out on another device meanwhile: the kept token is no longer a login.
    c.tokens.clear();
    c.replica('r1').hook = null;

    const second = load(c);
    await second.store.getState().restore();
    await until('the login screen', () => second.store.getState().user === null);
    expect(second.store.getState().notice).toBe(
      'Your login has ended (You are not logged in any more. Please log in again.). Log in again; your 1 unsent message is kept and goes out after you log in.',
    );
    expect(tab.login).toBeNull();
    expect(await keptTexts('alice')).toEqual(['held: written before the reload']);

    await second.store.getState().login('alice', 'password1');
    await until('the kept message sent', () => c.messages.length === 1 && second.store.getState().outbox.length === 0);
    expect(sentTexts(c)).toEqual(['held: written before the reload']);
  });

  it('a kept login the cluster says belongs to another account is not taken', async () => {
    const c = await cluster();
    const bobs = load(c);
    await bobs.store.getState().login('bob', 'password1');
    const bobToken = tab.login!.token;
    unload(bobs);
    tab.login = { token: bobToken, user: 'alice' };

    const { store } = load(c);
    await store.getState().restore();
    expect(store.getState().user).toBeNull();
    expect(store.getState().notice).toContain('the kept login belongs to bob');
  });
});

describe('deleting the account', () => {
  it('a wrong password deletes nothing; the right one logs out, forgets the kept login and the outbox, and the account is gone', async () => {
    const c = await cluster();
    const { store } = load(c);
    await store.getState().login('alice', 'password1', true);
    store.getState().send('bob', 'held: never sent');
    await until('kept on the device', async () => (await keptTexts('alice')).length === 1);

    await expect(store.getState().deleteAccount('wrong-password')).rejects.toMatchObject({ code: 'BAD_CREDENTIALS' });
    expect(store.getState().user).toBe('alice');
    expect(texts(store)).toEqual(['held: never sent']);
    expect(c.accounts.has('alice')).toBe(true);

    await store.getState().deleteAccount('password1');
    expect(store.getState().user).toBeNull();
    expect(store.getState().notice).toBe('Your account was deleted.');
    expect(store.getState().outbox).toEqual([]);
    expect(tab.login).toBeNull();
    expect(c.accounts.has('alice')).toBe(false);
    await until('the device outbox cleared', async () => (await keptTexts('alice')).length === 0);
    await store.getState().login('alice', 'password1');
    expect(store.getState().authError).toBe('Wrong username or password.');
  });
});

describe('discarding an unsent message', () => {
  it('drops a failed message here and on the device, but not the one the client library is sending', async () => {
    const c = await cluster();
    const { store } = load(c);
    await store.getState().login('alice', 'password1');
    store.getState().send('nobody', 'to an account that does not exist');
    await until('refused', () => store.getState().outbox[0]?.state === 'failed');
    store.getState().send('bob', 'held: in flight');
    await until('handed over', () => c.framesOf('send').length === 2);
    await until('both kept', async () => (await keptTexts('alice')).length === 2);
    const [failed, inFlight] = store.getState().outbox;
    expect(inFlight.handedOver).toBe(true);

    store.getState().discard(inFlight.localId);
    expect(texts(store)).toEqual(['to an account that does not exist', 'held: in flight']);
    store.getState().discard(failed.localId);
    expect(texts(store)).toEqual(['held: in flight']);
    await until('forgotten on the device', async () => (await keptTexts('alice')).length === 1);
    expect(await keptTexts('alice')).toEqual(['held: in flight']);
  });
});

describe('probing the members', () => {
  it("asks every other member for its own view; one that does not answer is null; a plain refresh probes nobody", async () => {
    const c = await cluster(3);
    await c.replica('r2').down();
    const { store } = load(c);
    await store.getState().login('alice', 'password1');
    await until('connected to the leader', () => store.getState().conn.status === 'connected' && store.getState().conn.replica?.id === 'r1');
    const connectionsBefore = c.replicas.map((r) => r.connections);

    await store.getState().refreshStatus(true);
    const probes = store.getState().memberStatus;
    expect(Object.keys(probes).sort()).toEqual(c.addresses.sort());
    expect(probes[c.replica('r1').address]).toBe(store.getState().status);
    expect(probes[c.replica('r1').address]?.role).toBe('leader');
    expect(probes[c.replica('r2').address]).toBeNull();
    expect(probes[c.replica('r3').address]).toMatchObject({ id: 'r3', role: 'follower' });
    // The connected replica is not probed again over a connection of its own; r3 is, once.
    expect(c.replicas.map((r, i) => r.connections - connectionsBefore[i])).toEqual([0, 0, 1]);

    await store.getState().refreshStatus();
    expect(c.replica('r3').connections - connectionsBefore[2]).toBe(1);
    expect(store.getState().memberStatus).toBe(probes);
  });
});

describe('toasts', () => {
  it('keeps the newest four; an info toast goes after 4 s, an error after 8 s, each by its own id', async () => {
    const timers: { ms: number; fn: () => void }[] = [];
    const store = createAppStore(new FakeApi(), { ...env(), setTimeout: (fn, ms) => timers.push({ ms, fn }) });
    for (const n of [1, 2, 3, 4, 5]) store.getState().toast(`note ${n}`);
    expect(store.getState().toasts.map((t) => t.text)).toEqual(['note 2', 'note 3', 'note 4', 'note 5']);
    await store.getState().login('alice', 'password1');
    expect(store.getState().send('bob', 'x'.repeat(20_000))).toBe(false);
    const toasts = store.getState().toasts;
    expect(toasts.at(-1)).toMatchObject({ tone: 'error', text: expect.stringMatching(/^Messages can have at most \d+ characters\.$/) });
    expect(timers.map((t) => t.ms)).toEqual([4000, 4000, 4000, 4000, 4000, 8000]);

    // note 1's timer finds nothing to remove; note 3's removes note 3 only; the error's removes the error.
    timers[0].fn();
    timers[2].fn();
    expect(store.getState().toasts.map((t) => t.text)).toEqual(['note 4', 'note 5', toasts.at(-1)!.text]);
    timers[5].fn();
    expect(store.getState().toasts.map((t) => t.text)).toEqual(['note 4', 'note 5']);
    store.getState().dismissToast(store.getState().toasts[0].id);
    expect(store.getState().toasts.map((t) => t.text)).toEqual(['note 5']);
    store.getState().dispose();
  });
});
