#!/usr/bin/env node
/**
 * Compiles the Electron main process with esbuild (bundled by default with Node + Electron externals):
 *   dist/main/main.js             ESM, the app's "main" (package.json)
 *   dist/main/replica-process.js  ESM, the utilityProcess entry that runs this machine's replica
 *   dist/main/preload.cjs         CommonJS in one file (sandboxed preloads cannot load other modules)
 * npm packages stay external (they ship in node_modules; better-sqlite3 is native and unpacked from asar).
 * Usage: node main/build.mjs [--watch]
 */
import { build, context } from 'esbuild';
import { fileURLToPath } from 'node:url';

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
  { ...common, entryPoints: ['main/replica-process.ts'], outfile: 'dist/main/replica-process.js', format: 'esm', packages: 'external' },
  { ...common, entryPoints: ['main/preload.ts'], outfile: 'dist/main/preload.cjs', format: 'cjs', platform: 'browser', sourcemap: false },
];

if (process.argv.includes('--watch')) {
  for (const c of configs) await (await context(c)).watch();
} else {
  const results = await Promise.allSettled(configs.map((c) => build(c)));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) process.exit(1);
}
