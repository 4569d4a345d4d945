import { useEffect, useState, type FormEvent } from 'react';
import { isAddress, rememberServers } from '../servers.js';
import { call, desktop } from '../desktop.js';
import type { DiscoveredTeam } from '../../../main/ipc-contract.js';
import { hostError } from '../store/host.js';
import { Logo } from './icons.js';
import { FormError } from './FormParts.js';

/**
 * Desktop only: the teams announcing themselves on this network (main listens for mDNS; the page never does), with
 * their machines. `onPick` makes each machine's address a button (the Connect screen); without it the list only
 * says who is there (joining still takes an invite code from a member).
 */
export function TeamsNearby({ onPick }: { onPick?: (address: string) => void }) {
  const [teams, setTeams] = useState<DiscoveredTeam[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [looking, setLooking] = useState(false);
  const look = async () => {
    setLooking(true);
    setError(null);
    try {
      setTeams((await call('team:discover', { timeoutSeconds: 3 })).teams);
    } catch (err) {
      setError(hostError(err));
    } finally {
      setLooking(false);
    }
  };
  useEffect(() => {
    if (desktop) void look();
  }, []);
  if (!desktop) return null;
  return (
    <section className="teams-nearby" aria-labelledby="nearby-title">
      <h4 id="nearby-title">Teams on this network</h4>
      {teams === null ? (
        <p className="muted small">{looking ? 'Looking…' : ''}</p>
      ) : teams.length === 0 ? (
        <p className="muted small">No team announces itself on this network (a team appears here once one of its machines has invited someone).</p>
      ) : (
        <ul className="teams">
          {teams.map((t) => (
            <li key={t.clusterId}>
              <span className="mono">team {t.clusterId}</span>:{' '}
              {t.replicas.map((r, i) => (
                <span key={r.id}>
                  {i > 0 && ', '}
                  {onPick ? (
                    <button type="button" className="link" onClick={() => onPick(r.address)}>
                      {r.id} ({r.address})
                    </button>
                  ) : (
                    `${r.id} (${r.address})`
                  )}
                </span>
              ))}
            </li>
          ))}
        </ul>
      )}
      {!onPick && teams !== null && teams.length > 0 && <p className="muted small">To join one, ask one of its members for an invite code (Settings → Team → Copy invite code).</p>}
      <FormError error={error} />
      <button type="button" className="secondary small" disabled={looking} onClick={() => void look()}>
        {looking ? 'Looking…' : 'Look again'}
      </button>
    </section>
  );
}

/** Shown when no replica is known (desktop app with hosting off and nothing remembered). */
export function ConnectScreen() {
  const [address, setAddress] = useState('');
  const [error, setError] = useState<string | null>(null);
  const connect = (a: string) => {
    if (!isAddress(a)) return setError('Enter an address like 192.168.1.20:7420.');
    rememberServers([a]);
    location.reload();
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    connect(address.trim());
  };
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="connect-title">
        <div className="auth-head">
          <Logo size={44} />
          <h1 id="connect-title">Connect to a cluster</h1>
          <p className="muted">This machine hosts no replica. Enter the address of any replica of your team’s cluster, or pick one found on this network.</p>
        </div>
        <label className="field">
          <span>Replica address</span>
          <input value={address} onChange={(e) => setAddress(e.target.value)} placeholder="192.168.1.20:7420" autoFocus />
        </label>
        <FormError error={error} />
        <div className="row auth-actions">
          <button type="submit" className="primary">
            Connect
          </button>
        </div>
        <TeamsNearby onPick={connect} />
      </form>
    </main>
  );
}
