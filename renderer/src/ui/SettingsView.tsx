import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useApp, useAppContext } from './context.js';
import { call, desktop } from '../desktop.js';
import type { HostStatus, TeamChangePlan } from '../../../main/ipc-contract.js';
import { ViewHeader } from './FormParts.js';
import { describeHost, describePlan, describeTeam, hostError, useHostStatus } from '../store/host.js';
import { TeamsNearby } from './ConnectScreen.js';
import { rememberServers } from '../servers.js';

function DesktopHosting() {
  const toast = useApp((s) => s.toast);
  const [status, setStatus] = useHostStatus();
  const [enabled, setEnabled] = useState(true);
  const [dataDir, setDataDir] = useState('');
  const [port, setPort] = useState('7420');
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
      toast(hostError(err), 'error');
    } finally {
      setBusy(false);
    }
  };
  const apply = (e: FormEvent) => {
    e.preventDefault();
    const p = Number(port);
    if (!Number.isInteger(p) || p < 0 || p > 65535) return toast('The port is a number from 0 to 65535.', 'error');
    void run(() => call('replica:setConfig', { ...status!.config, enabled, dataDir, port: p }), 'Settings saved. The replica restarted with them.');
  };

  if (!status) return <p className="muted">Asking the desktop app…</p>;
  return (
    <>
      <section className="settings-section" aria-labelledby="host-title">
        <h3 id="host-title">This machine’s replica</h3>
        <p className={`host-state hs-${status.state}`} role="status">
          {describeHost(status, Date.now())}
        </p>
        {(status.state === 'diskFull' || status.state === 'folderInUse' || status.state === 'damaged' || status.state === 'crashed') && (
          <div className="row">
            <button type="button" className="secondary" disabled={busy} onClick={() => void run(() => call('replica:retry'))}>
              Start it now
            </button>
          </div>
        )}
        {status.disk && <p className={`muted small ${status.disk.lowSpace ? 'warning' : ''}`}>Free space on its disk: {Math.round(status.disk.freeBytes / 2 ** 20)} MB of {Math.round(status.disk.totalBytes / 2 ** 20)} MB{status.disk.lowSpace ? ' (low: free some space before the disk fills)' : ''}.</p>}
        <p className="muted small">Secrets: {status.secrets.detail}.</p>
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
      <TeamSection status={status} busy={busy} run={run} />
      <LaunchAtLogin />
    </>
  );
}

/** "Open Quorum when I log in": the OS's login item (an autostart entry on Linux), set by main. */
function LaunchAtLogin() {
  const toast = useApp((s) => s.toast);
  const [on, setOn] = useState<boolean | null>(null);
  useEffect(() => {
    void call('app:info').then(
      (info) => setOn(info.launchAtLogin),
      () => setOn(null),
    );
  }, []);
  if (on === null) return null;
  const change = (enabled: boolean) =>
    void call('app:setLaunchAtLogin', { enabled }).then(
      (info) => setOn(info.launchAtLogin),
      (err: unknown) => toast(hostError(err), 'error'),
    );
  return (
    <section className="settings-section" aria-labelledby="login-title">
      <h3 id="login-title">Starting Quorum</h3>
      <label className="check">
        <input type="checkbox" checked={on} onChange={(e) => change(e.target.checked)} />
        <span>Open Quorum when I log in (this machine’s replica then serves the team from the start)</span>
      </label>
    </section>
  );
}

/** This machine's team: invite someone, join a team from an invite (after saying what happens to this machine's data), or start a new team. */
function TeamSection({ status, busy, run }: { status: HostStatus; busy: boolean; run: (f: () => Promise<HostStatus | void>, done?: string) => Promise<void> }) {
  const toast = useApp((s) => s.toast);
  const [invite, setInvite] = useState('');
  const [plan, setPlan] = useState<{ plan: TeamChangePlan; inviteCode: string | null } | null>(null);
  const [checking, setChecking] = useState(false);
  const planRef = useRef<HTMLDivElement>(null);
  const joining = status.team.phase === 'joining';
  // The question appears below the form, often below the window's fold: take the person (and the keyboard focus) to it.
  useEffect(() => {
    planRef.current?.focus();
  }, [plan]);

  const check = async (make: () => Promise<TeamChangePlan>, inviteCode: string | null) => {
    setChecking(true);
    try {
      setPlan({ plan: await make(), inviteCode });
    } catch (err) {
      toast(hostError(err), 'error');
    } finally {
      setChecking(false);
    }
  };
  const confirm = () => {
    if (!plan) return;
    const { inviteCode } = plan;
    setPlan(null);
    // The window starts over with the new team: its replicas only (the old team's are forgotten), logged out.
    const restart = () => {
      rememberServers([]);
      location.reload();
    };
    if (inviteCode !== null) {
      setInvite('');
      void run(async () => {
        await call('team:join', { inviteCode });
        restart();
      });
    } else {
      void run(async () => {
        await call('team:create');
        restart();
      });
    }
  };

  return (
    <section className="settings-section" aria-labelledby="team-title">
      <h3 id="team-title">Team</h3>
      <p role="status">{describeTeam(status)}</p>
      {status.team.joinError && <p className="error">{status.team.joinError}</p>}
      {status.team.backupDir && <p className="muted small">This machine’s earlier data is in {status.team.backupDir}.</p>}
      <div className="row">
        <button
          type="button"
          className="secondary"
          disabled={busy || joining || status.state !== 'running'}
          onClick={() =>
            void run(async () => {
              await call('team:copyInvite');
            }, 'Invite code copied. Send it to your teammate privately: it lets a machine join this team.')
          }
        >
          Copy invite code
        </button>
        <button type="button" className="secondary" disabled={busy || checking} onClick={() => void check(() => call('team:planCreate'), null)}>
          Create new team…
        </button>
      </div>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          const code = invite.trim();
          void check(() => call('team:planJoin', { inviteCode: code }), code);
        }}
      >
        <label className="field grow">
          <span>Invite code to join a team</span>
          <input value={invite} onChange={(e) => setInvite(e.target.value)} spellCheck={false} placeholder="quorum1.…" disabled={joining} />
        </label>
        <button type="submit" className="primary" disabled={busy || checking || joining || invite.trim().length < 16}>
          {checking && plan === null ? 'Checking…' : 'Check invite'}
        </button>
      </form>
      {plan && (
        <div className="card plan" role="alertdialog" aria-labelledby="plan-title" tabIndex={-1} ref={planRef}>
          <h4 id="plan-title">{plan.plan.kind === 'join' ? 'Join this team?' : 'Start a new team?'}</h4>
          {describePlan(plan.plan).map((line) => (
            <p key={line}>{line}</p>
          ))}
          <div className="row">
            <button type="button" className="primary" disabled={busy} onClick={confirm}>
              {plan.plan.kind === 'join' ? 'Join' : 'Create'}
            </button>
            <button type="button" className="secondary" onClick={() => setPlan(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      <TeamsNearby />
    </section>
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
