#!/usr/bin/env node
/**
 * Compiles the Electron main process with esbuild (bundled by default with Node + Electron externals):
 *   dist/main/main.js             ESM, the app's "main" (package.json)
 *   dist/main/replica-process.js  ESM, the utilityProcess entry that runs this machine's replica
 *   dist/main/preload.cjs         CommonJS in one file (sandboxed preloads cannot load other modules)
 * main.js keeps npm packages external (they ship in node_modules; better-sqlite3 is native and unpacked from asar).
 * replica-process.js bundles them as the headless replica's build does (REPLICA_BUNDLE: one minified file loads far
 * sooner than a few hundred package files; native and first-use packages stay in node_modules).
 * Usage: node main/build.mjs [--watch]
 */
import { build, context } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pruneOldChunks, REPLICA_BUNDLE } from '../scripts/replica-build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node22', // Electron 45's Node
  sourcemap: 'linked',
  logLevel: 'info',
  external: ['electron'],
};

const configs = [
  { ...common, entryPoints: ['main/main.ts'], outfile: 'dist/main/main.js', format: 'esm', packages: 'external' },
  {
    ...common,
    ...REPLICA_BUNDLE,
    external: [...REPLICA_BUNDLE.external, 'electron'],
    entryPoints: ['main/replica-process.ts'],
    outdir: 'dist/main',
  },
  { ...common, entryPoints: ['main/preload.ts'], outfile: 'dist/main/preload.cjs', format: 'cjs', platform: 'browser', sourcemap: false },
];

pruneOldChunks(join(root, 'dist', 'main', 'chunks'));
if (process.argv.includes('--watch')) {
  for (const c of configs) await (await context(c)).watch();
} else {
  const results = await Promise.allSettled(configs.map((c) => build(c)));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) process.exit(1);
}
