/**
 * Before any test file runs: builds the replica (dist/replica/cli.js, as `npm run replica` does) when it is missing or
 * older than its sources, so the tests spawn the built JavaScript that ships, once built for the whole run.
 */
import { buildReplica } from '../scripts/replica-build.mjs';

export default async function setup(): Promise<void> {
  const t0 = performance.now();
  const why = await buildReplica();
  if (why) process.stdout.write(`test setup: built dist/replica/cli.js (${why}) in ${Math.round(performance.now() - t0)} ms\n`);
}
