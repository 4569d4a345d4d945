#!/usr/bin/env node
/**
 * Builds the headless replica (dist/replica/cli.js: replica/cli.ts and the npm packages it uses bundled into one ESM
 * file by esbuild) when it is missing or older than its sources, so `npm run replica` runs built JavaScript rather than
 * a TypeScript loader: a replica started that way needs less memory and starts sooner (figures: test/bench/README.md,
 * footprint). One file rather than the packages' hundreds loads about twice as fast. Stay outside it: better-sqlite3
 * (native), ws's optional native helpers, and pino-pretty and bonjour-service (loaded only on first use, from
 * node_modules). What the replica imports dynamically (@peculiar/x509 with reflect-metadata: certificates, only with a
 * cluster secret) goes to chunks beside it (dist/replica/chunks/), loaded on first use. Whitespace and syntax are
 * minified (names are kept, and the source map maps back): a smaller file parses sooner. main/build.mjs bundles the desktop's replica process with the
 * same settings (REPLICA_BUNDLE). Takes well under a second.
 * Usage: node scripts/replica-build.mjs [--force]
 */
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const BUILT_REPLICA = join(root, 'dist', 'replica', 'cli.js');
/** What the bundle is made of: a change here makes the build stale. */
const SOURCES = ['replica', 'package.json', 'package-lock.json', 'scripts/replica-build.mjs'];

function newestChange(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestChange(join(path, name)));
  return newest;
}

/**
 * Why the build made of `sources` (paths in the project) into `outputs` (files) is stale, or null when it is not: an
 * output missing, or a source changed after the oldest output.
 */
export function staleness(outputs = [BUILT_REPLICA], sources = SOURCES) {
  if (!outputs.every((f) => existsSync(f))) return 'not built yet';
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const changed = sources.filter((p) => existsSync(join(root, p)) && newestChange(join(root, p)) > built);
  return changed.length ? `${changed.join(', ')} changed since it was built` : null;
}

/** Chunks an earlier build left are kept a day, not deleted at once: a running replica may still load one on first use. */
const OLD_CHUNK_MS = 24 * 60 * 60 * 1000;

/** Deletes the files in `dir` (a build's chunks folder) that no build has written for a day. */
export function pruneOldChunks(dir) {
  if (!existsSync(dir)) return;
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (now - statSync(file).mtimeMs > OLD_CHUNK_MS) rmSync(file, { force: true });
  }
}

/** esbuild settings of a bundled replica (this CLI, and the desktop's utility process in main/build.mjs). */
export const REPLICA_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  external: ['better-sqlite3', 'bufferutil', 'utf-8-validate', 'pino-pretty', 'bonjour-service'],
  splitting: true,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  // The bundled CommonJS packages require Node's built-in modules.
  banner: { js: "import { createRequire as __quorumRequire } from 'node:module'; const require = __quorumRequire(import.meta.url);" },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
};

/** Builds dist/replica/cli.js if it is stale (or always, with force); returns why it built, or null. */
export async function buildReplica(force = false) {
  const why = force ? 'asked to' : staleness();
  if (!why) return null;
  pruneOldChunks(join(root, 'dist', 'replica', 'chunks'));
  await build({
    absWorkingDir: root,
    ...REPLICA_BUNDLE,
    entryPoints: ['replica/cli.ts'],
    outdir: 'dist/replica',
    target: 'node20',
    logLevel: 'warning',
  });
  return why;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const why = await buildReplica(process.argv.includes('--force')).catch((err) => {
    process.stderr.write(`replica: the build failed: ${err.message}\n`);
    process.exit(1);
  });
  if (why) process.stderr.write(`replica: built dist/replica/cli.js (${why}) in ${(performance.now() - t0).toFixed(0)} ms\n`);
}
