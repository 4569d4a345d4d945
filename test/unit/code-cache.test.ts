// The built replica's start with V8's code cache (replica/launch/code-cache.ts): a real CommonJS file run through
// runBundle, in this process, as dist/replica/cli.js runs the replica's bundle.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { codeCacheFile, runBundle, saveCodeCache } from '../../replica/launch/code-cache.js';

const ran = (globalThis as { codeCacheRuns?: unknown[] });

/** A bundle that records what CommonJS gave it, and has enough functions for V8 to cache. */
function writeBundle(dir: string, name = 'bundle-1.cjs'): string {
  const file = join(dir, name);
  const functions = Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i % 7}; }`).join('\n');
  writeFileSync(
    file,
    `${functions}\nconst { join } = require('node:path');\nmodule.exports.answer = f6(7);\n` +
      `globalThis.codeCacheRuns.push({ thisIsExports: this === module.exports, strict: (function () { return this === undefined; })(), filename: __filename, dirname: __dirname, joined: join(__dirname, 'x'), sum: [${Array.from({ length: 200 }, (_, i) => `f${i}(1)`).join(',')}].reduce((a, b) => a + b, 0) });\n`,
  );
  return file;
}

describe('runBundle', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-code-cache-'));
    ran.codeCacheRuns = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    chmodSync(dir, 0o700);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the bundle as a CommonJS module, writes its cache after the delay, and the next run uses it', () => {
    const bundle = writeBundle(dir);
    expect(runBundle(bundle, { saveAfterMs: 3000 })).toBe('none');
    expect(ran.codeCacheRuns).toEqual([{ thisIsExports: true, strict: false, filename: bundle, dirname: dir, joined: join(dir, 'x'), sum: 20494 }]);
    expect(existsSync(codeCacheFile(bundle))).toBe(false);
    vi.advanceTimersByTime(2999);
    expect(existsSync(codeCacheFile(bundle))).toBe(false);
    vi.advanceTimersByTime(1);
    expect(readFileSync(codeCacheFile(bundle)).length).toBeGreaterThan(1000);
    expect(readdirSync(dir).sort()).toEqual(['bundle-1.cjs', 'bundle-1.cjs.v8cache']);

    expect(runBundle(bundle, { saveAfterMs: 3000 })).toBe('accepted');
    expect(ran.codeCacheRuns).toHaveLength(2);
    expect(ran.codeCacheRuns?.[1]).toEqual(ran.codeCacheRuns?.[0]);
    // An accepted cache is not written again.
    writeFileSync(codeCacheFile(bundle), Buffer.concat([readFileSync(codeCacheFile(bundle)), Buffer.from('marker')]));
    vi.advanceTimersByTime(10_000);
    expect(readFileSync(codeCacheFile(bundle)).subarray(-6).toString()).toBe('marker');
  });

  it('a damaged cache is rejected, the bundle still runs, and the cache is written anew', () => {
    const bundle = writeBundle(dir);
    writeFileSync(codeCacheFile(bundle), Buffer.from('not a code cache at all, just bytes'.repeat(40)));
    expect(runBundle(bundle, { saveAfterMs: 100 })).toBe('rejected');
    expect(ran.codeCacheRuns).toHaveLength(1);
    vi.advanceTimersByTime(100);
    expect(runBundle(bundle, { saveAfterMs: 100 })).toBe('accepted');
    expect(ran.codeCacheRuns).toHaveLength(2);
  });

  it("another build's cache is never met: the cache is named after the bundle, whose name names its content; the newer cache replaces it", () => {
    const first = writeBundle(dir, 'replica-AAAA.cjs');
    runBundle(first, { saveAfterMs: 0 });
    vi.advanceTimersByTime(0);
    writeFileSync(join(dir, 'other-CCCC.cjs.v8cache'), 'a cache of another name');
    const second = writeBundle(dir, 'replica-BBBB.cjs');
    expect(codeCacheFile(second)).not.toBe(codeCacheFile(first));
    expect(runBundle(second, { saveAfterMs: 0 })).toBe('none');
    expect(existsSync(codeCacheFile(first))).toBe(true);
    vi.advanceTimersByTime(0);
    expect(readdirSync(dir).sort()).toEqual(['other-CCCC.cjs.v8cache', 'replica-AAAA.cjs', 'replica-BBBB.cjs', 'replica-BBBB.cjs.v8cache']);
  });

  it('keeps the cache in a folder of its own when asked (the desktop: its app folder may be read-only), making it', () => {
    const bundle = writeBundle(dir);
    const cacheFile = codeCacheFile(bundle, join(dir, 'cache', 'code'));
    expect(cacheFile).toBe(join(dir, 'cache', 'code', 'bundle-1.cjs.v8cache'));
    expect(runBundle(bundle, { cacheFile, saveAfterMs: 0 })).toBe('none');
    vi.advanceTimersByTime(0);
    expect(readdirSync(dir).sort()).toEqual(['bundle-1.cjs', 'cache']);
    expect(runBundle(bundle, { cacheFile, saveAfterMs: 0 })).toBe('accepted');
  });

  it('one cache per variant (the CLI\'s commands), and a cache for each stays beside the others of the same bundle', () => {
    const bundle = writeBundle(dir, 'replica-AAAA.cjs');
    const replica = codeCacheFile(bundle, undefined, 'replica');
    const chat = codeCacheFile(bundle, undefined, 'chat');
    expect([replica, chat]).toEqual([join(dir, 'replica-AAAA.cjs.replica.v8cache'), join(dir, 'replica-AAAA.cjs.chat.v8cache')]);
    expect(runBundle(bundle, { cacheFile: replica, saveAfterMs: 0 })).toBe('none');
    expect(runBundle(bundle, { cacheFile: chat, saveAfterMs: 0 })).toBe('none');
    vi.advanceTimersByTime(0);
    expect(readdirSync(dir).sort()).toEqual(['replica-AAAA.cjs', 'replica-AAAA.cjs.chat.v8cache', 'replica-AAAA.cjs.replica.v8cache']);
    expect(runBundle(bundle, { cacheFile: chat, saveAfterMs: 0 })).toBe('accepted');
  });

  it('writes no cache once the bundle is gone (a build replaced it): it would remove the new bundle\'s', () => {
    const old = writeBundle(dir, 'replica-AAAA.cjs');
    expect(runBundle(old, { saveAfterMs: 100 })).toBe('none');
    rmSync(old);
    const fresh = writeBundle(dir, 'replica-BBBB.cjs');
    runBundle(fresh, { saveAfterMs: 0 });
    vi.advanceTimersByTime(100);
    expect(readdirSync(dir).sort()).toEqual(['replica-BBBB.cjs', 'replica-BBBB.cjs.v8cache']);
  });

  it('a folder it cannot write to leaves the start uncached and nothing behind', () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: make the cache's path a folder instead, which no file can be renamed over.
      const bundle = writeBundle(dir);
      mkdirSync(codeCacheFile(bundle));
      writeFileSync(join(codeCacheFile(bundle), 'keep'), '');
      expect(runBundle(bundle, { saveAfterMs: 0 })).toBe('none');
      expect(() => vi.advanceTimersByTime(0)).not.toThrow();
      expect(readdirSync(dir).sort()).toEqual(['bundle-1.cjs', 'bundle-1.cjs.v8cache']);
      return;
    }
    const bundle = writeBundle(dir);
    chmodSync(dir, 0o500);
    expect(runBundle(bundle, { saveAfterMs: 0 })).toBe('none');
    expect(() => vi.advanceTimersByTime(0)).not.toThrow();
    expect(readdirSync(dir)).toEqual(['bundle-1.cjs']);
  });

  it('throws what reading the bundle throws', () => {
    expect(() => runBundle(join(dir, 'missing.cjs'), { saveAfterMs: 0 })).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('saveCodeCache', () => {
  it('writes whole or not at all', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-code-cache-'));
    try {
      const script = new Script('1 + 1', { filename: 'x.js' });
      expect(saveCodeCache(script, join(dir, 'c.v8cache'))).toBe(true);
      // A folder that cannot be made: a file is in its place.
      expect(saveCodeCache(script, join(dir, 'c.v8cache', 'x-1.v8cache'))).toBe(false);
      expect(readdirSync(dir)).toEqual(['c.v8cache']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
