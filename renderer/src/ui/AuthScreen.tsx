import { useState, type FormEvent } from 'react';
import { useApp } from './context.js';
import { Logo } from './icons.js';
import { FormError } from './FormParts.js';

export function AuthScreen() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [staySignedIn, setStaySignedIn] = useState(false);
  const busy = useApp((s) => s.authBusy);
  const error = useApp((s) => s.authError);
  const notice = useApp((s) => s.notice);
  const login = useApp((s) => s.login);
  const signup = useApp((s) => s.signup);

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const which = ((e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null)?.value;
    if (which === 'signup') void signup(username.trim(), password, staySignedIn);
    else void login(username.trim(), password, staySignedIn);
  };

  return (
    <main className="auth">
      <form className="card auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <div className="auth-head">
          <Logo size={44} />
          <h1 id="auth-title">Welcome to Quorum</h1>
          <p className="muted">Team chat kept by a cluster of your own machines. Messages survive any minority of them failing.</p>
        </div>
        {notice && <p className="notice">{notice}</p>}
        <label className="field">
          <span>Username</span>
          <input name="username" autoComplete="username" autoCapitalize="off" spellCheck={false} maxLength={32} value={username} onChange={(e) => setUsername(e.target.value)} autoFocus required />
        </label>
        <label className="field">
          <span>Password</span>
          <input name="password" type="password" autoComplete="current-password" maxLength={256} value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        <label className="check">
          <input type="checkbox" checked={staySignedIn} onChange={(e) => setStaySignedIn(e.target.checked)} />
          <span>Keep me signed in on this device</span>
        </label>
        <FormError error={error} />
        <div className="row auth-actions">
          <button type="submit" className="primary" value="login" disabled={busy}>
            Log in
          </button>
          <button type="submit" className="secondary" value="signup" disabled={busy}>
            Sign up
          </button>
        </div>
        <p className="muted small">New here? Choose a username and a password of at least 8 characters, then Sign up.</p>
      </form>
    </main>
  );
}
