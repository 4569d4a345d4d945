/**
 * Micro-benchmark: CPU per applied `send` in the chat state machine (replica/chat/state-machine.ts), in-process, no
 * network and no Raft: the cost every replica pays for every committed send.
 *
 *   npx tsx test/bench/apply-cost.ts [--base DIR] [--sizes 0,1000000] [--sends 20000] [--rounds 3] [--batch 16]
 *                                    [--group 256] [--accounts 1000] [--modes one,random,spread]
 *                                    [--cache DIR] [--json]
 *
 * For each implementation (this tree, and with --base the checkout in DIR, e.g. a `git worktree` of an older commit,
 * so old and new are compared in the same run on the same noisy machine) and each stored size, a data folder is
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
const base = process.argv.includes('--base') ? resolve(arg('base', '')) : null;
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

const TEXT = 'x'.repeat(240);
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
    return this.entry({ kind: 'send', tokenHash: TOKENS[from], to: name(to), text: `${n} ${TEXT}` }, `client-${from}`);
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

function applyAll(sm: Sm, entries: Entry[], batch: number): void {
  for (let i = 0; i < entries.length; i += batch) {
    for (const o of sm.applyEntries(entries.slice(i, i + batch))) if (!o.response.ok) throw new Error(`refused: ${JSON.stringify(o)}`);
  }
}

/** Generates (or finds in the cache) the folder for `stored` messages; returns its path and writer state. */
function template(impl: Impl, stored: number): { dir: string; w: Writer } {
  const dir = join(cacheRoot, `${impl.key}-a${ACCOUNTS}-m${stored}`);
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
  (sm as unknown as { db: { pragma(s: string): unknown } }).db.pragma(`cache_size = -${arg('gen-cache-kb', '200000')}`);
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  mkdirSync(cacheRoot, { recursive: true });
  const impls = [await loadImpl('this tree', here)];
  if (base) impls.unshift(await loadImpl(`base (${base})`, base));
  const work = join(cacheRoot, `work-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const templates = new Map<string, { dir: string; w: Writer }>();
  const working = new Map<string, { dir: string; w: Writer }>();
  const key = (impl: Impl, stored: number) => `${impl.label}|${stored}`;
  for (const impl of impls) for (const stored of sizes) templates.set(key(impl, stored), template(impl, stored));
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
  const meta = { sends: SENDS, rounds: ROUNDS, batch: BATCH, group: GROUP, accounts: ACCOUNTS };
  if (json) {
    process.stdout.write(`${JSON.stringify({ meta, rows }, null, 1)}\n`);
    return;
  }
  process.stdout.write(`apply cost per send (median of ${ROUNDS} rounds; ${SENDS} sends, batches of ${BATCH}, commit every ${GROUP}, ${ACCOUNTS} accounts)\n`);
  const headers = ['impl', 'stored', 'mode', 'CPU µs/send', 'wall µs/send', 'KB written/send', 'longest batch ms', 'CPU vs smallest'];
  const cells = rows.map((r) => [r.impl.slice(0, 28), r.stored, r.mode, r.cpuUsPerSend.toFixed(1), r.wallUsPerSend.toFixed(1), r.kbWrittenPerSend.toFixed(1), r.longestBatchMs, r.cpuVsSmallest.toFixed(2)]);
  process.stdout.write(`${textTable(headers, cells, { align: ['left', 'right', 'left', 'right', 'right', 'right', 'right', 'right'] })}\n`);
  if (base) {
    for (const stored of sizes) {
      for (const mode of MODES) {
        const [a, b] = impls.map((impl) => rows.find((r) => r.impl === impl.label && r.stored === stored && r.mode === mode)!);
        process.stdout.write(`stored ${stored} ${mode}: ${(a.cpuUsPerSend / b.cpuUsPerSend).toFixed(2)}× less CPU per send than base\n`);
      }
    }
  }
}

await main();
