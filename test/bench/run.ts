/**
 * `npm run bench -- [--quick] [--json] [--only NAME[,NAME...]]` — Quorum's benchmark (never part of `npm test`).
 * Scenarios: throughput, failover, etcd, growth, seed, connections, logins (the login storm), groups, footprint, search (each module
 * states its method at its top).
 * stdout: the table, or with --json exactly one JSON document; progress always goes to stderr. Results and SVG
 * plots go to bench-results/ (gitignored). Figures that the issue wants as ratios are taken against baselines
 * measured in the same run (etcd, the seed's design, the 0-message run), since this machine is shared and noisy.
 */
import { parseCommandLine, reportUsageError, UsageError } from '../../replica/cli/usage.js';
import { cpus, loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cluster.js';
import { buildReplica } from '../../scripts/replica-build.mjs';
import { makeConfig } from './config.js';
import { runEtcd } from './etcd.js';
import { runConnectionsWithAb, runLoginStorm } from './connections.js';
import { runFailover } from './failover.js';
import { runFootprint } from './footprint.js';
import { runGroupFanout } from './groups.js';
import { runGrowth } from './growth.js';
import { PreloadCache } from './preload.js';
import { progress } from './progress.js';
import { killChildrenOnSignal, killOwnChildren } from './cleanup.js';
import { renderTable, toJson, writePlots, type BenchResult } from './report.js';
import { runSearch } from './search.js';
import { runSeedBaseline } from './seed-baseline.js';
import { runThroughput } from './throughput.js';

const SCENARIOS = ['throughput', 'failover', 'etcd', 'growth', 'seed', 'connections', 'logins', 'groups', 'footprint', 'search'] as const;
type Scenario = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench -- [--quick] [--json] [--only ${SCENARIOS.join('|')}[,...]] [--tls on|off] [--out DIR]
  --quick   short levels and few trials (a smoke run; figures are rough)
  --json    print one JSON document instead of the tables
  --only    run only these scenarios
  --tls     on: Quorum's peer links and load connections over TLS (throughput, etcd); off (default): plain
  --out     where results and plots go (default bench-results/, quick and partial runs in subfolders)`;

async function main(): Promise<number> {
  let values;
  let only: Scenario[] | null = null;
  try {
    ({ values } = parseCommandLine(process.argv.slice(2), { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' }, tls: { type: 'string', default: 'off' } }));
    if (values.tls !== 'on' && values.tls !== 'off') throw new UsageError('--tls is on or off');
    if (values.only) {
      only = values.only.split(',').map((s) => s.trim()) as Scenario[];
      const bad = only.filter((s) => !SCENARIOS.includes(s));
      if (bad.length) throw new UsageError(`unknown scenario ${bad.join(', ')} (one of ${SCENARIOS.join(', ')})`);
    }
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, USAGE);
    throw err;
  }
  const want = (s: Scenario) => !only || only.includes(s);
  // Quorum's replicas run built, as `npm run replica` runs them (dist/replica/cli.js, rebuilt when replica/ changed).
  const built = await buildReplica();
  if (built) progress(`built dist/replica/cli.js (${built})`);
  // Quick and partial (--only) runs write to their own folders so they never overwrite a full run's results and plots.
  const sub = [values.quick ? 'quick' : '', only ? `only-${only.join('-')}` : '', values.tls === 'on' ? 'tls' : ''].filter(Boolean).join('-');
  const outDir = values.out ?? join(ROOT, 'bench-results', ...(sub ? [sub] : []));
  mkdirSync(outDir, { recursive: true });
  const cfg = makeConfig(values.quick ?? false, outDir, values.tls === 'on');
  const started = Date.now();
  const result: BenchResult = {
    meta: { quick: cfg.quick, startedAt: new Date(started).toISOString(), seconds: 0, node: process.version, cpus: cpus().length, loadAverageAtStart: loadavg(), loadAverageAtEnd: [], only },
    throughput: [],
    failover: null,
    transfer: null,
    silent: null,
    etcd: null,
    seedBaseline: [],
    growth: null,
    connections: [],
    connectionsAb: null,
    loginStorm: null,
    groups: [],
    footprint: null,
    search: null,
  };
  killChildrenOnSignal();
  const cache = new PreloadCache();
  const step = async (name: Scenario, fn: () => Promise<void>) => {
    if (!want(name)) return;
    const t0 = Date.now();
    progress(`== ${name}`);
    try {
      await fn();
    } catch (err) {
      progress(`${name} FAILED: ${(err as Error).stack ?? err}`);
      process.exitCode = 1;
    }
    progress(`== ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  };
  try {
    await step('throughput', async () => {
      result.throughput = await runThroughput(cfg);
    });
    await step('failover', async () => {
      const f = await runFailover(cfg);
      result.failover = f.failover;
      result.transfer = f.transfer;
      result.silent = f.silent;
    });
    await step('etcd', async () => {
      result.etcd = await runEtcd(cfg);
    });
    await step('growth', async () => {
      result.growth = await runGrowth(cfg, cache);
    });
    await step('seed', async () => {
      result.seedBaseline = await runSeedBaseline(cfg, cache);
    });
    await step('connections', async () => {
      const c = await runConnectionsWithAb(cfg);
      result.connections = c.rows;
      result.connectionsAb = c.ab;
    });
    await step('logins', async () => {
      result.loginStorm = await runLoginStorm(cfg);
    });
    await step('groups', async () => {
      result.groups = await runGroupFanout(cfg);
    });
    await step('footprint', async () => {
      result.footprint = await runFootprint(cfg, cache);
    });
    await step('search', async () => {
      result.search = await runSearch(cfg);
    });
  } finally {
    cache.destroy();
    killOwnChildren();
  }
  result.meta.seconds = (Date.now() - started) / 1000;
  result.meta.loadAverageAtEnd = loadavg();
  const doc = toJson(result);
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(doc, null, 2) + '\n');
  const table = renderTable(result);
  writeFileSync(join(outDir, 'results.txt'), table);
  const plots = writePlots(result, outDir);
  progress(`wrote ${plots.length} plots and the results to ${outDir}`);
  if (values.json) process.stdout.write(JSON.stringify(doc) + '\n');
  else process.stdout.write(table);
  return process.exitCode === 1 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
