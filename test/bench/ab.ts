/**
 * A developer's A/B probe for write-path changes, not part of `npm run bench`: two 3-replica clusters side by side,
 * one running the code of another checkout (`--base DIR`, e.g. `git worktree add /tmp/base HEAD~1` + `npm ci` there,
 * or a symlinked node_modules), one running this checkout; closed-loop sends alternate between them level by level,
 * round after round, so machine noise hits both alike. Without --base both run this checkout (compare node flags with
 * --base-node-args / --this-node-args, or the transport with --base-tls / --this-tls on|off: TLS peer links and
 * load connections, or plain). Prints, per level, this/base ratios of committed/s, p50, server CPU per 1,000
 * writes and disk KB written per write (/proc/<pid>/io write_bytes summed over the replicas: measure.ts
 * diskKBPerWrite); with AB_VERBOSE=1 in the environment also each window's figures, on stderr (a window that caught a
 * checkpoint, or an election, shows there). `npx tsx test/bench/ab.ts [--base DIR] [--levels 1,64,256] [--rounds 3]
 * [--seconds 3] [--this-tls on]`
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildReplica } from '../../scripts/replica-build.mjs';
import { measureRaw, toRow, type LevelRaw } from './measure.js';
import { followLeader, startQuorumWithLoad } from './throughput.js';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    levels: { type: 'string', default: '1,64,256' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    replicas: { type: 'string', default: '3' },
    'base-node-args': { type: 'string', default: '' },
    'this-node-args': { type: 'string', default: '' },
    'base-tls': { type: 'string', default: 'off' },
    'this-tls': { type: 'string', default: 'off' },
  },
});
const levels = values.levels.split(',').map(Number);
const size = Number(values.replicas);

// Both sides run the same way: built (dist/replica/cli.js, as `npm run replica` runs it), each checkout building its
// own; or, when the base has no such build (a checkout from before it), both from their sources through tsx.
const baseBuild = values.base ? join(values.base, 'scripts', 'replica-build.mjs') : null;
const built = baseBuild === null || existsSync(baseBuild);
if (built) {
  await buildReplica();
  if (baseBuild && spawnSync(process.execPath, [baseBuild], { cwd: values.base, stdio: 'inherit' }).status !== 0) throw new Error(`${baseBuild} failed`);
} else process.stderr.write(`ab: ${values.base} has no scripts/replica-build.mjs: both sides run their sources through tsx\n`);

function open(codeRoot: string | undefined, nodeArgs: string, tls: string) {
  return startQuorumWithLoad(size, 0, { codeRoot, built, nodeArgs: nodeArgs ? nodeArgs.split(' ') : undefined, tls: tls === 'on' });
}

const sides = {
  base: await open(values.base, values['base-node-args'], values['base-tls']),
  this: await open(undefined, values['this-node-args'], values['this-tls']),
};
const raw: Record<'base' | 'this', Map<number, LevelRaw[]>> = { base: new Map(), this: new Map() };
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const inFlight of levels) {
      const order: ('base' | 'this')[] = round % 2 ? ['this', 'base'] : ['base', 'this'];
      for (const side of order) {
        const q = sides[side];
        await followLeader(q);
        const r = await measureRaw({ inFlight, warmupMs: 700, measureMs: Number(values.seconds) * 1000, op: (w) => q.load.send(w, inFlight), pids: q.pids });
        const list = raw[side].get(inFlight) ?? [];
        list.push(r);
        raw[side].set(inFlight, list);
        if (process.env.AB_VERBOSE) {
          const row = toRow([r]);
          process.stderr.write(`  ${side} ${inFlight}: ${row.perSecond}/s p50 ${row.p50ms} p99 ${row.p99ms} CPU/1000 ${row.cpuSecondsPer1000} KB/write ${row.diskKBPerWrite}\n`);
        }
        if (r.errors) process.stderr.write(`${side} at ${inFlight} in flight: ${r.errors} errors (first: ${r.firstError})\n`);
      }
    }
    process.stderr.write(`round ${round + 1} done\n`);
  }
  console.log('in flight | base/s  this/s  ratio | base p50  this p50 | base CPU/1000  this CPU/1000  ratio | base KB/write  this KB/write  ratio');
  for (const inFlight of levels) {
    const a = toRow(raw.base.get(inFlight)!);
    const b = toRow(raw.this.get(inFlight)!);
    console.log(
      `${String(inFlight).padStart(9)} | ${a.perSecond} ${b.perSecond} ${(b.perSecond / a.perSecond).toFixed(2)} | ${a.p50ms} ${b.p50ms} | ${a.cpuSecondsPer1000} ${b.cpuSecondsPer1000} ${(b.cpuSecondsPer1000 / a.cpuSecondsPer1000).toFixed(2)} | ${a.diskKBPerWrite} ${b.diskKBPerWrite} ${(b.diskKBPerWrite / a.diskKBPerWrite).toFixed(2)}`,
    );
  }
} finally {
  for (const s of Object.values(sides)) {
    s.load.close();
    await s.cluster.destroy();
  }
}
