/** Renderer entry: picks the servers, connects through the client library, and renders the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './ui/styles.css';
import { App } from './ui/App.js';
import { ConnectScreen } from './ui/ConnectScreen.js';
import { AppContext } from './ui/context.js';
import { createAppStore } from './store/store.js';
import type { AppEnv, KeptLogin, KeptLoginStore } from './store/store-deps.js';
import { openOutboxStore, type LocksLike } from './storage/outbox-db.js';
import { createWebNotifier, type NotificationApi } from './web-notifier.js';
import type { ChatApi } from './net/api.js';
import { connectToCluster } from './net/client.js';
import { call, desktop } from './desktop.js';
import { desktopKeptLogin } from './store/host.js';
import { initialServers, rememberServers } from './servers.js';

function attentive(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root')!);
  let api: ChatApi;
  if (import.meta.env.MODE === 'mock') {
    const { createMockApi } = await import('../dev/mock-client.js');
    api = createMockApi();
  } else {
    const servers = await initialServers();
    if (servers.length === 0) {
      root.render(<ConnectScreen />);
      return;
    }
    api = connectToCluster(servers);
  }
  api.on('members', (rows) => rememberServers(rows.map((r) => r.address)));

  const env: AppEnv = {
    now: () => Date.now(),
    isAttentive: attentive,
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number),
    keptLogin: desktop ? await desktopKeptLogin(keptLoginStore()) : keptLoginStore(),
    outboxStore: openOutboxStore(tabIdStore, (navigator as { locks?: LocksLike }).locks ?? null),
    onStorageError: (err) => {
      if (storageErrorSaid) return;
      storageErrorSaid = true;
      store.getState().toast(`Queued messages cannot be kept on this device (${err instanceof Error ? err.message : String(err)}): a reload or restart would lose them.`, 'error');
    },
    onUnreadTotal: (n) => {
      document.title = n > 0 ? `(${n}) Quorum` : 'Quorum';
      if (desktop) void call('unread:set', { count: n }).catch(() => {});
    },
    onIncoming: (m, conversation) => {
      if (attentive()) return;
      if (desktop) void call('notify:message', { conversation, from: m.from, text: m.text }).catch(() => {});
      else webNotifier.message(conversation, m.from, m.text);
    },
  };
  let storageErrorSaid = false;
  const webNotifier = createWebNotifier(desktop ? null : ((globalThis as { Notification?: NotificationApi }).Notification ?? null), (conversation) => {
    window.focus();
    store.getState().openConversation(conversation);
  });
  const store = createAppStore(api, env);
  void store.getState().restore();
  // A reload reopens the conversation that was open in this tab (with its queued messages, even before the cluster
  // takes the login back).
  const reopen = sessionValue(OPEN_CONVERSATION);
  if (store.getState().user && reopen) store.getState().openConversation(reopen);
  store.subscribe((s, prev) => {
    if (s.active !== prev.active || s.user !== prev.user) setSessionValue(OPEN_CONVERSATION, s.user ? s.active : null);
    if (s.active && s.active !== prev.active) webNotifier.seen(s.active);
    // Signed in by the person (a click): the moment a browser lets a page ask to show notifications.
    if (s.user && !prev.user && !s.resuming) webNotifier.askPermission();
  });
  // The mock build lets UI tests reach the store (e.g. to load 100,000 messages at once); never in production.
  if (import.meta.env.MODE === 'mock') (globalThis as { __store?: typeof store }).__store = store;
  const onAttention = () => {
    const s = store.getState();
    if (s.active && attentive()) s.markSeen(s.active);
  };
  window.addEventListener('focus', onAttention);
  document.addEventListener('visibilitychange', onAttention);
  desktop?.on('nav:conversation', (p) => store.getState().openConversation(p.with));
  // A page with unsent messages asks before it goes (they are kept on the device and go out on the next start, but
  // not while it is closed). In the desktop window a refused unload would just swallow the close, so only the web.
  if (!desktop) {
    window.addEventListener('beforeunload', (event) => {
      if (store.getState().outbox.length === 0) return;
      event.preventDefault();
      event.returnValue = '';
    });
  }
  window.addEventListener('pagehide', () => api.close());

  root.render(
    <StrictMode>
      <AppContext.Provider value={{ store, api, servedBy: desktop ? null : location.host }}>
        <App />
      </AppContext.Provider>
    </StrictMode>,
  );
}

/** The login kept across a reload: in the tab (sessionStorage), or on the device when the person asked to stay signed in. */
const KEPT_LOGIN = 'quorum.login';
/** This tab's id, surviving its reloads: whose kept outbox entries are whose (storage/outbox-db.ts). */
const TAB_ID = 'quorum.tab';

function keptLoginStore(): KeptLoginStore {
  const parse = (text: string | null): KeptLogin | null => {
    try {
      const v = JSON.parse(text ?? 'null') as Partial<KeptLogin> | null;
      return v && typeof v.token === 'string' && typeof v.user === 'string' ? { token: v.token, user: v.user } : null;
    } catch {
      return null;
    }
  };
  return {
    save: (login, staySignedIn) => {
      try {
        (staySignedIn ? localStorage : sessionStorage).setItem(KEPT_LOGIN, JSON.stringify(login));
      } catch {
        // storage unavailable: a reload logs out
      }
    },
    load: () => {
      try {
        return parse(sessionStorage.getItem(KEPT_LOGIN)) ?? parse(localStorage.getItem(KEPT_LOGIN));
      } catch {
        return null;
      }
    },
    clear: () => {
      try {
        sessionStorage.removeItem(KEPT_LOGIN);
        localStorage.removeItem(KEPT_LOGIN);
      } catch {
        // nothing kept
      }
    },
  };
}

/** The conversation open in this tab, reopened after a reload. */
const OPEN_CONVERSATION = 'quorum.open';

function sessionValue(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function setSessionValue(key: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // no session storage: a reload starts afresh (a new tab; its kept outbox entries are taken over as a closed tab's)
  }
}

const tabIdStore = { get: () => sessionValue(TAB_ID), set: (id: string) => setSessionValue(TAB_ID, id) };

void boot();
