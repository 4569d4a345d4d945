/** What one benchmark run does: durations, trial counts and data sizes for the quick and the full run. */
export interface BenchConfig {
  quick: boolean;
  /** Quorum with TLS on its peer links and load connections (--tls on); otherwise plain (--peer-links plain, ws://). */
  tls: boolean;
  /** Closed-loop concurrency levels. */
  levels: number[];
  /** Replica counts for the throughput scenario. */
  clusterSizes: number[];
  warmupMs: number;
  measureMs: number;
  /** SIGKILL-the-leader trials for Quorum and for etcd (default timings; equal timings get etcdEqualFailoverTrials). */
  failoverTrials: number;
  transferTrials: number;
  /** Trials of a leader that vanishes silently (SIGSTOP: its connections stay open). */
  silentTrials: number;
  etcdFailoverTrials: number;
  etcdEqualFailoverTrials: number;
  /** Rounds of alternating Quorum/etcd runs per level (results: the median round). */
  etcdRounds: number;
  growthSizes: number[];
  /** Rounds alternating the growth sizes (each round measures every size once). */
  growthRounds: number;
  /** Start-up measurements per size (alternating sizes; the median is reported). */
  startupRuns: number;
  /** Messages a replica missed, for the catch-up measurements (by snapshot and by log replay). */
  catchUpMessages: number;
  seedSizes: number[];
  /** How long each seed-store measurement runs (at least a few writes). */
  seedMeasureMs: number;
  /** Logged-in connections per level of the connections scenario (opened cumulatively on one cluster). */
  connectionCounts: number[];
  /** Warm-up and measured window of each connections level and of each login-storm window. */
  connWarmupMs: number;
  connMeasureMs: number;
  /** Rounds of (quiet, storm) windows in the login storm. */
  stormRounds: number;
  /** Start-up measurements per way of running the replica (footprint; alternating). */
  footprintRuns: number;
  /** Messages of the large footprint start-up (0: not measured). */
  footprintLargeMessages: number;
  outDir: string;
}

export function makeConfig(quick: boolean, outDir: string, tls = false): BenchConfig {
  return quick
    ? {
        quick,
        tls,
        levels: [1, 16, 64, 256],
        clusterSizes: [1, 3, 5],
        warmupMs: 600,
        measureMs: 1600,
        failoverTrials: 10,
        transferTrials: 3,
        silentTrials: 5,
        etcdFailoverTrials: 5,
        etcdEqualFailoverTrials: 0,
        etcdRounds: 1,
        growthSizes: [0, 100_000],
        growthRounds: 3,
        startupRuns: 2,
        catchUpMessages: 10_000,
        seedSizes: [1_000, 10_000, 100_000],
        seedMeasureMs: 1500,
        connectionCounts: [1000, 5000, 10000],
        connWarmupMs: 1000,
        connMeasureMs: 3000,
        stormRounds: 1,
        footprintRuns: 3,
        footprintLargeMessages: 0,
        outDir,
      }
    : {
        quick,
        tls,
        levels: [1, 16, 64, 256],
        clusterSizes: [1, 3, 5],
        warmupMs: 2000,
        measureMs: 8000,
        failoverTrials: 50,
        transferTrials: 10,
        silentTrials: 20,
        etcdFailoverTrials: 20,
        etcdEqualFailoverTrials: 10,
        etcdRounds: 2,
        growthSizes: [0, 100_000, 1_000_000],
        growthRounds: 6,
        startupRuns: 3,
        catchUpMessages: 1_000_000,
        seedSizes: [1_000, 10_000, 100_000],
        seedMeasureMs: 4000,
        connectionCounts: [1000, 5000, 10000],
        connWarmupMs: 2000,
        connMeasureMs: 8000,
        stormRounds: 2,
        footprintRuns: 5,
        footprintLargeMessages: 1_000_000,
        outDir,
      };
}
