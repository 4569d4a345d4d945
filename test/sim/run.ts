/**
 * Simulation CLI.
 *   npm run sim -- --seeds 10000            many seeded schedules, with progress
 *   npm run sim -- --seed 1234              replay one schedule, printing every event
 *   options: --nodes 3|5 (default: alternate by seed), --steps N (default 600), --start S (first seed, default 1),
 *            --quiet (with --seed: only the result)
 */
import { SimFailure, runSeed, type SimStats } from './world.js';

export const DEFAULT_STEPS = 600;

/** Initial cluster size for a seed: 3 and 5 alternate. */
export function nodesFor(seed: number, forced?: number): number {
  return forced ?? (seed % 2 === 0 ? 3 : 5);
}

export function replayCommand(seed: number, nodes: number, steps: number): string {
  return `npm run sim -- --seed ${seed} --nodes ${nodes} --steps ${steps}`;
}

function arg(name: string): string | undefined {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 ? process.argv[k + 1] : undefined;
}

async function main(): Promise<void> {
  const steps = Number(arg('steps') ?? DEFAULT_STEPS);
  const forcedNodes = arg('nodes') !== undefined ? Number(arg('nodes')) : undefined;
  const one = arg('seed');
  if (one !== undefined) {
    const seed = Number(one);
    const nodes = nodesFor(seed, forcedNodes);
    const quiet = process.argv.includes('--quiet');
    try {
      const stats = await runSeed({ seed, nodes, steps, verbose: !quiet });
      console.log(`seed ${seed} OK`, stats);
    } catch (e) {
      report(e, steps, forcedNodes);
      process.exitCode = 1;
    }
    return;
  }
  const count = Number(arg('seeds') ?? 1000);
  const start = Number(arg('start') ?? 1);
  const t0 = performance.now();
  const total: Partial<SimStats> = {};
  let failures = 0;
  let lastPrint = t0;
  for (let seed = start; seed < start + count; seed++) {
    const nodes = nodesFor(seed, forcedNodes);
    try {
      const st = await runSeed({ seed, nodes, steps });
      for (const [k, v] of Object.entries(st)) (total as Record<string, number>)[k] = ((total as Record<string, number>)[k] ?? 0) + v;
    } catch (e) {
      failures++;
      report(e, steps, forcedNodes);
      if (failures >= 5) break;
    }
    const now = performance.now();
    if (now - lastPrint > 2000) {
      lastPrint = now;
      const done = seed - start + 1;
      console.log(`${done}/${count} seeds, ${(done / ((now - t0) / 1000)).toFixed(1)} schedules/s, ${failures} failures`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(`${count} seeds in ${secs.toFixed(1)} s (${(count / secs).toFixed(1)} schedules/s), ${failures} failures`);
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
