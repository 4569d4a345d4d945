/**
 * The UI's state and everything that changes it (zustand, vanilla so it runs in unit tests without a DOM).
 * Talks to the cluster only through the ChatApi given to createAppStore.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import { LIMITS } from '../../../replica/protocol/limits.js';
import { Pattern, Username } from '../../../replica/protocol/client.js';
import type { ChatApi, ChatMessage, ClientState, ConversationSummary, ReplicaStatus } from '../net/api.js';
import { isRetryableRefusal, readableError } from '../errors.js';
import { applyReceipt, insertMessage, mergePage, removeIds } from './messages.js';

export const HISTORY_PAGE = 200;
export const ACCOUNTS_PAGE = 50;

/** A message written here and not yet committed by the cluster. */
export interface OutboxEntry {
  localId: string;
  to: string;
  text: string;
  createdAt: number;
  /** queued: waiting (or being resent by the client library); failed: refused, needs the user. */
  state: 'queued' | 'failed';
  /** True once handed to the client library: from then on only the library resends it (same session seq). */
  handedOver: boolean;
  error?: string;
}

export interface Thread {
  messages: ChatMessage[];
  /** The server may have older messages than messages[0]. */
  hasOlder: boolean;
  loading: boolean;
  /** The first page has arrived. */
  loaded: boolean;
  error?: string;
}

export interface Directory {
  query: string;
  results: string[];
  nextPageToken: string | null;
  loading: boolean;
  error?: string;
}

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
}

export type View = 'chat' | 'cluster' | 'settings';

export interface AppState {
  conn: ClientState;
  user: string | null;
  authBusy: boolean;
  authError: string | null;
  /** A message for the login screen (session ended, account deleted). */
  notice: string | null;
  conversations: Record<string, ConversationSummary>;
  threads: Record<string, Thread>;
  outbox: OutboxEntry[];
  drafts: Record<string, string>;
  active: string | null;
  view: View;
  directory: Directory;
  selection: number[];
  status: ReplicaStatus | null;
  statusAt: number | null;
  /** Each member's own status (role, term), by address; null when that replica did not answer. */
  memberStatus: Record<string, ReplicaStatus | null>;
  toasts: Toast[];
}

/** Things outside the store the app tells about (desktop badge, notifications) or asks (is the window seen?). */
export interface AppEnv {
  now(): number;
  /** The window is visible and focused: messages in the open conversation count as read. */
  isAttentive(): boolean;
  onUnreadTotal?(total: number): void;
  onIncoming?(m: ChatMessage, conversation: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
  /** Keeps the login across a page reload (the tab's session storage); absent: every reload logs out. */
  keptLogin?: { save(token: string): void; load(): string | null; clear(): void };
}

export interface AppActions {
  signup(username: string, password: string): Promise<void>;
  login(username: string, password: string): Promise<void>;
  /** Resumes a login kept from before a reload, if any. */
  restore(): Promise<void>;
  logout(): Promise<void>;
  deleteAccount(password: string): Promise<void>;
  openConversation(name: string): void;
  loadOlder(name: string): Promise<void>;
  setDraft(name: string, text: string): void;
  send(to: string, text: string): boolean;
  retry(localId: string): void;
  discard(localId: string): void;
  markSeen(name: string): void;
  search(query: string): Promise<void>;
  loadMoreAccounts(): Promise<void>;
  toggleSelect(id: number): void;
  clearSelection(): void;
  deleteSelected(): Promise<boolean>;
  refreshStatus(probeMembers?: boolean): Promise<void>;
  setView(view: View): void;
  toast(text: string, tone?: Toast['tone']): void;
  dismissToast(id: number): void;
  dispose(): void;
}

export type AppStore = StoreApi<AppState & AppActions>;

const emptyDirectory: Directory = { query: '', results: [], nextPageToken: null, loading: false };

/** What a login owns; cleared on login and logout. */
type SessionState = Pick<AppState, 'user' | 'conversations' | 'threads' | 'outbox' | 'drafts' | 'active' | 'view' | 'directory' | 'selection'>;

function sessionReset(): SessionState {
  return {
    user: null,
    conversations: {},
    threads: {},
    outbox: [],
    drafts: {},
    active: null,
    view: 'chat',
    directory: { ...emptyDirectory },
    selection: [],
  };
}

/** Turns what the user typed into an account pattern: plain text matches anywhere in the name. */
export function toPattern(query: string): string {
  const q = query.trim();
  if (q === '') return '*';
  return /[*?]/.test(q) ? q : `*${q}*`;
}

export function totalUnread(conversations: Record<string, ConversationSummary>): number {
  let n = 0;
  for (const c of Object.values(conversations)) n += c.unread;
  return n;
}

/** Conversations, newest first. */
export function sortedConversations(conversations: Record<string, ConversationSummary>): ConversationSummary[] {
  return Object.values(conversations).sort((a, b) => b.lastMessage.id - a.lastMessage.id || (a.with < b.with ? -1 : 1));
}

export function createAppStore(api: ChatApi, env: AppEnv): AppStore {
  let nextLocal = 1;
  let nextToast = 1;
  let inFlight: string | null = null;
  /** Bumped on login/logout so answers that arrive for an older session are dropped. */
  let epoch = 0;
  const markedUpTo = new Map<string, number>();
  const markTimers = new Map<string, unknown>();
  let searchSeq = 0;

  const store = createStore<AppState & AppActions>()((set, get) => {
    const patchThread = (name: string, f: (t: Thread) => Partial<Thread>) =>
      set((s) => {
        const t = s.threads[name] ?? { messages: [], hasOlder: true, loading: false, loaded: false };
        return { threads: { ...s.threads, [name]: { ...t, ...f(t) } } };
      });

    const reportUnread = () => env.onUnreadTotal?.(totalUnread(get().conversations));

    /** Adds a committed message to its conversation (summary always; thread when loaded). */
    const absorb = (m: ChatMessage) => {
      const me = get().user;
      if (!me) return;
      const other = m.from === me ? m.to : m.from;
      const incoming = m.from !== me;
      set((s) => {
        const prev = s.conversations[other];
        const isNewer = !prev || m.id > prev.lastMessage.id;
        const seenNow = incoming && s.active === other && s.view === 'chat' && env.isAttentive();
        const alreadyHad = s.threads[other]?.messages.some((x) => x.id === m.id) ?? false;
        const conv: ConversationSummary = {
          with: other,
          lastMessage: isNewer ? m : prev!.lastMessage,
          unread: (prev?.unread ?? 0) + (incoming && !seenNow && !alreadyHad && m.readAt === null ? 1 : 0),
          ...(prev?.deleted ? { deleted: true } : {}),
        };
        const t = s.threads[other];
        return {
          conversations: { ...s.conversations, [other]: conv },
          ...(t && t.loaded ? { threads: { ...s.threads, [other]: { ...t, messages: insertMessage(t.messages, m) } } } : {}),
        };
      });
      reportUnread();
      if (incoming) {
        const s = get();
        if (s.active === other && s.view === 'chat' && env.isAttentive()) scheduleMark(other);
        else env.onIncoming?.(m, other);
      }
    };

    const scheduleMark = (name: string) => {
      if (markTimers.has(name)) return;
      markTimers.set(
        name,
        env.setTimeout(() => {
          markTimers.delete(name);
          void markNow(name);
        }, 300),
      );
    };

    const markNow = async (name: string) => {
      const s = get();
      const me = s.user;
      if (!me) return;
      // Marked when the timer fires, so the conversation must still be on screen then: a message that arrived after
      // the user looked away (another conversation, the cluster view, another window) stays unread.
      if (s.active !== name || s.view !== 'chat' || !env.isAttentive()) return;
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

    /**
     * Sends the outbox one message at a time, in order. Each entry is handed to the client library exactly once;
     * the library resends it across reconnects with the same session seq, so the cluster applies it once. Only a
     * definite refusal (which changed nothing) puts an entry back in the queue.
     */
    const pump = () => {
      if (inFlight) return;
      const s = get();
      if (!s.user || s.conn.status === 'closed') return;
      const next = s.outbox.find((e) => e.state === 'queued');
      if (!next) return;
      // Do not hammer a read-only cluster: a refused entry waits for the next state change.
      if (s.conn.readOnly && next.handedOver === false && next.error) return;
      inFlight = next.localId;
      const myEpoch = epoch;
      set((st) => ({ outbox: st.outbox.map((e) => (e.localId === next.localId ? { ...e, handedOver: true, error: undefined } : e)) }));
      api.send(next.to, next.text).then(
        (r) => {
          if (myEpoch !== epoch) return;
          inFlight = null;
          const me = get().user!;
          set((st) => ({ outbox: st.outbox.filter((e) => e.localId !== next.localId) }));
          absorb({ id: r.id, from: me, to: next.to, text: next.text, sentAt: r.sentAt, deliveredAt: null, readAt: null });
          pump();
        },
        (err) => {
          if (myEpoch !== epoch) return;
          inFlight = null;
          const retry = isRetryableRefusal(err);
          set((st) => ({
            outbox: st.outbox.map((e) =>
              e.localId === next.localId ? { ...e, state: retry ? 'queued' : 'failed', handedOver: false, error: readableError(err) } : e,
            ),
          }));
          // A refused entry is retried on the next connection state change (or shortly); later ones wait behind it.
          if (retry) env.setTimeout(pump, 2000);
          else pump();
        },
      );
    };

    const afterLogin = async (user: string) => {
      epoch++;
      inFlight = null;
      markedUpTo.clear();
      set({ ...sessionReset(), user, authBusy: false, authError: null, notice: null });
      try {
        const r = await api.conversations(LIMITS.pageMax);
        const conversations: Record<string, ConversationSummary> = {};
        for (const c of r.conversations) conversations[c.with] = c;
        set((s) => {
          // Keep anything that arrived live in the meantime.
          const merged = { ...conversations };
          for (const [k, v] of Object.entries(s.conversations)) if (!merged[k] || merged[k].lastMessage.id < v.lastMessage.id) merged[k] = v;
          return { conversations: merged };
        });
        reportUnread();
      } catch (err) {
        get().toast(`Could not load conversations. ${readableError(err)}`, 'error');
      }
    };

    const endSession = (notice: string | null) => {
      env.keptLogin?.clear();
      epoch++;
      inFlight = null;
      for (const h of markTimers.values()) env.clearTimeout(h);
      markTimers.clear();
      set({ ...sessionReset(), notice, authBusy: false });
      env.onUnreadTotal?.(0);
    };

    /** Drops deleted messages from threads, selection and conversation previews. */
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
      const myEpoch = epoch;
      try {
        const r = await api.conversations(LIMITS.pageMax);
        if (myEpoch !== epoch) return;
        set((s) => {
          const merged = { ...s.conversations };
          for (const c of r.conversations) {
            const local = merged[c.with];
            // A live message newer than the answer keeps its preview (and its unread count).
            if (!local || local.lastMessage.id <= c.lastMessage.id) merged[c.with] = c;
          }
          return { conversations: merged };
        });
        reportUnread();
      } catch {
        // Leave the list as it is; the next reconnect tries again.
      }
      const loaded = Object.entries(get().threads).filter(([, t]) => t.loaded);
      await Promise.all(loaded.map(([name, t]) => refreshNewest(name, new Set(t.messages.map((m) => m.id)), myEpoch)));
    };

    /** Re-reads a thread's newest page; `known` are the ids the thread held before asking (later arrivals are live). */
    const refreshNewest = async (name: string, known: ReadonlySet<number>, myEpoch: number) => {
      let page: ChatMessage[];
      try {
        page = (await api.history(name, { limit: HISTORY_PAGE })).messages;
      } catch {
        return;
      }
      if (myEpoch !== epoch) return;
      const onServer = new Set(page.map((m) => m.id));
      // The page covers everything from its oldest id up (or the whole conversation when it is not full).
      const from = page.length < HISTORY_PAGE ? -Infinity : Math.min(...page.map((m) => m.id));
      const gone = [...known].filter((id) => id >= from && !onServer.has(id));
      if (gone.length) forget(gone);
      patchThread(name, (cur) => ({ messages: mergePage(cur.messages, page) }));
    };

    let wasConnected = api.state.status === 'connected';
    const unsubscribe = [
      api.on('state', (conn) => {
        const reconnected = conn.status === 'connected' && !wasConnected;
        wasConnected = conn.status === 'connected';
        set({ conn: { ...conn } });
        if (conn.status === 'connected' && !conn.readOnly) pump();
        if (reconnected && get().user) void resync();
      }),
      api.on('message', (m) => {
        // The cluster pushes my own messages to my connections too (other devices), often before it answers the send:
        // the in-flight outbox entry is then committed; drop it now, or the message shows twice (queued and sent).
        const s = get();
        const sending = inFlight && s.user && m.from === s.user ? s.outbox.find((e) => e.localId === inFlight) : undefined;
        if (sending && sending.to === m.to && sending.text === m.text) set((st) => ({ outbox: st.outbox.filter((e) => e.localId !== sending.localId) }));
        absorb(m);
      }),
      api.on('deleted', (ids) => forget(ids)),
      api.on('receipt', (r) => {
        set((s) => {
          let changed = false;
          const threads = { ...s.threads };
          for (const [k, t] of Object.entries(s.threads)) {
            const next = applyReceipt(t.messages, r.ids, r.kind, r.at);
            if (next) {
              threads[k] = { ...t, messages: next };
              changed = true;
            }
          }
          return changed ? { threads } : {};
        });
      }),
      api.on('sessionEnded', ({ reason }) => {
        if (!get().user) return;
        endSession(`You were logged out: ${reason}`);
      }),
    ];

    return {
      ...sessionReset(),
      conn: api.state,
      authBusy: false,
      authError: null,
      notice: null,
      status: null,
      statusAt: null,
      memberStatus: {},
      toasts: [],

      async signup(username, password) {
        const u = Username.safeParse(username);
        if (!u.success) return void set({ authError: 'Usernames are 1–32 letters, digits, “_”, “.” or “-”.' });
        if (password.length < LIMITS.passwordMin) return void set({ authError: `Passwords have at least ${LIMITS.passwordMin} characters.` });
        set({ authBusy: true, authError: null, notice: null });
        try {
          await api.signup(username, password);
          const r = await api.login(username, password);
          env.keptLogin?.save(r.token);
          await afterLogin(r.user);
        } catch (err) {
          set({ authBusy: false, authError: readableError(err) });
        }
      },

      async login(username, password) {
        if (!username || !password) return void set({ authError: 'Enter your username and password.' });
        set({ authBusy: true, authError: null, notice: null });
        try {
          const r = await api.login(username, password);
          env.keptLogin?.save(r.token);
          await afterLogin(r.user);
        } catch (err) {
          set({ authBusy: false, authError: readableError(err) });
        }
      },

      async restore() {
        const token = env.keptLogin?.load();
        if (!token || !api.resume) return;
        set({ authBusy: true, authError: null });
        try {
          const r = await api.resume(token);
          await afterLogin(r.user);
        } catch {
          // The login ended meanwhile (logged out elsewhere, account deleted): back to the login screen.
          env.keptLogin?.clear();
          set({ authBusy: false });
        }
      },

      async logout() {
        const unsent = get().outbox.length;
        try {
          await api.logout();
        } catch (err) {
          get().toast(readableError(err), 'error');
          return;
        }
        endSession(unsent > 0 ? `Logged out. ${unsent} unsent ${unsent === 1 ? 'message was' : 'messages were'} discarded.` : null);
      },

      async deleteAccount(password) {
        await api.deleteAccount(password);
        endSession('Your account was deleted.');
      },

      openConversation(name) {
        set((s) => ({ active: name, view: 'chat', selection: [], directory: s.directory.query ? { ...emptyDirectory } : s.directory }));
        const t = get().threads[name];
        if (!t || (!t.loaded && !t.loading)) void get().loadOlder(name);
        else get().markSeen(name);
      },

      async loadOlder(name) {
        const t = get().threads[name];
        if (t?.loading || (t?.loaded && !t.hasOlder)) return;
        const before = t?.loaded && t.messages.length ? t.messages[0].id : undefined;
        const myEpoch = epoch;
        patchThread(name, () => ({ loading: true, error: undefined }));
        try {
          const r = await api.history(name, { limit: HISTORY_PAGE, ...(before !== undefined ? { before } : {}) });
          if (myEpoch !== epoch) return;
          patchThread(name, (cur) => ({
            messages: mergePage(cur.messages, r.messages),
            hasOlder: r.messages.length >= HISTORY_PAGE,
            loading: false,
            loaded: true,
          }));
          if (before === undefined) get().markSeen(name);
        } catch (err) {
          if (myEpoch !== epoch) return;
          patchThread(name, () => ({ loading: false, error: readableError(err) }));
        }
      },

      setDraft(name, text) {
        set((s) => ({ drafts: { ...s.drafts, [name]: text } }));
      },

      send(to, text) {
        if (text.trim() === '' || !get().user) return false;
        if (text.length > LIMITS.textMax) {
          get().toast(`Messages can have at most ${LIMITS.textMax} characters.`, 'error');
          return false;
        }
        const entry: OutboxEntry = { localId: `local-${nextLocal++}`, to, text, createdAt: env.now(), state: 'queued', handedOver: false };
        set((s) => ({ outbox: [...s.outbox, entry], drafts: { ...s.drafts, [to]: '' } }));
        pump();
        return true;
      },

      retry(localId) {
        set((s) => ({ outbox: s.outbox.map((e) => (e.localId === localId && e.state === 'failed' ? { ...e, state: 'queued', error: undefined } : e)) }));
        pump();
      },

      discard(localId) {
        if (inFlight === localId) return;
        set((s) => ({ outbox: s.outbox.filter((e) => e.localId !== localId) }));
      },

      markSeen(name) {
        const s = get();
        if (s.active !== name || s.view !== 'chat' || !env.isAttentive()) return;
        scheduleMark(name);
      },

      async search(query) {
        const seq = ++searchSeq;
        if (query.trim() === '') return void set({ directory: { ...emptyDirectory } });
        const pattern = toPattern(query);
        if (!Pattern.safeParse(pattern).success) {
          return void set({ directory: { ...emptyDirectory, query, error: 'Search with letters, digits, “_”, “.”, “-”, and the wildcards “*” and “?”.' } });
        }
        set({ directory: { query, results: [], nextPageToken: null, loading: true } });
        try {
          const r = await api.accounts({ pattern, limit: ACCOUNTS_PAGE });
          if (seq !== searchSeq) return;
          set({ directory: { query, results: r.accounts.map((a) => a.username), nextPageToken: r.nextPageToken, loading: false } });
        } catch (err) {
          if (seq !== searchSeq) return;
          set({ directory: { query, results: [], nextPageToken: null, loading: false, error: readableError(err) } });
        }
      },

      async loadMoreAccounts() {
        const d = get().directory;
        if (d.loading || !d.nextPageToken || !d.query) return;
        const seq = searchSeq;
        set({ directory: { ...d, loading: true } });
        try {
          const r = await api.accounts({ pattern: toPattern(d.query), limit: ACCOUNTS_PAGE, pageToken: d.nextPageToken });
          if (seq !== searchSeq) return;
          set((s) => ({
            directory: {
              ...s.directory,
              results: [...s.directory.results, ...r.accounts.map((a) => a.username).filter((u) => !s.directory.results.includes(u))],
              nextPageToken: r.nextPageToken,
              loading: false,
            },
          }));
        } catch (err) {
          if (seq !== searchSeq) return;
          set((s) => ({ directory: { ...s.directory, loading: false, error: readableError(err) } }));
        }
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

      async refreshStatus(probeMembers = false) {
        try {
          const status = await api.status();
          set({ status, statusAt: env.now() });
          if (probeMembers && api.statusOf) {
            const probe = api.statusOf;
            const rows = status.members.filter((m) => m.id !== status.id);
            const results = await Promise.all(rows.map((m) => probe(m.address, 900).then((r) => r, () => null)));
            const memberStatus: Record<string, ReplicaStatus | null> = { [status.address]: status };
            rows.forEach((m, i) => (memberStatus[m.address] = results[i]));
            set({ memberStatus });
          }
        } catch {
          // The bar shows the connection state; a failed status poll just leaves the last one.
        }
      },

      setView(view) {
        set({ view });
        const a = get().active;
        if (view === 'chat' && a) get().markSeen(a);
      },

      toast(text, tone = 'info') {
        const id = nextToast++;
        set((s) => ({ toasts: [...s.toasts.slice(-3), { id, text, tone }] }));
        env.setTimeout(() => get().dismissToast(id), tone === 'error' ? 8000 : 4000);
      },

      dismissToast(id) {
        set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
      },

      dispose() {
        for (const u of unsubscribe) u();
        for (const h of markTimers.values()) env.clearTimeout(h);
      },
    };
  });
  return store;
}
