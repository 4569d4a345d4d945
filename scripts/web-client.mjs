#!/usr/bin/env node
/**
 * Builds the web client (dist/renderer) when it is missing or older than its sources, so `npm run replica` right
 * after `npm install` serves it. Run before the replica by `npm run replica`, and by vitest's global setup
 * (test/global-setup.ts) before the tests; `npm start` builds it itself. Always a production build, whatever
 * NODE_ENV says (vitest sets it to "test", which would make vite emit React's development JSX). Offline: vite builds
 * from node_modules.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staleness } from './replica-build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const BUILT_WEB_CLIENT = join(root, 'dist', 'renderer', 'index.html');
/** What the web client's bundle is made of: a change here makes the build stale. */
const SOURCES = ['renderer', 'replica/protocol', 'replica/client', 'replica/util', 'main/ipc-contract.ts', 'package.json', 'package-lock.json', 'scripts/web-client.mjs'];

/**
 * Builds dist/renderer if it is stale; `before(why)` is told first. Returns why it built, or null; throws when vite
 * fails (its output says why).
 */
export function buildWebClient(before = () => {}) {
  const why = staleness([BUILT_WEB_CLIENT], SOURCES);
  if (!why) return null;
  before(why);
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (result.status !== 0) throw new Error(`the web client's build failed (vite exited with ${result.status ?? result.signal}; see above)`);
  return why;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildWebClient((why) => process.stderr.write(`web client: building it (${why}); this takes a few seconds...\n`));
  } catch (err) {
    process.stderr.write(`web client: ${err.message}; the replica starts anyway and says so at http://HOST:PORT/\n`);
  }
}
