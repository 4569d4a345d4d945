/**
 * Skips that say why. A test that cannot run here (no Chromium, no Electron binary, not root for network namespaces,
 * no tcpdump) is skipped with its reason: printed as a console line, given to vitest (ctx.skip's note), and, when
 * `npm test` runs (scripts/test.mjs sets QUORUM_SKIP_LOG), appended to a file from which the closing summary lists
 * every skipped test with its reason.
 */
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, type TestContext } from 'vitest';

function record(entry: { file: string; suite?: string; test?: string; reason: string }): void {
  const log = process.env.QUORUM_SKIP_LOG;
  if (log) appendFileSync(log, JSON.stringify(entry) + '\n');
}

function currentFile(): string {
  return relative(process.cwd(), expect.getState().testPath ?? 'unknown');
}

/** A describe whose tests all need what `reason` says is missing (null: nothing is missing, they run). */
export function describeUnless(reason: string | null, name: string, factory: () => void): void {
  if (reason !== null) {
    console.warn(`skipped "${name}": ${reason}`);
    record({ file: currentFile(), suite: name, reason });
  }
  describe.skipIf(reason !== null)(name, factory);
}

/** Skips the running test, saying why. */
export function skipBecause(ctx: TestContext, reason: string): never {
  console.warn(`skipped "${ctx.task.name}": ${reason}`);
  record({ file: currentFile(), test: ctx.task.name, reason });
  return ctx.skip(reason);
}
