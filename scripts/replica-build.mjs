#!/usr/bin/env node
/**
 * Builds the headless replica when it is missing or older than its sources, so `npm run replica` runs built JavaScript
 * rather than a TypeScript loader: a replica started that way needs less memory and starts sooner (figures:
 * test/bench/README.md, footprint). Two files:
 *   dist/replica/replica-<hash>.cjs  replica/cli.ts and the npm packages it uses in one CommonJS file (the hash names its
 *                                    content), whitespace and syntax minified (names kept; the source map maps back);
 *   dist/replica/cli.js              its entry (replica/launch/built-entry.ts): runs the bundle with V8's code cache,
 *                                    `<bundle>.v8cache`, which the first start writes and later starts load instead of
 *                                    compiling again (replica/launch/code-cache.ts).
 * One file rather than the packages' hundreds loads about twice as fast; CommonJS because Node 20 keeps no code cache
 * for ES modules. Stay outside it: better-sqlite3 (native), ws's optional native helpers, and what is loaded only on
 * first use, from node_modules: pino-pretty, bonjour-service, and @peculiar/x509 with reflect-metadata (certificates:
 * a replica with a cluster secret makes them at its first start and keeps them; in the bundle they were 0.5 MB of its
 * 1.3, which every start read and kept in memory). main/build.mjs bundles the desktop's replica process
 * the same way (`cachedBundle`). Takes well under a second.
 */
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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
export function staleness(outputs = launcherOutputs(BUILT_REPLICA), sources = SOURCES) {
  if (!outputs.every((f) => existsSync(f))) return 'not built yet';
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const changed = sources.filter((p) => existsSync(join(root, p)) && newestChange(join(root, p)) > built);
  return changed.length ? `${changed.join(', ')} changed since it was built` : null;
}

/** What a launcher (`cachedBundle`) is made of: itself and, once built, the bundle it names (so a missing one is stale). */
export function launcherOutputs(entry) {
  if (!existsSync(entry)) return [entry];
  const bundle = /"([\w-]+-[A-Z0-9]+\.cjs)"/.exec(readFileSync(entry, 'utf8'))?.[1];
  return bundle ? [entry, join(dirname(entry), bundle)] : [entry];
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

/**
 * esbuild options that bundle `entry` and the npm packages it uses (but the native and first-use ones) into one
 * minified CommonJS file, `<outdir>/<name>-<hash of its content>.cjs` with its source map, to be run with V8's code
 * cache (replica/launch/code-cache.ts); once it is written, they build `launcher` (the process's entry, an ES module
 * given the bundle's file name as QUORUM_BUNDLE) to `launcherOut`, then delete the earlier bundles of that name, their
 * maps and code caches (a process reads its whole bundle as it starts; one still running from an earlier bundle
 * writes that bundle's cache, never this one's). Used for the headless replica (below) and the desktop's replica
 * process (main/build.mjs); with esbuild's `build` and `context(...).watch()` alike.
 */
export function cachedBundle({ entry, outdir, name, launcher, launcherOut, target, external = [] }) {
  const common = { absWorkingDir: root, bundle: true, platform: 'node', target, logLevel: 'warning' };
  return {
    ...common,
    entryPoints: [entry],
    outdir,
    format: 'cjs',
    entryNames: `${name}-[hash]`,
    outExtension: { '.js': '.cjs' },
    external: ['better-sqlite3', 'bufferutil', 'utf-8-validate', 'pino-pretty', 'bonjour-service', '@peculiar/x509', 'reflect-metadata', ...external],
    // `import.meta` has no meaning in CommonJS: its two uses (createRequire, and finding dist/renderer from the code's
    // folder) get the bundle's own file and folder.
    // "use strict" first: esbuild's own directive, after the banner, would be an ordinary statement and the bundle would
    // run in sloppy mode (the ES-module build was strict).
    banner: { js: `"use strict";const __quorumImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
    define: { 'import.meta.url': '__quorumImportMetaUrl', 'import.meta.dirname': '__dirname' },
    // `import()` of a package left outside becomes require(): a vm.Script (how the bundle runs) has no module loader.
    supported: { 'dynamic-import': false },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    metafile: true,
    plugins: [
      {
        name: 'launcher',
        setup(esbuild) {
          esbuild.onEnd(async (result) => {
            if (result.errors.length) return;
            const bundle = basename(Object.keys(result.metafile.outputs).find((f) => f.endsWith('.cjs')));
            // The entry last: until it names the new bundle, starts run the previous one (and do not write its cache
            // once it is gone).
            await build({ ...common, format: 'esm', entryPoints: [launcher], outfile: launcherOut, define: { QUORUM_BUNDLE: JSON.stringify(bundle) } });
            for (const file of readdirSync(outdir)) {
              if (file.startsWith(`${name}-`) && !file.startsWith(bundle)) rmSync(join(outdir, file), { force: true });
            }
            rmSync(`${launcherOut}.map`, { force: true }); // an ES-module build's entry had one
          });
        },
      },
    ],
  };
}

/** Builds dist/replica/cli.js if it is stale (or always, with force); returns why it built, or null. */
export async function buildReplica(force = false) {
  const why = force ? 'asked to' : staleness();
  if (!why) return null;
  const outdir = join(root, 'dist', 'replica');
  // Chunks of the ES-module builds before 2026-12-08, kept a day for replicas still running from them.
  pruneOldChunks(join(outdir, 'chunks'));
  await build(cachedBundle({ entry: 'replica/cli.ts', outdir, name: 'replica', launcher: 'replica/launch/built-entry.ts', launcherOut: BUILT_REPLICA, target: 'node20' }));
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
