/**
 * dist/main/replica-process.js, the entry of the utility process that runs this machine's replica: runs the bundle of
 * main/replica-process.ts that main/build.mjs wrote beside it (QUORUM_BUNDLE: `replica-process-<hash>.cjs`) with V8's
 * code cache (replica/launch/code-cache.ts). The cache goes to the folder main names with `--code-cache=DIR` (CODE_CACHE_FLAG; the
 * app's own folder may be read-only; main gives one in its user data folder), else beside the bundle.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeCacheFile, codeCacheFolder, runBundle, SAVE_CODE_CACHE_AFTER_MS } from '../replica/launch/code-cache.js';

declare const QUORUM_BUNDLE: string;

const bundle = join(fileURLToPath(new URL('.', import.meta.url)), QUORUM_BUNDLE);
try {
  runBundle(bundle, { cacheFile: codeCacheFile(bundle, codeCacheFolder(process.argv)), saveAfterMs: SAVE_CODE_CACHE_AFTER_MS });
} catch (err) {
  // main's ReplicaHost logs this (replica.log) and restarts the process with backoff.
  process.stderr.write(`replica process: cannot run ${bundle}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
