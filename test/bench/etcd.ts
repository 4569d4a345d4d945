/**
 * Scenario 4 — etcd side by side (only when an `etcd` binary is available; the bench may install Debian's
 * etcd-server when it runs as root — never `npm test`).
 *
 * Method: 3 etcd members on 127.0.0.1 (real processes, data folders on the same disk as Quorum's), once at etcd's
 * default timings (heartbeat 100 ms, election 1000 ms) and once at Quorum's timings (heartbeat 50 ms, election
 * 250 ms). Writes are 256-byte values put through etcd's HTTP/JSON gateway (POST /v3/kv/put, base64 key and value,
 * a fresh key per write) with Node's http and a keep-alive agent holding as many sockets as requests in flight,
 * sent to the leader (the best case for etcd, as Quorum's clients also talk to the leader). The Quorum side is a
 * 3-replica cluster at its default timings with the same closed-loop load (throughput.ts). For each level the runs
 * alternate Quorum, etcd (× rounds) so that noise from the shared machine hits both; rows pool the rounds.
 * Both systems first take writes at 64 in flight for twice the warm-up time, unrecorded (JIT, caches, connections).
 * Ratios: Quorum/etcd throughput (higher is better for Quorum) and Quorum/etcd p99 (lower is better for Quorum).
 *
 * Failover is measured exactly as for Quorum (failover.ts): SIGKILL the leader, then every 5 ms a put at each
 * survivor without waiting for earlier ones; the figure is the first successful put. The member is restarted and
 * the cluster agrees on a leader again before the next trial.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { waitFor } from '../helpers/cluster.js';
import type { BenchConfig } from './config.js';
import { PAYLOAD_256 } from './load.js';
import { measureRaw, toRow, type LevelRaw, type LevelRow } from './measure.js';
import { firstSuccess } from './probe.js';
import { progress } from './progress.js';
import { ratio, summarize } from './stats.js';
import { quorumRaw, startQuorumWithLoad } from './throughput.js';
import { ensureEtcd, EtcdCluster, type EtcdTiming } from './etcd-cluster.js';
import type { FailoverResult } from './failover.js';

export type TimingName = 'default' | 'equal';
export const TIMINGS: Record<TimingName, EtcdTiming> = {
  default: { heartbeatMs: null, electionMs: null },
  equal: { heartbeatMs: 50, electionMs: 250 },
};

export interface EtcdRow extends LevelRow {
  replicas: number;
  timing: TimingName;
}

export interface EtcdRatio {
  timing: TimingName;
  inFlight: number;
  quorumPerSecond: number;
  etcdPerSecond: number;
  /** Quorum/etcd committed writes per second. */
  throughput: number | null;
  quorumP99ms: number;
  etcdP99ms: number;
  /** Quorum/etcd p99 latency (below 1: Quorum's p99 is better). */
  p99: number | null;
  quorumP50ms: number;
  etcdP50ms: number;
  p50: number | null;
}

export interface EtcdResult {
  version: string;
  throughput: EtcdRow[];
  /** The Quorum rows measured in alternation with etcd (3 replicas, Quorum's default timings). */
  quorumThroughput: EtcdRow[];
  failover: (Omit<FailoverResult, 'clientVisible'> & { timing: TimingName }) | null;
  failoverEqual: (Omit<FailoverResult, 'clientVisible'> & { timing: TimingName }) | null;
  ratios: EtcdRatio[];
  idleRssMB: number | null;
}

function etcdRaw(etcd: EtcdCluster, leaderIdx: number, cfg: BenchConfig, inFlight: number): Promise<LevelRaw> {
  const leader = etcd.members[leaderIdx];
  const agent = etcd.agent(leader, inFlight);
  let n = 0;
  return measureRaw({
    inFlight,
    warmupMs: cfg.warmupMs,
    measureMs: cfg.measureMs,
    op: (w) =>
      etcd.put(leader, `bench/${inFlight}/${w}/${n++}`, PAYLOAD_256, { agent, timeoutMs: 10_000 }).then(
        () => true as const,
        (err: Error) => err.message,
      ),
    pids: () => etcd.pids,
  });
}

async function etcdFailover(etcd: EtcdCluster, trials: number, timing: TimingName): Promise<Omit<FailoverResult, 'clientVisible'> & { timing: TimingName }> {
  const samples: number[] = [];
  const probeAgents = etcd.members.map(() => new http.Agent({ keepAlive: true, maxSockets: Infinity }));
  let key = 0;
  let discarded = 0;
  try {
    for (let i = 0; i < trials; i++) {
      await settleEtcd(etcd);
      const leader = await etcd.leader(30_000);
      const survivors = etcd.members.filter((m) => m !== leader);
      const targets = survivors.map((m) => ({
        write: () =>
          etcd.put(m, `failover/${key++}`, PAYLOAD_256, { agent: probeAgents[etcd.members.indexOf(m)], timeoutMs: 15_000 }).then(
            () => true,
            () => false,
          ),
      }));
      const before = await etcd.status(leader);
      if (before.leader !== before.id) {
        i--;
        continue; // leadership moved while we looked: settle again
      }
      const t0 = performance.now();
      leader.proc!.kill('SIGKILL');
      const first = await firstSuccess(targets, { everyMs: 5, maxOutstanding: 2000, timeoutMs: 30_000 });
      await leader.exited;
      if (first) {
        const st = await etcd.status(survivors[first.target]).catch(() => null);
        if (st && Number(st.raftTerm) <= Number(before.raftTerm) && discarded < trials) {
          discarded++;
          i--;
          progress(`etcd failover trial discarded: leadership had moved before ${leader.name} was killed`);
          leader.start();
          continue;
        }
        samples.push(first.at - t0);
      }
      progress(`etcd (${timing} timings) failover trial ${i + 1}/${trials}: killed ${leader.name}, first put at a survivor after ${first ? (first.at - t0).toFixed(1) : 'none'} ms`);
      leader.start();
    }
    await settleEtcd(etcd);
  } finally {
    for (const a of probeAgents) a.destroy();
  }
  const s = summarize(samples);
  return { timing, trials, minms: s.minms, p50ms: s.p50ms, p99ms: s.p99ms, maxms: s.maxms, failedTrials: trials - samples.length, discardedTrials: discarded, samplesMs: samples.map((x) => Math.round(x * 10) / 10) };
}

/** Every member running and agreeing on a leader, with equal raft indexes (the restarted one caught up). */
async function settleEtcd(etcd: EtcdCluster): Promise<void> {
  await etcd.leader(60_000);
  await waitFor('etcd members to catch up', async () => {
    const sts = await Promise.all(etcd.members.map((m) => etcd.post(m, '/v3/maintenance/status', {}, { timeoutMs: 1000 }).catch(() => null)));
    if (sts.some((s) => !s)) return false;
    return sts.every((s) => String(s.raftIndex) === String(sts[0].raftIndex));
  }, 60_000, 50);
}

export async function runEtcd(cfg: BenchConfig): Promise<EtcdResult | null> {
  const found = ensureEtcd();
  if ('reason' in found) {
    process.stderr.write(`etcd: skipped: ${found.reason}\n`);
    return null;
  }
  const { execFileSync } = await import('node:child_process');
  const version = /etcd Version:\s*(\S+)/.exec(execFileSync(found.bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  progress(`etcd ${version}: starting a 3-replica Quorum cluster for the alternating runs`);
  const q = await startQuorumWithLoad(3, cfg.warmupMs * 2, { tls: cfg.tls });
  const throughput: EtcdRow[] = [];
  const quorumThroughput: EtcdRow[] = [];
  const ratios: EtcdRatio[] = [];
  let failover: EtcdResult['failover'] = null;
  let failoverEqual: EtcdResult['failoverEqual'] = null;
  let idleRssMB: number | null = null;
  try {
    for (const timing of ['default', 'equal'] as TimingName[]) {
      progress(`etcd: starting 3 members at ${timing} timings`);
      const etcd = await EtcdCluster.start(found.bin, TIMINGS[timing]);
      try {
        if (timing === 'default') {
          const { rssMB } = await import('./procstat.js');
          const rss = etcd.pids.map((p) => rssMB(p)).filter((x): x is number => x !== null);
          idleRssMB = rss.length ? Math.round(rss.reduce((a, b) => a + b, 0) / rss.length) : null;
        }
        const leader = await etcd.leader();
        const leaderIdx = etcd.members.indexOf(leader);
        await etcdRaw(etcd, leaderIdx, { ...cfg, warmupMs: 0, measureMs: cfg.warmupMs * 2 }, 64); // warm-up, not recorded
        for (const inFlight of cfg.levels) {
          const qRuns: LevelRaw[] = [];
          const eRuns: LevelRaw[] = [];
          for (let round = 0; round < cfg.etcdRounds; round++) {
            qRuns.push(await quorumRaw(q, cfg, inFlight));
            eRuns.push(await etcdRaw(etcd, leaderIdx, cfg, inFlight));
          }
          const qr: EtcdRow = { replicas: 3, timing, ...toRow(qRuns) };
          const er: EtcdRow = { replicas: 3, timing, ...toRow(eRuns) };
          quorumThroughput.push(qr);
          throughput.push(er);
          ratios.push({
            timing,
            inFlight,
            quorumPerSecond: qr.perSecond,
            etcdPerSecond: er.perSecond,
            throughput: ratio(qr.perSecond, er.perSecond),
            quorumP99ms: qr.p99ms,
            etcdP99ms: er.p99ms,
            p99: ratio(qr.p99ms, er.p99ms),
            quorumP50ms: qr.p50ms,
            etcdP50ms: er.p50ms,
            p50: ratio(qr.p50ms, er.p50ms),
          });
          progress(`etcd (${timing}) ${inFlight} in flight: etcd ${er.perSecond}/s p99 ${er.p99ms} ms | Quorum ${qr.perSecond}/s p99 ${qr.p99ms} ms${er.errors ? ` (etcd errors ${er.errors}: ${er.firstError})` : ''}`);
        }
        const trials = timing === 'default' ? cfg.etcdFailoverTrials : cfg.etcdEqualFailoverTrials;
        if (trials > 0) {
          const f = await etcdFailover(etcd, trials, timing);
          if (timing === 'default') failover = f;
          else failoverEqual = f;
        }
      } finally {
        await etcd.destroy();
      }
    }
  } finally {
    q.load.close();
    await q.cluster.destroy();
  }
  return { version, throughput, quorumThroughput, failover, failoverEqual, ratios, idleRssMB };
}
