/**
 * Searching messages (full text, on the cluster): the query, the best matches first with where the words matched, and
 * opening a result in its conversation at that message (threads.ts `focus`).
 */
import { LIMITS } from '../../../replica/protocol/limits.js';
import type { SearchHit } from '../net/api.js';
import { teamError } from '../errors.js';
import { conversationOf } from './messages.js';
import { HISTORY_PAGE } from './threads.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export const SEARCH_LIMIT = 50;

export interface MessageSearch {
  query: string;
  results: SearchHit[];
  loading: boolean;
  error?: string;
}

export interface SearchState {
  messageSearch: MessageSearch;
}

export interface SearchActions {
  /** Searches the messages this account may see (an empty query clears the results). */
  searchMessages(query: string): Promise<void>;
  /** Opens the result's conversation, loading older pages until the message is there, and shows it. */
  openSearchResult(hit: SearchHit): Promise<void>;
}

export function emptySearch(): MessageSearch {
  return { query: '', results: [], loading: false };
}

/** The text split at the matched ranges: [text, marked] pieces in order (ranges out of bounds or overlapping are clipped). */
export function markedPieces(text: string, matches: readonly [number, number][]): { text: string; marked: boolean }[] {
  const out: { text: string; marked: boolean }[] = [];
  let at = 0;
  for (const [rawStart, rawEnd] of [...matches].sort((a, b) => a[0] - b[0])) {
    const start = Math.max(at, Math.min(rawStart, text.length));
    const end = Math.max(start, Math.min(rawEnd, text.length));
    if (end === start) continue;
    if (start > at) out.push({ text: text.slice(at, start), marked: false });
    out.push({ text: text.slice(start, end), marked: true });
    at = end;
  }
  if (at < text.length) out.push({ text: text.slice(at), marked: false });
  return out;
}

export function createSearchSlice(set: SetState, get: GetState, { api, login, ops }: SliceDeps): SearchState & SearchActions {
  /** Numbers searches, so the answer to one the person has since replaced is dropped. */
  let seq = 0;
  return {
    messageSearch: emptySearch(),

    async searchMessages(query) {
      const mine = ++seq;
      const q = query.trim();
      if (q === '') return void set({ messageSearch: emptySearch() });
      if (!api.team || !ops.teamOn()) return void set({ messageSearch: { ...emptySearch(), query, error: 'This cluster cannot search messages yet.' } });
      if (q.length > LIMITS.searchQueryMax) return void set({ messageSearch: { ...emptySearch(), query, error: `Search with at most ${LIMITS.searchQueryMax} characters.` } });
      set((s) => ({ messageSearch: { query, results: s.messageSearch.query ? s.messageSearch.results : [], loading: true } }));
      try {
        if (login.resuming) await login.resuming;
        const r = await api.team.search(q, { limit: SEARCH_LIMIT });
        if (mine !== seq) return;
        set({ messageSearch: { query, results: r.messages, loading: false } });
      } catch (err) {
        if (mine !== seq) return;
        set({ messageSearch: { query, results: [], loading: false, error: teamError(err) } });
      }
    },

    async openSearchResult(hit) {
      const me = get().user;
      if (!me) return;
      const name = conversationOf(hit, me);
      const epoch = login.epoch;
      set({ focus: { name, id: hit.id } });
      get().openConversation(name);
      // Older pages until the message is loaded (or the beginning is reached).
      for (let guard = 0; guard < 10_000 / HISTORY_PAGE; guard++) {
        if (epoch !== login.epoch || get().focus?.id !== hit.id) return;
        const t = get().threads[name];
        if (t?.loaded && (!t.hasOlder || (t.messages.length > 0 && t.messages[0].id <= hit.id))) return;
        if (t?.error) return;
        await get().loadOlder(name);
      }
    },
  };
}
