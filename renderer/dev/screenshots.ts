/**
 * Screenshots of the main screens against the in-memory mock (no replicas needed), light and dark, plus a quick
 * check of the accessible names and of the 100,000-message conversation. Run:
 *   npx vite build --config renderer/vite.config.ts --mode mock && npx tsx renderer/dev/screenshots.ts [outDir]
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { chromium, type Page } from 'playwright-core';

const root = join(import.meta.dirname, '..', '..', 'dist', 'renderer-mock');
const out = process.argv[2] ?? join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
mkdirSync(out, { recursive: true });

const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  const file = join(root, path === '/' ? 'index.html' : path);
  try {
    const body = await readFile(file);
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

async function shot(page: Page, name: string) {
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(out, `${name}.png`) });
  console.log('saved', join(out, `${name}.png`));
}

let current: Page | null = null;
process.on('uncaughtException', async (err) => {
  console.error(err);
  await current?.screenshot({ path: join(out, 'failure.png') }).catch(() => {});
  process.exit(1);
});
for (const scheme of ['light', 'dark'] as const) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: scheme });
  current = page;
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  page.on('console', (m) => m.type() === 'error' && console.error('console', m.text()));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
  await shot(page, `${scheme}-01-login`);

  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').waitFor();
  if (scheme === 'light') await shot(page, `${scheme}-02-login-error`);
  await page.getByLabel('Password').fill('correct-horse');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('searchbox', { name: 'Search accounts' }).waitFor();

  await page.getByRole('button', { name: 'bob', exact: true }).click();
  const log = page.getByRole('log', { name: 'Messages' });
  await log.getByText('the cluster view now draws').waitFor();
  await page.getByLabel('Message').fill('Shipping it now.');
  await page.getByLabel('Message').press('Enter');
  await log.getByText('Shipping it now.').waitFor();
  await page.getByLabel('Message').fill('A draft that stays with bob');
  await shot(page, `${scheme}-03-conversation`);

  if (scheme === 'light') {
    // Failover: the bar says Reconnecting, a message typed meanwhile shows queued, then goes out once.
    await page.evaluate(() => (globalThis as unknown as { __mock: { failover(ms: number): void } }).__mock.failover(2500));
    await page.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor();
    await page.getByLabel('Message').fill('sent during failover');
    await page.getByRole('button', { name: 'Send' }).click();
    await log.getByText('Queued', { exact: true }).waitFor();
    await shot(page, `${scheme}-04-failover-queued`);
    await page.getByRole('status').filter({ hasText: 'Connected to r2' }).waitFor();
    await log.getByText('sent during failover').waitFor();
    await page.waitForTimeout(600);
    const count = await log.getByText('sent during failover').count();
    if (count !== 1) throw new Error(`failover message shown ${count} times`);

    // 100,000 messages: scroll up through a few pages.
    const t0 = Date.now();
    for (let i = 0; i < 8; i++) {
      await log.evaluate((el) => (el.scrollTop = 0));
      await page.waitForTimeout(200);
    }
    const loaded = await page.evaluate(() => document.querySelectorAll('[role=log] .vrow').length);
    console.log(`scrolled up 8 times in ${Date.now() - t0} ms; ${loaded} rows in the DOM (virtualized)`);
    await shot(page, `${scheme}-05-history-scrolled`);

    // select and delete
    await log.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.waitForTimeout(300);
    const boxes = log.getByRole('checkbox');
    await boxes.last().check();
    await shot(page, `${scheme}-06-selection`);
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await shot(page, `${scheme}-07-delete-confirm`);
    await page.getByRole('button', { name: 'Delete messages' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });

    // directory
    await page.getByRole('searchbox', { name: 'Search accounts' }).fill('user*');
    await page.getByRole('button', { name: 'user001', exact: true }).waitFor();
    await page.locator('.side-scroll').evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.getByRole('button', { name: 'user070', exact: true }).waitFor();
    await shot(page, `${scheme}-08-directory`);
    await page.getByRole('searchbox', { name: 'Search accounts' }).fill('');

    // read-only
    await page.evaluate(() => (globalThis as unknown as { __mock: { readOnly(on: boolean): void } }).__mock.readOnly(true));
    await page.getByRole('status').filter({ hasText: 'Read-only: no majority reachable' }).waitFor();
    await shot(page, `${scheme}-09-read-only`);
    await page.evaluate(() => (globalThis as unknown as { __mock: { readOnly(on: boolean): void } }).__mock.readOnly(false));
  }

  await page.getByRole('button', { name: 'Cluster', exact: true }).click();
  await page.getByRole('img', { name: /Cluster diagram/ }).waitFor();
  await page.waitForTimeout(1300);
  await shot(page, `${scheme}-10-cluster`);

  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await shot(page, `${scheme}-11-settings`);
  if (scheme === 'light') {
    await page.getByRole('button', { name: 'Back to chat' }).click();
    await page.getByRole('button', { name: 'Delete account' }).click();
    await page.getByRole('dialog').getByLabel('Password').fill('secret-pw');
    await shot(page, `${scheme}-12-delete-account`);
  }
  await page.close();
}

await browser.close();
server.close();
