/**
 * Scenario — search: full-text search latency at 1,000,000 stored messages, against a 10,000-message baseline in
 * the same run.
 *
 * Method: for each size a single-replica data folder is generated in-process (search-store.ts through preload.ts's
 * generator hook: the real state machine and log store; vocabulary text with a Zipf word distribution, 1,000
 * accounts, one-to-one conversations and 100 groups), so the FTS5 index is the one a replica that applied those
 * sends holds. Its state.db is measured with SQLite's dbstat (the index's tables, message_search*, against the whole
 * file), then a real replica process starts on it and one client connection logs in as user0 (who may see ~3% of
 * the messages: its conversations and 8 groups). Queries go through the real path: a `search` request on the
 * connection → ReadIndex barrier → the replica's search query → the answer (limit 50, the client's default), one in
 * flight, latency = request written → answer parsed. Four kinds, each a fixed set of 20 queries from the vocabulary:
 *   - rare:       one word ranked 3,000–12,500 of 30,000 (90–400 of 1,000,000 messages hold it; user0 sees a few),
 *   - common:     one of the 20 most frequent words (the top word is in most messages),
 *   - multi-word: one of the 20 most frequent words and a word ranked 20–115: messages holding both,
 *   - prefix:     the first three letters of a word ranked 100–119 (results while typing: every word so begun).
 * Every query's last word also matches as a prefix (queries.ts searchExpression), as the client sends it. After an
 * unrecorded pass over every query at every size (JIT, page cache), rounds alternate the sizes (the shared machine's
 * noise hits both alike); each round runs every query of every kind once per size. Rows: p50/p99/max per kind and
 * size, the median number of results, and the large size's p50/p99 over the baseline's.
 * The quick run uses 100,000 messages instead of 1,000,000 and fewer rounds.
 *
 * Generating 1,000,000 messages takes 7 minutes on an idle 2-core machine and over an hour on a busy one, so each
 * generated folder is kept in $TMPDIR/quorum-bench-search-<key>/<size> and copied for each run; the key is a hash of
 * what decides the folder's content (this generator, preload.ts, the state schema), so a change to any of them
 * generates anew. `QUORUM_BENCH_SEARCH_FRESH=1` ignores kept folders.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { freePort, ReplicaProc, ROOT } from '../helpers/cluster.js';
import type { BenchConfig } from './config.js';
import { startTimed } from './growth.js';
import { LeanConn } from './lean-conn.js';
import { progress } from './progress.js';
import { BENCH_PASSWORD } from './quorum-load.js';
import { preloadSearchStore, SEARCHER, vocabulary } from './search-store.js';
import { median, percentile, ratio, round } from './stats.js';

export type SearchKind = 'rare' | 'common' | 'multi-word' | 'prefix';
export const SEARCH_KINDS: SearchKind[] = ['rare', 'common', 'multi-word', 'prefix'];

export interface SearchSizeRow {
  stored: number;
  generateSeconds: number;
  /** The folder was kept from an earlier run (generateSeconds is that run's). */
  generatedBefore: boolean;
  stateDbMB: number;
  /** The FTS5 index (message_search and its shadow tables) in state.db, MB and share of the file. */
  ftsMB: number;
  ftsShare: number;
  /** Messages user0 may see (its conversations and groups): what its searches run over. */
  visibleToSearcher: number;
  startupMs: number;
}

export interface SearchKindRow {
  kind: SearchKind;
  stored: number;
  queries: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  /** Median number of results per query (at most 50). */
  resultsMedian: number;
  /** This size's p50 / p99 over the baseline size's (null for the baseline itself). */
  p50VsBaseline: number | null;
  p99VsBaseline: number | null;
  errors: number;
}

export interface SearchResult {
  baseline: number;
  sizes: SearchSizeRow[];
  rows: SearchKindRow[];
  rounds: number;
  limit: number;
}

const LIMIT = 50;

/** The fixed query sets (see the top of this module). */
export function searchQueries(): Record<SearchKind, string[]> {
  const w = vocabulary();
  const range = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
  return {
    rare: range(20, (i) => w[3000 + i * 500]),
    common: range(20, (i) => w[i]),
    'multi-word': range(20, (i) => `${w[i]} ${w[20 + i * 5]}`),
    prefix: range(20, (i) => w[100 + i].slice(0, 3)),
  };
}

function storeFigures(dataDir: string): Pick<SearchSizeRow, 'stateDbMB' | 'ftsMB' | 'ftsShare' | 'visibleToSearcher'> {
  const db = new Database(join(dataDir, 'state.db'), { readonly: true });
  try {
    const pages = db.prepare<[], { name: string; bytes: number }>('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all();
    const total = pages.reduce((s, p) => s + p.bytes, 0);
    const fts = pages.filter((p) => p.name.startsWith('message_search')).reduce((s, p) => s + p.bytes, 0);
    const me = db.prepare<[string], { id: number }>('SELECT id FROM accounts WHERE username = ?').get(SEARCHER)!.id;
    const visible = db
      .prepare<[number, number, number], { n: number }>(
        'SELECT (SELECT count(*) FROM messages WHERE group_id IS NULL AND deleted = 0 AND (from_id = ? OR to_id = ?)) + ' +
          '(SELECT count(*) FROM messages WHERE deleted = 0 AND event IS NULL AND group_id IN (SELECT group_id FROM group_members WHERE account_id = ?)) AS n',
      )
      .get(me, me, me)!.n;
    return { stateDbMB: round(total / 1048576, 1), ftsMB: round(fts / 1048576, 1), ftsShare: round(fts / total, 2), visibleToSearcher: visible };
  } finally {
    db.close();
  }
}

/** Where generated folders of this generator and schema are kept (see the top of this module). */
export function searchStoreCache(): string {
  const h = createHash('sha256');
  for (const f of ['test/bench/search-store.ts', 'test/bench/preload.ts', 'replica/chat/schema.ts']) h.update(readFileSync(join(ROOT, f)));
  return join(tmpdir(), `quorum-bench-search-${h.digest('hex').slice(0, 12)}`);
}

/** Copies a generated folder of `stored` messages to dataDir, generating it first unless one is kept. */
async function searchFolder(stored: number, dataDir: string): Promise<{ seconds: number; kept: boolean }> {
  const template = join(searchStoreCache(), String(stored));
  const done = join(template, 'generated.json');
  let seconds: number;
  let kept = false;
  if (existsSync(done) && process.env.QUORUM_BENCH_SEARCH_FRESH !== '1') {
    seconds = (JSON.parse(readFileSync(done, 'utf8')) as { seconds: number }).seconds;
    kept = true;
  } else {
    rmSync(template, { recursive: true, force: true });
    mkdirSync(template, { recursive: true });
    ({ seconds } = await preloadSearchStore(template, stored));
    writeFileSync(done, JSON.stringify({ seconds, at: new Date().toISOString() }) + '\n');
  }
  cpSync(template, dataDir, { recursive: true, filter: (src) => src !== done });
  return { seconds, kept };
}

interface Size {
  stored: number;
  row: SearchSizeRow;
  proc: ReplicaProc;
  conn: LeanConn | null;
  samples: Record<SearchKind, number[]>;
  results: Record<SearchKind, number[]>;
  errors: Record<SearchKind, number>;
}

async function search(size: Size, query: string): Promise<{ ms: number; results: number } | string> {
  const t0 = performance.now();
  const r = await size.conn!.request({ op: 'search', query, limit: LIMIT });
  const ms = performance.now() - t0;
  if (!r.ok) return `${r.error?.code}: ${r.error?.message}`;
  return { ms, results: (r.result as { messages: unknown[] }).messages.length };
}

export async function runSearch(cfg: BenchConfig): Promise<SearchResult> {
  const baseline = 10_000;
  const large = cfg.quick ? 100_000 : 1_000_000;
  const rounds = cfg.quick ? 3 : 10;
  const root = mkdtempSync(join(tmpdir(), 'quorum-bench-search-'));
  const sizes: Size[] = [];
  const queries = searchQueries();
  try {
    for (const stored of [baseline, large]) {
      const dataDir = join(root, `r1-${stored}`);
      progress(`search: ${stored.toLocaleString('en')} searchable messages (${searchStoreCache()})`);
      const { seconds, kept } = await searchFolder(stored, dataDir);
      const figures = storeFigures(dataDir);
      progress(`search: ${stored.toLocaleString('en')} ${kept ? 'kept from an earlier run, generated' : 'generated'} in ${seconds.toFixed(0)} s; state.db ${figures.stateDbMB} MB, index ${figures.ftsMB} MB (${figures.ftsShare}); user0 sees ${figures.visibleToSearcher}`);
      const proc = new ReplicaProc({ id: 'r1', port: await freePort(), dataDir, logFile: join(root, `r1-${stored}.log`) });
      const startupMs = round(await startTimed(proc), 0);
      const conn = await LeanConn.open(proc.address);
      const login = await conn.request({ op: 'login', username: SEARCHER, password: BENCH_PASSWORD, token: randomBytes(32).toString('base64url'), session: { clientId: `search-${stored}`, seq: 1 } });
      if (!login.ok) throw new Error(`login ${SEARCHER}: ${login.error?.code} ${login.error?.message}`);
      const empty = () => ({ rare: [], common: [], 'multi-word': [], prefix: [] });
      sizes.push({ stored, row: { stored, generateSeconds: round(seconds, 0), generatedBefore: kept, ...figures, startupMs }, proc, conn, samples: empty(), results: empty(), errors: { rare: 0, common: 0, 'multi-word': 0, prefix: 0 } });
    }
    // Unrecorded pass: JIT, SQLite's page cache, the OS cache of the freshly written files.
    for (const size of sizes) for (const kind of SEARCH_KINDS) for (const q of queries[kind]) await search(size, q);
    for (let r = 0; r < rounds; r++) {
      progress(`search: round ${r + 1}/${rounds}`);
      const order = r % 2 === 0 ? sizes : [...sizes].reverse();
      for (const size of order) {
        for (const kind of SEARCH_KINDS) {
          for (const q of queries[kind]) {
            const out = await search(size, q);
            if (typeof out === 'string') {
              size.errors[kind]++;
              if (size.errors[kind] === 1) progress(`search: ${kind} "${q}" at ${size.stored}: ${out}`);
              continue;
            }
            size.samples[kind].push(out.ms);
            size.results[kind].push(out.results);
          }
        }
      }
    }
    const rows: SearchKindRow[] = [];
    for (const size of sizes) {
      for (const kind of SEARCH_KINDS) {
        const s = size.samples[kind];
        const base = sizes[0].samples[kind];
        const p50 = round(percentile(s, 50), 2);
        const p99 = round(percentile(s, 99), 2);
        const isBase = size === sizes[0];
        rows.push({
          kind,
          stored: size.stored,
          queries: s.length,
          p50ms: p50,
          p99ms: p99,
          maxms: round(Math.max(...s), 2),
          resultsMedian: median(size.results[kind]),
          p50VsBaseline: isBase ? null : ratio(p50, percentile(base, 50)),
          p99VsBaseline: isBase ? null : ratio(p99, percentile(base, 99)),
          errors: size.errors[kind],
        });
      }
    }
    return { baseline, sizes: sizes.map((s) => s.row), rows, rounds, limit: LIMIT };
  } finally {
    for (const size of sizes) {
      size.conn?.close();
      if (size.proc.running) await size.proc.kill();
    }
    rmSync(root, { recursive: true, force: true });
  }
}
