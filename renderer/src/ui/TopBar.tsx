import { useEffect, useState } from 'react';
import { useApp } from './context.js';
import { hostTrouble, useHostStatus } from '../store/host.js';
import { connectionLabel, clusterHealth, surviveText } from '../store/health.js';
import { Logo } from './icons.js';

/** Desktop only: the state of the replica this machine hosts, when it needs saying (crashed, disk full, space low). */
function useLocalReplicaTrouble(): { text: string; tone: 'warn' | 'error' } | null {
  const [host] = useHostStatus();
  const [, tick] = useState(0);
  useEffect(() => {
    if (host?.state !== 'crashed') return;
    const h = window.setInterval(() => tick((n) => n + 1), 1000);
    return () => window.clearInterval(h);
  }, [host?.state]);
  return hostTrouble(host, Date.now());
}

export function ConnectionBar() {
  const trouble = useLocalReplicaTrouble();
  const conn = useApp((s) => s.conn);
  const status = useApp((s) => s.status);
  const queued = useApp((s) => s.outbox.filter((e) => e.state === 'queued').length);
  const { text, tone } = connectionLabel(conn);
  const survive = conn.status === 'connected' && !conn.readOnly ? surviveText(clusterHealth(status)) : null;
  return (
    <div className={`connection tone-${tone}`} role="status" aria-live="polite">
      <span className="dot" aria-hidden="true" />
      <span className="connection-text">{text}</span>
      {survive && <span className="connection-detail">· {survive}</span>}
      {trouble && <span className={`connection-detail trouble-${trouble.tone}`}>· {trouble.text}</span>}
      {queued > 0 && (
        <span className="connection-detail">
          · {queued} queued {queued === 1 ? 'message' : 'messages'}
        </span>
      )}
    </div>
  );
}

export function TopBar() {
  const view = useApp((s) => s.view);
  const setView = useApp((s) => s.setView);
  return (
    <header className="topbar">
      <div className="brand">
        <Logo />
        <span>Quorum</span>
      </div>
      <ConnectionBar />
      <nav className="topnav" aria-label="Views">
        <button type="button" className={`ghost ${view === 'cluster' ? 'on' : ''}`} aria-pressed={view === 'cluster'} onClick={() => setView(view === 'cluster' ? 'chat' : 'cluster')}>
          Cluster
        </button>
        <button type="button" className={`ghost ${view === 'settings' ? 'on' : ''}`} aria-pressed={view === 'settings'} onClick={() => setView(view === 'settings' ? 'chat' : 'settings')}>
          Settings
        </button>
      </nav>
    </header>
  );
}
