/**
 * dist/replica/cli.js, the built replica's entry (`node dist/replica/cli.js COMMAND`, what `npm run replica|chat|…`
 * run): runs the bundle of replica/cli.ts that scripts/replica-build.mjs wrote beside it, with V8's code cache beside
 * it too (code-cache.ts). The build names the bundle (QUORUM_BUNDLE: `replica-<hash of its content>.cjs`).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBundle, SAVE_CODE_CACHE_AFTER_MS } from './code-cache.js';

declare const QUORUM_BUNDLE: string;

const bundle = join(fileURLToPath(new URL('.', import.meta.url)), QUORUM_BUNDLE);
try {
  runBundle(bundle, { saveAfterMs: SAVE_CODE_CACHE_AFTER_MS });
} catch (err) {
  const missing = (err as NodeJS.ErrnoException).code === 'ENOENT' && (err as NodeJS.ErrnoException).path === bundle;
  process.stderr.write(
    missing
      ? `replica: ${bundle} is missing: build it again with node scripts/replica-build.mjs --force\n`
      : `INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
