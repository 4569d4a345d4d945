import { useApp } from './context.js';
import { connectionLabel, clusterHealth, surviveText } from '../store/health.js';
import { Logo } from './icons.js';

export function ConnectionBar() {
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
