/**
 * Before any test file runs, builds what the tests spawn, so they run the built JavaScript that ships, built once for
 * the whole run: the replica and command line (dist/replica/cli.js, as `npm run replica` does; when missing or older
 * than its sources) and the desktop's main-process bundles (main/build.mjs: dist/main/replica-process.js is the
 * desktop's replica process; when stale the same way), and the web client the replicas serve (dist/renderer, a
 * production build as `npm run replica` makes it, when stale).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildReplica, launcherOutputs, staleness } from '../scripts/replica-build.mjs';
import { buildWebClient } from '../scripts/web-client.mjs';
import { ROOT } from './helpers/cluster.js';

export default async function setup(): Promise<void> {
  const t0 = performance.now();
  const why = await buildReplica();
  if (why) process.stdout.write(`test setup: built dist/replica/cli.js (${why}) in ${Math.round(performance.now() - t0)} ms\n`);
  const mainOutputs = [...['main.js', 'preload.cjs'].map((f) => join(ROOT, 'dist', 'main', f)), ...launcherOutputs(join(ROOT, 'dist', 'main', 'replica-process.js'))];
  const mainWhy = staleness(mainOutputs, ['main', 'replica', 'package.json', 'package-lock.json', 'scripts/replica-build.mjs']);
  if (mainWhy) {
    const main = spawnSync(process.execPath, [join(ROOT, 'main', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    if (main.status !== 0) throw new Error(`main/build.mjs failed:\n${main.stdout}${main.stderr}`);
    process.stdout.write(`test setup: built dist/main (${mainWhy})\n`);
  }
  // The web client the replicas serve to the e2e tests' Chromium (scripts/web-client.mjs).
  const t1 = performance.now();
  const webWhy = buildWebClient();
  if (webWhy) process.stdout.write(`test setup: built the web client dist/renderer (${webWhy}) in ${Math.round(performance.now() - t1)} ms\n`);
  // The chaos run the tests start (test/chaos/quick.test.ts) uses this build as it is.
  process.env.QUORUM_REPLICA_PREBUILT = '1';
}
