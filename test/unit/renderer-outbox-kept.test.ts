// The renderer's outbox kept on the device (IndexedDB through renderer/src/storage/outbox-db.ts, here on
// fake-indexeddb): a reload keeps the person signed in with their queued messages even while the cluster cannot take
// the login back, and sends each kept message once, in order, in the session it was given before the reload.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAppStore, type AppStore } from '../../renderer/src/store/store.js';
import type { AppEnv, KeptLogin, KeptLoginStore } from '../../renderer/src/store/store-deps.js';
import { openOutboxStore, type TabIdStore } from '../../renderer/src/storage/outbox-db.js';
import { QuorumError } from '../../replica/protocol/errors.js';
import type { ClientSession } from '../../replica/protocol/client.js';
import { env, FakeApi } from '../helpers/fake-chat-api.js';
import { settled } from '../helpers/settled.js';

/** What survives a reload of the tab: its session storage (login, tab id); IndexedDB is fake-indexeddb's global. */
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

let tabs = 0;
let tab: Tab;
beforeEach(() => {
  tab = new Tab();
  // A new, empty device for each test.
  globalThis.indexedDB = new IDBFactory();
});

/** What the device keeps for `user`, read directly. */
function keptTexts(user: string): Promise<string[]> {
  return openOutboxStore(tab.ids, null)
    .load(user)
    .then((entries) => entries.map((e) => e.text));
}

/** A page load in `tab`: a fresh store over the same device storage. */
function load(api = new FakeApi()): { api: FakeApi; store: AppStore; env: AppEnv } {
  const e: AppEnv = { ...env(), keptLogin: tab.keptLogin, outboxStore: openOutboxStore(tab.ids, null, () => `tab-${++tabs}`) };
  return { api, store: createAppStore(api, e), env: e };
}

/** Resolves when `condition` holds (polled between microtasks and IndexedDB's macrotasks). */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 0));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const SESSION: ClientSession = { clientId: 'before-reload-client-id', seq: 7, startIndex: 40 };

describe('outbox kept on the device', () => {
  it('a reload while the cluster cannot take the login back keeps the person signed in, read-only, with the queued messages', async () => {
    const first = load();
    await first.store.getState().login('alice', 'password1');
    first.api.setConn({ status: 'reconnecting' });
    first.store.getState().send('bob', 'one');
    first.store.getState().send('bob', 'two');
    // 'one' is handed to the library, which gives it its session; the store keeps it before it goes out.
    await until('one handed over', () => first.api.sends.length === 1);
    await first.api.sends[0].kept!.keepSession!(SESSION);
    first.store.getState().dispose();

    // The reload: the cluster has no majority, so the resume never answers.
    const api = new FakeApi();
    api.state = { ...api.state, readOnly: true };
    api.resumeLogin = () => new Promise(() => {});
    const second = load(api);
    void second.store.getState().restore();
    expect(second.store.getState().user).toBe('alice');
    expect(second.store.getState().resuming).toBe(true);
    await until('the kept outbox', () => second.store.getState().outbox.length === 2);
    expect(second.store.getState().outbox.map((e) => [e.text, e.state, e.session])).toEqual([
      ['one', 'queued', SESSION],
      ['two', 'queued', undefined],
    ]);
    await settled();
    // Nothing goes out on a login the cluster has not taken back.
    expect(api.sends).toEqual([]);
  });

  it('after the reload the kept messages go out once, in order, the first in the session it was given before', async () => {
    const first = load();
    await first.store.getState().login('alice', 'password1');
    first.store.getState().send('bob', 'one');
    first.store.getState().send('bob', 'two');
    await until('one handed over', () => first.api.sends.length === 1);
    await first.api.sends[0].kept!.keepSession!(SESSION);
    first.store.getState().dispose();

    const second = load();
    await second.store.getState().restore();
    await until('one sent again', () => second.api.sends.length === 1);
    expect(second.api.sends[0]).toMatchObject({ text: 'one', kept: { session: SESSION } });
    second.api.sends[0].d.resolve({ id: 10, sentAt: 1 });
    await until('two sent', () => second.api.sends.length === 2);
    expect(second.api.sends[1].text).toBe('two');
    expect(second.api.sends[1].kept?.session).toBeUndefined();
    second.api.sends[1].d.resolve({ id: 11, sentAt: 2 });
    await until('outbox empty', () => second.store.getState().outbox.length === 0);
    second.store.getState().dispose();

    // Sent ones are forgotten on the device.
    expect(await keptTexts('alice')).toEqual([]);
  });

  it('a failed entry says what the client library said; Retry resends it in its session unless that session expired', async () => {
    const { api, store } = load();
    await store.getState().login('alice', 'password1');
    store.getState().send('bob', 'one');
    await until('handed over', () => api.sends.length === 1);
    await api.sends[0].kept!.keepSession!(SESSION);
    const notConfirmed = 'not confirmed: send: the cluster did not confirm it within 10 min; it may or may not have been applied (gone)';
    api.sends[0].d.reject(new QuorumError('TIMEOUT', notConfirmed));
    await until('failed', () => store.getState().outbox[0]?.state === 'failed');
    const failed = store.getState().outbox[0];
    expect(failed.errorCode).toBe('TIMEOUT');
    expect(failed.error).toContain('Not confirmed: send: the cluster did not confirm it within 10 min');
    expect(failed.error).toContain('Check the conversation before sending it again');
    store.getState().retry(failed.localId);
    await until('resent', () => api.sends.length === 2);
    expect(api.sends[1].kept?.session).toEqual(SESSION);

    api.sends[1].d.reject(new QuorumError('SESSION_EXPIRED', 'expired'));
    await until('failed again', () => store.getState().outbox[0]?.state === 'failed');
    store.getState().retry(failed.localId);
    await until('sent as a new write', () => api.sends.length === 3);
    expect(api.sends[2].kept?.session).toBeUndefined();
  });

  it('logging out discards the kept outbox; a login that ended elsewhere keeps it for the next login', async () => {
    const first = load();
    await first.store.getState().login('alice', 'password1');
    first.api.setConn({ status: 'reconnecting' });
    first.store.getState().send('bob', 'kept for later');
    first.api.emit('sessionEnded', { reason: 'logged out elsewhere' });
    expect(first.store.getState().user).toBeNull();
    expect(first.store.getState().notice).toContain('1 unsent message is kept');
    first.store.getState().dispose();

    const second = load();
    second.api.setConn({ status: 'reconnecting' });
    await second.store.getState().login('alice', 'password1');
    await until('kept entry back', () => second.store.getState().outbox.length === 1);
    expect(second.store.getState().outbox[0].text).toBe('kept for later');
    await second.store.getState().logout();
    await until('discarded on the device', () => second.store.getState().user === null);
    expect(await keptTexts('alice')).toEqual([]);
  });
});
