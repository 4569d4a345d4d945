/**
 * Smoke run of the built web client (dist/renderer) against one real replica: two people sign up and chat live.
 * Not a test of the suite (the lead's e2e covers the cluster); a quick check while developing the UI:
 *   npm run build:renderer && npx tsx renderer/dev/real-smoke.ts [outDir]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const out = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
mkdirSync(out, { recursive: true });
const data = mkdtempSync(join(tmpdir(), 'quorum-smoke-'));
const port = 17000 + Math.floor(Math.random() * 1000);
const replica = spawn(process.execPath, ['--import', 'tsx', 'replica/cli.ts', 'replica', '--id', 'r1', '--data', data, '--listen', `127.0.0.1:${port}`], {
  cwd: join(import.meta.dirname, '..', '..'),
  stdio: ['ignore', 'ignore', 'inherit'],
});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const pages = [];
  for (const who of ['alice', 'bob']) {
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    page.on('pageerror', (e) => console.error(who, 'pageerror', e.message));
    page.on('console', (m) => m.type() === 'error' && console.error(who, 'console', m.text()));
    await page.goto(url);
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await page.getByLabel('Username').fill(who);
    await page.getByLabel('Password').fill('password-123');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('searchbox', { name: 'Search accounts' }).waitFor();
    pages.push(page);
  }
  const [alice, bob] = pages;
  await alice.getByRole('searchbox', { name: 'Search accounts' }).fill('bo');
  await alice.getByRole('button', { name: 'bob', exact: true }).click();
  await alice.getByLabel('Message').fill('Hi Bob! Line one\nline two');
  await alice.getByLabel('Message').press('Enter');
  await bob.getByRole('button', { name: /alice/ }).click();
  await bob.getByRole('log', { name: 'Messages' }).getByText('Hi Bob! Line one').waitFor();
  await bob.getByLabel('Message').fill('Hello Alice 👋');
  await bob.getByRole('button', { name: 'Send' }).click();
  await alice.getByRole('log', { name: 'Messages' }).getByText('Hello Alice').waitFor();
  await alice.getByRole('log', { name: 'Messages' }).getByText('Read').first().waitFor({ timeout: 10_000 });
  await alice.screenshot({ path: join(out, 'real-alice.png') });
  await bob.screenshot({ path: join(out, 'real-bob.png') });
  await alice.getByRole('button', { name: 'Cluster', exact: true }).click();
  await alice.getByRole('img', { name: /Cluster diagram/ }).waitFor();
  await alice.waitForTimeout(1200);
  await alice.screenshot({ path: join(out, 'real-cluster.png') });
  console.log('real smoke: ok; screenshots in', out);
} finally {
  await browser.close();
  replica.kill('SIGTERM');
  await new Promise((r) => replica.once('exit', r));
  rmSync(data, { recursive: true, force: true });
}
