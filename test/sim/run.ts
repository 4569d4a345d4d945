/**
 * Simulation CLI.
 *   npm run sim -- --seeds 10000            many seeded schedules, with progress
 *   npm run sim -- --seed 1234              replay one schedule, printing every event
 *   options: --nodes 3|5 (default: alternate by seed), --steps N (default 600), --start S (first seed, default 1),
 *            --quiet (with --seed: only the result)
 */
import { parseCommandLine, reportUsageError, UsageError } from '../../replica/cli/usage.js';
import { SimFailure, runSeed, type SimStats } from './world.js';

export const DEFAULT_STEPS = 600;

/** Initial cluster size for a seed: 3 and 5 alternate. */
export function nodesFor(seed: number, forced?: number): number {
  return forced ?? (seed % 2 === 0 ? 3 : 5);
}

export function replayCommand(seed: number, nodes: number, steps: number): string {
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --steps ${steps}`;
}

const USAGE = `usage: npm run sim -- [--seeds N] [--start S] [--nodes 3|5] [--steps N]
       npm run sim -- --seed S [--nodes 3|5] [--steps N] [--quiet]
  --seeds   how many seeded schedules to run (default 1000), from seed --start (default 1)
  --seed    replay one schedule, printing every event (--quiet: only the result)
  --nodes   initial cluster size (default: 3 for even seeds, 5 for odd)
  --steps   steps per schedule (default ${DEFAULT_STEPS})`;

interface SimArgs {
  seeds: number;
  start: number;
  seed?: number;
  nodes?: number;
  steps: number;
  quiet: boolean;
}

function parseSimArgs(argv: string[]): SimArgs {
  const { values } = parseCommandLine(argv, {
    seeds: { type: 'string' },
    start: { type: 'string' },
    seed: { type: 'string' },
    nodes: { type: 'string' },
    steps: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  const whole = (text: string | undefined, option: string, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${option} "${text}" must be a whole number, at least ${min}`);
    return n;
  };
  const nodes = values.nodes === undefined ? undefined : whole(values.nodes, 'nodes', 3, 1);
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) throw new UsageError('--nodes is 3 or 5');
  return {
    seeds: whole(values.seeds, 'seeds', 1000, 1),
    start: whole(values.start, 'start', 1, 0),
    seed: values.seed === undefined ? undefined : whole(values.seed, 'seed', 0, 0),
    nodes,
    steps: whole(values.steps, 'steps', DEFAULT_STEPS, 1),
    quiet: values.quiet ?? false,
  };
}

async function main(): Promise<void> {
  let args: SimArgs;
  try {
    args = parseSimArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.exitCode = reportUsageError(err, USAGE);
    return;
  }
  const { steps, nodes: forcedNodes } = args;
  if (args.seed !== undefined) {
    const seed = args.seed;
    const nodes = nodesFor(seed, forcedNodes);
    const quiet = args.quiet;
    try {
      const stats = await runSeed({ seed, nodes, steps, verbose: !quiet });
      console.log(`seed ${seed} OK`, stats);
    } catch (e) {
      report(e, steps, forcedNodes);
      process.exitCode = 1;
    }
    return;
  }
  const { seeds: count, start } = args;
  // Refused proposals and reads throw errors by the thousand; their stack traces cost a third of the run. A failure
  // names its seed: replaying it (--seed) keeps full traces.
  Error.stackTraceLimit = 0;
  const t0 = performance.now();
  const total: Partial<SimStats> = {};
  let failures = 0;
  let lastPrint = t0;
  let ran = 0;
  for (let seed = start; seed < start + count; seed++) {
    const nodes = nodesFor(seed, forcedNodes);
    ran++;
    try {
      const st = await runSeed({ seed, nodes, steps });
      for (const [k, v] of Object.entries(st)) (total as Record<string, number>)[k] = ((total as Record<string, number>)[k] ?? 0) + v;
    } catch (e) {
      failures++;
      report(e, steps, forcedNodes);
      if (failures >= 5) {
        console.error('stopping after 5 failures');
        break;
      }
    }
    const now = performance.now();
    if (now - lastPrint > 2000) {
      lastPrint = now;
      const done = seed - start + 1;
      console.log(`${done}/${count} seeds, ${(done / ((now - t0) / 1000)).toFixed(1)} schedules/s, ${failures} failures`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`${ran} of ${count} seeds in ${secs.toFixed(1)} s (${(ran / secs).toFixed(1)} schedules/s), ${failures} failures`);
  console.log('totals', total);
  if (failures) process.exitCode = 1;
}

function report(e: unknown, steps: number, forcedNodes?: number): void {
  if (e instanceof SimFailure) {
    console.error(`\nFAIL ${e.message}\n--- last events ---\n${e.trace.join('\n')}\n--- replay: ${replayCommand(e.seed, nodesFor(e.seed, forcedNodes), steps)}\n`);
  } else {
    console.error(e);
  }
}

if (process.argv[1] && /run\.ts$/.test(process.argv[1])) await main();
