/**
 * Scenario 2 — failover (and graceful shutdown of the leader).
 *
 * Method: 3 real replica processes on 127.0.0.1 at default timings (heartbeat 50 ms, election timeout 250–500 ms).
 * Per trial: wait until all three run, agree on one leader with a majority and have converged (same applied index
 * and state hash); open a protocol connection to each survivor-to-be; then SIGKILL the leader (t0) and probe: every
 * 5 ms each survivor connection gets a write (`resume` with a login token until it binds, then a 256-byte `send`),
 * without waiting for earlier probes. The figure is t0 → the first acknowledged (committed, fsynced on a majority)
 * write at a survivor. The killed replica is restarted and the cluster re-converges before the next trial.
 * In the same trials a QuorumClient (replica/client, default backoff) writes in a closed loop (1 in flight) through
 * the whole cluster: `clientVisible` is the longest gap between its acknowledged writes from the last one before t0
 * until the first one 300 ms after the probe's first success — what an app user sees, including the client's
 * reconnect backoff.
 *
 * Graceful: the same with SIGTERM instead of SIGKILL. If the replica hands leadership over on SIGTERM (its log says
 * "leadership transferred"), the result is labelled mode "transfer"; otherwise it is an ordinary election after a
 * clean exit and labelled mode "election". With a transfer the old leader keeps serving until the hand-over, so the
 * probe's figure is SIGTERM → new leader serving, and the client-visible pause is the figure that matters.
 *
 * Silent: the same with SIGSTOP: the leader's host vanishes without a word (a partition, a laptop lid closed, a frozen
 * machine). Its connections stay open, so no transport error tells the followers; they notice only when its
 * heartbeats stop for a whole election timeout. After the probe's first success the stopped process is killed (and
 * restarted by the next trial's settle).
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Cluster, statusOf, waitConverged, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { QuorumClient } from '../../replica/client/client.js';
import type { WebSocketConstructor } from '../../replica/client/types.js';
import type { BenchConfig } from './config.js';
import { PAYLOAD_256 } from './load.js';
import { firstSuccess } from './probe.js';
import { progress } from './progress.js';
import { BENCH_PASSWORD, SINK } from './quorum-load.js';
import { summarize, type Summary } from './stats.js';

export interface FailoverResult {
  trials: number;
  minms: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  /** Trials in which no write succeeded within the probe timeout (not included in the figures). */
  failedTrials: number;
  /** Trials repeated because leadership had already moved (e.g. a spurious election) before the kill. */
  discardedTrials?: number;
  samplesMs: number[];
  clientVisible?: Omit<Summary, 'n'> & { samplesMs: number[] };
}

export interface TransferResult extends FailoverResult {
  /** "transfer": the leader handed leadership over on SIGTERM; "election": it just exited and the others elected. */
  mode: 'transfer' | 'election';
  note: string;
}

/** Writes in a closed loop through a QuorumClient and records the time of every acknowledgement. */
class ClientWriter {
  readonly acks: number[] = [];
  private paused = true;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly client: QuorumClient) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        if (this.paused) {
          await new Promise<void>((r) => (this.wake = r));
          continue;
        }
        try {
          await this.client.send(SINK, PAYLOAD_256);
          this.acks.push(performance.now());
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    })();
  }

  pause(): void {
    this.paused = true;
  }

  async resume(): Promise<void> {
    this.paused = false;
    this.wake?.();
    this.wake = null;
    const n = this.acks.length;
    await waitFor('the client writer to be acknowledged', () => this.acks.length >= n + 5, 20_000, 10);
  }

  /**
   * Longest gap between consecutive acknowledgements from the last one before `t0` until the first one after
   * `settled` (waits for it): the longest write pause the client saw around the event.
   */
  async longestGap(t0: number, settled: number, timeoutMs = 30_000): Promise<number | null> {
    try {
      await waitFor('a client write after the event', () => this.acks.length > 0 && this.acks[this.acks.length - 1] > settled, timeoutMs, 5);
    } catch {
      return null;
    }
    const end = this.acks.findIndex((a) => a > settled);
    const start = this.acks.findIndex((a) => a > t0) - 1;
    let prev = start >= 0 ? this.acks[start] : t0;
    let longest = 0;
    for (let i = start + 1; i <= end; i++) {
      longest = Math.max(longest, this.acks[i] - prev);
      prev = this.acks[i];
    }
    return longest;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }
}

interface Harness {
  cluster: Cluster;
  token: string;
  writer: ClientWriter;
  client: QuorumClient;
}

async function setUp(): Promise<Harness> {
  const cluster = await Cluster.start({ size: 3 });
  const leader = await cluster.leader();
  const c = await RawConn.open(leader.address);
  for (const name of [SINK, 'bench-fo']) {
    const r = await c.request({ op: 'signup', username: name, password: BENCH_PASSWORD, session: c.session() });
    if (!r.ok && r.error?.code !== 'USERNAME_TAKEN') throw new Error(`signup ${name}: ${r.error?.code}`);
  }
  const { token } = await c.login('bench-fo', BENCH_PASSWORD);
  c.close();
  const client = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as unknown as WebSocketConstructor, autoDelivered: false });
  await client.login('bench-fo', BENCH_PASSWORD);
  const writer = new ClientWriter(client);
  writer.start();
  return { cluster, token, writer, client };
}

async function tearDown(h: Harness): Promise<void> {
  await h.writer.stop();
  h.client.close();
  await h.cluster.destroy();
}

/** All replicas running, converged, one leader with a majority; then the client writer flowing again. */
async function settle(h: Harness): Promise<ReplicaProc> {
  h.writer.pause();
  await Promise.all(h.cluster.replicas.filter((r) => !r.running).map(async (r) => {
    r.start();
    await r.waitHealthy(60_000);
  }));
  await h.cluster.leader(30_000);
  await waitConverged(h.cluster.addresses, 60_000);
  const leader = await h.cluster.leader(30_000);
  await h.writer.resume();
  return leader;
}

interface Trial {
  ms: number | null;
  clientMs: number | null;
  leader: ReplicaProc;
  /** The probe's first success came from a leader of the killed leader's term (leadership had moved before the kill). */
  invalid: boolean;
}

async function oneTrial(h: Harness, signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP'): Promise<Trial> {
  let leader = await settle(h);
  let before = await leader.status();
  while (before.role !== 'leader') {
    leader = await settle(h);
    before = await leader.status();
  }
  const survivors = h.cluster.replicas.filter((r) => r !== leader);
  const conns = await Promise.all(survivors.map((s) => RawConn.open(s.address)));
  const bound = conns.map(() => false);
  const targets = conns.map((c, i) => ({
    write: async () => {
      if (!bound[i]) {
        const r = await c.request({ op: 'resume', token: h.token });
        if (!r.ok) return false;
        bound[i] = true;
      }
      const r = await c.request({ op: 'send', to: SINK, text: PAYLOAD_256, session: c.session() });
      return r.ok;
    },
  }));
  const t0 = performance.now();
  leader.signal(signal);
  const first = await firstSuccess(targets, { everyMs: 5, maxOutstanding: 16, timeoutMs: 30_000 });
  const clientMs = await h.writer.longestGap(t0, (first?.at ?? performance.now()) + 300);
  for (const c of conns) c.close();
  if (signal === 'SIGSTOP') leader.signal('SIGKILL');
  let invalid = false;
  if (first) {
    const st = await statusOf(survivors[first.target].address).catch(() => null);
    invalid = st !== null && st.term <= before.term;
  }
  await leader.exited;
  return { ms: first ? first.at - t0 : null, clientMs, leader, invalid };
}

function result(samples: number[], clientSamples: number[], trials: number): FailoverResult {
  const s = summarize(samples);
  const c = summarize(clientSamples);
  return {
    trials,
    minms: s.minms,
    p50ms: s.p50ms,
    p99ms: s.p99ms,
    maxms: s.maxms,
    failedTrials: trials - samples.length,
    samplesMs: samples.map((x) => Math.round(x * 10) / 10),
    clientVisible: { minms: c.minms, p50ms: c.p50ms, p99ms: c.p99ms, maxms: c.maxms, samplesMs: clientSamples.map((x) => Math.round(x * 10) / 10) },
  };
}

/**
 * `trials` trials with `signal`, each repeated (at most `trials` times in all) when leadership had already moved before
 * the signal; `what` names the signal's effect in the progress lines ("killed", "stopped").
 */
async function repeatedTrials(h: Harness, signal: 'SIGKILL' | 'SIGSTOP', trials: number, label: string, what: string): Promise<FailoverResult> {
  const samples: number[] = [];
  const clientSamples: number[] = [];
  let discarded = 0;
  for (let i = 0; i < trials; i++) {
    const r = await oneTrial(h, signal);
    if (r.invalid && discarded < trials) {
      discarded++;
      i--;
      progress(`${label} trial discarded: leadership had moved before ${r.leader.id} was ${what}`);
      continue;
    }
    if (r.ms !== null) samples.push(r.ms);
    if (r.clientMs !== null) clientSamples.push(r.clientMs);
    progress(`${label} trial ${i + 1}/${trials}: ${what} ${r.leader.id} (${signal}), first write at a survivor after ${r.ms?.toFixed(1) ?? 'none'} ms (client-visible ${r.clientMs?.toFixed(1) ?? '?'} ms)`);
  }
  return { ...result(samples, clientSamples, trials), discardedTrials: discarded };
}

export async function runFailover(cfg: BenchConfig): Promise<{ failover: FailoverResult; transfer: TransferResult | null; silent: FailoverResult | null }> {
  const h = await setUp();
  try {
    const failover = await repeatedTrials(h, 'SIGKILL', cfg.failoverTrials, 'failover', 'killed');

    let transfer: TransferResult | null = null;
    if (cfg.transferTrials > 0) {
      const tSamples: number[] = [];
      const tClient: number[] = [];
      let transferred = 0;
      for (let i = 0; i < cfg.transferTrials; i++) {
        const r = await oneTrial(h, 'SIGTERM');
        if (r.ms !== null) tSamples.push(r.ms);
        if (r.clientMs !== null) tClient.push(r.clientMs);
        const said = logSaysTransferred(r.leader);
        if (said) transferred++;
        progress(`SIGTERM trial ${i + 1}/${cfg.transferTrials}: ${r.leader.id} ${said ? 'transferred leadership' : 'exited without a transfer'}; first write after ${r.ms?.toFixed(1) ?? 'none'} ms (client-visible ${r.clientMs?.toFixed(1) ?? '?'} ms)`);
      }
      const mode = transferred > cfg.transferTrials / 2 ? 'transfer' : 'election';
      transfer = {
        mode,
        note:
          mode === 'transfer'
            ? `the leader handed leadership over on SIGTERM in ${transferred}/${cfg.transferTrials} trials`
            : `the replica did not hand leadership over on SIGTERM (only ${transferred}/${cfg.transferTrials} logs say "leadership transferred"): this is a clean exit followed by an ordinary election`,
        ...result(tSamples, tClient, cfg.transferTrials),
      };
    }
    const silent = cfg.silentTrials > 0 ? await repeatedTrials(h, 'SIGSTOP', cfg.silentTrials, 'silent-leader', 'stopped') : null;
    return { failover, transfer, silent };
  } finally {
    await tearDown(h);
  }
}

/** Whether the replica's log since its last start says it completed a leadership transfer. */
function logSaysTransferred(r: ReplicaProc): boolean {
  try {
    const text = readFileSync(r.options.logFile, 'utf8');
    const lastStart = text.lastIndexOf('replica started');
    return /leadership transferred/i.test(text.slice(Math.max(0, lastStart)));
  } catch {
    return false;
  }
}
