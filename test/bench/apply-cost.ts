/**
 * Micro-benchmark: CPU per applied `send` in the chat state machine (replica/chat/state-machine.ts), in-process, no
 * network and no Raft: the cost every replica pays for every committed send.
 *
 *   npx tsx test/bench/apply-cost.ts [--base DIR[,DIR…]] [--sizes 0,1000000] [--sends 20000] [--rounds 3] [--batch 16]
 *                                    [--group 256] [--accounts 1000] [--modes one,random,spread]
 *                                    [--cache DIR] [--text x|payload|words]
 *                                    [--search [--search-reps 15]] [--only-base] [--json]
 *
 * For each implementation (this tree, and with --base the checkouts in DIRs, e.g. `git worktree`s of older commits or
 * scratch variants, so old and new are compared in the same run on the same noisy machine) and each stored size, a data folder is
 * generated once by applying real signup/login/send commands (random sender → random recipient among `accounts`
 * accounts, 256-byte texts), like test/bench/preload.ts. Then, in rounds that alternate implementations and sizes:
 * `sends` sends are applied through ChatStateMachine.applyEntries in batches of `batch` entries (as the driver hands
 * over committed entries), committing the state database every `group` sends (the group commit: about 100 ms of
 * sends at a few thousand per second), in two modes:
 *
 * - one:    every send from one account to one other account (one conversation; inserts stay on hot pages);
 * - random: 8 senders, each send to a random recipient among all accounts (as test/bench/growth.ts: inserts spread
 *           over whole b-trees);
 * - spread: a random sender to a random recipient among all accounts (also the client sessions spread).
 *
 * Figures: process CPU µs (user + system) per send, the median over rounds; also wall µs and KB written per send
 * (/proc/self/io wchar: WAL frames and checkpoints) and the longest single batch (apply + commit, with any
 * checkpoint: how long the event loop would stall). Entries are built before
 * timing. A size-0 measurement starts from a fresh copy of the empty folder each time; larger ones keep applying to
 * one working copy per implementation (each measurement adds `sends` messages to the size). Generated folders are
 * kept in --cache (default $TMPDIR/quorum-apply-cost), keyed by the implementation's schema.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Entry } from '../../replica/raft/types.js';
import { seededRandom } from '../helpers/random.js';
import { PAYLOAD_256 } from './load.js';
import { textTable } from '../../replica/cli/text-table.js';

interface Sm {
  applyEntries(entries: Entry[]): { response: { ok: boolean } }[];
  applied(): { index: number; term: number };
  commitGroup(): void;
  close(): void;
}
interface SmClass {
  open(dir: string): Sm;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const json = process.argv.includes('--json');
const here = resolve(import.meta.dirname, '../..');
const bases = process.argv.includes('--base') ? arg('base', '').split(',').filter(Boolean).map((d) => resolve(d)) : [];
const sizes = arg('sizes', '0,1000000').split(',').map(Number);
const SENDS = Number(arg('sends', '20000'));
const ROUNDS = Number(arg('rounds', '3'));
const BATCH = Number(arg('batch', '16'));
const GROUP = Number(arg('group', '256'));
const ACCOUNTS = Number(arg('accounts', '1000'));
const WARMUP = Math.min(2000, SENDS);
const GEN_BATCH = Number(arg('gen-batch', '500'));
const cacheRoot = resolve(arg('cache', join(tmpdir(), 'quorum-apply-cost')));
const log = (s: string) => process.stderr.write(`${s}\n`);

/**
 * What a send says (--text): `x` (default) a number and 240 x's (two words: the apply path without the full-text
 * index's per-word work); `payload` the cluster bench's 256-byte payload (load.ts PAYLOAD_256, 20 words); `words` ~256 bytes of words drawn from a seeded 20,000-word vocabulary by a Zipf(1)
 * distribution, as natural text (what the search index pays per word; search-store-like).
 */
const TEXT_MODE = arg('text', 'x');
const TEXT = 'x'.repeat(240);
/** The ranked vocabulary of --text words (index 0 the most frequent word): made-up words of 2–4 syllables. */
const VOCAB = (() => {
  const rand = seededRandom(2026);
  const syllables = ['ka', 'lo', 'mi', 'tre', 'su', 'an', 'der', 'po', 'vi', 'ne', 'ro', 'sta', 'gu', 'fel', 'ix', 'bo', 'cha', 'em', 'ul', 'zi'];
  const vocab: string[] = [];
  const seen = new Set<string>();
  while (vocab.length < 20_000) {
    let w = '';
    for (let k = 2 + Math.floor(rand() * 3); k > 0; k--) w += syllables[Math.floor(rand() * syllables.length)];
    if (seen.has(w)) continue;
    vocab.push(w);
    seen.add(w);
  }
  return vocab;
})();
const textOf = (() => {
  if (TEXT_MODE === 'x') return (n: number) => `${n} ${TEXT}`;
  if (TEXT_MODE === 'payload') return (n: number) => `${n} ${PAYLOAD_256}`.slice(0, 256);
  if (TEXT_MODE !== 'words') throw new Error(`--text: x, payload or words, not ${TEXT_MODE}`);
  const rand = seededRandom(2027);
  const cumulative = new Float64Array(VOCAB.length);
  let total = 0;
  for (let r = 0; r < VOCAB.length; r++) cumulative[r] = total += 1 / (r + 1);
  const draw = () => {
    const x = rand() * total;
    let lo = 0;
    let hi = VOCAB.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return VOCAB[lo];
  };
  // A pool of texts, drawn once (the generator's cost stays out of the measurement).
  const pool = Array.from({ length: 4096 }, () => {
    let t = '';
    while (t.length < 240) t += `${draw()} `;
    return t.trimEnd();
  });
  return (n: number) => `${n} ${pool[n % pool.length]}`;
})();
const BASE_AT = 1_750_000_000_000;
const name = (i: number) => `u${String(i).padStart(5, '0')}`;
const tokenHash = (i: number) => createHash('sha256').update(`apply-cost-${i}`).digest('base64url');
const TOKENS = Array.from({ length: ACCOUNTS }, (_, i) => tokenHash(i));

/** A log of commands in one data folder: the next index, the clock and every client's next seq. */
class Writer {
  constructor(
    public index: number,
    public seqs: Record<string, number>,
  ) {}
  entry(body: Record<string, unknown>, clientId: string): Entry {
    const seq = (this.seqs[clientId] ?? 0) + 1;
    this.seqs[clientId] = seq;
    const index = ++this.index;
    return { index, term: 2, type: 'normal', data: JSON.stringify({ ...body, at: BASE_AT + index * 10, session: { clientId, seq } }) };
  }
  send(from: number, to: number, n: number): Entry {
    return this.entry({ kind: 'send', tokenHash: TOKENS[from], to: name(to), text: textOf(n) }, `client-${from}`);
  }
}

interface Impl {
  label: string;
  root: string;
  Sm: SmClass;
  key: string;
}

async function loadImpl(label: string, root: string): Promise<Impl> {
  const mod = (await import(pathToFileURL(join(root, 'replica/chat/state-machine.ts')).href)) as { ChatStateMachine: SmClass };
  // Generated folders are reused while the schema is unchanged (a state the same commands produced).
  const schema = (await import(pathToFileURL(join(root, 'replica/chat/schema.ts')).href)) as { STATE_SCHEMA: string; STATE_SCHEMA_VERSION: number };
  const key = createHash('sha256').update(`${schema.STATE_SCHEMA_VERSION}\n${schema.STATE_SCHEMA}`).digest('hex').slice(0, 12);
  return { label, root, Sm: mod.ChatStateMachine, key };
}

/**
 * The state machine's SQLite connection, wherever this checkout keeps it (`sm.open.db` since the state was split into
 * an OpenState; `sm.db` in older checkouts), so --base can name any older commit.
 */
function dbOf(sm: Sm): { pragma(s: string): unknown } {
  const any = sm as unknown as { db?: { pragma(s: string): unknown }; open?: { db?: { pragma(s: string): unknown } } };
  const db = any.open?.db ?? any.db;
  if (!db) throw new Error('apply-cost: cannot find the state machine\'s database connection in this checkout');
  return db;
}

function applyAll(sm: Sm, entries: Entry[], batch: number): void {
  for (let i = 0; i < entries.length; i += batch) {
    for (const o of sm.applyEntries(entries.slice(i, i + batch))) if (!o.response.ok) throw new Error(`refused: ${JSON.stringify(o)}`);
  }
}

/** Generates (or finds in the cache) the folder for `stored` messages; returns its path and writer state. */
function template(impl: Impl, stored: number): { dir: string; w: Writer } {
  const dir = join(cacheRoot, `${impl.key}-a${ACCOUNTS}-m${stored}${TEXT_MODE === 'x' ? '' : `-${TEXT_MODE}`}`);
  const stateFile = join(dir, 'writer.json');
  if (existsSync(stateFile)) {
    const s = JSON.parse(readFileSync(stateFile, 'utf8')) as { index: number; seqs: Record<string, number> };
    return { dir, w: new Writer(s.index, s.seqs) };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const sm = impl.Sm.open(dir);
  // Generation only: a bigger page cache (random inserts into large b-trees are otherwise slow to generate).
  dbOf(sm).pragma(`cache_size = -${arg('gen-cache-kb', '200000')}`);
  const w = new Writer(sm.applied().index, {});
  const setup: Entry[] = [];
  for (let i = 0; i < ACCOUNTS; i++) setup.push(w.entry({ kind: 'signup', username: name(i), passwordHash: `scrypt$x$${i}` }, `signup-${i}`));
  for (let i = 0; i < ACCOUNTS; i++) {
    setup.push(w.entry({ kind: 'login', username: name(i), passwordHash: `scrypt$x$${i}`, tokenHash: TOKENS[i] }, `signup-${i}`));
  }
  applyAll(sm, setup, 1000);
  const rand = seededRandom(7);
  for (let done = 0; done < stored; ) {
    const chunk: Entry[] = [];
    for (; chunk.length < GEN_BATCH && done < stored; done++) {
      const from = Math.floor(rand() * ACCOUNTS);
      let to = Math.floor(rand() * ACCOUNTS);
      if (to === from) to = (to + 1) % ACCOUNTS;
      chunk.push(w.send(from, to, done));
    }
    applyAll(sm, chunk, 5000);
    sm.commitGroup();
    if (done % 100_000 === 0) log(`${impl.label}: generated ${done.toLocaleString('en')} / ${stored.toLocaleString('en')}`);
  }
  sm.commitGroup();
  sm.close();
  writeFileSync(stateFile, JSON.stringify({ index: w.index, seqs: w.seqs }));
  log(`${impl.label}: ${stored.toLocaleString('en')} stored messages generated in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return { dir, w };
}

type Mode = 'one' | 'random' | 'spread';
const MODES: Mode[] = (arg('modes', 'one,random,spread').split(',') as Mode[]);

/** Bytes this process has written (write(2) and friends: the WAL, checkpoints), from /proc/self/io. */
function written(): number {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** Applies `SENDS` sends (after a warm-up) in `mode`; returns CPU and wall µs and KB written per send. */
function measure(sm: Sm, w: Writer, mode: Mode, seed: number): { cpu: number; wall: number; kb: number; stall: number } {
  const rand = seededRandom(seed);
  const make = (n: number) => {
    const out: Entry[] = [];
    for (let i = 0; i < n; i++) {
      if (mode === 'one') out.push(w.send(0, 1, i));
      else if (mode === 'random') {
        const from = Math.floor(rand() * 8);
        let to = Math.floor(rand() * ACCOUNTS);
        if (to === from) to = (to + 8) % ACCOUNTS;
        out.push(w.send(from, to, i));
      } else {
        const from = Math.floor(rand() * ACCOUNTS);
        let to = Math.floor(rand() * ACCOUNTS);
        if (to === from) to = (to + 1) % ACCOUNTS;
        out.push(w.send(from, to, i));
      }
    }
    return out;
  };
  applyAll(sm, make(WARMUP), BATCH);
  sm.commitGroup();
  const entries = make(SENDS);
  const c0 = process.cpuUsage();
  const w0 = written();
  const t0 = performance.now();
  let maxStall = 0;
  for (let i = 0; i < entries.length; i += BATCH) {
    const s0 = performance.now();
    sm.applyEntries(entries.slice(i, i + BATCH));
    if (Math.floor((i + BATCH) / GROUP) !== Math.floor(i / GROUP)) sm.commitGroup();
    maxStall = Math.max(maxStall, performance.now() - s0);
  }
  sm.commitGroup();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / SENDS, wall: (wall * 1000) / SENDS, kb: (written() - w0) / 1024 / SENDS, stall: maxStall };
}

/**
 * --search: query latency of the full-text search (ChatStateMachine.search, 50 results, as the `search` request) over a
 * generated folder, for what search-as-you-type sends: the 1-, 2-, 3- and 4-letter prefixes of the most frequent word
 * and of a mid-frequency one (rank 200), a whole common word, and a word plus a prefix. The searcher is u00000, a party
 * to about 2/ACCOUNTS of the messages. Returns per query the median and the slowest of `reps` runs, in ms.
 */
const SEARCH_REPS = Number(arg('search-reps', '15'));
function searchQueries(): string[] {
  const [a, b] = [VOCAB[0], VOCAB[200]];
  return [a.slice(0, 1), a.slice(0, 2), a.slice(0, 3), a.slice(0, 4), b.slice(0, 1), b.slice(0, 2), b.slice(0, 3), a, `${a} ${b.slice(0, 2)}`];
}
function searchLatency(impl: Impl, dir: string): { query: string; hits: number; medianMs: number; maxMs: number }[] | null {
  const sm = impl.Sm.open(dir) as Sm & { search?: (accountId: number, query: string, limit: number) => unknown[] };
  try {
    if (typeof sm.search !== 'function') return null;
    const db = dbOf(sm) as unknown as { prepare(sql: string): { get(...a: unknown[]): unknown } };
    const me = (db.prepare('SELECT id FROM accounts WHERE username_lower = ?').get(name(0)) as { id: number }).id;
    return searchQueries().map((query) => {
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < SEARCH_REPS; i++) {
        const t0 = performance.now();
        hits = sm.search!(me, query, 50).length;
        times.push(performance.now() - t0);
      }
      return { query, hits, medianMs: +median(times).toFixed(2), maxMs: +Math.max(...times).toFixed(2) };
    });
  } finally {
    sm.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  mkdirSync(cacheRoot, { recursive: true });
  const impls = [];
  for (const dir of bases) impls.push(await loadImpl(`base ${dir}`, dir));
  if (!process.argv.includes('--only-base')) impls.push(await loadImpl('this tree', here));
  const work = join(cacheRoot, `work-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const templates = new Map<string, { dir: string; w: Writer }>();
  const working = new Map<string, { dir: string; w: Writer }>();
  const key = (impl: Impl, stored: number) => `${impl.label}|${stored}`;
  for (const impl of impls) for (const stored of sizes) templates.set(key(impl, stored), template(impl, stored));
  if (process.argv.includes('--search')) {
    // Rounds alternate implementations, as the apply measurements do; the figures are the median over rounds.
    const lat = new Map<string, { query: string; hits: number; medianMs: number[]; maxMs: number }[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const stored of sizes) {
        if (stored === 0) continue;
        for (const impl of round % 2 ? [...impls].reverse() : impls) {
          const r = searchLatency(impl, templates.get(key(impl, stored))!.dir);
          if (!r) continue;
          const k = key(impl, stored);
          const acc = lat.get(k) ?? r.map((q) => ({ query: q.query, hits: q.hits, medianMs: [] as number[], maxMs: 0 }));
          r.forEach((q, i) => {
            acc[i].medianMs.push(q.medianMs);
            acc[i].maxMs = Math.max(acc[i].maxMs, q.maxMs);
          });
          lat.set(k, acc);
        }
      }
    }
    const headers = ['impl', 'stored', ...searchQueries().map((q) => `"${q}"`)];
    const cells = [...lat.entries()].map(([k, qs]) => {
      const [label, stored] = k.split('|');
      return [label.slice(-28), stored, ...qs.map((q) => `${median(q.medianMs).toFixed(1)}/${q.maxMs.toFixed(0)} (${q.hits})`)];
    });
    process.stdout.write(`search latency, ms: median/slowest of ${SEARCH_REPS}×${ROUNDS} (hits, at most 50)\n${textTable(headers, cells)}\n`);
  }
  if (SENDS === 0) return; // --sends 0: generate (and --search) only
  const results = new Map<string, { cpu: number[]; wall: number[]; kb: number[]; stall: number[] }>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...impls].reverse() : impls;
      for (const stored of sizes) {
        for (const mode of MODES) {
          for (const impl of order) {
            const k = key(impl, stored);
            const t = templates.get(k)!;
            let target = working.get(k);
            if (!target || stored === 0) {
              const dir = join(work, `${impls.indexOf(impl)}-${stored}-${round}-${mode}`);
              rmSync(dir, { recursive: true, force: true });
              cpSync(t.dir, dir, { recursive: true });
              target = { dir, w: new Writer(t.w.index, { ...t.w.seqs }) };
              if (stored !== 0) working.set(k, target);
            }
            const sm = impl.Sm.open(target.dir);
            let r: { cpu: number; wall: number; kb: number; stall: number };
            try {
              r = measure(sm, target.w, mode, 1000 * round + stored + (MODES.indexOf(mode)));
            } finally {
              sm.close();
            }
            if (stored === 0) rmSync(target.dir, { recursive: true, force: true });
            const rk = `${k}|${mode}`;
            const acc = results.get(rk) ?? { cpu: [], wall: [], kb: [], stall: [] };
            acc.stall.push(r.stall);
            acc.cpu.push(r.cpu);
            acc.wall.push(r.wall);
            acc.kb.push(r.kb);
            results.set(rk, acc);
            log(`round ${round + 1}/${ROUNDS} ${impl.label} stored ${stored.toLocaleString('en')} ${mode}: ${r.cpu.toFixed(1)} µs CPU/send (${r.wall.toFixed(1)} µs wall, ${r.kb.toFixed(1)} KB written, longest batch ${r.stall.toFixed(0)} ms)`);
          }
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const rows: { impl: string; stored: number; mode: Mode; cpuUsPerSend: number; wallUsPerSend: number; kbWrittenPerSend: number; longestBatchMs: number; cpuVsSmallest: number; samples: number[] }[] = [];
  for (const impl of impls) {
    for (const stored of sizes) {
      for (const mode of MODES) {
        const r = results.get(`${impl.label}|${stored}|${mode}`)!;
        const empty = results.get(`${impl.label}|${sizes[0]}|${mode}`)!;
        rows.push({
          impl: impl.label,
          stored,
          mode,
          cpuUsPerSend: +median(r.cpu).toFixed(1),
          wallUsPerSend: +median(r.wall).toFixed(1),
          kbWrittenPerSend: +median(r.kb).toFixed(1),
          longestBatchMs: +Math.max(...r.stall).toFixed(0),
          cpuVsSmallest: +(median(r.cpu) / median(empty.cpu)).toFixed(2),
          samples: r.cpu.map((x) => +x.toFixed(1)),
        });
      }
    }
  }
  const meta = { text: TEXT_MODE, sends: SENDS, rounds: ROUNDS, batch: BATCH, group: GROUP, accounts: ACCOUNTS };
  if (json) {
    process.stdout.write(`${JSON.stringify({ meta, rows }, null, 1)}\n`);
    return;
  }
  process.stdout.write(`apply cost per send (median of ${ROUNDS} rounds; ${SENDS} sends, batches of ${BATCH}, commit every ${GROUP}, ${ACCOUNTS} accounts)\n`);
  const headers = ['impl', 'stored', 'mode', 'CPU µs/send', 'wall µs/send', 'KB written/send', 'longest batch ms', 'CPU vs smallest'];
  const cells = rows.map((r) => [r.impl.slice(-28), r.stored, r.mode, r.cpuUsPerSend.toFixed(1), r.wallUsPerSend.toFixed(1), r.kbWrittenPerSend.toFixed(1), r.longestBatchMs, r.cpuVsSmallest.toFixed(2)]);
  process.stdout.write(`${textTable(headers, cells, { align: ['left', 'right', 'left', 'right', 'right', 'right', 'right', 'right'] })}\n`);
  const mine = impls[impls.length - 1];
  for (const other of impls.slice(0, -1)) {
    for (const stored of sizes) {
      for (const mode of MODES) {
        const [a, b] = [other, mine].map((impl) => rows.find((r) => r.impl === impl.label && r.stored === stored && r.mode === mode)!);
        process.stdout.write(`stored ${stored} ${mode}: this tree ${(b.cpuUsPerSend / a.cpuUsPerSend).toFixed(2)}× the CPU per send of ${other.label}\n`);
      }
    }
  }
}

await main();
