#!/usr/bin/env node
// `npm test`: typecheck, lint (ESLint, dependency-cruiser, knip), then every vitest suite (unit, simulation, real-process
// cluster, Chromium e2e, quick chaos); vitest's global setup (test/global-setup.ts) first builds what the tests run.
// Prints one closing summary line.
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
const extra = process.argv.slice(2);

function step(title, cmd, args) {
  const t0 = Date.now();
  process.stdout.write(`\n== ${title}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    process.stdout.write(`== ${title}: FAILED after ${secs} s\n`);
    return false;
  }
  process.stdout.write(`== ${title}: ok (${secs} s)\n`);
  return true;
}

let ok = step('typecheck (tsc --noEmit)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
// A lint finding fails the run but does not stop it: the tests still say whether the behaviour holds.
const lintOk = ok && step('lint (npm run lint)', process.execPath, [join(root, 'scripts', 'lint.mjs')]);
mkdirSync(join(root, 'test-results'), { recursive: true });
const report = join(root, 'test-results', 'vitest.json');
// Tests that skip say why through test/helpers/skip.ts, which appends {file, suite|test, reason} lines here.
const skipLog = join(root, 'test-results', 'skips.jsonl');
rmSync(skipLog, { force: true });
process.env.QUORUM_SKIP_LOG = skipLog;
const testsOk = ok && step('tests (vitest)', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra]);

if (!lintOk) process.stdout.write('npm test: lint failed (see "== lint" above; `npm run lint` runs it alone)\n');
if (existsSync(report) && ok) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const passed = r.numPassedTests ?? 0;
  // A file that fails before running any test (import error) counts as one failure.
  const failed = (r.numFailedTests ?? 0) || (r.numFailedTestSuites ?? 0);
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  printSkips(r);
}

/** Lists every skipped test with the reason it gave (test/helpers/skip.ts); a filtered run only counts the rest. */
function printSkips(result) {
  const reasons = existsSync(skipLog)
    ? readFileSync(skipLog, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
    : [];
  const reasonOf = (file, test) =>
    reasons.find((s) => s.file === file && (s.test === test.title || (s.suite !== undefined && test.ancestorTitles.includes(s.suite))))?.reason;
  let unexplained = 0;
  for (const fileResult of result.testResults ?? []) {
    const file = relative(root, fileResult.name);
    for (const test of fileResult.assertionResults ?? []) {
      if (test.status !== 'skipped' && test.status !== 'pending' && test.status !== 'todo') continue;
      const reason = reasonOf(file, test);
      if (reason !== undefined) process.stdout.write(`  skipped: ${file} > ${test.fullName}: ${reason}\n`);
      else if (extra.length === 0) process.stdout.write(`  skipped: ${file} > ${test.fullName}: NO REASON GIVEN (use test/helpers/skip.ts)\n`);
      else unexplained++;
    }
  }
  if (unexplained) process.stdout.write(`  (${unexplained} more not run: filtered out by ${extra.join(' ')})\n`);
}

process.exit(ok && lintOk && testsOk ? 0 : 1);
