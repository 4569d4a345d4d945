/** Renderer entry: picks the servers, connects through the client library, and renders the app. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import './ui/styles.css';
import { App } from './ui/App.js';
import { ConnectScreen } from './ui/ConnectScreen.js';
import { AppContext } from './ui/context.js';
import { createAppStore } from './store/store.js';
import type { AppEnv } from './store/store-deps.js';
import type { ChatApi } from './net/api.js';
import { connectToCluster } from './net/client.js';
import { call, desktop } from './desktop.js';
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
    keptLogin: {
      save: (token) => {
        try {
          sessionStorage.setItem(KEPT_LOGIN, token);
        } catch {
          // storage unavailable: a reload logs out
        }
      },
      load: () => {
        try {
          return sessionStorage.getItem(KEPT_LOGIN);
        } catch {
          return null;
        }
      },
      clear: () => {
        try {
          sessionStorage.removeItem(KEPT_LOGIN);
        } catch {
          // nothing kept
        }
      },
    },
    onUnreadTotal: (n) => {
      document.title = n > 0 ? `(${n}) Quorum` : 'Quorum';
      if (desktop) void call('unread:set', { count: n }).catch(() => {});
    },
    onIncoming: (m, conversation) => {
      if (desktop && !attentive()) void call('notify:message', { conversation, from: m.from, text: m.text }).catch(() => {});
    },
  };
  const store = createAppStore(api, env);
  void store.getState().restore();
  // The mock build lets UI tests reach the store (e.g. to load 100,000 messages at once); never in production.
  if (import.meta.env.MODE === 'mock') (globalThis as { __store?: typeof store }).__store = store;
  const onAttention = () => {
    const s = store.getState();
    if (s.active && attentive()) s.markSeen(s.active);
  };
  window.addEventListener('focus', onAttention);
  document.addEventListener('visibilitychange', onAttention);
  desktop?.on('nav:conversation', (p) => store.getState().openConversation(p.with));
  window.addEventListener('beforeunload', () => api.close());

  root.render(
    <StrictMode>
      <AppContext.Provider value={{ store, api, servedBy: desktop ? null : location.host }}>
        <App />
      </AppContext.Provider>
    </StrictMode>,
  );
}

/** This tab's login token, so a reload does not log out (sessionStorage: gone with the tab). */
const KEPT_LOGIN = 'quorum.login';

void boot();
