/**
 * Scenario — footprint: a light desktop replica. The same single-replica data folder (preload.ts; 0 messages, and
 * 1,000,000 in the full run) is started, in runs that alternate the ways, as
 *   - tsx:     `node --import tsx replica/cli.ts replica` (what `npm run replica` ran before: a TypeScript loader),
 *   - built:   `node dist/replica/cli.js replica` (what `npm run replica` runs now: scripts/replica-build.mjs),
 *   - desktop: the desktop's utility-process entry as main/build.mjs bundles it (dist/main/replica-process.js), under
 *              Node with a parentPort shim (desktop-shim.mjs; no Electron binary on this machine), given its start
 *              message like main's ReplicaHost does (the same secret at every start, as a machine's keystore keeps
 *              it; no LAN announcement).
 * Each way first starts once unrecorded on its folder: the figures are of restarts, what a user sees every day (a
 * first start of a desktop folder also makes its certificates, kept sealed for later starts: certificate-cache.ts).
 * Start-up = spawn → first /healthz answer 200 (polled every 10 ms; the desktop's lone replica serves TLS, so https
 * without certificate checks). Idle RSS = VmRSS of the replica's process and its descendants (tsx runs an esbuild
 * service process) 2 s after it serves, with no client connected. Medians over the runs; every way has the
 * launchers' process environment (replica/process-env.ts). The builds themselves are timed too.
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { freePort, ROOT } from '../helpers/cluster.js';
import { REPLICA_NODE_ARGS, replicaProcessEnv } from '../../replica/process-env.js';
import type { BenchConfig } from './config.js';
import type { PreloadCache } from './preload.js';
import { progress } from './progress.js';
import { median, ratio, round } from './stats.js';

export type Way = 'tsx' | 'built' | 'desktop';
const WAYS: Way[] = ['tsx', 'built', 'desktop'];

export interface FootprintRow {
  way: Way;
  stored: number;
  startupMs: number;
  idleRssMB: number;
  startupSamplesMs: number[];
  idleRssSamplesMB: number[];
}

export interface FootprintResult {
  rows: FootprintRow[];
  /** Building dist/replica/cli.js (scripts/replica-build.mjs --force) and dist/main (main/build.mjs), ms. */
  replicaBuildMs: number;
  desktopBuildMs: number;
  /** built / tsx at 0 messages (below 1: built is lighter / faster). */
  builtVsTsx: { idleRss: number | null; startup: number | null };
}

/** Resident memory of a process and all its descendants, MB (VmRSS; shared pages counted in each). */
export function treeRssMB(pid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone */
    }
  }
  let kb = 0;
  const visit = (p: number) => {
    try {
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      /* gone */
    }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return kb / 1024;
}

function healthz(port: number): Promise<boolean> {
  const once = (get: typeof httpGet, opts: object) =>
    new Promise<boolean>((resolve) => {
      const req = get({ host: '127.0.0.1', port, path: '/healthz', timeout: 500, ...opts }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
    });
  return once(httpGet, {}).then((ok) => ok || once(httpsGet as typeof httpGet, { rejectUnauthorized: false }));
}

function start(way: Way, dataDir: string, port: number, log: string): ChildProcess {
  const env = replicaProcessEnv(process.env);
  const stdio = ['ignore', 'ignore', 'ignore'] as const;
  void log;
  if (way === 'desktop') {
    const p = fork(join(ROOT, 'test', 'bench', 'desktop-shim.mjs'), [join(ROOT, 'dist', 'main', 'replica-process.js')], { cwd: ROOT, env, execArgv: [], stdio: [...stdio, 'ipc'] });
    p.send({
      type: 'start',
      options: {
        dataDir,
        port,
        host: '127.0.0.1',
        bootstrap: true,
        secret: DESKTOP_SECRET,
        autopilot: { enabled: true, voters: 5, stabilizeSeconds: 10, deadAfterSeconds: 300 },
        announce: false,
        webRoot: join(ROOT, 'dist', 'renderer'),
      },
    });
    return p;
  }
  // tsx: how `npm run replica` ran before it was built; built: as it runs now (package.json), with the replica's flags.
  const script = way === 'tsx' ? ['--import', 'tsx', join(ROOT, 'replica', 'cli.ts')] : [...REPLICA_NODE_ARGS, join(ROOT, 'dist', 'replica', 'cli.js')];
  return spawn(process.execPath, [...script, 'replica', '--id', 'r1', '--data', dataDir, '--listen', `127.0.0.1:${port}`], { cwd: ROOT, env, stdio: [...stdio] });
}

async function stop(p: ChildProcess, way: Way): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  if (way === 'desktop' && p.connected) p.send({ type: 'stop' });
  else p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** The desktop's cluster secret: one per bench run, the same at every start (a machine's keystore keeps it). */
const DESKTOP_SECRET = randomBytes(32).toString('base64');

/** One start: spawn → serving (ms), then the idle RSS 2 s later; stops the replica. */
async function measureOnce(way: Way, dataDir: string): Promise<{ ms: number; rss: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const p = start(way, dataDir, port, '');
  try {
    for (;;) {
      if (p.exitCode !== null) throw new Error(`footprint: the ${way} replica exited with ${p.exitCode}`);
      if (await healthz(port)) break;
      if (performance.now() - t0 > 120_000) throw new Error(`footprint: the ${way} replica did not serve within 120 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    return { ms, rss: treeRssMB(p.pid!) };
  } finally {
    await stop(p, way);
  }
}

function timed(cmd: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, cmd, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`footprint: ${cmd.join(' ')} failed`);
  return performance.now() - t0;
}

export async function runFootprint(cfg: BenchConfig, cache: PreloadCache): Promise<FootprintResult> {
  const replicaBuildMs = timed([join(ROOT, 'scripts', 'replica-build.mjs'), '--force']);
  const desktopBuildMs = timed([join(ROOT, 'main', 'build.mjs')]);
  progress(`footprint: built dist/replica in ${replicaBuildMs.toFixed(0)} ms, dist/main in ${desktopBuildMs.toFixed(0)} ms`);
  const root = mkdtempSync(join(tmpdir(), 'quorum-bench-footprint-'));
  const rows: FootprintRow[] = [];
  try {
    const sizes = [0, ...(cfg.footprintLargeMessages > 0 ? [cfg.footprintLargeMessages] : [])];
    for (const stored of sizes) {
      const dirs = new Map<Way, string>();
      for (const way of WAYS) {
        const dir = join(root, `${way}-${stored}`);
        await cache.folder(stored, dir);
        writeFileSync(join(dir, 'replica-id'), 'r1\n');
        dirs.set(way, dir);
      }
      const samples = new Map<Way, { ms: number[]; rss: number[] }>(WAYS.map((w) => [w, { ms: [], rss: [] }]));
      const runs = stored === 0 ? cfg.footprintRuns : Math.max(2, Math.ceil(cfg.footprintRuns / 2));
      for (const way of WAYS) {
        const first = await measureOnce(way, dirs.get(way)!);
        progress(`footprint: ${stored.toLocaleString('en')} messages, ${way}: first start (unrecorded) serving after ${first.ms.toFixed(0)} ms, idle RSS ${first.rss.toFixed(1)} MB`);
      }
      for (let i = 0; i < runs; i++) {
        for (const way of i % 2 ? [...WAYS].reverse() : WAYS) {
          const m = await measureOnce(way, dirs.get(way)!);
          samples.get(way)!.ms.push(m.ms);
          samples.get(way)!.rss.push(m.rss);
          progress(`footprint: ${stored.toLocaleString('en')} messages, ${way}: serving after ${m.ms.toFixed(0)} ms, idle RSS ${m.rss.toFixed(1)} MB`);
        }
      }
      for (const way of WAYS) {
        const s = samples.get(way)!;
        rows.push({ way, stored, startupMs: round(median(s.ms), 0), idleRssMB: round(median(s.rss), 1), startupSamplesMs: s.ms.map((x) => round(x, 0)), idleRssSamplesMB: s.rss.map((x) => round(x, 1)) });
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const at0 = (w: Way) => rows.find((r) => r.way === w && r.stored === 0);
  return {
    rows,
    replicaBuildMs: round(replicaBuildMs, 0),
    desktopBuildMs: round(desktopBuildMs, 0),
    builtVsTsx: { idleRss: ratio(at0('built')?.idleRssMB, at0('tsx')?.idleRssMB), startup: ratio(at0('built')?.startupMs, at0('tsx')?.startupMs) },
  };
}
