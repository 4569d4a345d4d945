/**
 * dist/replica/cli.js, the built replica's entry (`node dist/replica/cli.js COMMAND`, what `npm run replica|chat|…`
 * run): runs the bundle of replica/cli.ts that scripts/replica-build.mjs wrote beside it, with V8's code cache beside
 * it too, one per command (code-cache.ts). The build names the bundle (QUORUM_BUNDLE: `replica-<hash of its content>.cjs`).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeCacheFile, runBundle, SAVE_CODE_CACHE_AFTER_MS } from './code-cache.js';

declare const QUORUM_BUNDLE: string;

const bundle = join(fileURLToPath(new URL('.', import.meta.url)), QUORUM_BUNDLE);
// Each command compiles different code: one cache per command (the first argument, a word; replica/cli.ts refuses an
// unknown one before a cache would be written).
const command = /^[a-z]+$/.test(process.argv[2] ?? '') ? process.argv[2] : undefined;
try {
  const use = runBundle(bundle, { cacheFile: codeCacheFile(bundle, undefined, command), saveAfterMs: SAVE_CODE_CACHE_AFTER_MS });
  // What became of the cache, for a check that it is used (test/cluster/built-bundles.test.ts).
  if (process.env.QUORUM_CODE_CACHE_REPORT) process.stderr.write(`code cache: ${use}\n`);
} catch (err) {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === bundle;
  process.stderr.write(
    missing
      ? `replica: ${bundle} is missing: build it again with node scripts/replica-build.mjs (npm run replica does)\n`
      : `INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
