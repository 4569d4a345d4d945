/**
 * Conversations and their threads: the list with previews and unread counts, the loaded pages of each thread, drafts,
 * which conversation and view are open, the selection for deleting, and read marks for what the user has seen.
 */
import { LIMITS } from '../../../replica/protocol/limits.js';
import type { ChatMessage, ConversationSummary, ReceiptEvent } from '../net/api.js';
import { isRetryableRefusal, readableError } from '../errors.js';
import { emptyDirectory } from './directory.js';
import { applyReceipt, insertMessage, mergePage, removeIds } from './messages.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export const HISTORY_PAGE = 200;
/** How long a conversation must stay on screen before what arrived in it is marked read. */
const MARK_READ_AFTER_MS = 300;

export interface Thread {
  messages: ChatMessage[];
  /** The server may have older messages than messages[0]. */
  hasOlder: boolean;
  loading: boolean;
  /** The first page has arrived. */
  loaded: boolean;
  error?: string;
}

export type View = 'chat' | 'cluster' | 'settings';

export interface ThreadsState {
  conversations: Record<string, ConversationSummary>;
  threads: Record<string, Thread>;
  drafts: Record<string, string>;
  /** The open conversation. */
  active: string | null;
  view: View;
  /** Ids of the messages selected for deleting. */
  selection: number[];
}

export interface ThreadsActions {
  openConversation(name: string): void;
  /** Back to the conversation list (the narrow layout shows one or the other). */
  closeConversation(): void;
  /** Loads the first page of a thread, or the page before the oldest loaded one. */
  loadOlder(name: string): Promise<void>;
  setDraft(name: string, text: string): void;
  /** The user looks at `name`: what arrived there is marked read shortly, if it is still on screen then. */
  markSeen(name: string): void;
  toggleSelect(id: number): void;
  clearSelection(): void;
  /** Deletes the selection (in batches the protocol allows); false when the cluster refused. */
  deleteSelected(): Promise<boolean>;
  setView(view: View): void;
}

export interface ThreadsOps {
  addCommitted(m: ChatMessage): void;
  loadConversations(): Promise<void>;
  forget(ids: readonly number[]): void;
  resync(): Promise<void>;
  forgetMarks(): void;
  reportUnread(): void;
  applyReceipt(receipt: ReceiptEvent): void;
}

/** The thread fields as they are while nobody is logged in. */
export function initialThreadsState(): ThreadsState {
  return { conversations: {}, threads: {}, drafts: {}, active: null, view: 'chat', selection: [] };
}

export function totalUnread(conversations: Record<string, ConversationSummary>): number {
  let n = 0;
  for (const c of Object.values(conversations)) n += c.unread;
  return n;
}

/**
 * Merges the server's conversation list into the local one. A conversation whose local last message is newer than the
 * answer (it arrived live while the list was being read) keeps its preview, and its unread count is the server's
 * plus the unread messages that arrived live after the answer's last one (`arrived`: unread ids that arrived live
 * while the list was being read) — never the local count alone, which knows nothing of older unread messages.
 */
export function mergeConversations(
  local: Record<string, ConversationSummary>,
  server: readonly ConversationSummary[],
  arrived: ReadonlyMap<string, ReadonlySet<number>>,
): Record<string, ConversationSummary> {
  const merged = { ...local };
  for (const c of server) {
    const mine = merged[c.with];
    if (!mine || mine.lastMessage.id <= c.lastMessage.id) {
      merged[c.with] = c;
      continue;
    }
    let newer = 0;
    for (const id of arrived.get(c.with) ?? []) if (id > c.lastMessage.id) newer++;
    merged[c.with] = { ...c, lastMessage: mine.lastMessage, unread: c.unread + newer };
  }
  return merged;
}

/** Conversations, newest first. */
export function sortedConversations(conversations: Record<string, ConversationSummary>): ConversationSummary[] {
  return Object.values(conversations).sort((a, b) => b.lastMessage.id - a.lastMessage.id || (a.with < b.with ? -1 : 1));
}

export function createThreadsSlice(set: SetState, get: GetState, { api, env, login }: SliceDeps): [ThreadsState & ThreadsActions, ThreadsOps] {
  /** Per conversation, the newest message id already marked read (so a mark is sent once). */
  const markedUpTo = new Map<string, number>();
  const markTimers = new Map<string, unknown>();
  /** Conversation list requests out; while any is, unread ids arriving live are noted (for mergeConversations). */
  let listing = 0;
  const arrivedWhileListing = new Map<string, Set<number>>();

  const patchThread = (name: string, change: (t: Thread) => Partial<Thread>) =>
    set((s) => {
      const t = s.threads[name] ?? { messages: [], hasOlder: true, loading: false, loaded: false };
      return { threads: { ...s.threads, [name]: { ...t, ...change(t) } } };
    });

  const reportUnread = () => env.onUnreadTotal?.(totalUnread(get().conversations));

  const onScreen = (name: string) => {
    const s = get();
    return s.active === name && s.view === 'chat' && env.isAttentive();
  };

  const addCommitted = (m: ChatMessage) => {
    const me = get().user;
    if (!me) return;
    const other = m.from === me ? m.to : m.from;
    const incoming = m.from !== me;
    // A backlog replayed after a reconnect is not news: it counts as unread but raises no notification.
    const replayed = api.replaying;
    let unreadNow = false;
    set((s) => {
      const prev = s.conversations[other];
      const isNewer = !prev || m.id > prev.lastMessage.id;
      const seenNow = incoming && s.active === other && s.view === 'chat' && env.isAttentive();
      const alreadyHad = s.threads[other]?.messages.some((x) => x.id === m.id) ?? false;
      unreadNow = incoming && !seenNow && !alreadyHad && m.readAt === null;
      const conv: ConversationSummary = {
        with: other,
        lastMessage: isNewer ? m : prev!.lastMessage,
        unread: (prev?.unread ?? 0) + (unreadNow ? 1 : 0),
        ...(prev?.deleted ? { deleted: true } : {}),
      };
      const t = s.threads[other];
      return {
        conversations: { ...s.conversations, [other]: conv },
        ...(t && t.loaded ? { threads: { ...s.threads, [other]: { ...t, messages: insertMessage(t.messages, m) } } } : {}),
      };
    });
    if (unreadNow && listing > 0) {
      const ids = arrivedWhileListing.get(other) ?? new Set<number>();
      ids.add(m.id);
      arrivedWhileListing.set(other, ids);
    }
    reportUnread();
    if (incoming) {
      if (onScreen(other)) scheduleMark(other);
      else if (unreadNow && !replayed) env.onIncoming?.(m, other);
    }
  };

  /** Reads the conversation list and merges it (throws when it cannot be read). */
  const loadConversations = async () => {
    const epoch = login.epoch;
    listing++;
    try {
      const r = await api.conversations(LIMITS.pageMax);
      if (epoch !== login.epoch) return;
      set((s) => ({ conversations: mergeConversations(s.conversations, r.conversations, arrivedWhileListing) }));
      reportUnread();
    } finally {
      listing--;
      if (listing === 0) arrivedWhileListing.clear();
    }
  };

  const scheduleMark = (name: string) => {
    if (markTimers.has(name)) return;
    markTimers.set(
      name,
      env.setTimeout(() => {
        markTimers.delete(name);
        void markNow(name);
      }, MARK_READ_AFTER_MS),
    );
  };

  const markNow = async (name: string) => {
    const s = get();
    if (!s.user || login.resuming) return;
    // Marked when the timer fires, so the conversation must still be on screen then: a message that arrived after
    // the user looked away (another conversation, the cluster view, another window) stays unread.
    if (!onScreen(name)) return;
    const t = s.threads[name];
    let upTo = 0;
    for (const m of t?.messages ?? []) if (m.from === name && m.id > upTo) upTo = m.id;
    if (upTo === 0 || upTo <= (markedUpTo.get(name) ?? 0)) {
      if ((s.conversations[name]?.unread ?? 0) > 0 && upTo > 0) clearUnread(name);
      return;
    }
    markedUpTo.set(name, upTo);
    clearUnread(name);
    try {
      await api.markRead(name, upTo);
    } catch (err) {
      markedUpTo.delete(name);
      if (!isRetryableRefusal(err)) get().toast(readableError(err), 'error');
    }
  };

  const clearUnread = (name: string) => {
    set((s) => {
      const c = s.conversations[name];
      return c && c.unread > 0 ? { conversations: { ...s.conversations, [name]: { ...c, unread: 0 } } } : {};
    });
    reportUnread();
  };

  const forget = (ids: readonly number[]) => {
    const gone = new Set(ids);
    set((s) => {
      const threads: Record<string, Thread> = {};
      for (const [k, t] of Object.entries(s.threads)) threads[k] = t.messages.some((m) => gone.has(m.id)) ? { ...t, messages: removeIds(t.messages, gone) } : t;
      const conversations: Record<string, ConversationSummary> = {};
      for (const [k, c] of Object.entries(s.conversations)) {
        if (!gone.has(c.lastMessage.id)) conversations[k] = c;
        else {
          const rest = threads[k]?.messages;
          const last = rest && rest.length ? rest[rest.length - 1] : null;
          conversations[k] = { ...c, lastMessage: last ?? { ...c.lastMessage, text: '' } };
        }
      }
      return { threads, conversations, selection: s.selection.filter((id) => !gone.has(id)) };
    });
  };

  /**
   * After a reconnect: the client library replays only messages (resume `after`), not what happened to known ones
   * while this window was away — receipts and deletions pushed then were lost with the connection. Re-reads the
   * conversation list and the newest page of every loaded thread, and reconciles: receipts are taken from the server,
   * messages of the covered range that the server no longer has are forgotten. (Older pages are not re-read.)
   */
  const resync = async () => {
    const epoch = login.epoch;
    try {
      await loadConversations();
    } catch {
      // Leave the list as it is; the next reconnect tries again.
    }
    const loaded = Object.entries(get().threads).filter(([, t]) => t.loaded);
    await Promise.all(loaded.map(([name, t]) => refreshNewest(name, new Set(t.messages.map((m) => m.id)), epoch)));
  };

  /** Re-reads a thread's newest page; `known` are the ids the thread held before asking (later arrivals are live). */
  const refreshNewest = async (name: string, known: ReadonlySet<number>, epoch: number) => {
    let page: ChatMessage[];
    try {
      page = (await api.history(name, { limit: HISTORY_PAGE })).messages;
    } catch {
      return;
    }
    if (epoch !== login.epoch) return;
    const onServer = new Set(page.map((m) => m.id));
    // The page covers everything from its oldest id up (or the whole conversation when it is not full).
    const from = page.length < HISTORY_PAGE ? -Infinity : Math.min(...page.map((m) => m.id));
    const gone = [...known].filter((id) => id >= from && !onServer.has(id));
    if (gone.length) forget(gone);
    patchThread(name, (cur) => ({ messages: mergePage(cur.messages, page) }));
  };

  const forgetMarks = () => {
    for (const timer of markTimers.values()) env.clearTimeout(timer);
    markTimers.clear();
    markedUpTo.clear();
  };

  const applyReceiptToThreads = (receipt: ReceiptEvent) => {
    set((s) => {
      let changed = false;
      const threads = { ...s.threads };
      for (const [k, t] of Object.entries(s.threads)) {
        const next = applyReceipt(t.messages, receipt.ids, receipt.kind, receipt.at);
        if (next) {
          threads[k] = { ...t, messages: next };
          changed = true;
        }
      }
      return changed ? { threads } : {};
    });
  };

  const slice: ThreadsState & ThreadsActions = {
    ...initialThreadsState(),

    openConversation(name) {
      set((s) => ({ active: name, view: 'chat', selection: [], directory: s.directory.query ? emptyDirectory() : s.directory }));
      const t = get().threads[name];
      if (!t || (!t.loaded && !t.loading)) void get().loadOlder(name);
      else get().markSeen(name);
    },

    closeConversation() {
      set({ active: null, selection: [] });
    },

    async loadOlder(name) {
      // A kept login the cluster has not taken back yet reads nothing; restore() loads the open thread after it.
      if (login.resuming) return;
      const t = get().threads[name];
      if (t?.loading || (t?.loaded && !t.hasOlder)) return;
      const before = t?.loaded && t.messages.length ? t.messages[0].id : undefined;
      const epoch = login.epoch;
      patchThread(name, () => ({ loading: true, error: undefined }));
      try {
        const r = await api.history(name, { limit: HISTORY_PAGE, ...(before !== undefined ? { before } : {}) });
        if (epoch !== login.epoch) return;
        patchThread(name, (cur) => ({
          messages: mergePage(cur.messages, r.messages),
          hasOlder: r.messages.length >= HISTORY_PAGE,
          loading: false,
          loaded: true,
        }));
        if (before === undefined) get().markSeen(name);
      } catch (err) {
        if (epoch !== login.epoch) return;
        patchThread(name, () => ({ loading: false, error: readableError(err) }));
      }
    },

    setDraft(name, text) {
      set((s) => ({ drafts: { ...s.drafts, [name]: text } }));
    },

    markSeen(name) {
      if (onScreen(name)) scheduleMark(name);
    },

    toggleSelect(id) {
      set((s) => ({ selection: s.selection.includes(id) ? s.selection.filter((x) => x !== id) : [...s.selection, id] }));
    },

    clearSelection() {
      set({ selection: [] });
    },

    async deleteSelected() {
      const ids = [...get().selection].sort((a, b) => a - b);
      if (ids.length === 0) return true;
      try {
        for (let i = 0; i < ids.length; i += LIMITS.deleteMax) await api.delete(ids.slice(i, i + LIMITS.deleteMax));
      } catch (err) {
        get().toast(`Could not delete. ${readableError(err)}`, 'error');
        return false;
      }
      forget(ids);
      return true;
    },

    setView(view) {
      set({ view });
      const active = get().active;
      if (view === 'chat' && active) get().markSeen(active);
    },
  };
  return [slice, { addCommitted, loadConversations, forget, resync, forgetMarks, reportUnread, applyReceipt: applyReceiptToThreads }];
}
