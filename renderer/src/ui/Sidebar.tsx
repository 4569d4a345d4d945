import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useApp } from './context.js';
import { sortedConversations } from '../store/threads.js';
import { Avatar } from './icons.js';
import { Dialog } from './Dialog.js';
import { readableError } from '../errors.js';
import { timeLabel, dayKey } from '../store/messages.js';
import { FormError } from './FormParts.js';
import { groupOf } from '../store/messages.js';
import { MessageSearchResults, NewGroupDialog, PersonAvatar, useTeamOn } from './Team.js';

function shortTime(ms: number): string {
  return dayKey(ms) === dayKey(Date.now()) ? timeLabel(ms) : new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

function ConversationList() {
  const conversations = useApp((s) => s.conversations);
  const active = useApp((s) => s.active);
  const view = useApp((s) => s.view);
  const me = useApp((s) => s.user);
  const open = useApp((s) => s.openConversation);
  const resuming = useApp((s) => s.resuming);
  const muted = useApp((s) => s.muted);
  const list = sortedConversations(conversations);
  if (list.length === 0 && resuming) return <p className="empty-side muted">Your conversations show once the cluster is reachable again.</p>;
  if (list.length === 0) return <p className="empty-side muted">No conversations yet. Search for an account above to start one.</p>;
  return (
    <ul className="conv-list" aria-label="Conversations">
      {list.map((c) => (
        // The button holds only the account's name, so its name is its visible text (WCAG 2.5.3) and message text
        // never leaks into button names; it covers the whole row (CSS ::after), and the preview is its description.
        <li key={c.with} className={`conv ${c.with === active && view === 'chat' ? 'active' : ''} ${muted[c.with] ? 'muted-conv' : ''}`}>
          {groupOf(c.with) !== null ? <Avatar name={c.with.slice(1)} /> : <PersonAvatar name={c.with} />}
          <span className="conv-body">
            <span className="conv-top">
              <button
                type="button"
                className="conv-name conv-open"
                aria-current={c.with === active ? 'true' : undefined}
                aria-describedby={`conv-desc-${c.with}`}
                onClick={() => open(c.with)}
              >
                {c.with}
              </button>
              {muted[c.with] && <span className="tag">muted</span>}
              <span className="conv-time">{c.lastMessage.sentAt ? shortTime(c.lastMessage.sentAt) : ''}</span>
            </span>
            <span className="conv-bottom" id={`conv-desc-${c.with}`}>
              <span className="conv-preview">
                {c.lastMessage.event === undefined && c.lastMessage.from !== '' && (c.lastMessage.from === me ? 'You: ' : groupOf(c.with) !== null ? `${c.lastMessage.from}: ` : '')}
                {c.lastMessage.text || (c.lastMessage.id === 0 ? 'No messages yet' : 'Message deleted')}
              </span>
              {c.unread > 0 && (
                <span className="badge">
                  {c.unread > 999 ? '999+' : c.unread}
                  <span className="visually-hidden"> unread</span>
                </span>
              )}
            </span>
          </span>
        </li>
      ))}
    </ul>
  );
}

function DirectoryResults() {
  const dir = useApp((s) => s.directory);
  const open = useApp((s) => s.openConversation);
  const more = useApp((s) => s.loadMoreAccounts);
  const me = useApp((s) => s.user);
  const sentinel = useRef<HTMLLIElement>(null);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !dir.nextPageToken) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void more(), { rootMargin: '200px' });
    io.observe(el);
    return () => io.disconnect();
  }, [dir.nextPageToken, dir.results.length, more]);
  return (
    <div className="directory">
      <p className="side-heading" id="dir-heading">
        Accounts
      </p>
      {dir.error && (
        <p className="error small" role="alert">
          {dir.error}
        </p>
      )}
      <ul className="dir-list" aria-labelledby="dir-heading">
        {dir.results.map((u) => (
          <li key={u} className="dir-item">
            <Avatar name={u} size={28} />
            <button type="button" className="dir-name" onClick={() => open(u)}>
              {u}
            </button>
            {u === me && <span className="muted small">you</span>}
          </li>
        ))}
        {dir.nextPageToken && <li ref={sentinel} className="muted small dir-more" aria-hidden="true">Loading more…</li>}
      </ul>
      {!dir.loading && !dir.error && dir.results.length === 0 && <p className="empty-side muted">No account matches “{dir.query}”.</p>}
      {dir.loading && dir.results.length === 0 && <p className="empty-side muted">Searching…</p>}
    </div>
  );
}

function DeleteAccountDialog({ open, onClose }: { open: boolean; onClose(): void }) {
  const deleteAccount = useApp((s) => s.deleteAccount);
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await deleteAccount(password);
    } catch (err) {
      setError(readableError(err));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Delete your account?" open={open} onClose={onClose}>
      <form onSubmit={submit}>
        <p>This deletes your account and logs you out everywhere. Your username becomes free for others. It cannot be undone.</p>
        <label className="field">
          <span>Password</span>
          <input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required autoFocus />
        </label>
        <FormError error={error} />
        <div className="row end">
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy || password.length === 0}>
            Delete my account
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function Sidebar() {
  const me = useApp((s) => s.user)!;
  const search = useApp((s) => s.search);
  const dirQuery = useApp((s) => s.directory.query);
  const logout = useApp((s) => s.logout);
  const [query, setQuery] = useState('');
  const [confirmDelete, setConfirmDelete] = useState(false);
  const teamOn = useTeamOn();
  const searchMessages = useApp((s) => s.searchMessages);
  const messageQuery = useApp((s) => s.messageSearch.query);
  const [textQuery, setTextQuery] = useState('');
  const [newGroup, setNewGroup] = useState(false);
  useEffect(() => {
    if (messageQuery === '' && textQuery !== '') setTextQuery('');
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [messageQuery]);
  useEffect(() => {
    const h = window.setTimeout(() => void searchMessages(textQuery), textQuery ? 200 : 0);
    return () => window.clearTimeout(h);
  }, [textQuery, searchMessages]);
  useEffect(() => {
    if (dirQuery === '' && query !== '') setQuery('');
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dirQuery]);
  useEffect(() => {
    const h = window.setTimeout(() => void search(query), query ? 150 : 0);
    return () => window.clearTimeout(h);
  }, [query, search]);
  return (
    <aside className="sidebar">
      <div className="search">
        <input
          type="search"
          aria-label="Search accounts"
          placeholder="Search accounts (al*, b?b)"
          value={query}
          maxLength={64}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => e.key === 'Escape' && setQuery('')}
        />
        {teamOn && (
          <div className="search-row">
            <input
              type="search"
              aria-label="Search messages"
              placeholder="Search messages"
              value={textQuery}
              maxLength={200}
              onChange={(e) => setTextQuery(e.target.value)}
              onKeyDown={(e) => e.key === 'Escape' && setTextQuery('')}
            />
            <button type="button" className="secondary new-group" onClick={() => setNewGroup(true)}>
              New group
            </button>
          </div>
        )}
      </div>
      <div className="side-scroll">{textQuery.trim() && teamOn ? <MessageSearchResults /> : query.trim() ? <DirectoryResults /> : <ConversationList />}</div>
      <div className="me">
        <div className="me-who">
          <Avatar name={me} size={30} />
          <span className="me-name" title={me}>
            {me}
          </span>
        </div>
        <div className="me-actions">
        <button type="button" className="ghost small" onClick={() => void logout()}>
          Log out
        </button>
        <button type="button" className="ghost small danger-text" onClick={() => setConfirmDelete(true)}>
          Delete account
        </button>
        </div>
      </div>
      <DeleteAccountDialog open={confirmDelete} onClose={() => setConfirmDelete(false)} />
      {teamOn && <NewGroupDialog open={newGroup} onClose={() => setNewGroup(false)} />}
    </aside>
  );
}
