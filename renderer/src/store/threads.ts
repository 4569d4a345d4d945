/**
 * Conversations and their threads: the list with previews and unread counts, the loaded pages of each thread, drafts,
 * which conversation and view are open, the selection for deleting, and read marks for what the user has seen.
 */
import { LIMITS } from '../../../replica/protocol/limits.js';
import { TEAM_VERSION, type ChatMessage, type ConversationSummary, type GroupReadEvent, type GroupSummary, type ReceiptEvent } from '../net/api.js';
import { isRetryableRefusal, readableError } from '../errors.js';
import { emptyDirectory } from './directory.js';
import { applyReadBy, applyReceipt, conversationOf, groupKey, groupOf, insertMessage, mentions, mergePage, removeIds } from './messages.js';
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
  /** The groups this account is a member of, by name (members, admins; their conversations are `#name`). */
  groups: Record<string, GroupSummary>;
  /** Conversations whose new messages raise no notification (unless they mention this account), kept per device. */
  muted: Record<string, true>;
  /** A message to show and highlight in its conversation (a search result that was opened). */
  focus: { name: string; id: number } | null;
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
  /** Mutes or unmutes a conversation (client-side: mentions still notify). */
  toggleMute(name: string): void;
}

export interface ThreadsOps {
  addCommitted(m: ChatMessage): void;
  loadConversations(): Promise<void>;
  forget(ids: readonly number[]): void;
  resync(): Promise<void>;
  forgetMarks(): void;
  reportUnread(): void;
  applyReceipt(receipt: ReceiptEvent): void;
  /** New read counts of messages this account sent to a group ("read by 2 of 3"), pushed as members read them. */
  applyGroupRead(ev: GroupReadEvent): void;
  /** Re-reads the group list (members, admins, names) and drops the conversations of groups left or renamed. */
  loadGroups(): Promise<void>;
  /** A message's new text (an edit, pushed or made here), wherever it is shown. */
  applyEdit(m: ChatMessage): void;
  /** One page of a conversation (a group's or a person's). */
  historyPage(name: string, o: { limit?: number; before?: number }): Promise<ChatMessage[]>;
  /** Reads the account's kept mutes (at login). */
  loadMutes(user: string): void;
  /** True when the cluster runs groups, edits and search (and the connection offers them). */
  teamOn(): boolean;
}

/** The thread fields as they are while nobody is logged in. */
export function initialThreadsState(): ThreadsState {
  return { conversations: {}, threads: {}, drafts: {}, active: null, view: 'chat', selection: [], groups: {}, muted: {}, focus: null };
}

/** Unread messages in conversations that are not muted (what the window title and the desktop badge count). */
export function totalUnread(conversations: Record<string, ConversationSummary>, muted: Record<string, true> = {}): number {
  let n = 0;
  for (const c of Object.values(conversations)) if (!muted[c.with]) n += c.unread;
  return n;
}

/** A group as a row of the conversation list (`#name`); a group with nothing in it yet shows an empty preview. */
export function groupConversation(g: GroupSummary): ConversationSummary {
  const key = groupKey(g.name);
  const lastMessage = g.lastMessage ?? { id: 0, from: '', to: key, text: '', sentAt: 0, deliveredAt: null, readAt: null, group: g.name };
  return { with: key, lastMessage, unread: g.unread };
}

/** The old name in a `renamed` event's text ("ann renamed #old to #new"), or null. */
export function renamedFrom(m: ChatMessage): string | null {
  if (m.event !== 'renamed') return null;
  const found = /renamed #([A-Za-z0-9_.-]+) to #/.exec(m.text);
  return found ? found[1] : null;
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

export function createThreadsSlice(set: SetState, get: GetState, { api, env, login, ops }: SliceDeps): [ThreadsState & ThreadsActions, ThreadsOps] {
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

  const reportUnread = () => env.onUnreadTotal?.(totalUnread(get().conversations, get().muted));
  const teamOn = () => api.team !== null && (get().conn.clusterVersion ?? 0) >= TEAM_VERSION;
  const historyPage = async (name: string, o: { limit?: number; before?: number }) => {
    const group = groupOf(name);
    if (group === null) return (await api.history(name, o)).messages;
    if (!api.team) return [];
    return (await api.team.groupHistory(group, o)).messages;
  };

  /** A group was renamed: its conversation, thread, draft and mute move to the new key. */
  const moveConversation = (from: string, to: string) =>
    set((s) => {
      if (!(from in s.conversations) && !(from in s.threads)) return {};
      const move = <T,>(r: Record<string, T>): Record<string, T> => {
        if (!(from in r)) return r;
        const { [from]: v, ...rest } = r;
        return to in rest ? rest : { ...rest, [to]: v };
      };
      const conversations = move(s.conversations);
      if (conversations[to]) conversations[to] = { ...conversations[to], with: to };
      return {
        conversations,
        threads: move(s.threads),
        drafts: move(s.drafts),
        muted: move(s.muted),
        active: s.active === from ? to : s.active,
        focus: s.focus?.name === from ? { ...s.focus, name: to } : s.focus,
      };
    });

  const onScreen = (name: string) => {
    const s = get();
    return s.active === name && s.view === 'chat' && env.isAttentive();
  };

  const addCommitted = (m: ChatMessage) => {
    const me = get().user;
    if (!me) return;
    const old = renamedFrom(m);
    if (old !== null && m.group !== undefined) moveConversation(groupKey(old), groupKey(m.group));
    const other = conversationOf(m, me);
    // A membership event is history, never unread news.
    const incoming = m.from !== me && m.event === undefined;
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
      ops.stopTyping(other, m.from);
      // A muted conversation stays quiet, except for a message that mentions this account.
      const quiet = get().muted[other] === true && !mentions(m, me);
      if (onScreen(other)) scheduleMark(other);
      else if (unreadNow && !replayed && !quiet) env.onIncoming?.(m, other);
    }
    if (m.event !== undefined && !replayed) void loadGroups().catch(() => {});
    ops.watchPresence();
  };

  /**
   * Merges the group list into the conversations: each group as `#name`; the conversation of a group this account is
   * no longer in (left, removed, renamed) goes, unless it is open (its history stays readable there).
   */
  const takeGroups = (list: readonly GroupSummary[]) =>
    set((s) => {
      const groups: Record<string, GroupSummary> = {};
      for (const g of list) groups[g.name] = g;
      const conversations = mergeConversations(s.conversations, list.map(groupConversation), arrivedWhileListing);
      for (const key of Object.keys(conversations)) {
        const group = groupOf(key);
        if (group !== null && !groups[group] && key !== s.active) delete conversations[key];
      }
      return { groups, conversations };
    });

  /** Reads the conversation list (and the groups, when the cluster has them) and merges it (throws when it cannot be read). */
  const loadConversations = async () => {
    const epoch = login.epoch;
    listing++;
    try {
      const [r, g] = await Promise.all([api.conversations(LIMITS.pageMax), teamOn() ? api.team!.groups().catch(() => null) : null]);
      if (epoch !== login.epoch) return;
      set((s) => ({ conversations: mergeConversations(s.conversations, r.conversations, arrivedWhileListing) }));
      if (g) takeGroups(g.groups);
      reportUnread();
      ops.watchPresence();
    } finally {
      listing--;
      if (listing === 0) arrivedWhileListing.clear();
    }
  };

  const loadGroups = async () => {
    if (!teamOn()) return;
    const epoch = login.epoch;
    listing++;
    try {
      const g = await api.team!.groups();
      if (epoch !== login.epoch) return;
      takeGroups(g.groups);
      reportUnread();
      ops.watchPresence();
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
    const group = groupOf(name);
    let upTo = 0;
    for (const m of t?.messages ?? []) {
      const fromThem = group === null ? m.from === name : m.from !== s.user && m.event === undefined;
      if (fromThem && m.id > upTo) upTo = m.id;
    }
    if (upTo === 0 || upTo <= (markedUpTo.get(name) ?? 0)) {
      if ((s.conversations[name]?.unread ?? 0) > 0 && upTo > 0) clearUnread(name);
      return;
    }
    markedUpTo.set(name, upTo);
    clearUnread(name);
    try {
      if (group === null) await api.markRead(name, upTo);
      else await api.team?.markGroupRead(group, upTo);
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
      page = await historyPage(name, { limit: HISTORY_PAGE });
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

  const applyGroupRead = (ev: GroupReadEvent) => {
    const key = groupKey(ev.group);
    const t = get().threads[key];
    if (t && applyReadBy(t.messages, ev.messages)) patchThread(key, (cur) => ({ messages: applyReadBy(cur.messages, ev.messages) ?? cur.messages }));
  };

  /** Per conversation, the page being read (loadOlder). */
  const loading = new Map<string, Promise<void>>();
  const readOlder = async (name: string): Promise<void> => {
    // A kept login the cluster has not taken back yet reads nothing; restore() loads the open thread after it.
    if (login.resuming) return;
    const t = get().threads[name];
    if (t?.loading || (t?.loaded && !t.hasOlder)) return;
    const before = t?.loaded && t.messages.length ? t.messages[0].id : undefined;
    const epoch = login.epoch;
    patchThread(name, () => ({ loading: true, error: undefined }));
    try {
      const page = await historyPage(name, { limit: HISTORY_PAGE, ...(before !== undefined ? { before } : {}) });
      if (epoch !== login.epoch) return;
      patchThread(name, (cur) => ({
        messages: mergePage(cur.messages, page),
        hasOlder: page.length >= HISTORY_PAGE,
        loading: false,
        loaded: true,
      }));
      if (before === undefined) get().markSeen(name);
    } catch (err) {
      if (epoch !== login.epoch) return;
      patchThread(name, () => ({ loading: false, error: readableError(err) }));
    }
  };

  const slice: ThreadsState & ThreadsActions = {
    ...initialThreadsState(),

    openConversation(name) {
      set((s) => ({
        active: name,
        view: 'chat',
        selection: [],
        focus: s.focus?.name === name ? s.focus : null,
        directory: s.directory.query ? emptyDirectory() : s.directory,
      }));
      const t = get().threads[name];
      if (!t || (!t.loaded && !t.loading)) void get().loadOlder(name);
      else {
        get().markSeen(name);
        // A group's read counts ("read by 2 of 3") are pushed as members read (groupRead), but not what changed while
        // this client was away or with the members (a new member has read everything before it joined): re-read its
        // newest page when it is opened again.
        if (groupOf(name) !== null && t.loaded) void refreshNewest(name, new Set(t.messages.map((m) => m.id)), login.epoch);
      }
      ops.watchPresence();
    },

    closeConversation() {
      set({ active: null, selection: [] });
    },

    loadOlder(name) {
      // A page being read: the caller waits for it (opening a search result loads pages until its message is there).
      const reading = loading.get(name);
      if (reading && get().threads[name]?.loading) return reading;
      const p = readOlder(name).finally(() => {
        if (loading.get(name) === p) loading.delete(name);
      });
      loading.set(name, p);
      return p;
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

    toggleMute(name) {
      const { [name]: was, ...rest } = get().muted;
      const muted: Record<string, true> = was ? rest : { ...rest, [name]: true };
      set({ muted });
      const me = get().user;
      if (me) env.mutes?.save(me, Object.keys(muted));
      reportUnread();
    },
  };

  const applyEdit = (m: ChatMessage) => {
    set((s) => {
      const patchOne = (x: ChatMessage) => (x.id === m.id ? { ...x, text: m.text, ...(m.editedAt !== undefined ? { editedAt: m.editedAt } : {}), ...(m.mentions ? { mentions: m.mentions } : {}) } : x);
      let threads = s.threads;
      for (const [k, t] of Object.entries(s.threads)) {
        if (!t.messages.some((x) => x.id === m.id)) continue;
        threads = { ...threads, [k]: { ...t, messages: t.messages.map(patchOne) } };
      }
      let conversations = s.conversations;
      for (const [k, c] of Object.entries(s.conversations)) {
        if (c.lastMessage.id === m.id) conversations = { ...conversations, [k]: { ...c, lastMessage: patchOne(c.lastMessage) } };
      }
      return threads === s.threads && conversations === s.conversations ? {} : { threads, conversations };
    });
  };

  const loadMutes = (user: string) => {
    const muted: Record<string, true> = {};
    for (const name of env.mutes?.load(user) ?? []) muted[name] = true;
    set({ muted });
  };

  return [
    slice,
    {
      addCommitted,
      loadConversations,
      forget,
      resync,
      forgetMarks,
      reportUnread,
      applyReceipt: applyReceiptToThreads,
      applyGroupRead,
      loadGroups,
      applyEdit,
      historyPage,
      loadMutes,
      teamOn,
    },
  ];
}
