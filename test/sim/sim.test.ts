/**
 * Deterministic simulation inside `npm test`: thousands of seeded schedules (3- and 5-replica clusters, faults,
 * membership changes, transfers, snapshots), each checked after every step (see world.ts and checker.ts).
 * A failure names its seed and the command that replays it.
 *
 * SIM_SEEDS overrides the number of schedules (default 2400), SIM_STEPS the events per schedule (default 600),
 * SIM_START the first seed (default 1).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_STEPS, nodesFor, replayCommand } from './run.js';
import { SimFailure, runSeed } from './world.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 2400);
const STEPS = Number(process.env.SIM_STEPS ?? DEFAULT_STEPS);
const START = Number(process.env.SIM_START ?? 1);
const CHUNKS = 8;

let schedules = 0;
let events = 0;
let acked = 0;
let elapsedMs = 0;

async function runChunk(from: number, to: number): Promise<void> {
  // Refused proposals and reads throw errors by the thousand; their stack traces cost a third of the run. A failure
  // names its seed, and `npm run sim -- --seed S` replays it with full traces.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    await runSeeds(from, to);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

async function runSeeds(from: number, to: number): Promise<void> {
  for (let seed = from; seed < to; seed++) {
    const nodes = nodesFor(seed);
    const t0 = performance.now();
    try {
      const st = await runSeed({ seed, nodes, steps: STEPS });
      events += st.events;
      acked += st.acked;
    } catch (e) {
      if (e instanceof SimFailure) {
        const msg = `${e.message}\n--- last events ---\n${e.trace.join('\n')}\n--- replay: ${replayCommand(seed, nodes, STEPS)}`;
        console.error(msg);
        expect.fail(`simulation seed ${seed} failed: ${e.reason.split('\n')[0]}\nreplay: ${replayCommand(seed, nodes, STEPS)}`);
      }
      throw e;
    } finally {
      elapsedMs += performance.now() - t0;
      schedules++;
    }
  }
}

describe('raft deterministic simulation', () => {
  it('a seed replays exactly (same events, same outcome)', async () => {
    const trace = async (seed: number) => {
      const lines: string[] = [];
      const stats = await runSeed({ seed, nodes: nodesFor(seed), steps: 300, verbose: true, log: (l) => lines.push(l) });
      return { lines, stats };
    };
    for (const seed of [11, 12]) {
      const a = await trace(seed);
      const b = await trace(seed);
      expect(a.lines.length).toBeGreaterThan(100);
      expect(b.lines).toEqual(a.lines);
      expect(b.stats).toEqual(a.stats);
    }
  });

  const per = Math.ceil(SEEDS / CHUNKS);
  for (let k = 0; k < CHUNKS; k++) {
    const from = START + k * per;
    const to = Math.min(START + SEEDS, from + per);
    if (from >= to) continue;
    it(`seeds ${from}..${to - 1} keep every safety property and converge after healing`, () => runChunk(from, to));
  }

  afterAll(() => {
    const secs = elapsedMs / 1000;
    console.log(
      `raft sim: ${schedules} schedules × ${STEPS} steps in ${secs.toFixed(1)} s = ${(schedules / secs).toFixed(0)} schedules/s ` +
        `(${Math.round(events / secs)} events/s, ${acked} acknowledged writes checked)`,
    );
  });
});
