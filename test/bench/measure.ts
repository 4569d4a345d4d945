/**
 * One measured load level: runs the closed loop, charges CPU to the server processes over the measured window only
 * (utime + stime from /proc, summed over the given pids), and summarizes latencies. Several runs of the same level
 * (alternating rounds) pool into one row: total writes over total time, percentiles over all recorded latencies.
 */
import { closedLoop, type LoadOptions } from './load.js';
import { totalCpuSeconds, totalIoWriteBytes } from './procstat.js';
import { summarize, round } from './stats.js';

export interface LevelRow {
  inFlight: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  /** CPU seconds of the server processes per 1,000 committed writes. */
  cpuSecondsPer1000: number;
  /** CPU seconds of the load generator (this process) per 1,000 writes, for context. */
  clientCpuSecondsPer1000: number;
  /** KB the server processes wrote to storage per write (/proc/<pid>/io write_bytes; WAL, checkpoints). */
  diskKBPerWrite: number;
  errors: number;
  firstError?: string;
}

export interface LevelRaw {
  inFlight: number;
  completed: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  latenciesMs: number[];
  serverCpu: number;
  clientCpu: number;
  serverWriteBytes: number;
}

export interface LevelOptions {
  inFlight: number;
  warmupMs: number;
  measureMs: number;
  op: LoadOptions['op'];
  pids: () => (number | undefined)[];
}

function ownCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export async function measureRaw(o: LevelOptions): Promise<LevelRaw> {
  let cpu0 = 0;
  let cpu1 = 0;
  let client0 = 0;
  let client1 = 0;
  let io0 = 0;
  let io1 = 0;
  const r = await closedLoop({
    inFlight: o.inFlight,
    warmupMs: o.warmupMs,
    measureMs: o.measureMs,
    op: o.op,
    onMeasureStart: () => {
      cpu0 = totalCpuSeconds(o.pids());
      io0 = totalIoWriteBytes(o.pids());
      client0 = ownCpu();
    },
    onMeasureEnd: () => {
      cpu1 = totalCpuSeconds(o.pids());
      io1 = totalIoWriteBytes(o.pids());
      client1 = ownCpu();
    },
  });
  return {
    inFlight: o.inFlight,
    completed: r.completed,
    errors: r.errors,
    firstError: r.firstError,
    seconds: r.seconds,
    latenciesMs: r.latenciesMs,
    serverCpu: cpu1 - cpu0,
    clientCpu: client1 - client0,
    serverWriteBytes: io1 - io0,
  };
}

export function toRow(runs: LevelRaw[]): LevelRow {
  const completed = runs.reduce((s, r) => s + r.completed, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const errors = runs.reduce((s, r) => s + r.errors, 0);
  const firstError = runs.find((r) => r.firstError)?.firstError;
  const s = summarize(runs.flatMap((r) => r.latenciesMs));
  const per1000 = (x: number) => (completed > 0 ? round((x / completed) * 1000, 3) : (null as unknown as number));
  return {
    inFlight: runs[0].inFlight,
    perSecond: round(completed / seconds, 0),
    p50ms: s.p50ms,
    p99ms: s.p99ms,
    maxms: s.maxms,
    cpuSecondsPer1000: per1000(runs.reduce((x, r) => x + r.serverCpu, 0)),
    clientCpuSecondsPer1000: per1000(runs.reduce((x, r) => x + r.clientCpu, 0)),
    diskKBPerWrite: completed > 0 ? round(runs.reduce((x, r) => x + r.serverWriteBytes, 0) / 1024 / completed, 2) : (null as unknown as number),
    errors,
    ...(firstError ? { firstError } : {}),
  };
}

export async function measureLevel(o: LevelOptions): Promise<LevelRow> {
  return toRow([await measureRaw(o)]);
}

/** A replica's Prometheus metrics: a lookup of one sample's value by name (labels ignored; NaN when absent). */
export async function scrapeMetrics(address: string): Promise<(name: string) => number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  return (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}
