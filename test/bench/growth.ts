/**
 * Scenario 3 — growth: does a write (and a read) cost the same with 0, 100,000 and 1,000,000 stored messages?
 *
 * Method: for each size a single-replica data folder is generated in-process by preload.ts (the real state machine
 * and log store applying real signup/login/send commands in big batches, compacted like the driver compacts), then a
 * real replica process is started on it: start-up time (spawn → first /healthz 200, polled every 10 ms; the
 * 0-message figure is the fixed cost of starting Node + tsx), measured several times alternating the sizes (median),
 * and RSS (VmRSS) right after the first start-up. Then, in rounds that alternate the sizes (so the shared machine's
 * noise hits each alike; rows pool the rounds): send cost at 16 in flight (256-byte messages, committed + fsynced)
 * to recipients drawn at random among the 200 other accounts (so index inserts spread over whole b-trees, as real
 * traffic does), then the same all to one recipient (inserts stay on a few hot index pages), then history read latency (1 in flight, the newest 50 messages of one conversation — after the writes, so even
 * the 0-message replica returns full pages — each behind a ReadIndex barrier). RSS (and the V8 heap / external
 * memory from the replica's /metrics) again after the load. Flatness (goal: within 20%): the median over rounds of
 * each size's send rate over the 0-message replica's rate in the same round, and the ratio of replica CPU seconds
 * per 1,000 sends (the cost itself, which other work on the machine moves less than the rate).
 *
 * Catch-up: 3 replicas whose folders are generated with the same seed — r1 and r2 hold N more messages than r3.
 * r1 and r2 start and elect a leader; then r3 starts, and the figure is r3's spawn → its applied index reaching the
 * leader's commit index. The leader has compacted those entries, so r3 catches up by snapshot (state.db streamed in chunks) and then by the log tail — the same path a replica that was
 * down while those messages were written takes (folders and replicas compacting every N/20 entries and keeping N/200,
 * so that the snapshot path is taken at any N). Then the same with folders generated without compaction and replicas
 * that keep every entry (`--compact-every`/`--keep-entries` 100,000,000): r3 catches up by log replay alone. Each reports
 * the entries r3 applied (leader's commit index − r3's last index at start) per second from its start-up (/healthz) to
 * caught up.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, ReplicaProc, statusOf, waitFor } from '../helpers/cluster.js';
import type { BenchConfig } from './config.js';
import { measureRaw, scrapeMetrics, toRow, type LevelRaw, type LevelRow } from './measure.js';
import { benchPasswordHash, OTHER_ACCOUNTS, preload, type PreloadCache } from './preload.js';
import { seededRandom } from '../helpers/random.js';
import { rssMB } from './procstat.js';
import { progress } from './progress.js';
import { QuorumLoad } from './quorum-load.js';
import { median, ratio, round } from './stats.js';

export interface GrowthRow {
  stored: number;
  generateSeconds: number;
  dataMB: number;
  startupMs: number;
  rssStartMB: number | null;
  rssAfterLoadMB: number | null;
  /** Where the memory is after the load (the replica's own process metrics): V8 heap and off-heap (external). */
  memoryAfterLoad: { heapUsedMB: number | null; heapTotalMB: number | null; externalMB: number | null } | null;
  /** Sends to recipients drawn at random among 200 accounts (index inserts spread over the whole b-trees). */
  write: Pick<LevelRow, 'inFlight' | 'perSecond' | 'p50ms' | 'p99ms' | 'maxms' | 'cpuSecondsPer1000' | 'diskKBPerWrite' | 'errors'>;
  /** Sends all to one recipient (inserts land on the same few index pages). */
  writeOneConversation: Pick<LevelRow, 'inFlight' | 'perSecond' | 'p50ms' | 'p99ms' | 'maxms' | 'cpuSecondsPer1000' | 'diskKBPerWrite' | 'errors'>;
  writeOneConversationRatioVsEmpty: number | null;
  read: Pick<LevelRow, 'inFlight' | 'perSecond' | 'p50ms' | 'p99ms' | 'maxms' | 'errors'>;
  startupSamplesMs: number[];
  /** Median over rounds of (send/s at this size) / (send/s of the 0-message replica in the same round). */
  writeRatioVsEmpty: number | null;
  writeRatiosByRound: number[];
  /** Replica CPU seconds per 1,000 sends at this size / at 0 stored messages (the cost itself, less load-sensitive). */
  cpuPerWriteRatioVsEmpty: number | null;
  readP50RatioVsEmpty: number | null;
}

export interface CatchUp {
  missedMessages: number;
  /** r3 spawn → applied index reaches the leader's commit index. */
  catchUpMs: number;
  /** r3 spawn → /healthz 200 (part of catchUpMs). */
  startupMs: number;
  /** The path asked for: 'snapshot' (the leader compacted the missed entries) or 'log' (it kept them all). */
  path: 'snapshot' | 'log';
  /** r3's log says it installed a snapshot. */
  viaSnapshot: boolean;
  /** Entries r3 applied to catch up: the leader's commit index − r3's last index before it started. */
  entries: number;
  /** entries / (catchUpMs − startupMs): from serving to caught up. */
  entriesPerSecond: number;
}

export interface GrowthResult {
  rows: GrowthRow[];
  /** By snapshot (the leader compacted what r3 missed). */
  catchUp: CatchUp | null;
  /** By log replay (the leader kept every entry). */
  catchUpByLog?: CatchUp | null;
}

function dirMB(dir: string): number {
  let total = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    try {
      const st = statSync(join(dir, f));
      if (st.isFile()) total += st.size;
    } catch {
      /* vanished */
    }
  }
  return round(total / 1024 / 1024, 1);
}

/** Spawns the replica and polls /healthz every 10 ms; returns spawn → first 200 in ms. */
export async function startTimed(r: ReplicaProc, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  r.start();
  await waitFor(`${r.id} /healthz`, async () => {
    if (!r.running) throw new Error(`${r.id} exited (see ${r.options.logFile})`);
    const res = await fetch(`http://${r.address}/healthz`).catch(() => null);
    return res?.status === 200;
  }, timeoutMs, 10);
  return performance.now() - t0;
}

interface SizeRun {
  stored: number;
  dataDir: string;
  generatedSeconds: number;
  proc: ReplicaProc;
  startups: number[];
  rssStartMB: number | null;
  load: QuorumLoad | null;
  writes: LevelRaw[];
  hotWrites: LevelRaw[];
  reads: LevelRaw[];
}

async function prepareSize(cache: PreloadCache, stored: number, root: string): Promise<SizeRun> {
  const dataDir = join(root, `r1-${stored}`);
  progress(`growth: preparing ${stored.toLocaleString('en')} stored messages`);
  const { generatedSeconds } = await cache.folder(stored, dataDir);
  const proc = new ReplicaProc({ id: 'r1', port: await freePort(), dataDir, logFile: join(root, `r1-${stored}.log`) });
  return { stored, dataDir, generatedSeconds, proc, startups: [], rssStartMB: null, load: null, writes: [], hotWrites: [], reads: [] };
}

/** V8 heap and external memory from the replica's /metrics (prom-client default metrics, prefix quorum_process_). */
async function memoryOf(address: string): Promise<GrowthRow['memoryAfterLoad']> {
  try {
    const v = await scrapeMetrics(address);
    const mb = (name: string) => {
      const bytes = v(`quorum_process_${name}`);
      return Number.isNaN(bytes) ? null : round(bytes / 1024 / 1024, 0);
    };
    return { heapUsedMB: mb('nodejs_heap_size_used_bytes'), heapTotalMB: mb('nodejs_heap_size_total_bytes'), externalMB: mb('nodejs_external_memory_bytes') };
  } catch {
    return null;
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = o[k];
  return out;
}
async function measureCatchUp(missed: number, root: string, path: 'snapshot' | 'log'): Promise<CatchUp> {
  const dir = mkdtempSync(join(root, 'catchup-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const members = ports.map((p, i) => ({ id: `r${i + 1}`, address: `127.0.0.1:${p}` }));
  const initial = members.map((m) => `${m.id}=${m.address}`).join(',');
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, `bench-secret-${process.pid}\n`, { mode: 0o600 });
  const passwordHash = await benchPasswordHash();
  const base = 1000;
  progress(`catch-up by ${path}: generating 3 folders (r3 misses ${missed.toLocaleString('en')} messages)`);
  // By log: nothing compacted while generating, and replicas that keep more entries than r3 misses. By snapshot: folders
  // compacted, and replicas that keep, far fewer entries than r3 misses (the defaults keep 5,000 and compact every
  // 20,000, which a quick run's 10,000 would not pass).
  const every = Math.max(100, Math.floor(missed / 20));
  // The same compaction for the generated folders and the running replicas (the replica CLI takes up to 100,000,000).
  const compaction = path === 'log' ? { compactEvery: 100_000_000, keepEntries: 100_000_000 } : { compactEvery: every, keepEntries: Math.floor(every / 10) };
  const keepArgs = ['--compact-every', String(compaction.compactEvery), '--keep-entries', String(compaction.keepEntries)];
  preload({ dataDir: join(dir, 'r1'), messages: base + missed, members, passwordHash, seed: 7, ...compaction });
  cpSync(join(dir, 'r1'), join(dir, 'r2'), { recursive: true });
  const r3Last = preload({ dataDir: join(dir, 'r3'), messages: base, members, passwordHash, seed: 7, ...compaction }).lastIndex;
  const procs = members.map(
    (m, i) =>
      new ReplicaProc({ id: m.id, port: ports[i], dataDir: join(dir, m.id), initialCluster: initial, secretFile, logFile: join(dir, `${m.id}.log`), extraArgs: keepArgs }),
  );
  try {
    procs[0].start();
    procs[1].start();
    await Promise.all([procs[0].waitHealthy(120_000), procs[1].waitHealthy(120_000)]);
    const leaderAddr = await waitFor('a leader among r1, r2', async () => {
      const sts = await Promise.all(procs.slice(0, 2).map((p) => statusOf(p.address).catch(() => null)));
      const l = sts.find((s) => s?.role === 'leader');
      return l ? l.address : null;
    }, 60_000);
    const target = (await statusOf(leaderAddr)).commitIndex;
    const t0 = performance.now();
    const startupMs = await startTimed(procs[2]);
    let lastReport = performance.now();
    await waitFor('r3 to catch up', async () => {
      const applied = (await statusOf(procs[2].address)).appliedIndex;
      if (performance.now() - lastReport >= 5_000) {
        lastReport = performance.now();
        progress(`catch-up by ${path}: r3 applied ${applied - r3Last} of ${target - r3Last} entries after ${((lastReport - t0) / 1000).toFixed(0)} s`);
      }
      return applied >= target;
    }, 1_800_000, 20);
    const catchUpMs = performance.now() - t0;
    const { readFileSync } = await import('node:fs');
    const viaSnapshot = /snapshot/i.test(readFileSync(join(dir, 'r3.log'), 'utf8'));
    const entries = target - r3Last;
    // From serving (its /healthz answers) to caught up: start-up itself (Node, tsx, opening the stores) is apart.
    const entriesPerSecond = round(entries / (Math.max(1, catchUpMs - startupMs) / 1000), 0);
    progress(`catch-up by ${path}: r3 applied ${entries} entries (to ${target}) after ${catchUpMs.toFixed(0)} ms, ${entriesPerSecond} entries/s (${viaSnapshot ? 'a snapshot was installed' : 'no snapshot'})`);
    return { missedMessages: missed, catchUpMs: round(catchUpMs, 0), startupMs: round(startupMs, 0), path, viaSnapshot, entries, entriesPerSecond };
  } finally {
    await Promise.all(procs.map((p) => p.kill()));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runGrowth(cfg: BenchConfig, cache: PreloadCache): Promise<GrowthResult> {
  const root = mkdtempSync(join(tmpdir(), 'quorum-bench-growth-'));
  mkdirSync(root, { recursive: true });
  const runs: SizeRun[] = [];
  try {
    for (const stored of cfg.growthSizes) runs.push(await prepareSize(cache, stored, root));
    // Start-up, one replica at a time, repeated in rounds that alternate the sizes (median reported): the figure is
    // mostly Node + tsx start-up, which the shared machine's load moves by hundreds of ms.
    for (let i = 0; i < cfg.startupRuns; i++) {
      for (const r of runs) {
        const ms = await startTimed(r.proc);
        r.startups.push(ms);
        if (i === 0) r.rssStartMB = rssMB(r.proc.proc?.pid);
        progress(`growth: ${r.stored.toLocaleString('en')} stored: start-up ${ms.toFixed(0)} ms${i === 0 ? `, RSS ${r.rssStartMB?.toFixed(0)} MB` : ''}`);
        if (i < cfg.startupRuns - 1) await r.proc.stop();
      }
    }
    for (const r of runs) r.load = await QuorumLoad.open(r.proc.address);
    // Rounds alternate the sizes, so the shared machine's noise hits every size alike.
    const rounds = cfg.growthRounds;
    for (let round = 0; round < rounds; round++) {
      for (const r of runs) {
        const pids = () => [r.proc.proc?.pid];
        const rand = seededRandom(1000 * round + r.stored);
        r.writes.push(await measureRaw({ inFlight: 16, warmupMs: cfg.warmupMs / 2, measureMs: cfg.measureMs / rounds, op: (w) => r.load!.send(w, 16, `user${Math.floor(rand() * OTHER_ACCOUNTS)}`), pids }));
        r.hotWrites.push(await measureRaw({ inFlight: 16, warmupMs: cfg.warmupMs / 4, measureMs: cfg.measureMs / rounds / 2, op: (w) => r.load!.send(w, 16), pids }));
        r.reads.push(await measureRaw({ inFlight: 1, warmupMs: cfg.warmupMs / 4, measureMs: cfg.measureMs / rounds / 2, op: (w) => r.load!.history(w), pids }));
        const w = toRow(r.writes.slice(-1));
        const hot = toRow(r.hotWrites.slice(-1));
        const rd = toRow(r.reads.slice(-1));
        progress(`growth round ${round + 1}/${rounds}: ${r.stored.toLocaleString('en')} stored: send ${w.perSecond}/s p99 ${w.p99ms} ms (one conversation: ${hot.perSecond}/s); history p50 ${rd.p50ms} ms p99 ${rd.p99ms} ms`);
      }
    }
    const raw = [];
    for (const r of runs) {
      const write = toRow(r.writes);
      const hot = toRow(r.hotWrites);
      const read = toRow(r.reads);
      const rssAfterLoadMB = rssMB(r.proc.proc?.pid);
      const memoryAfterLoad = await memoryOf(r.proc.address);
      raw.push({
        stored: r.stored,
        generateSeconds: round(r.generatedSeconds, 1),
        dataMB: dirMB(r.dataDir),
        startupMs: round(median(r.startups), 0),
        startupSamplesMs: r.startups.map((x) => round(x, 0)),
        rssStartMB: r.rssStartMB === null ? null : round(r.rssStartMB, 0),
        rssAfterLoadMB: rssAfterLoadMB === null ? null : round(rssAfterLoadMB, 0),
        memoryAfterLoad,
        write: pick(write, ['inFlight', 'perSecond', 'p50ms', 'p99ms', 'maxms', 'cpuSecondsPer1000', 'diskKBPerWrite', 'errors']),
        writeOneConversation: pick(hot, ['inFlight', 'perSecond', 'p50ms', 'p99ms', 'maxms', 'cpuSecondsPer1000', 'diskKBPerWrite', 'errors']),
        read: pick(read, ['inFlight', 'perSecond', 'p50ms', 'p99ms', 'maxms', 'errors']),
      });
    }
    for (const r of runs) {
      r.load?.close();
      await r.proc.kill();
      rmSync(r.dataDir, { recursive: true, force: true });
    }
    // Flatness: per round, this size's rate over the 0-message replica's rate in the same round; the median of
    // those ratios (bursts of load from other work on the machine hit single windows, not the median).
    const emptyRun = runs.find((r) => r.stored === 0);
    const perRound = (r: SizeRun, pick: (x: LevelRaw) => number) =>
      emptyRun ? r.writes.map((w, i) => pick(w) / pick(emptyRun.writes[i])).filter((x) => Number.isFinite(x)) : [];
    const empty = raw.find((r) => r.stored === 0);
    const rows: GrowthRow[] = raw.map((r, k) => ({
      ...r,
      writeRatioVsEmpty: emptyRun ? round(median(perRound(runs[k], (x) => x.completed / x.seconds)), 2) : null,
      writeRatiosByRound: perRound(runs[k], (x) => x.completed / x.seconds).map((x) => round(x, 2)),
      cpuPerWriteRatioVsEmpty: ratio(r.write.cpuSecondsPer1000, empty?.write.cpuSecondsPer1000),
      writeOneConversationRatioVsEmpty: emptyRun ? round(median(runs[k].hotWrites.map((w, i) => w.completed / w.seconds / (emptyRun.hotWrites[i].completed / emptyRun.hotWrites[i].seconds)).filter((x) => Number.isFinite(x))), 2) : null,
      readP50RatioVsEmpty: ratio(r.read.p50ms, empty?.read.p50ms),
    }));
    let catchUp: CatchUp | null = null;
    let catchUpByLog: CatchUp | null = null;
    if (cfg.catchUpMessages > 0) {
      catchUp = await measureCatchUp(cfg.catchUpMessages, root, 'snapshot');
      catchUpByLog = await measureCatchUp(cfg.catchUpMessages, root, 'log');
    }
    return { rows, catchUp, catchUpByLog };
  } finally {
    for (const r of runs) {
      r.load?.close();
      await r.proc.kill();
    }
    rmSync(root, { recursive: true, force: true });
  }
}
