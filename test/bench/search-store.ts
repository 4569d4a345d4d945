/**
 * A searchable chat store for the search scenario (search.ts): a data folder written by preload.ts's generator hook
 * (the real state machine and log store), whose messages are text drawn from a seeded vocabulary, sent among 1,000
 * accounts in one-to-one conversations and in 100 groups.
 *
 * - Vocabulary: VOCABULARY distinct made-up words of 2–4 syllables (lowercase letters, so the unicode61 tokenizer
 *   keeps each whole), ranked; a message's words are drawn by rank from a Zipf distribution (exponent 1), as the
 *   words of natural text are: the first word is in most messages, the last in about 1 in 25,000.
 * - A message: 3–22 words (12.5 on average, ~90 bytes).
 * - 80% one-to-one, 20% to a group. The searching account (SEARCHER, user0) takes part in 2% of the one-to-one
 *   messages (with 50 peers) and is a member of 8 of the 100 groups (4–32 members each), so it may see about 3% of the
 *   store (~32,000 of 1,000,000 messages): a member of a 1,000-person workspace, not one who sees everything.
 * Deterministic for a given seed: every size draws the same sequence, so a smaller store is a prefix of a larger.
 */
import { seededRandom } from '../helpers/random.js';
import { benchPasswordHash, preload, type PreloadContext } from './preload.js';

export const SEARCHER = 'user0';
export const SEARCH_ACCOUNTS = 1000;
export const VOCABULARY = 30_000;
const GROUPS = 100;
const SEARCHER_GROUPS = 8;
const SEARCHER_PEERS = 50;

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'tr', 'st', 'pl', 'gr', 'sh', 'ch', 'th'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou', 'ea'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'k', 't', 'm'];

/** The ranked vocabulary (index 0 = the most frequent word), the same for every seed-independent call. */
export function vocabulary(): string[] {
  const rand = seededRandom(2026);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const seen = new Set<string>();
  const words: string[] = [];
  while (words.length < VOCABULARY) {
    const syllables = 2 + Math.floor(rand() * 3);
    let w = '';
    for (let i = 0; i < syllables; i++) w += pick(ONSETS) + pick(VOWELS) + pick(CODAS);
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  return words;
}

/** Draws a rank (0-based) from Zipf(1) over n ranks, by binary search in the cumulative weights. */
function zipfSampler(n: number, rand: () => number): () => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cumulative[r] = total += 1 / (r + 1);
  return () => {
    const x = rand() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface SearchGroup {
  name: string;
  members: string[];
}

/** The groups: team0..team99, 4–32 members among user0..user999; user0 is in team0..team7. */
export function searchGroups(): SearchGroup[] {
  const rand = seededRandom(99);
  const groups: SearchGroup[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const size = 4 + Math.floor(rand() * 29);
    const members = new Set<string>(g < SEARCHER_GROUPS ? [SEARCHER] : []);
    while (members.size < size) {
      const i = 1 + Math.floor(rand() * (SEARCH_ACCOUNTS - 1));
      members.add(`user${i}`);
    }
    groups.push({ name: `team${g}`, members: [...members] });
  }
  return groups;
}

/** The generator for preload's hook: `messages` messages (one-to-one and group) with vocabulary text. */
export function searchHistory(messages: number): (g: PreloadContext) => void {
  return (g) => {
    const words = vocabulary();
    const rank = zipfSampler(words.length, g.rand);
    const text = () => {
      const n = 3 + Math.floor(g.rand() * 20);
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(words[rank()]);
      return out.join(' ');
    };
    // Groups need cluster version 3: the lone replica reports it and the leader raises it, as a real cluster does.
    g.raw(JSON.stringify({ at: g.at(), kind: 'memberVersion', id: 'r1', version: 3 }));
    g.raw(JSON.stringify({ at: g.at(), kind: 'clusterVersion', version: 3 }));
    const groups = searchGroups();
    for (const group of groups) g.command(group.members[0], { kind: 'createGroup', name: group.name, members: group.members.slice(1) });
    const others = g.others;
    for (let i = 0; i < messages; i++) {
      const r = g.rand();
      if (r < 0.2) {
        const group = groups[Math.floor(g.rand() * groups.length)];
        const from = group.members[Math.floor(g.rand() * group.members.length)];
        g.command(from, { kind: 'groupSend', group: group.name, text: text() });
      } else if (r < 0.2 + 0.8 * 0.02) {
        const peer = `user${1 + Math.floor(g.rand() * SEARCHER_PEERS)}`;
        const [from, to] = g.rand() < 0.5 ? [SEARCHER, peer] : [peer, SEARCHER];
        g.command(from, { kind: 'send', to, text: text() });
      } else {
        const from = others[Math.floor(g.rand() * others.length)];
        let to: string;
        do to = others[Math.floor(g.rand() * others.length)];
        while (to === from);
        g.command(from, { kind: 'send', to, text: text() });
      }
    }
  };
}

/** Writes a single-replica folder with `messages` searchable messages; returns how long it took. */
export async function preloadSearchStore(dataDir: string, messages: number): Promise<{ seconds: number }> {
  const r = preload({
    dataDir,
    messages,
    members: [{ id: 'r1', address: '' }],
    passwordHash: await benchPasswordHash(),
    otherAccounts: SEARCH_ACCOUNTS,
    seed: 14,
    generate: searchHistory(messages),
  });
  return { seconds: r.seconds };
}
