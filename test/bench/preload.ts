/**
 * Preloaded data folders for the growth and seed-baseline scenarios, generated directly and fast: the real state
 * machine (replica/chat/state-machine.ts, applyEntries with real signup/login/send commands) and the real log store
 * (replica/storage/log-store.ts, save in big batches, compacted the way the driver compacts) run in-process, so the
 * folder is exactly what a replica that committed those entries would hold — without a network round trip or an
 * fsync per request. Generation is deterministic for a given seed, so two folders generated with the same seed and
 * different message counts share their common prefix (used for the catch-up measurement).
 *
 * Accounts: the bench's own (bench-sink, bench-0..7, password BENCH_PASSWORD) plus 200 others. Messages: 1% from
 * bench-0 to bench-sink (a long conversation for history reads), the rest between random accounts; each 256 bytes.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { encodeCommand, type Command } from '../../replica/chat/commands.js';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { hashPassword } from '../../replica/chat/passwords.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import type { Entry } from '../../replica/raft/types.js';
import { PAYLOAD_256 } from './load.js';
import { BENCH_PASSWORD, MAX_CONNS, SINK, senderName } from './quorum-load.js';
import { seededRandom } from '../helpers/random.js';

export interface PreloadOptions {
  dataDir: string;
  messages: number;
  /** Cluster members as the replicas will be started (ids and addresses); a single replica: [{id, address: ''}]. */
  members: { id: string; address: string }[];
  /** scrypt hash of BENCH_PASSWORD, shared by all accounts (hashing is slow and salts are random). */
  passwordHash: string;
  seed?: number;
  otherAccounts?: number;
  batch?: number;
  compactEvery?: number;
  keepEntries?: number;
  /**
   * More accounts, signed up and logged in with the token benchToken(name) (a client resumes with it: no password
   * check), for scenarios that need thousands of logged-in connections (connections.ts).
   */
  tokenAccounts?: string[];
  /**
   * Writes the folder's chat history instead of the default messages (`messages` is then only a label): given the
   * generator's context, it appends commands (sends, group commands) by the accounts already signed up and logged in.
   */
  generate?: (g: PreloadContext) => void;
}

/** What a custom generator (PreloadOptions.generate) appends with. */
export interface PreloadContext {
  rand: () => number;
  /** user0..user<otherAccounts - 1> (the bench's own accounts are left out). */
  others: string[];
  /** Appends a command by `from` (its session stamped, `at` the entry's clock): encoded with encodeCommand. */
  command: (from: string, cmd: Record<string, unknown>) => void;
  /** Appends an entry as it is (for commands without a session: memberVersion, clusterVersion). */
  raw: (data: string) => void;
  /** The clock of the next entry. */
  at: () => number;
  /** The login token hash of an account (the command's tokenHash). */
  tokenHashOf: (name: string) => string;
}

/** The login token of a preloaded token account (43 base64url characters, as a client's own token). */
export function benchToken(name: string): string {
  return createHash('sha256').update(`bench-token-${name}`).digest('base64url');
}

let cachedHash: Promise<string> | null = null;
export function benchPasswordHash(): Promise<string> {
  return (cachedHash ??= hashPassword(BENCH_PASSWORD));
}

const BASE_AT = 1_750_000_000_000;
/** Accounts user0..user199 that every generated folder has besides the bench's own. */
export const OTHER_ACCOUNTS = 200;

/** Writes the folder; returns the last log index and how long it took. */
export function preload(o: PreloadOptions): { lastIndex: number; seconds: number } {
  const t0 = performance.now();
  const rand = seededRandom(o.seed ?? 42);
  const batchSize = o.batch ?? 5000;
  const compactEvery = o.compactEvery ?? 20_000;
  const keep = o.keepEntries ?? 5_000;
  mkdirSync(o.dataDir, { recursive: true });
  const sm = ChatStateMachine.open(o.dataDir);
  const log = SqliteLogStore.open(o.dataDir);
  const conf = { voters: o.members.map((m) => m.id), learners: [] as string[] };
  // As replica/node/data-folder.ts does on a first start: the configuration is the bootstrap snapshot in both stores.
  sm.bootstrap(conf, o.members);
  log.bootstrap(conf);
  // The generated history: r1 won the election after bootstrap (term 2) and appended everything as leader.
  const term = log.initialState().hardState.term + 1;

  let index = Math.max(log.lastIndex(), sm.applied().index);
  let pending: Entry[] = [];
  const flush = () => {
    if (!pending.length) return;
    log.save({ entries: pending, hardState: { term, vote: o.members[0].id, commit: index } });
    sm.applyEntries(pending);
    const first = log.firstIndex();
    const upTo = index - keep;
    if (upTo - first >= compactEvery) log.compact(upTo, term, conf);
    pending = [];
  };
  const push = (data: string) => {
    pending.push({ index: ++index, term, type: 'normal', data });
    if (pending.length >= batchSize) flush();
  };
  const seqs = new Map<string, number>();
  const session = (clientId: string) => {
    const seq = (seqs.get(clientId) ?? 0) + 1;
    seqs.set(clientId, seq);
    return { clientId, seq };
  };
  const at = () => BASE_AT + index;

  push(''); // the leader's no-op
  const names = [SINK, ...Array.from({ length: MAX_CONNS }, (_, i) => senderName(i)), ...Array.from({ length: o.otherAccounts ?? OTHER_ACCOUNTS }, (_, i) => `user${i}`)];
  const tokenAccounts = new Set(o.tokenAccounts ?? []);
  const tokens = new Map<string, string>();
  for (const name of [...names, ...tokenAccounts]) {
    push(JSON.stringify({ kind: 'signup', at: at(), session: session(`gen-${name}`), username: name, passwordHash: o.passwordHash }));
  }
  for (const name of [...names, ...tokenAccounts]) {
    const tokenHash = tokenAccounts.has(name)
      ? createHash('sha256').update(benchToken(name)).digest('base64url')
      : createHash('sha256').update(`token-${o.seed ?? 42}-${name}`).digest('base64url');
    tokens.set(name, tokenHash);
    push(JSON.stringify({ kind: 'login', at: at(), session: session(`gen-${name}`), username: name, passwordHash: o.passwordHash, tokenHash }));
  }
  const others = names.slice(1 + MAX_CONNS);
  if (o.generate) {
    o.generate({
      rand,
      others,
      command: (from, cmd) => push(encodeCommand({ at: at(), session: session(`gen-${from}`), tokenHash: tokens.get(from), ...cmd } as unknown as Command)),
      raw: push,
      at,
      tokenHashOf: (name) => tokens.get(name)!,
    });
  }
  for (let i = 0; i < (o.generate ? 0 : o.messages); i++) {
    let from: string;
    let to: string;
    if (rand() < 0.01) {
      from = senderName(0);
      to = SINK;
    } else {
      from = others[Math.floor(rand() * others.length)];
      do to = others[Math.floor(rand() * others.length)];
      while (to === from);
    }
    const text = `${i} ${PAYLOAD_256}`.slice(0, 256);
    push(JSON.stringify({ kind: 'send', at: at(), session: session(`gen-${from}`), tokenHash: tokens.get(from), to, text }));
  }
  flush();
  log.close();
  sm.close();
  return { lastIndex: index, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Generated single-replica folders, made once per size per run and copied for each use (a measurement adds
 * messages to the folder it runs on).
 */
export class PreloadCache {
  readonly root = mkdtempSync(join(tmpdir(), 'quorum-bench-preload-'));
  private readonly made = new Map<number, { dir: string; seconds: number }>();

  async folder(messages: number, dest: string): Promise<{ generatedSeconds: number }> {
    let t = this.made.get(messages);
    if (!t) {
      const dir = join(this.root, `template-${messages}`);
      const r = preload({ dataDir: dir, messages, members: [{ id: 'r1', address: '' }], passwordHash: await benchPasswordHash() });
      t = { dir, seconds: r.seconds };
      this.made.set(messages, t);
    }
    cpSync(t.dir, dest, { recursive: true });
    return { generatedSeconds: t.seconds };
  }

  destroy(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
