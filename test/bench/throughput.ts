/**
 * Scenario 1 — throughput and latency.
 *
 * Method: for 1, 3 and 5 replicas, start real replica processes on 127.0.0.1 (test/helpers/cluster.ts, default
 * timings), wait for a leader with a majority, and open 8 protocol connections to the leader, each logged in as
 * its own account. At each concurrency level (1, 16, 64, 256 requests in flight, spread round-robin over
 * min(inFlight, 8) pipelined connections) run a closed loop of `send` requests, each a 256-byte message to an
 * account with no live connection. A send is answered only once committed by a majority and fsynced, then applied.
 * Each cluster first runs sends at 64 in flight for twice the warm-up time (JIT, caches), and a warm-up at the same
 * level precedes each measured window; neither is recorded. Reported: committed sends per
 * second, p50/p99/max latency (issue → answer), and the CPU seconds of all replica processes (utime + stime from
 * /proc/<pid>/stat, before/after the window) per 1,000 committed sends. The load generator runs on the same 2-core
 * machine; its own CPU is reported separately (clientCpuSecondsPer1000).
 */
import { Cluster, type ClusterOptions } from '../helpers/cluster.js';
import type { BenchConfig } from './config.js';
import { closedLoop } from './load.js';
import { measureRaw, toRow, type LevelRaw, type LevelRow } from './measure.js';
import { progress } from './progress.js';
import { QuorumLoad } from './quorum-load.js';
import { tlsClientOptions, trustFromCaFile } from '../../replica/security/client-tls.js';
import type { ClientOptions } from 'ws';

export interface ThroughputRow extends LevelRow {
  replicas: number;
}

/**
 * Starts a Quorum cluster of `size` replicas and load clients on its leader, then (with `warmMs`) runs sends at 64 in
 * flight for that long, unrecorded, so the first measured level does not pay for JIT compilation and cold caches.
 */
export async function startQuorumWithLoad(
  size: number,
  warmMs = 0,
  options: Omit<ClusterOptions, 'size'> & { tls?: boolean } = {},
): Promise<QuorumUnderLoad> {
  // TLS: peer links as shipped and load connections over wss:// trusting the cluster CA. Plain: the transport before
  // TLS (--peer-links plain, ws://), which the earlier figures and etcd's (plain) measure.
  const { tls = false, ...clusterOptions } = options;
  const transport = tls ? [] : ['--peer-links', 'plain'];
  const cluster = await Cluster.start({ ...clusterOptions, size, secret: tls || size > 1, extraArgs: [...transport, ...(clusterOptions.extraArgs ?? [])] });
  const leader = await cluster.leader();
  const clientTls = tls ? tlsClientOptions(trustFromCaFile(cluster.caFile)) : undefined;
  const load = await QuorumLoad.open(leader.address, undefined, clientTls);
  if (warmMs > 0) await closedLoop({ inFlight: 64, warmupMs: 0, measureMs: warmMs, op: (w) => load.send(w, 64) });
  return { cluster, load, loadAddress: leader.address, clientTls, pids: () => cluster.replicas.map((r) => r.proc?.pid) };
}

export interface QuorumUnderLoad {
  cluster: Cluster;
  /** Load connections on the leader (moved by followLeader when leadership moves). */
  load: QuorumLoad;
  loadAddress: string;
  clientTls?: ClientOptions;
  pids: () => (number | undefined)[];
}

/** Moves the load connections to the current leader if leadership has moved since they were opened. */
export async function followLeader(q: QuorumUnderLoad): Promise<void> {
  const leader = await q.cluster.leader();
  if (leader.address === q.loadAddress) return;
  progress(`Quorum: leadership moved to ${leader.id}; the load follows it`);
  q.load.close();
  q.load = await QuorumLoad.open(leader.address, undefined, q.clientTls);
  q.loadAddress = leader.address;
}

/**
 * One level at the leader. On this shared machine an election can happen mid-level (a follower starved of CPU past
 * its election timeout): such a level, refused with NOT_LEADER, is measured again at the new leader (at most twice),
 * and the election is reported, rather than recorded as 0 writes/s.
 */
export async function quorumRaw(q: QuorumUnderLoad, cfg: Pick<BenchConfig, 'warmupMs' | 'measureMs'>, inFlight: number): Promise<LevelRaw> {
  for (let attempt = 0; ; attempt++) {
    await followLeader(q);
    const raw = await measureRaw({
      inFlight,
      warmupMs: cfg.warmupMs,
      measureMs: cfg.measureMs,
      op: (w) => q.load.send(w, inFlight),
      pids: q.pids,
    });
    if (raw.errors === 0 || attempt === 2 || !raw.firstError?.startsWith('NOT_LEADER')) return raw;
    progress(`Quorum: leadership moved during the ${inFlight}-in-flight level (${raw.errors} NOT_LEADER); measuring it again`);
  }
}

export async function runThroughput(cfg: BenchConfig): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const size of cfg.clusterSizes) {
    progress(`throughput: starting ${size} replica(s)`);
    const q = await startQuorumWithLoad(size, cfg.warmupMs * 2, { tls: cfg.tls });
    try {
      for (const inFlight of cfg.levels) {
        const row = toRow([await quorumRaw(q, cfg, inFlight)]);
        rows.push({ replicas: size, ...row });
        progress(`throughput: ${size} replica(s), ${inFlight} in flight: ${row.perSecond}/s p50 ${row.p50ms} ms p99 ${row.p99ms} ms${row.errors ? ` (${row.errors} errors: ${row.firstError})` : ''}`);
      }
    } finally {
      q.load.close();
      await q.cluster.destroy();
    }
  }
  return rows;
}
