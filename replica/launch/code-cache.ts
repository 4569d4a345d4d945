/**
 * Runs a CommonJS bundle with V8's code cache: the compiled code of an earlier start, kept in a file, so a start
 * deserializes what it would otherwise parse and compile again. The built replica (dist/replica/cli.js) and the
 * desktop's replica process (dist/main/replica-process.js) start this way (scripts/replica-build.mjs: `cachedBundle`);
 * Node 20 has no code cache for ES modules nor for the files its own CommonJS loader reads.
 *
 * The cache is `<bundle's file name>.v8cache`, beside the bundle or in a folder of the caller's (the desktop's app
 * folder may be read-only). V8 checks that a cache fits its own version and flags, and rejects it otherwise (the start
 * then compiles as usual and writes a new one), but of the source it checks only the length: the bundle's file name
 * must therefore name its content (`<name>-<hash>.cjs`), so a cache can only ever meet the bundle it was made from.
 * The cache is written once the process has run for a while (`saveAfterMs`), so that it holds the functions a start
 * compiles, not only the top level, and only while the bundle is still there (a rebuild deletes the bundles it
 * replaces); writing it removes the caches of that name's other bundles. A cache that cannot be written (a read-only
 * folder, a full disk) leaves the next start uncached, and nothing else.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** What became of the code cache at a start: none found, used, or found and rejected by V8. */
export type CodeCacheUse = 'none' | 'accepted' | 'rejected';

const SUFFIX = '.v8cache';

/**
 * When a replica's start writes its cache: at 0 messages it serves about 0.3 s after it is spawned, and has compiled
 * by then what a start needs; a process that ends sooner (a `status`, a test's short-lived replica) leaves the cache
 * to a later one.
 */
export const SAVE_CODE_CACHE_AFTER_MS = 1000;

/** The argument that names the cache's folder to a process whose entry runs a bundle: `--code-cache=DIR`. */
export const CODE_CACHE_FLAG = '--code-cache=';

/** The folder `argv` names with CODE_CACHE_FLAG, if any. */
export function codeCacheFolder(argv: readonly string[]): string | undefined {
  return argv.find((a) => a.startsWith(CODE_CACHE_FLAG))?.slice(CODE_CACHE_FLAG.length) || undefined;
}

/**
 * The code cache of `bundle`, in `folder` (default: the bundle's own); `variant` keeps one cache per way the bundle
 * is started (the CLI's commands compile different code: a cache written by `chat` would serve `replica` poorly).
 */
export function codeCacheFile(bundle: string, folder = dirname(bundle), variant?: string): string {
  return join(folder, `${basename(bundle)}${variant ? `.${variant}` : ''}${SUFFIX}`);
}

/**
 * Runs the CommonJS file `bundle` in this process, with its code cache (`cacheFile`) when V8 accepts it; when there
 * was none or it was rejected, writes a new one `saveAfterMs` later (on a timer that does not keep the process alive).
 * Throws what reading or running the bundle throws.
 */
export function runBundle(bundle: string, options: { cacheFile?: string; saveAfterMs: number }): CodeCacheUse {
  const source = readFileSync(bundle, 'utf8');
  const cacheFile = options.cacheFile ?? codeCacheFile(bundle);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // The first start of this bundle (or its cache could not be written): compile as usual.
  }
  // The wrapper Node's own CommonJS loader puts around a module, on the source's first line so lines keep their numbers.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: bundle, cachedData });
  const use: CodeCacheUse = !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
  const module = { exports: {} };
  // Called as Node calls a module's wrapper: `this` is its exports.
  (script.runInThisContext() as (...args: unknown[]) => void).call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  if (use !== 'accepted') {
    // Not once a build has replaced the bundle: a cache of it would be of no use, and writing it would remove the
    // new bundle's.
    setTimeout(() => existsSync(bundle) && saveCodeCache(script, cacheFile, basename(bundle)), options.saveAfterMs).unref();
  }
  return use;
}

/**
 * Writes `script`'s code cache to `cacheFile` whole (a temporary file, synced, renamed over it) or not at all. Given
 * the bundle's file name (`<name>-<hash>.cjs`), then removes the caches of other bundles of that name beside it.
 */
export function saveCodeCache(script: Script, cacheFile: string, bundleName?: string): boolean {
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(cacheFile), { recursive: true });
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, script.createCachedData());
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, cacheFile);
  } catch {
    quietly(() => rmSync(temporary, { force: true }));
    return false;
  }
  const stem = bundleName?.slice(0, bundleName.lastIndexOf('-') + 1);
  if (bundleName && stem) {
    for (const other of quietly(() => readdirSync(dirname(cacheFile))) ?? []) {
      if (other.startsWith(stem) && !other.startsWith(bundleName) && other.endsWith(SUFFIX)) quietly(() => rmSync(join(dirname(cacheFile), other), { force: true }));
    }
  }
  return true;
}

/** A cache is an optimisation: failing to tidy one up changes nothing else. */
function quietly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
