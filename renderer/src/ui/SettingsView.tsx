import { useEffect, useState, type FormEvent } from 'react';
import { useApp, useAppContext } from './context.js';
import { call, desktop } from '../desktop.js';
import type { HostStatus } from '../../../main/ipc-contract.js';
import { readableError } from '../errors.js';
import { ViewHeader } from './FormParts.js';

function useHostStatus(): [HostStatus | null, (s: HostStatus) => void] {
  const [status, setStatus] = useState<HostStatus | null>(null);
  useEffect(() => {
    if (!desktop) return;
    let live = true;
    void call('replica:getStatus').then((s) => live && setStatus(s), () => {});
    const off = desktop.on('replica:status', (s) => setStatus(s));
    return () => {
      live = false;
      off();
    };
  }, []);
  return [status, setStatus];
}

function describeHost(s: HostStatus, now: number): string {
  switch (s.state) {
    case 'disabled':
      return 'Not hosting a replica.';
    case 'starting':
      return 'Starting…';
    case 'running':
      return `Running as ${s.replicaId ?? '?'} at ${s.address ?? '?'}${s.role ? ` · ${s.role}` : ''}${s.term !== null ? `, term ${s.term}` : ''}.`;
    case 'crashed': {
      const left = s.restartInMs === null ? null : Math.max(0, Math.ceil((s.at + s.restartInMs - now) / 1000));
      return `Crashed${s.lastError ? `: ${s.lastError}` : ''}. Restarting${left !== null ? ` in ${left} s` : ''} (attempt ${s.restarts}).`;
    }
    case 'stopping':
      return 'Stopping…';
    case 'stopped':
      return 'Stopped.';
  }
}

function DesktopHosting() {
  const toast = useApp((s) => s.toast);
  const [status, setStatus] = useHostStatus();
  const [enabled, setEnabled] = useState(true);
  const [dataDir, setDataDir] = useState('');
  const [port, setPort] = useState('7420');
  const [invite, setInvite] = useState('');
  const [busy, setBusy] = useState(false);
  const [, setTick] = useState(0);
  useEffect(() => {
    if (!status) return;
    setEnabled(status.config.enabled);
    setDataDir(status.config.dataDir);
    setPort(String(status.config.port));
    // only when the saved config changes
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [status?.config.enabled, status?.config.dataDir, status?.config.port]);
  useEffect(() => {
    if (status?.state !== 'crashed') return;
    const h = window.setInterval(() => setTick((t) => t + 1), 1000);
    return () => window.clearInterval(h);
  }, [status?.state]);

  const run = async (f: () => Promise<HostStatus | void>, done?: string) => {
    setBusy(true);
    try {
      const s = await f();
      if (s) setStatus(s);
      if (done) toast(done);
    } catch (err) {
      toast(readableError(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const apply = (e: FormEvent) => {
    e.preventDefault();
    const p = Number(port);
    if (!Number.isInteger(p) || p < 0 || p > 65535) return toast('The port is a number from 0 to 65535.', 'error');
    void run(() => call('replica:setConfig', { enabled, dataDir, port: p }), 'Settings saved. The replica restarted with them.');
  };

  if (!status) return <p className="muted">Asking the desktop app…</p>;
  return (
    <>
      <section className="settings-section" aria-labelledby="host-title">
        <h3 id="host-title">This machine’s replica</h3>
        <p className={`host-state hs-${status.state}`} role="status">
          {describeHost(status, Date.now())}
        </p>
        <form onSubmit={apply} className="stack">
          <label className="check">
            <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
            <span>Host a replica on this machine</span>
          </label>
          <div className="row">
            <label className="field grow">
              <span>Data folder</span>
              <input value={dataDir} onChange={(e) => setDataDir(e.target.value)} spellCheck={false} />
            </label>
            <button
              type="button"
              className="secondary"
              onClick={() =>
                void run(async () => {
                  const d = await call('replica:chooseDataDir');
                  if (d) setDataDir(d);
                })
              }
            >
              Choose…
            </button>
          </div>
          <label className="field narrow">
            <span>Port</span>
            <input inputMode="numeric" value={port} onChange={(e) => setPort(e.target.value)} />
          </label>
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              Save and restart replica
            </button>
          </div>
        </form>
      </section>
      <section className="settings-section" aria-labelledby="membership-title">
        <h3 id="membership-title">Membership</h3>
        <p className="muted">Invite a teammate’s machine with this cluster’s invite code, or make this machine join another cluster.</p>
        <div className="row">
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                const { inviteCode } = await call('replica:inviteCode');
                await call('clipboard:writeText', { text: inviteCode });
              }, 'Invite code copied.')
            }
          >
            Copy invite code
          </button>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => {
              if (window.confirm('Start a new one-member cluster on this machine? It will not be connected to any other replica.'))
                void run(() => call('replica:createCluster'), 'Started a new cluster.');
            }}
          >
            Create new cluster
          </button>
        </div>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => call('replica:joinCluster', { inviteCode: invite.trim() }), 'Joining…');
          }}
        >
          <label className="field grow">
            <span>Invite code to join</span>
            <input value={invite} onChange={(e) => setInvite(e.target.value)} spellCheck={false} placeholder="quorum1-…" />
          </label>
          <button type="submit" className="primary" disabled={busy || invite.trim().length < 16}>
            Join
          </button>
        </form>
      </section>
    </>
  );
}

export function SettingsView() {
  const { api, servedBy } = useAppContext();
  return (
    <section className="settings-view" aria-labelledby="settings-title">
      <ViewHeader id="settings-title" title="Settings" />
      {desktop ? (
        <DesktopHosting />
      ) : (
        <section className="settings-section" aria-labelledby="web-title">
          <h3 id="web-title">Web client</h3>
          <p>
            This page was served by the replica at <span className="mono">{servedBy}</span>. If it fails, the client moves on to another replica it knows.
          </p>
          <p className="muted small">Known replicas: {api.servers().join(', ') || '—'}</p>
          <p className="muted">Hosting a replica, creating a cluster and joining one are done in the Quorum desktop app or with the `replica` command.</p>
        </section>
      )}
      <section className="settings-section" aria-labelledby="look-title">
        <h3 id="look-title">Appearance</h3>
        <p className="muted">Quorum follows your system’s light or dark theme.</p>
      </section>
    </section>
  );
}
