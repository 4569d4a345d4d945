// The replica's node flags (replica/process-env.ts REPLICA_NODE_ARGS): every way the product starts a headless replica
// gives them, and they do what they are there for on this Node (a young generation of at most 2 × 8 MiB).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPLICA_NODE_ARGS } from '../../replica/process-env.js';
import { ROOT } from '../helpers/cluster.js';

const source = (file: string) => readFileSync(join(ROOT, file), 'utf8');

describe('the replica node flags', () => {
  it('are given by `npm run replica` and by `npm start` without Electron', () => {
    const scripts = JSON.parse(source('package.json')).scripts as Record<string, string>;
    expect(scripts.replica).toMatch(new RegExp(`node ${REPLICA_NODE_ARGS.join(' ')} dist/replica/cli\\.js replica$`));
    // scripts/start.mjs is plain JavaScript run before any build: it spells the flags, which must be these.
    expect(source('scripts/start.mjs')).toContain(`run(process.execPath, [${REPLICA_NODE_ARGS.map((a) => `'${a}'`).join(', ')}, 'dist/replica/cli.js', 'replica'`);
  });

  it('keep the young generation at 16 MiB where V8 would grow it to 32 MiB', (ctx) => {
    // Survivors at every scavenge: V8 grows the young generation to its limit, as it does in a busy replica.
    const program = `
      const keep = [];
      for (let i = 0; i < 2e6; i++) { const o = { i, s: 'x' + i }; if (i % 3 === 0) keep.push(o); if (keep.length > 200000) keep.splice(0, 100000); }
      const s = require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
      process.stdout.write(String(s.space_size));`;
    const newSpace = (flags: readonly string[]) => {
      const r = spawnSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return Number(r.stdout) / 1024 / 1024;
    };
    // V8 sizes its default from the machine's memory: on a small machine it may not exceed 16 MiB, and there is
    // nothing to show.
    if (newSpace([]) <= 16) ctx.skip();
    expect(newSpace(REPLICA_NODE_ARGS)).toBeLessThanOrEqual(16);
  });
});
