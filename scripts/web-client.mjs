#!/usr/bin/env node
// Builds the web client (dist/renderer) when it is missing or older than its sources, so `npm run replica` right
// after `npm install` serves it. Run before the replica by `npm run replica`; `npm start` and `npm test` build it
// themselves. Offline: vite builds from node_modules.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const builtPage = join(root, 'dist', 'renderer', 'index.html');
/** What the web client's bundle is made of: a change here makes the build stale. */
const SOURCES = ['renderer', 'replica/protocol', 'replica/client', 'replica/util'];

function newestChange(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestChange(join(path, name)));
  return newest;
}

function staleness() {
  if (!existsSync(builtPage)) return 'the web client is not built yet';
  const built = statSync(builtPage).mtimeMs;
  const changed = SOURCES.filter((dir) => existsSync(join(root, dir)) && newestChange(join(root, dir)) > built);
  return changed.length ? `${changed.join(', ')} changed since the web client was built` : null;
}

const why = staleness();
if (why) {
  process.stderr.write(`web client: building it (${why}); this takes a few seconds...\n`);
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('web client: the build failed (see above); the replica starts anyway and says so at http://HOST:PORT/\n');
  }
}
