import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useApp } from './context.js';
import type { ChatMessage } from '../net/api.js';
import type { OutboxEntry } from '../store/outbox.js';
import type { Thread } from '../store/threads.js';
import { dayKey, dayLabel, messageState, timeLabel } from '../store/messages.js';
import { Avatar, StateIcon } from './icons.js';
import { Dialog } from './Dialog.js';
import { LIMITS } from '../../../replica/protocol/limits.js';
import { outcomeUnknown } from '../errors.js';

type Row =
  | { kind: 'top'; key: string }
  | { kind: 'day'; key: string; label: string }
  | { kind: 'msg'; key: string; m: ChatMessage; mine: boolean; first: boolean }
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

const MessageRow = memo(function MessageRow({
  m,
  mine,
  first,
  selected,
  onToggle,
}: {
  m: ChatMessage;
  mine: boolean;
  first: boolean;
  selected: boolean;
  onToggle(id: number): void;
}) {
  const time = timeLabel(m.sentAt);
  const state = messageState(m);
  return (
    <div className={`msg ${mine ? 'mine' : 'theirs'} ${first ? 'first' : ''} ${selected ? 'selected' : ''}`}>
      {mine && (
        <input type="checkbox" className="select" aria-label={`Select, sent at ${time}`} checked={selected} onChange={() => onToggle(m.id)} />
      )}
      <div className="bubble" onClick={(e) => mine && (e.ctrlKey || e.metaKey || e.shiftKey) && onToggle(m.id)}>
        {/* Who said it, for screen readers (sighted people see it from the side the bubble is on). */}
        <span className="visually-hidden">{mine ? 'You' : m.from}: </span>
        <p className="text">{m.text}</p>
        <span className="meta">
          <time dateTime={new Date(m.sentAt).toISOString()} title={new Date(m.sentAt).toLocaleString()}>
            {time}
          </time>
          {mine && (
            <span className={`state st-${state}`}>
              <StateIcon state={state} />
              {STATE_TEXT[state]}
            </span>
          )}
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
    if (prev.name !== name || (!prev.loaded && loaded)) {
      scrollToBottom();
    } else if (firstKey !== prev.firstKey && anchor.current) {
      const i = rows.findIndex((r) => r.key === anchor.current!.key);
      const start = i >= 0 ? virtualizer.measurementsCache[i]?.start : undefined;
      if (start !== undefined) el.scrollTop = start - anchor.current.delta;
    } else if (lastKey !== prev.lastKey && atBottom.current) {
      scrollToBottom();
    }
    shown.current = { name, firstKey, lastKey, loaded };
  }, [rows, name, thread?.loaded, virtualizer, scrollToBottom]);

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
                    `This is the beginning of your conversation with ${name}.`
                  )}
                </div>
              ) : row.kind === 'day' ? (
                <div className="day" role="separator" aria-label={row.label}>
                  <span>{row.label}</span>
                </div>
              ) : row.kind === 'msg' ? (
                <MessageRow m={row.m} mine={row.mine} first={row.first} selected={selected.has(row.m.id)} onToggle={toggle} />
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
  const text = newest && newest.id > seen && newest.from === name ? `New message from ${newest.from}: ${newest.text}` : '';
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
        onChange={(e) => setDraft(name, e.target.value)}
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
        <p>They are deleted for you and for {name}. This cannot be undone.</p>
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

export function ConversationPane() {
  const active = useApp((s) => s.active);
  const conv = useApp((s) => (s.active ? s.conversations[s.active] : undefined));
  const closeConversation = useApp((s) => s.closeConversation);
  if (!active) {
    return (
      <div className="empty-pane">
        <p className="muted">Choose a conversation, or search for an account to start one.</p>
      </div>
    );
  }
  return (
    <section className="conversation" aria-label={`Conversation with ${active}`}>
      <header className="conv-header">
        <button type="button" className="ghost narrow-only back" onClick={closeConversation}>
          <span aria-hidden="true">‹ </span>Back to conversations
        </button>
        <Avatar name={active} size={32} />
        <h2>{active}</h2>
        {conv?.deleted && <span className="tag">account deleted</span>}
      </header>
      <SelectionBar name={active} />
      <MessageList key={active} name={active} />
      <Composer name={active} />
    </section>
  );
}
