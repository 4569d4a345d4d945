import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useApp } from './context.js';
import type { ChatMessage } from '../net/api.js';
import type { OutboxEntry } from '../store/outbox.js';
import type { Thread } from '../store/threads.js';
import { dayKey, dayLabel, groupOf, messageState, timeLabel } from '../store/messages.js';
import { Avatar, StateIcon } from './icons.js';
import { GroupDialog, PersonAvatar, RichText, useTeamOn } from './Team.js';
import { presenceText, typingText } from '../store/presence.js';
import { Dialog } from './Dialog.js';
import { LIMITS } from '../../../replica/protocol/limits.js';
import { outcomeUnknown } from '../errors.js';

type Row =
  | { kind: 'top'; key: string }
  | { kind: 'day'; key: string; label: string }
  | { kind: 'msg'; key: string; m: ChatMessage; mine: boolean; first: boolean }
  | { kind: 'event'; key: string; m: ChatMessage }
  | { kind: 'pending'; key: string; e: OutboxEntry; first: boolean };

const STATE_TEXT = { queued: 'Queued', failed: 'Not sent', sent: 'Sent', delivered: 'Delivered', read: 'Read' } as const;
const GROUP_GAP_MS = 5 * 60_000;

/** Flattens a conversation into list rows: a top row, day separators, messages, then the outbox's entries. */
export function buildRows(thread: Thread | undefined, pending: OutboxEntry[], me: string, now: number): Row[] {
  const rows: Row[] = [{ kind: 'top', key: 'top' }];
  let lastDay = '';
  let prevFrom = '';
  let prevAt = 0;
  const msgs = thread?.messages ?? [];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    const day = dayKey(m.sentAt);
    if (day !== lastDay) {
      rows.push({ kind: 'day', key: `d-${day}`, label: dayLabel(m.sentAt, now) });
      lastDay = day;
      prevFrom = '';
    }
    if (m.event !== undefined) {
      // A membership change ("ann added bob"): a line of its own between the messages.
      rows.push({ kind: 'event', key: `m-${m.id}`, m });
      prevFrom = '';
      continue;
    }
    rows.push({ kind: 'msg', key: `m-${m.id}`, m, mine: m.from === me, first: m.from !== prevFrom || m.sentAt - prevAt > GROUP_GAP_MS });
    prevFrom = m.from;
    prevAt = m.sentAt;
  }
  if (pending.length) {
    const today = dayKey(now);
    if (today !== lastDay) rows.push({ kind: 'day', key: `d-${today}`, label: 'Today' });
    pending.forEach((e, i) => rows.push({ kind: 'pending', key: `p-${e.localId}`, e, first: i === 0 && prevFrom !== me }));
  }
  return rows;
}

/** Editing a message in place: Enter saves, Shift+Enter adds a line, Escape cancels. */
function EditBox({ m }: { m: ChatMessage }) {
  const saveEdit = useApp((s) => s.saveEdit);
  const cancelEdit = useApp((s) => s.cancelEdit);
  const error = useApp((s) => s.editError);
  const [text, setText] = useState(m.text);
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  const backToComposer = () => document.getElementById('composer-input')?.focus();
  const save = async () => {
    if (await saveEdit(text)) backToComposer();
  };
  return (
    <form
      className="edit-form"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <textarea
        ref={ref}
        aria-label="Edit message"
        value={text}
        rows={1}
        onChange={(e) => setText(e.target.value)}
        aria-describedby={`edit-hint-${m.id}`}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            e.stopPropagation();
            cancelEdit();
            backToComposer();
          } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
            e.preventDefault();
            void save();
          }
        }}
      />
      <span className="edit-actions">
        <span id={`edit-hint-${m.id}`} className="small">
          {error ? <span role="alert">{error}</span> : 'Enter saves · Escape cancels'}
        </span>
        <button
          type="button"
          className="ghost small"
          onClick={() => {
            cancelEdit();
            backToComposer();
          }}
        >
          Cancel
        </button>
        <button type="submit" className="ghost small save">
          Save
        </button>
      </span>
    </form>
  );
}

const MessageRow = memo(function MessageRow({
  m,
  mine,
  first,
  selected,
  onToggle,
  me,
  inGroup,
  othersInGroup,
  editing,
  canEdit,
  focused,
  onEdit,
}: {
  m: ChatMessage;
  mine: boolean;
  first: boolean;
  selected: boolean;
  onToggle(id: number): void;
  me: string;
  inGroup: boolean;
  /** How many others the group has (for "Read by 2 of 3"). */
  othersInGroup: number;
  editing: boolean;
  canEdit: boolean;
  focused: boolean;
  onEdit(id: number): void;
}) {
  const time = timeLabel(m.sentAt);
  const state = messageState(m);
  const showSender = inGroup && !mine && first;
  const readBy = inGroup && mine && m.readBy !== undefined ? m.readBy : null;
  return (
    <div className={`msg ${mine ? 'mine' : 'theirs'} ${first ? 'first' : ''} ${selected ? 'selected' : ''} ${focused ? 'focused' : ''}`} data-id={m.id}>
      {mine && !editing && (
        <span className="msg-tools">
          {canEdit && (
            <button type="button" className="ghost small edit-button" onClick={() => onEdit(m.id)} title={`Edit your message sent at ${time}`}>
              Edit
            </button>
          )}
          <input type="checkbox" className="select" aria-label={`Select, sent at ${time}`} checked={selected} onChange={() => onToggle(m.id)} />
        </span>
      )}
      <div className={`bubble ${editing ? 'editing' : ''}`} onClick={(e) => mine && (e.ctrlKey || e.metaKey || e.shiftKey) && onToggle(m.id)}>
        {/* Who said it: in a group, shown above a run of someone's messages; otherwise for screen readers only
            (sighted people see it from the side the bubble is on). */}
        {showSender ? (
          <span className="sender">
            {m.from}
            <span className="visually-hidden">: </span>
          </span>
        ) : (
          <span className="visually-hidden">{mine ? 'You' : m.from}: </span>
        )}
        {editing ? (
          <EditBox m={m} />
        ) : (
          <p className="text">
            <RichText m={m} me={me} />
          </p>
        )}
        <span className="meta">
          {m.editedAt !== undefined && (
            <span className="edited" title={`Edited ${new Date(m.editedAt).toLocaleString()}`}>
              edited {timeLabel(m.editedAt)}
            </span>
          )}
          <time dateTime={new Date(m.sentAt).toISOString()} title={new Date(m.sentAt).toLocaleString()}>
            {time}
          </time>
          {mine &&
            (readBy !== null ? (
              <span className={`state ${readBy > 0 ? 'st-read' : 'st-sent'}`}>
                <StateIcon state={readBy > 0 ? 'read' : 'sent'} />
                Read by {readBy} of {othersInGroup}
              </span>
            ) : (
              <span className={`state st-${state}`}>
                <StateIcon state={state} />
                {inGroup && state !== 'read' ? 'Sent' : STATE_TEXT[state]}
              </span>
            ))}
        </span>
      </div>
    </div>
  );
});

function PendingRow({ e, first }: { e: OutboxEntry; first: boolean }) {
  const retry = useApp((s) => s.retry);
  const discard = useApp((s) => s.discard);
  const label = e.state === 'failed' && outcomeUnknown(e.errorCode) ? 'Not confirmed' : STATE_TEXT[e.state];
  return (
    <div className={`msg mine pending ${first ? 'first' : ''}`}>
      <div className="bubble">
        <span className="visually-hidden">You: </span>
        <p className="text">{e.text}</p>
        <span className="meta">
          <time dateTime={new Date(e.createdAt).toISOString()}>{timeLabel(e.createdAt)}</time>
          <span className={`state st-${e.state}`} title={e.error}>
            <StateIcon state={e.state} />
            {label}
          </span>
        </span>
        {e.state === 'failed' && (
          <span className="pending-actions">
            <span className="error small">{e.error}</span>
            <button type="button" className="ghost small" onClick={() => retry(e.localId)}>
              Retry
            </button>
            <button type="button" className="ghost small" onClick={() => discard(e.localId)}>
              Discard
            </button>
          </span>
        )}
      </div>
    </div>
  );
}

const EMPTY: OutboxEntry[] = [];

function MessageList({ name }: { name: string }) {
  const thread = useApp((s) => s.threads[name]);
  const outbox = useApp((s) => s.outbox);
  const me = useApp((s) => s.user)!;
  const selection = useApp((s) => s.selection);
  const toggle = useApp((s) => s.toggleSelect);
  const loadOlder = useApp((s) => s.loadOlder);
  const editing = useApp((s) => (s.editing?.name === name ? s.editing.id : null));
  const startEdit = useApp((s) => s.startEdit);
  const focus = useApp((s) => (s.focus?.name === name ? s.focus.id : null));
  const group = groupOf(name);
  const othersInGroup = useApp((s) => (group !== null ? Math.max(0, (s.groups[group]?.members.length ?? 1) - 1) : 0));
  const teamOn = useTeamOn();
  const onEdit = useCallback((id: number) => startEdit(name, id), [startEdit, name]);
  const pending = useMemo(() => {
    const p = outbox.filter((e) => e.to === name);
    return p.length ? p : EMPTY;
  }, [outbox, name]);
  const rows = useMemo(() => buildRows(thread, pending, me, Date.now()), [thread, pending, me]);
  const selected = useMemo(() => new Set(selection), [selection]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => (rows[i]?.kind === 'day' ? 44 : rows[i]?.kind === 'top' ? 48 : 52),
    getItemKey: (i) => rows[i]?.key ?? i,
    overscan: 10,
  });

  // Scroll anchoring: remember which row is at the top and where, so prepending older pages does not move the view.
  const anchor = useRef<{ key: string; delta: number } | null>(null);
  const focusShown = useRef<number | null>(null);
  const atBottom = useRef(true);
  const shown = useRef<{ name: string; firstKey: string | undefined; lastKey: string | undefined; loaded: boolean }>({ name: '', firstKey: undefined, lastKey: undefined, loaded: false });

  const scrollToBottom = useCallback(() => {
    const el = scrollRef.current;
    if (!el) return;
    virtualizer.scrollToIndex(rows.length - 1, { align: 'end' });
    requestAnimationFrame(() => {
      el.scrollTop = el.scrollHeight;
    });
  }, [virtualizer, rows.length]);

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const prev = shown.current;
    const firstKey = rows[1]?.key;
    const lastKey = rows[rows.length - 1]?.key;
    const loaded = thread?.loaded ?? false;
    const focusAt = focus !== null ? rows.findIndex((r) => r.key === `m-${focus}`) : -1;
    if (focusAt >= 0 && focusShown.current !== focus) {
      // A search result opened here: show its message in the middle, once.
      focusShown.current = focus;
      atBottom.current = false;
      virtualizer.scrollToIndex(focusAt, { align: 'center' });
    } else if (focus !== null && focusShown.current !== focus) {
      // Its page is still loading: wait for it rather than jump to the bottom.
    } else if (prev.name !== name || (!prev.loaded && loaded)) {
      scrollToBottom();
    } else if (firstKey !== prev.firstKey && anchor.current) {
      const i = rows.findIndex((r) => r.key === anchor.current!.key);
      const start = i >= 0 ? virtualizer.measurementsCache[i]?.start : undefined;
      if (start !== undefined) el.scrollTop = start - anchor.current.delta;
    } else if (lastKey !== prev.lastKey && atBottom.current) {
      scrollToBottom();
    }
    shown.current = { name, firstKey, lastKey, loaded };
  }, [rows, name, thread?.loaded, virtualizer, scrollToBottom, focus]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    const first = virtualizer.getVirtualItems().find((v) => v.end > el.scrollTop);
    if (first) anchor.current = { key: String(first.key), delta: first.start - el.scrollTop };
    if (el.scrollTop < 600 && thread?.loaded && thread.hasOlder && !thread.loading) void loadOlder(name);
  };

  const items = virtualizer.getVirtualItems();
  // Named by title, not aria-label, so getByLabel('Message') finds only the composer; title="" inside hides the tooltip.
  // aria-live off: the virtualized rows mount and unmount as the list scrolls, and a live log would read each again;
  // NewMessageAnnouncer says what is new instead.
  return (
    <>
    <NewMessageAnnouncer name={name} messages={thread?.messages} />
    <div className="messages" ref={scrollRef} onScroll={onScroll} role="log" title="Messages" aria-live="off" tabIndex={0}>
      <div className="messages-inner" title="" style={{ height: virtualizer.getTotalSize() }}>
        {items.map((v) => {
          const row = rows[v.index];
          return (
            <div key={v.key} data-index={v.index} ref={virtualizer.measureElement} className="vrow" style={{ transform: `translateY(${v.start}px)` }}>
              {row.kind === 'top' ? (
                <div className="top-row muted small">
                  {thread?.error ? (
                    <span className="error">
                      {thread.error}{' '}
                      <button type="button" className="ghost small" onClick={() => void loadOlder(name)}>
                        Try again
                      </button>
                    </span>
                  ) : thread?.loading || !thread?.loaded ? (
                    'Loading messages…'
                  ) : thread.hasOlder ? (
                    'Scroll up for older messages'
                  ) : (
                    group !== null ? `This is the beginning of ${name}.` : `This is the beginning of your conversation with ${name}.`
                  )}
                </div>
              ) : row.kind === 'day' ? (
                <div className="day" role="separator" aria-label={row.label}>
                  <span>{row.label}</span>
                </div>
              ) : row.kind === 'event' ? (
                <p className={`event ${focus === row.m.id ? 'focused' : ''}`}>
                  <span>{row.m.text}</span> <time dateTime={new Date(row.m.sentAt).toISOString()}>{timeLabel(row.m.sentAt)}</time>
                </p>
              ) : row.kind === 'msg' ? (
                <MessageRow
                  m={row.m}
                  mine={row.mine}
                  first={row.first}
                  selected={selected.has(row.m.id)}
                  onToggle={toggle}
                  me={me}
                  inGroup={group !== null}
                  othersInGroup={othersInGroup}
                  editing={editing === row.m.id}
                  canEdit={teamOn && row.mine && !row.m.fromDeleted}
                  focused={focus === row.m.id}
                  onEdit={onEdit}
                />
              ) : (
                <PendingRow e={row.e} first={row.first} />
              )}
            </div>
          );
        })}
      </div>
    </div>
    </>
  );
}

/** Announces a message that arrives in the open conversation (once), for screen readers. */
function NewMessageAnnouncer({ name, messages }: { name: string; messages: ChatMessage[] | undefined }) {
  const newest = messages && messages.length ? messages[messages.length - 1] : undefined;
  const [seen] = useState(() => newest?.id ?? 0);
  const me = useApp((s) => s.user);
  const fromThem = newest !== undefined && newest.event === undefined && (groupOf(name) !== null ? newest.from !== me : newest.from === name);
  const text = newest && newest.id > seen && fromThem ? `New message from ${newest.from}: ${newest.text}` : '';
  return (
    <div className="visually-hidden" aria-live="polite">
      {text}
    </div>
  );
}

function Composer({ name }: { name: string }) {
  const draft = useApp((s) => s.drafts[name] ?? '');
  const setDraft = useApp((s) => s.setDraft);
  const send = useApp((s) => s.send);
  const conn = useApp((s) => s.conn);
  const editLast = useApp((s) => s.editLast);
  const noteTyping = useApp((s) => s.noteTyping);
  const teamOn = useTeamOn();
  const ref = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    ref.current?.focus();
  }, [name]);
  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (send(name, draft)) ref.current?.focus();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'ArrowUp' && draft === '' && teamOn && editLast(name)) {
      // Up arrow in an empty composer edits one's last message (in place; Escape comes back here).
      e.preventDefault();
    }
  };
  const offline = conn.status !== 'connected' || conn.readOnly;
  const over = draft.length > LIMITS.textMax;
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor="composer-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-input"
        ref={ref}
        rows={1}
        placeholder={`Message ${name}`}
        value={draft}
        onChange={(e) => {
          setDraft(name, e.target.value);
          if (e.target.value !== '') noteTyping(name);
        }}
        onKeyDown={onKeyDown}
        aria-describedby="composer-hint"
      />
      <button type="submit" className="primary" disabled={draft.trim() === '' || over}>
        Send
      </button>
      <p id="composer-hint" className={`composer-hint small ${over ? 'error' : 'muted'}`}>
        {over
          ? `${draft.length} / ${LIMITS.textMax} characters: too long to send.`
          : offline
            ? 'The cluster is not writable right now. Messages wait in the outbox, marked queued, and go out in order when it is back.'
            : teamOn
              ? 'Enter sends · Shift+Enter adds a line · Up arrow edits your last message'
              : 'Enter sends · Shift+Enter adds a line'}
      </p>
    </form>
  );
}

function SelectionBar({ name }: { name: string }) {
  const selection = useApp((s) => s.selection);
  const clear = useApp((s) => s.clearSelection);
  const del = useApp((s) => s.deleteSelected);
  const [confirm, setConfirm] = useState(false);
  const n = selection.length;
  if (n === 0) return null;
  return (
    <div className="selection-bar" role="toolbar" aria-label="Selection">
      <span>
        {n} {n === 1 ? 'message' : 'messages'} selected
      </span>
      <button type="button" className="danger" onClick={() => setConfirm(true)}>
        Delete selected
      </button>
      <button type="button" className="secondary" onClick={clear}>
        Cancel
      </button>
      <Dialog title={`Delete ${n} ${n === 1 ? 'message' : 'messages'}?`} open={confirm} onClose={() => setConfirm(false)}>
        <p>They are deleted for you and for {groupOf(name) !== null ? `everyone in ${name}` : name}. This cannot be undone.</p>
        <div className="row end">
          <button type="button" className="secondary" onClick={() => setConfirm(false)} autoFocus>
            Keep them
          </button>
          <button
            type="button"
            className="danger"
            onClick={async () => {
              await del();
              setConfirm(false);
            }}
          >
            Delete messages
          </button>
        </div>
      </Dialog>
    </div>
  );
}

/** "ben is typing…" under the messages, while someone types here; announced politely. */
function TypingLine({ name }: { name: string }) {
  const typing = useApp((s) => s.typing[name]);
  const text = typingText(typing ?? []);
  return (
    <p className="typing-line small muted" aria-live="polite">
      {text}
    </p>
  );
}

function MuteButton({ name }: { name: string }) {
  const muted = useApp((s) => s.muted[name] === true);
  const toggleMute = useApp((s) => s.toggleMute);
  return (
    <button type="button" className={`ghost small ${muted ? 'on' : ''}`} aria-pressed={muted} onClick={() => toggleMute(name)} title={muted ? 'Muted: no notifications except mentions of you' : 'Mute notifications (mentions of you still notify)'}>
      Mute
    </button>
  );
}

/** The header of a group: its name, its members (with presence) and the way to manage it. */
function GroupHeader({ name }: { name: string }) {
  const group = name.slice(1);
  const g = useApp((s) => s.groups[group]);
  const presence = useApp((s) => s.presence);
  const me = useApp((s) => s.user)!;
  const [open, setOpen] = useState(false);
  const online = g ? g.members.filter((m) => m !== me && presence[m]?.online).length : 0;
  return (
    <>
      <Avatar name={group} size={32} />
      <div className="conv-title">
        <h2>{name}</h2>
        {g ? (
          <p className="conv-sub small muted">
            <span className="visually-hidden">Members: </span>
            {g.members.map((m, i) => (
              <span key={m} className="member-inline">
                {i > 0 && ', '}
                {m !== me && <span className={`presence-mark ${presence[m]?.online ? 'on' : ''}`} aria-hidden="true" />}
                {m === me ? 'you' : m}
                {g.admins.includes(m) && <span className="visually-hidden"> (admin)</span>}
              </span>
            ))}
            <span> · {online} online</span>
          </p>
        ) : (
          <p className="conv-sub small muted">You are not a member of this group any more.</p>
        )}
      </div>
      {g && (
        <button type="button" className="secondary small" onClick={() => setOpen(true)}>
          Members
        </button>
      )}
      {g && <GroupDialog group={group} open={open} onClose={() => setOpen(false)} />}
    </>
  );
}

/** The header of a one-to-one conversation: the person, and whether they are online or when last seen. */
function PersonHeader({ name }: { name: string }) {
  const p = useApp((s) => s.presence[name]);
  const deleted = useApp((s) => s.conversations[name]?.deleted);
  const text = presenceText(p, Date.now());
  return (
    <>
      <PersonAvatar name={name} size={32} />
      <div className="conv-title">
        <h2>{name}</h2>
        {text && <p className={`conv-sub small presence-text ${p?.online ? 'online' : 'muted'}`}>{text}</p>}
      </div>
      {deleted && <span className="tag">account deleted</span>}
    </>
  );
}

export function ConversationPane() {
  const active = useApp((s) => s.active);
  const closeConversation = useApp((s) => s.closeConversation);
  if (!active) {
    return (
      <div className="empty-pane">
        <p className="muted">Choose a conversation, or search for an account to start one.</p>
      </div>
    );
  }
  const isGroup = groupOf(active) !== null;
  return (
    <section className="conversation" aria-label={isGroup ? `Group ${active}` : `Conversation with ${active}`}>
      <header className="conv-header">
        <button type="button" className="ghost narrow-only back" onClick={closeConversation}>
          <span aria-hidden="true">‹ </span>Back to conversations
        </button>
        {isGroup ? <GroupHeader key={active} name={active} /> : <PersonHeader name={active} />}
        <span className="grow" />
        <MuteButton name={active} />
      </header>
      <SelectionBar name={active} />
      <MessageList key={active} name={active} />
      <TypingLine name={active} />
      <Composer name={active} />
    </section>
  );
}
