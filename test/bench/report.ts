/** The run's result document, its text table for stdout, and its plots under bench-results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionsAb, ConnectionsRow, LoginStormResult } from './connections.js';
import type { GroupFanoutRow } from './groups.js';
import type { EtcdResult } from './etcd.js';
import type { FootprintResult } from './footprint.js';
import type { FailoverResult, TransferResult } from './failover.js';
import type { GrowthResult } from './growth.js';
import { barChart, histogram, lineChart, type Series } from './plots.js';
import { REPLICA_NODE_ARGS } from '../../replica/process-env.js';
import type { SearchResult } from './search.js';
import type { SeedRow } from './seed-baseline.js';
import type { ThroughputRow } from './throughput.js';
import { textTable } from '../../replica/cli/text-table.js';
import { ratio } from './stats.js';

export interface BenchResult {
  meta: { quick: boolean; startedAt: string; seconds: number; node: string; cpus: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[]; only: string[] | null };
  throughput: ThroughputRow[];
  failover: FailoverResult | null;
  transfer: TransferResult | null;
  /** The leader stopped (SIGSTOP) rather than killed: no transport error, a whole election timeout. */
  silent: FailoverResult | null;
  etcd: EtcdResult | null;
  seedBaseline: SeedRow[];
  growth: GrowthResult | null;
  connections: ConnectionsRow[];
  connectionsAb: ConnectionsAb | null;
  loginStorm: LoginStormResult | null;
  groups: GroupFanoutRow[];
  footprint: FootprintResult | null;
  search: SearchResult | null;
}

/** The report's tables: the first column names the row, the others are right-aligned figures. */
function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  return textTable(headers, rows, { align: headers.map((_, i) => (i === 0 ? 'left' : 'right')), rule: true });
}

function failoverLine(name: string, f: { trials: number; minms: number; p50ms: number; p99ms: number; maxms: number; failedTrials?: number } | null | undefined): (string | number | null)[] {
  if (!f) return [name, null, null, null, null, null];
  return [name, f.trials - (f.failedTrials ?? 0), f.minms, f.p50ms, f.p99ms, f.maxms];
}

export function renderTable(r: BenchResult): string {
  const out: string[] = [];
  out.push(`Quorum bench (${r.meta.quick ? 'quick' : 'full'} run, ${r.meta.startedAt}, ${r.meta.seconds.toFixed(0)} s, ${r.meta.cpus} CPUs, load average at start ${r.meta.loadAverageAtStart.map((x) => x.toFixed(1)).join(' ')})`);
  if (r.throughput.length) {
    out.push('', '1. Throughput and latency (closed loop, 256-byte sends, committed + fsynced)');
    out.push(table(['replicas', 'in flight', 'committed/s', 'p50 ms', 'p99 ms', 'max ms', 'CPU s/1000', 'client CPU s/1000', 'disk KB/write', 'errors'], r.throughput.map((t) => [t.replicas, t.inFlight, t.perSecond, t.p50ms, t.p99ms, t.maxms, t.cpuSecondsPer1000, t.clientCpuSecondsPer1000, t.diskKBPerWrite, t.errors])));
  }
  if (r.failover || r.transfer) {
    out.push('', '2. Failover (3 replicas, default timings): SIGKILL of the leader → first committed write at a survivor');
    const rows = [failoverLine('Quorum SIGKILL', r.failover)];
    if (r.failover?.clientVisible) rows.push(failoverLine('  client-visible pause (QuorumClient)', { trials: r.failover.clientVisible.samplesMs.length, ...r.failover.clientVisible }));
    if (r.transfer) {
      rows.push(failoverLine(`Quorum SIGTERM (${r.transfer.mode})`, r.transfer));
      if (r.transfer.clientVisible) rows.push(failoverLine('  client-visible pause (QuorumClient)', { trials: r.transfer.clientVisible.samplesMs.length, ...r.transfer.clientVisible }));
    }
    if (r.silent) {
      rows.push(failoverLine('Quorum silent leader (SIGSTOP)', r.silent));
      if (r.silent.clientVisible) rows.push(failoverLine('  client-visible pause (QuorumClient)', { trials: r.silent.clientVisible.samplesMs.length, ...r.silent.clientVisible }));
    }
    if (r.etcd?.failover) rows.push(failoverLine(`etcd ${r.etcd.version} SIGKILL (default timings)`, r.etcd.failover));
    if (r.etcd?.failoverEqual) rows.push(failoverLine(`etcd ${r.etcd.version} SIGKILL (50/250 ms)`, r.etcd.failoverEqual));
    out.push(table(['', 'trials', 'min ms', 'p50 ms', 'p99 ms', 'max ms'], rows));
    if (r.transfer) out.push(`SIGTERM: ${r.transfer.note}`);
    if (r.failover && r.etcd?.failover) out.push(`etcd default-timing median / Quorum median: ${(r.etcd.failover.p50ms / r.failover.p50ms).toFixed(2)}×`);
  }
  if (r.etcd) {
    out.push('', `3. Quorum (3 replicas, 50/250 ms) vs etcd ${r.etcd.version} (3 members), alternating runs, same load generator`);
    out.push(table(['etcd timing', 'in flight', 'Quorum/s', 'etcd/s', 'ratio', 'Quorum p99', 'etcd p99', 'p99 ratio', 'Quorum p50', 'etcd p50', 'p50 ratio'], r.etcd.ratios.map((x) => [x.timing, x.inFlight, x.quorumPerSecond, x.etcdPerSecond, x.throughput, x.quorumP99ms, x.etcdP99ms, x.p99, x.quorumP50ms, x.etcdP50ms, x.p50])));
    out.push('ratio = Quorum/etcd throughput (issue 15 goal ≥ 3 at 64 and 256); p99 ratio = Quorum/etcd (goal ≤ 1); p50 ratio at 1 in flight (goal ≤ 0.8). Judged in the Goals table below.');
    const cpu = r.etcd.throughput.map((e, i) => [e.timing, e.inFlight, r.etcd!.quorumThroughput[i]?.cpuSecondsPer1000, e.cpuSecondsPer1000, r.etcd!.quorumThroughput[i]?.diskKBPerWrite, e.diskKBPerWrite]);
    out.push(table(['etcd timing', 'in flight', 'Quorum CPU s/1000', 'etcd CPU s/1000', 'Quorum disk KB/write', 'etcd disk KB/write'], cpu));
    if (r.etcd.idleRssMB !== null) out.push(`etcd idle RSS per member: ${r.etcd.idleRssMB} MB`);
  }
  if (r.growth) {
    out.push('', '4. Growth (1 replica; send at 16 in flight; history = newest 50 of one conversation, 1 in flight)');
    const mem = (g: (typeof r.growth.rows)[number]) => (g.memoryAfterLoad ? `${g.memoryAfterLoad.heapUsedMB}/${g.memoryAfterLoad.heapTotalMB}/${g.memoryAfterLoad.externalMB}` : null);
    out.push(table(['stored', 'data MB', 'start-up ms', 'RSS MB', 'RSS after MB', 'heap used/total/ext MB', 'send/s', 'send p50', 'send p99', 'vs 0', 'CPU s/1000', 'vs 0', 'disk KB/write', '1-conv send/s', 'vs 0', '1-conv disk KB/write', 'history p50', 'history p99', 'vs 0'], r.growth.rows.map((g) => [g.stored.toLocaleString('en'), g.dataMB, g.startupMs, g.rssStartMB, g.rssAfterLoadMB, mem(g), g.write.perSecond, g.write.p50ms, g.write.p99ms, g.writeRatioVsEmpty, g.write.cpuSecondsPer1000, g.cpuPerWriteRatioVsEmpty, g.write.diskKBPerWrite, g.writeOneConversation?.perSecond, g.writeOneConversationRatioVsEmpty, g.writeOneConversation?.diskKBPerWrite, g.read.p50ms, g.read.p99ms, g.readP50RatioVsEmpty])));
    out.push('send: to random recipients among 200 accounts; 1-conv: all to one recipient. start-up: median of alternating runs (spawn → /healthz 200, includes Node + tsx); "vs 0": median over rounds of the same-round ratio to the 0-message replica (goal within ±20%).');
    for (const c of [r.growth.catchUp, r.growth.catchUpByLog]) {
      if (!c) continue;
      const how = c.path === 'log' ? `by log replay${c.viaSnapshot ? ' (but a snapshot was installed)' : ''}` : c.viaSnapshot ? 'by snapshot + log tail' : 'by log entries (no snapshot was needed)';
      out.push(`catch-up ${how}: a replica that missed ${c.missedMessages.toLocaleString('en')} messages applied ${c.entries?.toLocaleString('en') ?? '?'} entries ${c.catchUpMs} ms after spawn (start-up ${c.startupMs} ms): ${c.entriesPerSecond?.toLocaleString('en') ?? '?'} entries/s after start-up`);
    }
  }
  if (r.seedBaseline.length) {
    out.push('', "5. The seed's design (whole user database rewritten to one JSON file + fsync per change) vs Quorum, 1 replica");
    out.push(table(['stored', 'seed writes/s', 'seed p50 ms', 'JSON MB', 'Quorum/s (1)', 'ratio', 'Quorum/s (16)', 'ratio'], r.seedBaseline.map((s) => [s.stored.toLocaleString('en'), s.perSecond, s.p50ms, s.fileMB, s.quorumPerSecond, s.ratio, s.quorum16PerSecond, s.ratio16])));
  }
  if (r.connections.length) {
    out.push('', '6. Connections (3 replicas; logged-in connections to the leader from 100 per loopback address; a sender at 1,000 messages/s to random connected accounts)');
    out.push(table(['clients', 'push p50 ms', 'push p99 ms', 'push max ms', 'delivered', 'sends/s', 'send p99 ms', 'leader CPU ms/msg', 'follower CPU ms/msg', 'leader RSS MB', 'generators', 'busiest generator', 'connect s', 'load avg', 'errors'], r.connections.map((c) => [c.clients.toLocaleString('en'), c.pushP50ms, c.pushP99ms, c.pushMaxms, c.delivered, c.sendsPerSecond, c.sendAckP99ms, c.leaderCpuMsPerMessage, c.followerCpuMsPerMessage, c.leaderRssMB, c.generators, c.generatorCpuMax, c.connectSeconds, c.loadAverage, c.errors])));
    out.push('push = send issued → push arrives at the recipient; busiest generator = CPU of the busiest load-generator child over the window (1 = a core).');
    const ab = r.connectionsAb;
    if (ab) {
      const v = ab.variant;
      const b = ab.base;
      out.push(`A/B at 5,000, each on a fresh cluster, replicas with node ${ab.nodeArgs.join(' ')} after the product's ${REPLICA_NODE_ARGS.join(' ')} vs the product's alone (ratios: variant / product): push p50 ${v.pushP50ms} ms (${ratio(v.pushP50ms, b.pushP50ms)}×), p99 ${v.pushP99ms} ms (${ratio(v.pushP99ms, b.pushP99ms)}×), leader CPU ${v.leaderCpuMsPerMessage} ms/msg (${ratio(v.leaderCpuMsPerMessage, b.leaderCpuMsPerMessage)}×), leader RSS ${v.leaderRssMB} MB (${ratio(v.leaderRssMB, b.leaderRssMB)}×)`);
    }
  }
  if (r.footprint) {
    const f = r.footprint;
    out.push('', '8. Footprint (1 replica, idle; start-up = spawn → /healthz 200; RSS = the process and its children, 2 s after serving)');
    out.push(table(['way', 'stored', 'start-up ms', 'idle RSS MB', 'start-up samples', 'RSS samples'], f.rows.map((x) => [x.way, x.stored.toLocaleString('en'), x.startupMs, x.idleRssMB, x.startupSamplesMs.join(' '), x.idleRssSamplesMB.join(' ')])));
    out.push(`tsx: node --import tsx replica/cli.ts (npm run replica before); built: node dist/replica/cli.js (npm run replica now; built in ${f.replicaBuildMs} ms); desktop: dist/main/replica-process.js under Node (main/build.mjs, ${f.desktopBuildMs} ms).`);
    out.push(`built / tsx at 0 messages: idle RSS ${f.builtVsTsx.idleRss}×, start-up ${f.builtVsTsx.startup}×`);
  }
  if (r.search) out.push(...searchSection(r.search));
  if (r.loginStorm) {
    const l = r.loginStorm;
    out.push('', '7. Login storm (3 replicas; a sender at 1,000 messages/s; 16 connections logging in as fast as the leader verifies passwords)');
    out.push(table(['', 'send p50 ms', 'send p99 ms', 'leader CPU (cores)'], [['quiet', l.sendP50QuietMs, l.sendP99QuietMs, l.leaderCpuQuiet], [`storm (${l.loginsPerSecond} logins/s)`, l.sendP50StormMs, l.sendP99StormMs, l.leaderCpuStorm]]));
    const u = l.unlimitedHashing;
    if (u) out.push(`A/B: with up to 4 password hashes at once (before the limit): send p99 quiet ${u.sendP99QuietMs} ms, storm ${u.sendP99StormMs} ms (${u.ratio}×), ${u.loginsPerSecond} logins/s, leader CPU ${u.leaderCpuStorm} cores`);
    if (l.loginErrors) out.push(`login errors: ${l.loginErrors} (first: ${l.firstLoginError})`);
  }
  if (r.groups.length) {
    const direct = r.groups.find((g) => g.kind === 'direct');
    out.push('', '8. Groups (3 replicas; every member connected to the leader; send-to-push at every receiving member; cost against a one-to-one message)');
    out.push(table(['kind', 'members', 'messages', 'delivered', 'push p50 ms', 'push p99 ms', 'leader CPU ms/msg', 'CPU vs one-to-one', 'load avg'], r.groups.map((g) => [g.kind, g.members, g.messages, g.delivered, g.pushP50ms, g.pushP99ms, g.leaderCpuMsPerMessage, direct ? (g.leaderCpuMsPerMessage / Math.max(0.001, direct.leaderCpuMsPerMessage)).toFixed(1) + '×' : '', g.loadAverage])));
  }
  const goals = goalRows(r);
  if (goals.length) {
    out.push('', 'Goals (issue 15) measured in this run: figure, goal, figure/goal, met');
    out.push(table(['goal', 'figure', 'goal', 'ratio', 'met'], goals.map((g) => [g.goal, g.figure, `${g.op} ${g.target}`, g.ratio, g.met === null ? 'n/a' : g.met ? 'met' : 'NOT met'])));
  }
  return out.join('\n') + '\n';
}

function searchSection(s: SearchResult): string[] {
  const out = ['', `9. Search (1 replica; user0 searches what it may see, limit ${s.limit}, 1 in flight; ${s.rounds} rounds alternating the sizes; baseline ${s.baseline.toLocaleString('en')} messages)`];
  out.push(table(['stored', 'generated s', 'state.db MB', 'index MB', 'index share', 'user0 sees', 'start-up ms'], s.sizes.map((x) => [x.stored.toLocaleString('en'), x.generatedBefore ? `${x.generateSeconds} (kept)` : x.generateSeconds, x.stateDbMB, x.ftsMB, x.ftsShare, x.visibleToSearcher.toLocaleString('en'), x.startupMs])));
  out.push(table(['query', 'stored', 'queries', 'p50 ms', 'p99 ms', 'max ms', 'results (median)', 'p50 vs baseline', 'p99 vs baseline', 'errors'], s.rows.map((x) => [x.kind, x.stored.toLocaleString('en'), x.queries, x.p50ms, x.p99ms, x.maxms, x.resultsMedian, x.p50VsBaseline, x.p99VsBaseline, x.errors])));
  out.push('rare: a word held by 90–400 of 1,000,000 messages; common: the 20 most frequent words; multi-word: a frequent word and a less frequent one; prefix: three letters. The last word of every query also matches as a prefix.');
  return out;
}

export interface GoalRow {
  goal: string;
  figure: number | null;
  op: '<' | '≤' | '≥';
  target: number;
  /** figure / target (below 1 is inside a '<'/'≤' goal, at least 1 inside a '≥' goal). */
  ratio: number | null;
  met: boolean | null;
}

function goal(name: string, figure: number | null | undefined, op: GoalRow['op'], target: number): GoalRow {
  const f = figure ?? null;
  const ratio = f === null ? null : Math.round((f / target) * 100) / 100;
  const met = f === null ? null : op === '<' ? f < target : op === '≤' ? f <= target : f >= target;
  return { goal: name, figure: f, op, target, ratio, met };
}

/** The goals against etcd measured in this run (same machine, alternating): throughput, p99, p50 at 1, disk. */
function etcdGoals(e: EtcdResult): GoalRow[] {
  const rows: GoalRow[] = [];
  for (const q of e.ratios) {
    const where = `at ${q.inFlight} in flight (etcd ${q.timing} timings)`;
    if (q.inFlight === 64 || q.inFlight === 256) rows.push(goal(`Quorum/etcd writes/s ${where}`, q.throughput, '≥', 3));
    rows.push(goal(`Quorum/etcd p99 ${where}`, q.p99, '≤', 1));
    if (q.inFlight === 1) rows.push(goal(`Quorum/etcd p50 ${where}`, q.p50, '≤', 0.8));
  }
  for (const timing of ['default', 'equal'] as const) {
    const etcd = e.throughput.find((t) => t.timing === timing && t.inFlight === 64 && t.replicas === 3);
    const quorum = e.quorumThroughput.find((t) => t.inFlight === 64 && t.replicas === 3);
    if (etcd?.diskKBPerWrite && quorum?.diskKBPerWrite) rows.push(goal(`Quorum/etcd disk written per write at 64 in flight (etcd ${timing} timings)`, Math.round((quorum.diskKBPerWrite / etcd.diskKBPerWrite) * 100) / 100, '≤', 1));
  }
  return rows;
}

/** The goals that this run measured, each with its ratio to the goal and whether it is met. */
export function goalRows(r: BenchResult): GoalRow[] {
  const rows: GoalRow[] = r.etcd ? etcdGoals(r.etcd) : [];
  if (r.failover) rows.push(goal('failover after SIGKILL of the leader, p99 ms', r.failover.p99ms, '<', 200));
  const million = r.growth?.rows.find((g) => g.stored === 1_000_000);
  if (million) rows.push(goal('writes/s at 1,000,000 stored messages / at 0 (within ±20%)', million.writeRatioVsEmpty, '≥', 0.8));
  const at = (n: number) => r.connections.find((c) => c.clients === n);
  if (at(5000)) rows.push(goal('push p99 at 5,000 connections, ms', at(5000)!.pushP99ms, '<', 20));
  if (at(10000)) rows.push(goal('push p99 at 10,000 connections, ms', at(10000)!.pushP99ms, '<', 50));
  if (at(5000)) rows.push(goal('leader RSS at 5,000 connections, MB', at(5000)!.leaderRssMB, '<', 150));
  if (r.loginStorm) rows.push(goal('send p99 in a login storm / quiet', r.loginStorm.ratio, '≤', 2));
  for (const f of r.footprint?.rows ?? []) {
    if (f.way === 'tsx') continue;
    const who = f.way === 'built' ? 'npm run replica (built)' : 'desktop replica process';
    if (f.stored === 0) rows.push(goal(`${who}: idle RSS at 0 messages, MB`, f.idleRssMB, '≤', 70));
    rows.push(goal(`${who}: start-up at ${f.stored.toLocaleString('en')} messages, ms`, f.startupMs, '≤', f.stored === 0 ? 300 : 1000));
  }
  return rows;
}

/** The document printed with --json: the exact keys first, details after. */
export function toJson(r: BenchResult): unknown {
  return {
    throughput: r.throughput,
    failover: r.failover,
    transfer: r.transfer,
    silent: r.silent,
    etcd: r.etcd,
    seedBaseline: r.seedBaseline,
    growth: r.growth,
    connections: r.connections,
    connectionsAb: r.connectionsAb,
    loginStorm: r.loginStorm,
    groups: r.groups,
    footprint: r.footprint,
    search: r.search,
    goals: goalRows(r),
    meta: r.meta,
  };
}

export function writePlots(r: BenchResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, svg: string) => {
    writeFileSync(join(dir, name), svg);
    written.push(join(dir, name));
  };
  if (r.throughput.length || r.etcd) {
    const series = (pick: 'perSecond' | 'p99ms' | 'p50ms'): Series[] => {
      const s: Series[] = [];
      for (const n of [...new Set(r.throughput.map((t) => t.replicas))]) {
        s.push({ name: `Quorum ${n} replica${n > 1 ? 's' : ''}`, points: r.throughput.filter((t) => t.replicas === n).map((t) => [t.inFlight, t[pick]]) });
      }
      if (r.etcd) {
        for (const timing of ['default', 'equal'] as const) {
          const rows = r.etcd.throughput.filter((t) => t.timing === timing);
          if (rows.length) s.push({ name: `etcd 3 (${timing === 'default' ? 'default' : '50/250 ms'})`, points: rows.map((t) => [t.inFlight, t[pick]]) });
        }
        const q = r.etcd.quorumThroughput.filter((t) => t.timing === 'default');
        if (q.length) s.push({ name: 'Quorum 3 (alternating)', points: q.map((t) => [t.inFlight, t[pick]]) });
      }
      return s;
    };
    put('throughput.svg', lineChart({ title: 'Committed writes per second (256 bytes)', xLabel: 'requests in flight', yLabel: 'committed/s', series: series('perSecond') }));
    put('latency-p99.svg', lineChart({ title: 'p99 write latency', xLabel: 'requests in flight', yLabel: 'ms (log)', series: series('p99ms'), logY: true }));
    put('latency-p50.svg', lineChart({ title: 'p50 write latency', xLabel: 'requests in flight', yLabel: 'ms (log)', series: series('p50ms'), logY: true }));
  }
  const fo: { name: string; values: number[] }[] = [];
  if (r.failover) fo.push({ name: 'Quorum SIGKILL', values: r.failover.samplesMs });
  if (r.silent) fo.push({ name: 'Quorum SIGSTOP (silent)', values: r.silent.samplesMs });
  if (r.transfer) fo.push({ name: `Quorum SIGTERM (${r.transfer.mode})`, values: r.transfer.samplesMs });
  if (r.etcd?.failover) fo.push({ name: 'etcd SIGKILL (default)', values: r.etcd.failover.samplesMs });
  if (r.etcd?.failoverEqual) fo.push({ name: 'etcd SIGKILL (50/250)', values: r.etcd.failoverEqual.samplesMs });
  if (fo.length) put('failover-histogram.svg', histogram({ title: 'Leader killed → first committed write at a survivor', xLabel: 'ms', series: fo, bins: 25 }));
  const cv: { name: string; values: number[] }[] = [];
  if (r.failover?.clientVisible) cv.push({ name: 'SIGKILL of the leader', values: r.failover.clientVisible.samplesMs });
  if (r.transfer?.clientVisible) cv.push({ name: `SIGTERM (${r.transfer.mode})`, values: r.transfer.clientVisible.samplesMs });
  if (cv.length) put('failover-client-visible.svg', histogram({ title: 'Longest write pause seen by a QuorumClient (1 in flight)', xLabel: 'ms', series: cv, bins: 25 }));
  if (r.growth?.rows.length) {
    const cats = r.growth.rows.map((g) => g.stored.toLocaleString('en'));
    put('growth-writes.svg', barChart({ title: 'Send rate vs stored messages (1 replica, 16 in flight)', xLabel: 'stored messages', yLabel: 'committed/s', categories: cats, series: [
      { name: 'random recipients', values: r.growth.rows.map((g) => g.write.perSecond) },
      { name: 'one conversation', values: r.growth.rows.map((g) => g.writeOneConversation?.perSecond ?? null) },
    ] }));
    put('growth-latency.svg', barChart({ title: 'Latency vs stored messages', xLabel: 'stored messages', yLabel: 'ms', categories: cats, series: [
      { name: 'send p50', values: r.growth.rows.map((g) => g.write.p50ms) },
      { name: 'send p99', values: r.growth.rows.map((g) => g.write.p99ms) },
      { name: 'history p50', values: r.growth.rows.map((g) => g.read.p50ms) },
      { name: 'history p99', values: r.growth.rows.map((g) => g.read.p99ms) },
    ] }));
  }
  if (r.connections.length) {
    put('connections-push.svg', lineChart({ title: 'Send → push latency at the recipient (1,000 messages/s, 3 replicas)', xLabel: 'logged-in connections', yLabel: 'ms', series: [
      { name: 'push p50', points: r.connections.map((c) => [c.clients, c.pushP50ms]) },
      { name: 'push p99', points: r.connections.map((c) => [c.clients, c.pushP99ms]) },
    ] }));
    put('connections-leader.svg', barChart({ title: 'Leader with N logged-in connections', xLabel: 'connections', yLabel: 'MB / CPU µs per message ÷ 10', categories: r.connections.map((c) => c.clients.toLocaleString('en')), series: [
      { name: 'leader RSS MB', values: r.connections.map((c) => c.leaderRssMB) },
      { name: 'leader CPU µs/message ÷ 10', values: r.connections.map((c) => Math.round(c.leaderCpuMsPerMessage * 100)) },
    ] }));
  }
  if (r.footprint?.rows.length) {
    const at0 = r.footprint.rows.filter((x) => x.stored === 0);
    put('footprint.svg', barChart({ title: 'An idle replica with 0 messages', xLabel: 'how it runs', yLabel: 'MB / ms ÷ 10', categories: at0.map((x) => x.way), series: [
      { name: 'idle RSS MB', values: at0.map((x) => x.idleRssMB) },
      { name: 'start-up ms ÷ 10', values: at0.map((x) => Math.round(x.startupMs / 10)) },
    ] }));
  }
  if (r.seedBaseline.length) {
    put('seed-baseline.svg', barChart({ title: "Durable writes/s: the seed's JSON rewrite vs Quorum", xLabel: 'stored messages', yLabel: 'writes/s (log)', logY: true, categories: r.seedBaseline.map((s) => s.stored.toLocaleString('en')), series: [
      { name: 'seed (in-process)', values: r.seedBaseline.map((s) => s.perSecond) },
      { name: 'Quorum 1 in flight', values: r.seedBaseline.map((s) => s.quorumPerSecond) },
      { name: 'Quorum 16 in flight', values: r.seedBaseline.map((s) => s.quorum16PerSecond) },
    ] }));
  }
  return written;
}
