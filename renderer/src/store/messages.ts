/** Message lists kept sorted by id (the log's commit order), merged without duplicates. Pure. */
import type { ChatMessage } from '../net/api.js';

/** A group's key among the conversations: `#name` (no username has a `#`). */
export function groupKey(group: string): string {
  return `#${group}`;
}

/** The group a conversation key names (without `#`), or null for a one-to-one conversation. */
export function groupOf(key: string): string | null {
  return key.startsWith('#') ? key.slice(1) : null;
}

/** The conversation a message belongs to, as `me` sees it: `#group`, or the other person. */
export function conversationOf(m: ChatMessage, me: string): string {
  if (m.group !== undefined) return groupKey(m.group);
  return m.from === me ? m.to : m.from;
}

/** True when the message names `user` as @user (the server lists who a group message mentions). */
export function mentions(m: ChatMessage, user: string): boolean {
  const u = user.toLowerCase();
  return m.mentions?.some((x) => x.toLowerCase() === u) ?? false;
}

/** Index of the first message whose id is >= id. */
export function lowerBound(list: readonly ChatMessage[], id: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Returns a new array with m inserted in order, or the same array if m.id is present with equal content. */
export function insertMessage(list: readonly ChatMessage[], m: ChatMessage): ChatMessage[] {
  const i = lowerBound(list, m.id);
  const out = list.slice();
  if (i < list.length && list[i].id === m.id) {
    out[i] = { ...list[i], ...m, deliveredAt: m.deliveredAt ?? list[i].deliveredAt, readAt: m.readAt ?? list[i].readAt };
    return out;
  }
  out.splice(i, 0, m);
  return out;
}

/** Merges a page (any order) into a sorted list. */
export function mergePage(list: readonly ChatMessage[], page: readonly ChatMessage[]): ChatMessage[] {
  if (page.length === 0) return list.slice();
  const sorted = [...page].sort((a, b) => a.id - b.id);
  // Common case: an older page that ends before the list starts.
  if (list.length === 0 || sorted[sorted.length - 1].id < list[0].id) return [...sorted, ...list];
  let out = list.slice();
  for (const m of sorted) out = insertMessage(out, m);
  return out;
}

export function removeIds(list: readonly ChatMessage[], ids: ReadonlySet<number>): ChatMessage[] {
  return list.filter((m) => !ids.has(m.id));
}

export function applyReceipt(list: readonly ChatMessage[], ids: readonly number[], kind: 'delivered' | 'read', at: number): ChatMessage[] | null {
  let out: ChatMessage[] | null = null;
  for (const id of ids) {
    const i = lowerBound(list, id);
    if (i >= list.length || list[i].id !== id) continue;
    out ??= list.slice();
    const m = out[i];
    out[i] =
      kind === 'read'
        ? { ...m, readAt: m.readAt ?? at, deliveredAt: m.deliveredAt ?? at }
        : { ...m, deliveredAt: m.deliveredAt ?? at };
  }
  return out;
}

/** Group read counts (a groupRead push): each listed message's readBy, or null when none of them is in `list`. */
export function applyReadBy(list: readonly ChatMessage[], counts: readonly { id: number; readBy: number }[]): ChatMessage[] | null {
  let out: ChatMessage[] | null = null;
  for (const { id, readBy } of counts) {
    const i = lowerBound(list, id);
    if (i >= list.length || list[i].id !== id || list[i].readBy === readBy) continue;
    out ??= list.slice();
    out[i] = { ...out[i], readBy };
  }
  return out;
}

export type MessageState = 'queued' | 'failed' | 'sent' | 'delivered' | 'read';

export function messageState(m: ChatMessage): MessageState {
  if (m.readAt !== null) return 'read';
  if (m.deliveredAt !== null) return 'delivered';
  return 'sent';
}

/** Local calendar day key, e.g. "2026-11-26". */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function dayLabel(ms: number, now: number = Date.now()): string {
  const key = dayKey(ms);
  if (key === dayKey(now)) return 'Today';
  if (key === dayKey(now - 86_400_000)) return 'Yesterday';
  const d = new Date(ms);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', ...(sameYear ? {} : { year: 'numeric' }) });
}

export function timeLabel(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}
