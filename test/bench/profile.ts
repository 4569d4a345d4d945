/**
 * Where does a replica's time go under load? `npx tsx test/bench/profile.ts [--replicas 3] [--in-flight 256]
 * [--seconds 8] [--out DIR]` starts replicas with `node --cpu-prof`, drives the closed-loop send load at the leader,
 * stops them gracefully (SIGTERM: the profiles are written at exit) and summarizes each .cpuprofile: self time by
 * function and by category (SQLite calls — whose self time includes the fsync they wait for, since better-sqlite3 is
 * synchronous —, JSON, zod validation, WebSocket framing, Raft core, GC, idle). Not part of `npm run bench`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster, ROOT } from '../helpers/cluster.js';
import { measureLevel, scrapeMetrics } from './measure.js';
import { QuorumLoad } from './quorum-load.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const CATEGORIES: [string, RegExp][] = [
  ['idle', /^\(idle\)$/],
  ['gc', /^\(garbage collector\)$/],
  ['sqlite (incl. fsync)', /better-sqlite3|^(run|get|all|iterate|exec|pragma|transaction)$/],
  ['zod validation', /node_modules\/zod/],
  ['websocket (ws)', /node_modules\/ws\//],
  ['raft core', /replica\/raft\//],
  ['state machine', /replica\/chat\//],
  ['storage', /replica\/storage\//],
  ['driver/requests/net', /replica\/(node|net)\//],
  ['pino logging', /node_modules\/(pino|sonic-boom|thread-stream)/],
  ['JSON', /^(parse|stringify)$/],
  ['node internals', /^node:|internal\//],
];

function categorize(fn: string, url: string): string {
  for (const [name, re] of CATEGORIES) if (re.test(url) || re.test(fn)) return name;
  return url ? 'other JS' : `native/other (${fn || 'anonymous'})`;
}

export function summarizeProfile(p: CpuProfile, top = 25): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  const byCat = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^file:\/\//, '').replace(ROOT + '/', '')}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const cat = categorize(f.functionName, f.url);
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`total sampled ${(total / 1e6).toFixed(2)} s (wall ${((p.endTime - p.startTime) / 1e6).toFixed(2)} s)`, 'by category (self time):'];
  let small = 0;
  for (const [k, v] of [...byCat].sort((a, b) => b[1] - a[1])) {
    if (v / total < 0.005) small += v;
    else lines.push(`  ${pct(v)}  ${k}`);
  }
  if (small) lines.push(`  ${pct(small)}  (smaller categories)`);
  lines.push(`top ${top} functions (self time):`);
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(v)}  ${k}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { replicas: { type: 'string', default: '3' }, 'in-flight': { type: 'string', default: '256' }, seconds: { type: 'string', default: '8' }, out: { type: 'string' } },
  });
  const size = Number(values.replicas);
  const inFlight = Number(values['in-flight']);
  const dir = values.out ?? join(ROOT, 'bench-results', 'profiles', `r${size}-f${inFlight}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The sources through tsx, not the built bundle: the summary sorts time by each function's source file.
  const cluster = await Cluster.start({ size, built: false, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'] });
  const leader = await cluster.leader();
  const pids = new Map(cluster.replicas.map((r) => [r.proc!.pid!, r.id === leader.id ? `${r.id} (leader)` : r.id]));
  const load = await QuorumLoad.open(leader.address);
  const row = await measureLevel({ inFlight, warmupMs: 1000, measureMs: Number(values.seconds) * 1000, op: (w) => load.send(w, inFlight), pids: () => cluster.replicas.map((r) => r.proc?.pid) });
  const out: string[] = [`${size} replica(s), ${inFlight} in flight: ${JSON.stringify(row)}`];
  for (const r of cluster.replicas) {
    const v = await scrapeMetrics(r.address);
    const persistN = v('quorum_storage_persist_seconds_count');
    const applyN = v('quorum_apply_seconds_count');
    out.push(
      `${pids.get(r.proc!.pid!)}: persist ${persistN} batches, ${v('quorum_storage_persist_batch_entries_sum')} entries, ` +
        `mean ${((v('quorum_storage_persist_seconds_sum') / persistN) * 1000).toFixed(2)} ms, total ${v('quorum_storage_persist_seconds_sum').toFixed(2)} s; ` +
        `apply ${applyN} batches, mean ${((v('quorum_apply_seconds_sum') / applyN) * 1000).toFixed(2)} ms, total ${v('quorum_apply_seconds_sum').toFixed(2)} s (since start)`,
    );
  }
  load.close();
  await Promise.all(cluster.replicas.map((r) => r.stop()));
  // Files are CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread (others: tsx's loader).
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const m = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/.exec(f);
    if (!m || m[2] !== '0') continue;
    const who = pids.get(Number(m[1])) ?? `pid ${m[1]}`;
    out.push('', `== ${who}: ${f}`, summarizeProfile(JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile));
  }
  writeFileSync(join(dir, 'summary.txt'), out.join('\n') + '\n');
  process.stdout.write(out.join('\n') + '\n');
  await cluster.destroy();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(1);
    },
  );
}
