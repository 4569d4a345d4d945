#!/usr/bin/env node
/**
 * Compiles the Electron main process with esbuild (bundled by default with Node + Electron externals):
 *   dist/main/main.js             ESM, the app's "main" (package.json)
 *   dist/main/replica-process.js  ESM, the utilityProcess entry that runs this machine's replica: runs
 *                                 replica-process-<hash>.cjs beside it with V8's code cache (main/replica-process-launch.ts)
 *   dist/main/preload.cjs         CommonJS in one file (sandboxed preloads cannot load other modules)
 * main.js keeps npm packages external (they ship in node_modules; better-sqlite3 is native and unpacked from asar).
 * The replica process's bundle holds them as the headless replica's does (scripts/replica-build.mjs `cachedBundle`: one
 * minified file loads far sooner than a few hundred package files; native and first-use packages stay in node_modules).
 * Usage: node main/build.mjs [--watch]
 */
import { build, context } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBundle, pruneOldChunks } from '../scripts/replica-build.mjs';

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
  cachedBundle({
    entry: 'main/replica-process.ts',
    outdir: join(root, 'dist', 'main'),
    name: 'replica-process',
    launcher: 'main/replica-process-launch.ts',
    launcherOut: join(root, 'dist', 'main', 'replica-process.js'),
    target: common.target,
    external: ['electron'],
  }),
  { ...common, entryPoints: ['main/preload.ts'], outfile: 'dist/main/preload.cjs', format: 'cjs', platform: 'browser', sourcemap: false },
];

// Chunks of the ES-module builds of the replica process before 2026-12-08, kept a day for processes still running them.
pruneOldChunks(join(root, 'dist', 'main', 'chunks'));
if (process.argv.includes('--watch')) {
  for (const c of configs) await (await context(c)).watch();
} else {
  const results = await Promise.allSettled(configs.map((c) => build(c)));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) process.exit(1);
}
