#!/usr/bin/env node
// `npm run lint`: ESLint (code), dependency-cruiser (the layering) and knip (dead files, exports and dependencies).
// Runs all three even when one fails, so one run shows every finding; exits 1 if any failed. `--fix` is passed to ESLint.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (pkg, file) => join(root, 'node_modules', pkg, file);
const fix = process.argv.includes('--fix') ? ['--fix'] : [];

const checks = [
  { title: 'eslint', args: [bin('eslint', 'bin/eslint.js'), '--max-warnings=0', ...fix, '.'] },
  {
    title: 'dependency-cruiser (layering)',
    args: ['--import', './scripts/lint/typescript-5.mjs', bin('dependency-cruiser', 'bin/dependency-cruise.mjs'), '--config', '.dependency-cruiser.cjs', 'replica', 'main', 'renderer', 'test', 'scripts'],
  },
  { title: 'knip (unused files, exports, dependencies)', args: [bin('knip', 'bin/knip.js'), '--no-progress'] },
];

let failed = 0;
for (const { title, args } of checks) {
  const started = Date.now();
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status === 0) process.stdout.write(`lint: ${title} ok (${seconds} s)\n`);
  else {
    failed++;
    process.stdout.write(`lint: ${title} FAILED (${seconds} s)\n`);
  }
}
process.exit(failed ? 1 : 0);
