/**
 * The team features' pieces (issue 14): the New group dialog, a group's members dialog (add, remove, rename, leave),
 * message search results, presence dots, and message text with @mentions and search matches marked.
 */
import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { useApp, useAppContext } from './context.js';
import { Dialog } from './Dialog.js';
import { FormError } from './FormParts.js';
import { Avatar } from './icons.js';
import { TEAM_VERSION, type ChatMessage, type PresenceEntry, type SearchHit } from '../net/api.js';
import type { GroupFormErrors } from '../store/groups.js';
import { conversationOf, dayKey, groupOf, timeLabel } from '../store/messages.js';
import { markedPieces } from '../store/search.js';
import { presenceText } from '../store/presence.js';

/** True when the cluster runs groups, edits and search (cluster version 3) and the connection offers them. */
export function useTeamOn(): boolean {
  const { api } = useAppContext();
  const version = useApp((s) => s.conn.clusterVersion ?? 0);
  return api.team !== null && version >= TEAM_VERSION;
}

/** A small dot on an avatar: green when online (decorative; the header says it in words). */
export function PresenceDot({ p }: { p: PresenceEntry | undefined }) {
  if (!p) return null;
  return <span className={`presence-dot ${p.online ? 'on' : 'off'}`} aria-hidden="true" />;
}

/** An avatar with its presence dot. */
export function PersonAvatar({ name, size }: { name: string; size?: number }) {
  const p = useApp((s) => s.presence[name]);
  return (
    <span className="avatar-wrap">
      <Avatar name={name} size={size} />
      <PresenceDot p={p} />
    </span>
  );
}

/** A message's text with @mentions of members highlighted (stronger when it names me). */
export function RichText({ m, me }: { m: ChatMessage; me: string }) {
  const named = new Set((m.mentions ?? []).map((x) => x.toLowerCase()));
  if (named.size === 0) return <>{m.text}</>;
  const parts: ReactNode[] = [];
  const re = /@([A-Za-z0-9_.-]+)/g;
  let at = 0;
  for (let found = re.exec(m.text); found; found = re.exec(m.text)) {
    const who = found[1].toLowerCase();
    if (!named.has(who)) continue;
    if (found.index > at) parts.push(m.text.slice(at, found.index));
    parts.push(
      <mark key={found.index} className={`mention ${who === me.toLowerCase() ? 'me' : ''}`}>
        {found[0]}
      </mark>,
    );
    at = found.index + found[0].length;
  }
  if (at < m.text.length) parts.push(m.text.slice(at));
  return <>{parts}</>;
}

function Field({ label, error, hint, children }: { label: string; error?: string; hint?: string; children: (ids: { id: string; describedBy?: string }) => ReactNode }) {
  const id = useId();
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  const describedBy = [hint ? hintId : '', error ? errId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, describedBy })}
      {hint && (
        <span id={hintId} className="muted small field-hint">
          {hint}
        </span>
      )}
      {error && (
        <span id={errId} className="error small field-error">
          {error}
        </span>
      )}
    </div>
  );
}

export function NewGroupDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const createGroup = useApp((s) => s.createGroup);
  const [name, setName] = useState('');
  const [members, setMembers] = useState('');
  const [errors, setErrors] = useState<GroupFormErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!open) {
      setName('');
      setMembers('');
      setErrors({});
      setBusy(false);
    }
  }, [open]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    const result = await createGroup(name, members);
    setBusy(false);
    if (result === null) onClose();
    else setErrors(result);
  };
  return (
    <Dialog title="New group" open={open} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <Field label="Group name" error={errors.name} hint="Letters, digits, “_”, “.” and “-”; shown as #name.">
          {({ id, describedBy }) => (
            <input id={id} value={name} onChange={(e) => setName(e.target.value)} aria-invalid={errors.name ? true : undefined} aria-describedby={describedBy} autoFocus maxLength={40} />
          )}
        </Field>
        <Field label="Members" error={errors.members} hint="Usernames, separated by commas or spaces. You are added too.">
          {({ id, describedBy }) => (
            <input id={id} value={members} onChange={(e) => setMembers(e.target.value)} aria-invalid={errors.members ? true : undefined} aria-describedby={describedBy} placeholder="bob, carol" />
          )}
        </Field>
        <FormError error={errors.form ?? (errors.name || errors.members ? 'Check the fields marked above.' : null)} />
        <div className="row end">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Create group
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** A group's members (with presence), and for its admins: add, remove, rename; for everyone: leave. */
export function GroupDialog({ group, open, onClose }: { group: string; open: boolean; onClose(): void }) {
  const g = useApp((s) => s.groups[group]);
  const me = useApp((s) => s.user)!;
  const presence = useApp((s) => s.presence);
  const addMembers = useApp((s) => s.addMembers);
  const removeMember = useApp((s) => s.removeMember);
  const leaveGroup = useApp((s) => s.leaveGroup);
  const renameGroup = useApp((s) => s.renameGroup);
  const [adding, setAdding] = useState('');
  const [newName, setNewName] = useState(group);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setNewName(group);
    setError(null);
    setAdding('');
  }, [group, open]);
  if (!g) return null;
  const admin = g.admins.some((a) => a.toLowerCase() === me.toLowerCase());
  const act = async (action: () => Promise<string | null>, after?: () => void) => {
    setBusy(true);
    setError(null);
    const problem = await action();
    setBusy(false);
    if (problem) setError(problem);
    else after?.();
  };
  return (
    <Dialog title={`#${g.name}`} open={open} onClose={onClose}>
      <p className="muted small">
        {g.members.length} {g.members.length === 1 ? 'member' : 'members'}
        {admin ? ' · you are an admin' : ''}
      </p>
      <ul className="member-list" aria-label="Members">
        {g.members.map((m) => (
          <li key={m} className="member">
            <PersonAvatar name={m} size={26} />
            <span className="member-name">
              {m}
              {m.toLowerCase() === me.toLowerCase() ? ' (you)' : ''}
            </span>
            {g.admins.includes(m) && <span className="tag">admin</span>}
            <span className="muted small">{m.toLowerCase() === me.toLowerCase() ? '' : presenceText(presence[m], Date.now())}</span>
            {admin && m.toLowerCase() !== me.toLowerCase() && (
              <button type="button" className="ghost small danger-text" disabled={busy} onClick={() => void act(() => removeMember(g.name, m))}>
                Remove<span className="visually-hidden"> {m}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      {admin && (
        <>
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act(() => addMembers(g.name, adding), () => setAdding(''));
            }}
          >
            <label className="field grow">
              <span>Add members</span>
              <input value={adding} onChange={(e) => setAdding(e.target.value)} placeholder="dan, erin" />
            </label>
            <button type="submit" className="secondary" disabled={busy || adding.trim() === ''}>
              Add
            </button>
          </form>
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void act(() => renameGroup(g.name, newName));
            }}
          >
            <label className="field grow">
              <span>Group name</span>
              <input value={newName} onChange={(e) => setNewName(e.target.value)} maxLength={40} />
            </label>
            <button type="submit" className="secondary" disabled={busy || newName.replace(/^#/, '') === g.name}>
              Rename
            </button>
          </form>
        </>
      )}
      <FormError error={error} />
      <div className="row end">
        <button type="button" className="danger-outline" disabled={busy} onClick={() => void act(() => leaveGroup(g.name), onClose)}>
          Leave group
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

function shortWhen(ms: number): string {
  return dayKey(ms) === dayKey(Date.now()) ? timeLabel(ms) : new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** Search results, best first: where each is (#group or the person), who wrote it, the matched words marked. */
export function MessageSearchResults() {
  const search = useApp((s) => s.messageSearch);
  const me = useApp((s) => s.user)!;
  const open = useApp((s) => s.openSearchResult);
  const focus = useApp((s) => s.focus);
  const place = (hit: SearchHit) => {
    const key = conversationOf(hit, me);
    return groupOf(key) !== null ? key : hit.from === me ? `You to ${key}` : key;
  };
  return (
    <div className="search-results">
      <p className="side-heading" id="search-heading">
        Messages
      </p>
      {search.error && (
        <p className="error small" role="alert">
          {search.error}
        </p>
      )}
      <ul className="result-list" aria-label="Search results">
        {search.results.map((hit) => (
          <li key={hit.id} className={`result ${focus?.id === hit.id ? 'active' : ''}`}>
            <button type="button" className="result-open" aria-describedby={`hit-${hit.id}`} onClick={() => void open(hit)}>
              {place(hit)}
            </button>
            <span className="result-time muted small">{shortWhen(hit.sentAt)}</span>
            <span className="result-text" id={`hit-${hit.id}`}>
              {groupOf(conversationOf(hit, me)) !== null && <span className="result-from">{hit.from === me ? 'You' : hit.from}: </span>}
              {markedPieces(hit.text, hit.matches).map((p, i) => (p.marked ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
            </span>
          </li>
        ))}
      </ul>
      {!search.loading && !search.error && search.results.length === 0 && <p className="empty-side muted">No message matches “{search.query}”.</p>}
      {search.loading && search.results.length === 0 && <p className="empty-side muted">Searching…</p>}
    </div>
  );
}
