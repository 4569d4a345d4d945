/**
 * The renderer in Chromium against its in-memory mock cluster (renderer/dev/mock-client.ts): the accessible-name
 * contract, Enter/Shift+Enter, drafts, the outbox across a failover, read-only, and a 100,000-message conversation.
 * The same UI against real replicas is covered by the cluster e2e tests.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import { CHROMIUM, chromiumSkipReason } from './support.js';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outDir = join(root, 'dist', 'renderer-mock');

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

describeUnless(chromiumSkipReason, 'renderer against the mock cluster (Chromium)', () => {
  let server: Server;
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    await build({ configFile: join(root, 'renderer', 'vite.config.ts'), mode: 'mock', logLevel: 'warn' });
    server = createServer(async (req, res) => {
      const path = normalize(new URL(req.url ?? '/', 'http://x').pathname);
      const file = join(outDir, path === '/' ? 'index.html' : path);
      if (!file.startsWith(outDir)) return void res.writeHead(404).end();
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  async function loggedIn(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('password-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('searchbox', { name: 'Search accounts' }).waitFor();
    return { page, errors };
  }

  it('keeps the accessible-name contract and sends with Enter, newline with Shift+Enter', async () => {
    const { page, errors } = await loggedIn();
    await page.getByRole('searchbox', { name: 'Search accounts' }).fill('car');
    await page.getByRole('button', { name: 'carol', exact: true }).click();
    const log = page.getByRole('log', { name: 'Messages' });
    await log.getByText('Retro moved to 3pm').waitFor();
    const box = page.getByLabel('Message'); // unique: the composer only
    await box.fill('first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    expect(await box.inputValue()).toBe('first line\nsecond line');
    await box.press('Enter');
    await log.getByText('second line').waitFor();
    expect(await box.inputValue()).toBe('');
    await expect.poll(() => log.getByText('Sent', { exact: true }).count()).toBeGreaterThan(0);
    // a draft stays with its conversation
    await box.fill('draft for carol');
    await page.getByRole('button', { name: 'dave', exact: true }).click();
    expect(await page.getByLabel('Message').inputValue()).toBe('');
    await page.getByRole('button', { name: 'carol', exact: true }).click();
    expect(await page.getByLabel('Message').inputValue()).toBe('draft for carol');
    await page.getByRole('button', { name: 'Cluster' }).click();
    await page.getByRole('img', { name: /Cluster diagram/ }).waitFor();
    const remove = page.getByRole('button', { name: 'Remove r2' });
    expect(await remove.getAttribute('aria-disabled')).toBe('true');
    expect(await remove.getAttribute('title')).toBe('only the desktop app, which holds the cluster secret, can change the membership');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('queues messages during failover and sends each once, in order; says Reconnecting then Connected', async () => {
    const { page, errors } = await loggedIn();
    await page.getByRole('button', { name: 'dave', exact: true }).click();
    const log = page.getByRole('log', { name: 'Messages' });
    await log.getByText('Thanks for the invite code').waitFor();
    // A failover that lasts until the three messages are queued (however slow the machine), then ends.
    await page.evaluate(() => (globalThis as unknown as { __mock: { failover(ms: number): void } }).__mock.failover(120_000));
    await page.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor();
    for (const t of ['one', 'two', 'three']) {
      await page.getByLabel('Message').fill(`queued ${t}`);
      await page.getByLabel('Message').press('Enter');
    }
    expect(await log.getByText('Queued', { exact: true }).count()).toBe(3);
    await page.evaluate(() => (globalThis as unknown as { __mock: { recover(): void } }).__mock.recover());
    await page.getByRole('status').filter({ hasText: 'Connected to r2' }).waitFor();
    await expect.poll(() => log.getByText('Queued', { exact: true }).count(), { timeout: 10_000 }).toBe(0);
    const texts = await log.locator('.msg .text').allTextContents();
    expect(texts.filter((t) => t.startsWith('queued '))).toEqual(['queued one', 'queued two', 'queued three']);
    await page.evaluate(() => (globalThis as unknown as { __mock: { readOnly(on: boolean): void } }).__mock.readOnly(true));
    await page.getByRole('status').filter({ hasText: 'Read-only: no majority reachable' }).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('renders a 100,000-message conversation virtualized and scrolls it', async () => {
    const { page, errors } = await loggedIn();
    await page.getByRole('button', { name: 'bob', exact: true }).click();
    const log = page.getByRole('log', { name: 'Messages' });
    await log.getByText('the cluster view now draws').waitFor();
    const timing = await page.evaluate(async () => {
      type Msg = { id: number; from: string; to: string; text: string; sentAt: number; deliveredAt: number | null; readAt: number | null };
      const store = (globalThis as unknown as { __store: { setState(f: (s: { threads: Record<string, unknown> }) => unknown): void } }).__store;
      const now = Date.now();
      const messages: Msg[] = Array.from({ length: 100_000 }, (_, i) => ({
        id: i + 1,
        from: i % 3 ? 'bob' : 'alice',
        to: i % 3 ? 'alice' : 'bob',
        text: `message number ${i + 1}`,
        sentAt: now - (100_000 - i) * 60_000,
        deliveredAt: now,
        readAt: now,
      }));
      const t0 = performance.now();
      store.setState((s) => ({ threads: { ...s.threads, bob: { messages, hasOlder: false, loading: false, loaded: true } } }));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const render = performance.now() - t0;
      const el = document.querySelector('[role=log]') as HTMLElement;
      const t1 = performance.now();
      for (let i = 1; i <= 20; i++) {
        el.scrollTop = (el.scrollHeight * i) / 21;
        await new Promise((r) => requestAnimationFrame(r));
      }
      const jump = (performance.now() - t1) / 20;
      // Wheel-like scrolling: 400 px per frame for 60 frames, from the middle upwards.
      const frames: number[] = [];
      let last = performance.now();
      for (let i = 0; i < 60; i++) {
        el.scrollTop -= 400;
        await new Promise((r) => requestAnimationFrame(r));
        const t = performance.now();
        frames.push(t - last);
        last = t;
      }
      frames.sort((a, b) => a - b);
      const scroll = frames[Math.floor(frames.length / 2)];
      const p95 = frames[Math.floor(frames.length * 0.95)];
      const mem = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
      const rows = el.querySelectorAll('.vrow').length;
      // What the viewport shows after scrolling to a place: the message numbers of the rows inside its box, read once the
      // list has settled there (the same rows two frames running; a loaded machine needs more than one frame to render
      // and measure the rows and to correct the scroll position for their measured heights).
      const shownAt = async (place: number): Promise<number[]> => {
        const read = (): number[] => {
          const box = el.getBoundingClientRect();
          return [...el.querySelectorAll('.vrow')]
            .filter((row) => {
              const b = row.getBoundingClientRect();
              return b.bottom > box.top && b.top < box.bottom;
            })
            .flatMap((row) => [...row.querySelectorAll('p.text')].map((p) => Number(/^message number (\d+)$/.exec(p.textContent ?? '')?.[1])))
            .filter((n) => Number.isInteger(n));
        };
        el.scrollTop = place;
        let before = '';
        for (let frame = 0; frame < 300; frame++) {
          await new Promise((r) => requestAnimationFrame(r));
          const shown = read();
          const now = shown.join(',');
          if (shown.length > 0 && now === before) return shown;
          before = now;
        }
        return read();
      };
      const middle = await shownAt(el.scrollHeight / 2 - el.clientHeight / 2);
      const top = await shownAt(0);
      const bottom = await shownAt(el.scrollHeight);
      return { render, jump, scroll, p95, rows, heapMB: Math.round(mem / 1e6), middle, top, bottom };
    });
    console.log(
      `100,000 messages: first render ${timing.render.toFixed(0)} ms; far jumps ${timing.jump.toFixed(1)} ms each; ` +
        `scrolling 400 px/frame: median frame ${timing.scroll.toFixed(1)} ms, p95 ${timing.p95.toFixed(1)} ms; ` +
        `${timing.rows} rows in the DOM; JS heap ${timing.heapMB} MB`,
    );
    console.log(`shown: middle ${timing.middle[0]}..${timing.middle.at(-1)}, top ${timing.top[0]}.., bottom ..${timing.bottom.at(-1)}`);
    expect(timing.rows).toBeLessThan(200);
    // Scrolling shows the rows of the place scrolled to: the middle of the list, its first and its last messages.
    expect(timing.middle.length).toBeGreaterThan(3);
    expect(timing.middle.every((n) => n > 40_000 && n < 60_000)).toBe(true);
    expect(timing.top).toContain(1);
    expect(Math.max(...timing.bottom)).toBeGreaterThan(99_900);
    expect(errors).toEqual([]);
    await page.close();
  });
});
