import { useEffect } from 'react';
import { useApp, useAppContext } from './context.js';
import { TopBar } from './TopBar.js';
import { AuthScreen } from './AuthScreen.js';
import { Sidebar } from './Sidebar.js';
import { ConversationPane } from './Conversation.js';
import { ClusterView } from './ClusterView.js';
import { SettingsView } from './SettingsView.js';
import { Toasts } from './Toasts.js';

/** Keeps the replica status fresh: every 5 s for the connection bar, every second with the cluster view open. */
function useStatusPolling(): void {
  const { store } = useAppContext();
  const view = useApp((s) => s.view);
  const status = useApp((s) => s.conn.status);
  const leader = useApp((s) => s.conn.leader?.id);
  useEffect(() => {
    if (status !== 'connected') return;
    const cluster = view === 'cluster';
    const tick = () => void store.getState().refreshStatus(cluster);
    tick();
    const h = window.setInterval(tick, cluster ? 1000 : 5000);
    return () => window.clearInterval(h);
  }, [store, view, status, leader]);
}

export function App() {
  const user = useApp((s) => s.user);
  const view = useApp((s) => s.view);
  const active = useApp((s) => s.active);
  useStatusPolling();
  const side = view === 'cluster' ? <ClusterView /> : view === 'settings' ? <SettingsView /> : null;
  return (
    <div className="app">
      <TopBar />
      {user ? (
        // The narrow layout shows one column: the list, or the pane (an open conversation, or a full view).
        <div className="workspace" data-focus={side || active ? 'pane' : 'list'}>
          {!side && <h1 className="visually-hidden">Quorum chat</h1>}
          <Sidebar />
          <main className="pane">{side ?? <ConversationPane />}</main>
        </div>
      ) : side ? (
        <main className="pane solo">{side}</main>
      ) : (
        <AuthScreen />
      )}
      <Toasts />
    </div>
  );
}
