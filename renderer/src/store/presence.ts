/**
 * Presence and typing (ephemeral, from the leader's connections; never in the log): who of the people in this
 * account's conversations and groups is online or when last seen, who is typing where, and telling others that this
 * account types (at most every TYPING_EVERY_MS while it does). A typing notice shows until TYPING_SHOWN_MS pass
 * without another, or until that person's message arrives.
 */
import type { PresenceEntry } from '../net/api.js';
import { groupKey, groupOf } from './messages.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export const TYPING_EVERY_MS = 3000;
export const TYPING_SHOWN_MS = 5000;
/** The most accounts one presence request may name (the protocol's limit). */
const PRESENCE_MAX = 500;

export interface PresenceState {
  presence: Record<string, PresenceEntry>;
  /** Per conversation (a person's name or `#group`), who is typing there now, in the order they started. */
  typing: Record<string, string[]>;
}

export interface PresenceActions {
  /** The person types in conversation `name`: tells the others, at most every TYPING_EVERY_MS. */
  noteTyping(name: string): void;
}

export interface PresenceOps {
  watchPresence(): void;
  stopTyping(name: string, user: string): void;
  sentIn(name: string): void;
  forgetPresence(): void;
  onPresence(e: PresenceEntry): void;
  onTyping(t: { from: string; group?: string }): void;
}

export function initialPresenceState(): PresenceState {
  return { presence: {}, typing: {} };
}

/** "ann is typing…", "ann and ben are typing…", "ann, ben and 2 others are typing…"; '' for nobody. */
export function typingText(users: readonly string[]): string {
  if (users.length === 0) return '';
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  if (users.length === 3) return `${users[0]}, ${users[1]} and ${users[2]} are typing…`;
  return `${users[0]}, ${users[1]} and ${users.length - 2} others are typing…`;
}

/** "online", "last seen 14:05" (today) or "last seen 3 Dec", "offline" when unknown. */
export function presenceText(p: PresenceEntry | undefined, now: number): string {
  if (!p) return '';
  if (p.online) return 'online';
  if (p.lastSeenAt === null) return 'offline';
  const d = new Date(p.lastSeenAt);
  const today = new Date(now).toDateString() === d.toDateString();
  return `last seen ${today ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })}`;
}

export function createPresenceSlice(set: SetState, get: GetState, { api, env, login, ops }: SliceDeps): [PresenceState & PresenceActions, PresenceOps] {
  /** The accounts asked for last (sorted, joined), so the same set is not asked again. */
  let watched = '';
  let watchTimer: unknown = null;
  /** When this account last told each conversation it types. */
  const lastTold = new Map<string, number>();
  /** Per conversation and person, the timer that ends their typing notice. */
  const typingTimers = new Map<string, unknown>();

  const everyone = (): string[] => {
    const s = get();
    const me = s.user?.toLowerCase();
    const users = new Set<string>();
    for (const c of Object.values(s.conversations)) if (groupOf(c.with) === null && !c.deleted) users.add(c.with);
    if (s.active && groupOf(s.active) === null) users.add(s.active);
    for (const g of Object.values(s.groups)) for (const m of g.members) users.add(m);
    return [...users].filter((u) => u.toLowerCase() !== me).sort().slice(0, PRESENCE_MAX);
  };

  const watchNow = async () => {
    watchTimer = null;
    if (!api.team || !ops.teamOn() || !get().user || login.resuming) return;
    const users = everyone();
    const key = users.join(',');
    if (users.length === 0 || key === watched) return;
    watched = key;
    const epoch = login.epoch;
    try {
      const r = await api.team.presence(users);
      if (epoch !== login.epoch) return;
      set((s) => {
        const presence = { ...s.presence };
        for (const e of r.presence) presence[e.user] = e;
        return { presence };
      });
    } catch {
      // Asked again when the set changes or after a reconnect; presence is a nicety.
      if (watched === key) watched = '';
    }
  };

  const stopTyping = (name: string, user: string) => {
    const k = `${name}\n${user}`;
    const timer = typingTimers.get(k);
    if (timer !== undefined) env.clearTimeout(timer);
    typingTimers.delete(k);
    set((s) => {
      const list = s.typing[name];
      if (!list?.includes(user)) return {};
      const rest = list.filter((u) => u !== user);
      const { [name]: _gone, ...others } = s.typing;
      return { typing: rest.length ? { ...others, [name]: rest } : others };
    });
  };

  const ops_: PresenceOps = {
    watchPresence() {
      if (watchTimer !== null || !api.team || !ops.teamOn()) return;
      watchTimer = env.setTimeout(() => void watchNow(), 100);
    },
    stopTyping,
    sentIn(name) {
      // The others clear this account's typing notice when its message arrives: typing again is told at once.
      lastTold.delete(name);
    },
    forgetPresence() {
      for (const t of typingTimers.values()) env.clearTimeout(t);
      typingTimers.clear();
      lastTold.clear();
      if (watchTimer !== null) env.clearTimeout(watchTimer);
      watchTimer = null;
      watched = '';
    },
    onPresence(e) {
      if (!get().user) return;
      set((s) => ({ presence: { ...s.presence, [e.user]: e } }));
    },
    onTyping(t) {
      const me = get().user;
      if (!me || t.from.toLowerCase() === me.toLowerCase()) return;
      const name = t.group !== undefined ? groupKey(t.group) : t.from;
      const k = `${name}\n${t.from}`;
      const timer = typingTimers.get(k);
      if (timer !== undefined) env.clearTimeout(timer);
      typingTimers.set(k, env.setTimeout(() => stopTyping(name, t.from), TYPING_SHOWN_MS));
      set((s) => (s.typing[name]?.includes(t.from) ? {} : { typing: { ...s.typing, [name]: [...(s.typing[name] ?? []), t.from] } }));
    },
  };

  const slice: PresenceState & PresenceActions = {
    ...initialPresenceState(),
    noteTyping(name) {
      const s = get();
      if (!api.team || !ops.teamOn() || !s.user || login.resuming || s.conn.status !== 'connected') return;
      const now = env.now();
      if (now - (lastTold.get(name) ?? -Infinity) < TYPING_EVERY_MS) return;
      lastTold.set(name, now);
      const group = groupOf(name);
      if (group === null && s.conversations[name]?.deleted) return;
      void api.team.typing(group === null ? { to: name } : { group }).catch(() => {});
    },
  };
  return [slice, ops_];
}
