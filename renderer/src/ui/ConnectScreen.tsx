import { useState, type FormEvent } from 'react';
import { isAddress, rememberServers } from '../servers.js';
import { Logo } from './icons.js';
import { FormError } from './FormParts.js';

/** Shown when no replica is known (desktop app with hosting off and nothing remembered). */
export function ConnectScreen() {
  const [address, setAddress] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const a = address.trim();
    if (!isAddress(a)) return setError('Enter an address like 192.168.1.20:7420.');
    rememberServers([a]);
    location.reload();
  };
  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="connect-title">
        <div className="auth-head">
          <Logo size={44} />
          <h1 id="connect-title">Connect to a cluster</h1>
          <p className="muted">This machine hosts no replica. Enter the address of any replica of your team’s cluster,.</p>
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
      </form>
    </main>
  );
}
