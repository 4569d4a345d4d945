import { describe, expect, it } from 'vitest';
import type { EtcdResult, EtcdRow } from '../bench/etcd.js';
import { goalRows, type BenchResult } from '../bench/report.js';

const level = (inFlight: number, diskKBPerWrite: number, timing: EtcdRow['timing'] = 'default'): EtcdRow => ({
  inFlight, replicas: 3, timing, perSecond: 1000, p50ms: 1, p99ms: 2, maxms: 3, cpuSecondsPer1000: 1, clientCpuSecondsPer1000: 0.1, diskKBPerWrite, errors: 0,
});

function result(etcd: EtcdResult | null, extra: Partial<BenchResult> = {}): BenchResult {
  return {
    meta: {} as BenchResult['meta'], throughput: [], failover: null, transfer: null, etcd, seedBaseline: [], growth: null,
    connections: [], connectionsAb: null, loginStorm: null, groups: [], footprint: null, ...extra,
  } as BenchResult;
}

describe('bench goals (issue 15) as rows of results.txt', () => {
  const etcd: EtcdResult = {
    version: '3.5',
    throughput: [level(64, 4), level(64, 8, 'equal')],
    quorumThroughput: [level(64, 10)],
    failover: null,
    failoverEqual: null,
    ratios: [
      { timing: 'default', inFlight: 1, quorumPerSecond: 600, etcdPerSecond: 700, throughput: 0.86, quorumP99ms: 3, etcdP99ms: 2, p99: 1.5, quorumP50ms: 1.5, etcdP50ms: 2, p50: 0.75 },
      { timing: 'default', inFlight: 64, quorumPerSecond: 9000, etcdPerSecond: 3000, throughput: 3, quorumP99ms: 20, etcdP99ms: 40, p99: 0.5, quorumP50ms: 7, etcdP50ms: 20, p50: 0.35 },
      { timing: 'equal', inFlight: 256, quorumPerSecond: 9000, etcdPerSecond: 4000, throughput: 2.25, quorumP99ms: 50, etcdP99ms: 40, p99: 1.25, quorumP50ms: 30, etcdP50ms: 50, p50: 0.6 },
    ],
    idleRssMB: 27,
  };

  it('judges the ratios against etcd: at least 3× writes, p99 no worse, p50 at 1 in flight at most 0.8×, disk at most etcd\'s', () => {
    const rows = goalRows(result(etcd));
    const by = (name: string) => rows.find((r) => r.goal === name);
    expect(by('Quorum/etcd writes/s at 64 in flight (etcd default timings)')).toMatchObject({ figure: 3, op: '≥', met: true });
    expect(by('Quorum/etcd writes/s at 256 in flight (etcd equal timings)')).toMatchObject({ figure: 2.25, ratio: 0.75, met: false });
    expect(by('Quorum/etcd writes/s at 1 in flight (etcd default timings)')).toBeUndefined();
    expect(by('Quorum/etcd p99 at 1 in flight (etcd default timings)')).toMatchObject({ met: false });
    expect(by('Quorum/etcd p99 at 64 in flight (etcd default timings)')).toMatchObject({ met: true });
    expect(by('Quorum/etcd p50 at 1 in flight (etcd default timings)')).toMatchObject({ figure: 0.75, met: true });
    expect(by('Quorum/etcd disk written per write at 64 in flight (etcd default timings)')).toMatchObject({ figure: 2.5, met: false });
    expect(by('Quorum/etcd disk written per write at 64 in flight (etcd equal timings)')).toMatchObject({ figure: 1.25, met: false });
  });

  it('failover p99 below 200 ms and write growth within 20% at 1,000,000 messages', () => {
    const rows = goalRows(
      result(null, {
        failover: { trials: 20, minms: 80, p50ms: 110, p99ms: 199, maxms: 199, failedTrials: 0, samplesMs: [] },
        growth: { rows: [{ stored: 1_000_000, writeRatioVsEmpty: 0.79 } as never], catchUp: null },
      }),
    );
    expect(rows.find((r) => r.goal.startsWith('failover'))).toMatchObject({ figure: 199, met: true });
    expect(rows.find((r) => r.goal.startsWith('writes/s at 1,000,000'))).toMatchObject({ figure: 0.79, met: false });
    expect(goalRows(result(null))).toEqual([]);
  });
});
