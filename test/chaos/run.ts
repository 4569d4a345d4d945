/**
 * `npm run chaos -- [--quick] [--json] [--seed S] [--duration SECONDS] [--replicas N] [--workers N]
 *                   [--hosts loopback|netns] [--faults kill,pause,...] [--tls on|off] [--out DIR] [--keep]`
 *
 * Starts real replica processes (in network namespaces when root, else on loopback), runs concurrent clients while a
 * seeded nemesis injects faults, heals, checks the recorded history and writes an HTML report under chaos-results/.
 * With --json, stdout is exactly one JSON document. Exit code 0 when the checker found nothing, 1 when it found a
 * violation (data folders, logs and history are then kept; the path is printed), 2 on bad arguments.
 *
 * In netns mode this process makes the lab (a bridge, one namespace per replica and one for clients), re-executes
 * itself inside the client namespace (so its clients reach the replicas over the bridge), and deletes the lab when
 * the inner run ends, whatever happened to it.
 */
import { spawn } from 'node:child_process';
import { parseCommandLine, reportUsageError, UsageError } from '../../replica/cli/usage.js';
import { join } from 'node:path';
import { ROOT } from '../helpers/cluster.js';
import { buildReplica } from '../../scripts/replica-build.mjs';
import { netnsUnavailableReason } from '../helpers/netns.js';
import { runChaos } from './chaos.js';
import { LoopbackHosts, makeLab, NetnsHosts, type HostLayer, type NetnsPlan } from './hosts.js';
import { ALL_FAULTS, OPT_IN_FAULTS } from './nemesis.js';
import type { FaultKind } from './types.js';

const USAGE = `usage: npm run chaos -- [--quick] [--json] [--seed S] [--duration SECONDS] [--replicas N] [--workers N]
                     [--hosts loopback|netns] [--faults ${ALL_FAULTS.join(',')}] [--hold MIN,MAX] [--tls on|off] [--out DIR] [--keep]
  --faults     also ${OPT_IN_FAULTS.join(', ')} (only when named): start on the previous release, upgrade one replica per fault
  --quick      3 replicas, 3 workers, 35 s of faults (what npm test runs)
  defaults     5 replicas, 5 workers, 120 s; hosts: netns when root, else loopback; every fault kind
  --hold       seconds each fault is held, drawn from [MIN, MAX] (default 2,8; --quick 1.5,4)
  --keep       keep data folders, logs and history even when the run passes (they are always kept when it fails)
  --tls        on (default, as shipped): TLS peer links and wss:// clients; off: plain peer links and ws:// clients`;

interface Args {
  quick: boolean;
  json: boolean;
  seed: number;
  duration: number;
  replicas: number;
  workers: number;
  hosts: 'loopback' | 'netns' | null;
  faults: FaultKind[];
  out: string;
  keep: boolean;
  /** TLS between replicas and to the clients (the default), or the plain transport. */
  tls: boolean;
  /** How long each fault is held, seconds [min, max] (default: quick 1.5–4, else 2–8). */
  hold: [number, number] | null;
  insideLab: NetnsPlan | null;
}

function parse(argv: string[]): Args {
  const { values } = parseCommandLine(argv, {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    seed: { type: 'string' },
    duration: { type: 'string' },
    replicas: { type: 'string' },
    workers: { type: 'string' },
    hosts: { type: 'string' },
    faults: { type: 'string' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    hold: { type: 'string' },
    tls: { type: 'string', default: 'on' },
    'inside-lab': { type: 'string' },
  });
  const int = (s: string | undefined, name: string, def: number, lo: number, hi: number) => {
    if (s === undefined) return def;
    const n = Number(s);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`${name} must be a whole number from ${lo} to ${hi}`);
    return n;
  };
  const quick = values.quick!;
  const seed = int(values.seed, '--seed', Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
  const hosts = values.hosts ?? null;
  if (hosts !== null && hosts !== 'loopback' && hosts !== 'netns') throw new UsageError('--hosts is loopback or netns');
  const faults = values.faults ? values.faults.split(',').map((s) => s.trim()) : ALL_FAULTS;
  const known = [...ALL_FAULTS, ...OPT_IN_FAULTS];
  for (const f of faults) if (!known.includes(f as FaultKind)) throw new UsageError(`unknown fault "${f}" (known: ${known.join(', ')})`);
  let hold: [number, number] | null = null;
  if (values.hold !== undefined) {
    const m = /^(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)$/.exec(values.hold);
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 3600) throw new UsageError('--hold is MIN,MAX seconds (e.g. 2,8)');
    hold = [Number(m[1]), Number(m[2])];
  }
  return {
    quick,
    json: values.json!,
    seed,
    duration: int(values.duration, '--duration', quick ? 35 : 120, 5, 86_400),
    replicas: int(values.replicas, '--replicas', quick ? 3 : 5, 3, 9),
    workers: int(values.workers, '--workers', quick ? 3 : 5, 2, 32),
    hosts: hosts as Args['hosts'],
    faults: faults as FaultKind[],
    out: values.out ?? join(ROOT, 'chaos-results'),
    keep: values.keep!,
    tls: tlsFlag(values.tls!),
    hold,
    insideLab: values['inside-lab'] ? (JSON.parse(Buffer.from(values['inside-lab'], 'base64url').toString('utf8')) as NetnsPlan) : null,
  };
}

function tlsFlag(text: string): boolean {
  if (text !== 'on' && text !== 'off') throw new UsageError('--tls is on or off');
  return text === 'on';
}

function replayCommand(a: Args, hosts: 'loopback' | 'netns'): string {
  const parts = ['npm run chaos --', `--seed ${a.seed}`, `--duration ${a.duration}`, `--replicas ${a.replicas}`, `--workers ${a.workers}`, `--hosts ${hosts}`];
  if (a.quick) parts.push('--quick');
  if (a.faults.length !== ALL_FAULTS.length || a.faults.some((f) => OPT_IN_FAULTS.includes(f))) parts.push(`--faults ${a.faults.join(',')}`);
  if (a.hold) parts.push(`--hold ${a.hold.join(',')}`);
  if (!a.tls) parts.push('--tls off');
  return parts.join(' ');
}

async function inner(a: Args, hosts: HostLayer): Promise<number> {
  const progress = (msg: string) => process.stderr.write(`chaos ${msg}\n`);
  const out = await runChaos({
    seed: a.seed,
    durationSeconds: a.duration,
    replicas: a.replicas,
    workers: a.workers,
    hosts,
    faults: a.faults,
    outDir: a.out,
    keep: a.keep,
    quick: a.quick,
    holdMs: a.hold ? [a.hold[0] * 1000, a.hold[1] * 1000] : null,
    replay: replayCommand(a, hosts.mode),
    tls: a.tls,
    progress,
  });
  const f = out.figures;
  if (a.json) process.stdout.write(JSON.stringify(f) + '\n');
  else {
    process.stdout.write(
      `${f.verdict === 'pass' ? 'PASS' : 'FAIL'}: seed ${f.seed}, ${f.durationSeconds} s on ${f.hosts} (TLS ${f.tls ? 'on' : 'off'}), ${f.operations} operations (${f.acknowledged} ok, ${f.failed} refused, ${f.unknown} unknown); ` +
        `${f.groupMessages} group messages, ${f.edits} edits; lost ${f.lost}, duplicated ${f.duplicated}, order ${f.orderViolations}, stale ${f.staleReads}, phantoms ${f.phantoms}, clock ${f.clockViolations}, edits wrong ${f.editViolations}, converged ${f.converged}, intact after a full restart ${f.restartIntact}, ` +
        `leaders/term ${f.leadersPerTermMax}; faults ${JSON.stringify(f.faults)}\nreport: ${out.report}\n`,
    );
  }
  if (f.verdict === 'fail') process.stderr.write(`chaos FAILED: data folders, logs and history kept in ${out.runDir}\n`);
  else process.stderr.write(`chaos report: ${out.report}\n`);
  return f.verdict === 'pass' ? 0 : 1;
}

/** Makes the lab, runs this script again inside its client namespace, and always deletes the lab. */
function outer(a: Args, argv: string[]): Promise<number> {
  const { lab, plan } = makeLab(a.replicas);
  const client = lab.hosts.find((h) => h.name === plan.clientHost)!;
  const args = [...argv.filter((x, i) => !(x === '--seed' || argv[i - 1] === '--seed')), '--seed', String(a.seed), '--hosts', 'netns', '--inside-lab', Buffer.from(JSON.stringify(plan)).toString('base64url')];
  const child = spawn(lab.exec(client)[0], [...lab.exec(client).slice(1), process.execPath, '--import', 'tsx', join(ROOT, 'test', 'chaos', 'run.ts'), ...args], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.once('exit', (code, sig) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      lab.destroy();
      resolve(code ?? (sig ? 1 : 0));
    });
  });
}

async function main(argv: string[]): Promise<number> {
  let a: Args;
  try {
    a = parse(argv);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, USAGE);
    throw err;
  }
  if (a.insideLab) return inner(a, new NetnsHosts(a.insideLab));
  // The replicas run the built replica (dist/replica/cli.js), built here when stale, before any lab exists; not under
  // the test run, whose global setup built it (a rebuild would replace it under the tests beside this run).
  const built = process.env.QUORUM_REPLICA_PREBUILT ? null : await buildReplica();
  if (built) process.stderr.write(`chaos: built dist/replica/cli.js (${built})\n`);
  const reason = netnsUnavailableReason();
  if (a.hosts === 'netns' && reason) {
    process.stderr.write(`UNAVAILABLE: --hosts netns: ${reason}\n`);
    return 2;
  }
  if (a.hosts === 'netns' || (a.hosts === null && !reason)) return outer(a, argv);
  if (a.hosts === null) process.stderr.write(`chaos: using loopback hosts (${reason}); no partitions or packet loss\n`);
  return inner(a, await LoopbackHosts.create(a.replicas));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
