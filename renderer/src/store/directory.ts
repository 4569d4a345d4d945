/** The account directory: searching accounts by name to start a conversation, page by page. */
import { Pattern } from '../../../replica/protocol/client.js';
import { readableError } from '../errors.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export const ACCOUNTS_PAGE = 50;

export interface Directory {
  query: string;
  results: string[];
  nextPageToken: string | null;
  loading: boolean;
  error?: string;
}

export interface DirectoryState {
  directory: Directory;
}

export interface DirectoryActions {
  search(query: string): Promise<void>;
  loadMoreAccounts(): Promise<void>;
}

export function emptyDirectory(): Directory {
  return { query: '', results: [], nextPageToken: null, loading: false };
}

/** Turns what the user typed into an account pattern: plain text matches anywhere in the name. */
export function toPattern(query: string): string {
  const q = query.trim();
  if (q === '') return '*';
  return /[*?]/.test(q) ? q : `*${q}*`;
}

export function createDirectorySlice(set: SetState, get: GetState, { api, login }: SliceDeps): DirectoryState & DirectoryActions {
  /** Numbers searches, so the answer to one the user has since replaced is dropped. */
  let searchSeq = 0;
  return {
    directory: emptyDirectory(),

    async search(query) {
      const seq = ++searchSeq;
      if (query.trim() === '') return void set({ directory: emptyDirectory() });
      const pattern = toPattern(query);
      if (!Pattern.safeParse(pattern).success) {
        return void set({ directory: { ...emptyDirectory(), query, error: 'Search with letters, digits, “_”, “.”, “-”, and the wildcards “*” and “?”.' } });
      }
      set({ directory: { query, results: [], nextPageToken: null, loading: true } });
      try {
        // A kept login not yet taken back by the cluster cannot search: wait for it (it shows "Searching…").
        if (login.resuming) await login.resuming;
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
  };
}
