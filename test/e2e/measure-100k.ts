/**
 * A 100,000-message conversation in the web client against a real replica: how long the conversation takes to show,
 * how much JS heap the page holds, how scrolling feels, and the same with every message loaded (scrolled to the top).
 * Not part of `npm test` (it takes a minute or two); a measurement, never an assertion:
 *   npm run build:renderer && npx tsx test/e2e/measure-100k.ts [--messages 100000] [--replicas 1|3] [--json]
 *
 * Preload: real `send` requests, pipelined on two bare protocol connections (test/helpers/raw-client.ts), so the
 * replica holds exactly what a long conversation leaves: Raft log, state machine rows, receipts.
 * Heap: Chromium's CDP Performance.getMetrics (JSHeapUsedSize) right after a forced garbage collection.
 */
import { parseArgs } from 'node:util';
import type { CDPSession, Page } from 'playwright-core';
import { Cluster } from '../helpers/cluster.js';
import { buildReplica } from '../../scripts/replica-build.mjs';
import { buildWebClient } from '../../scripts/web-client.mjs';
import { RawConn } from '../helpers/raw-client.js';
import { haveChromium, chromiumMissing, launchChromium, PASSWORD, statusBar } from './support.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    replicas: { type: 'string', default: '1' },
    window: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});
const TOTAL = Number(values.messages);
const REPLICAS = Number(values.replicas);
const WINDOW = Number(values.window);
if (!Number.isInteger(TOTAL) || TOTAL < 1 || ![1, 3, 5].includes(REPLICAS) || !(WINDOW > 0)) {
  console.error('usage: npx tsx test/e2e/measure-100k.ts [--messages N] [--replicas 1|3|5] [--window N] [--json]');
  process.exit(2);
}
if (!haveChromium) {
  console.error(`measure-100k: ${chromiumMissing}`);
  process.exit(2);
}
const log = (s: string) => (values.json ? process.stderr : process.stdout).write(s + '\n');

/** Message i: every third from bob, the rest from alice. */
const textOf = (i: number) => `message ${i} of the long conversation`;

/** Sends TOTAL messages; returns the time taken and the text of the newest (highest id: the commit order may differ from i). */
async function preload(address: string): Promise<{ secs: number; newest: string }> {
  const [alice, bob] = await Promise.all([RawConn.open(address), RawConn.open(address)]);
  await alice.signup('alice', PASSWORD);
  await bob.signup('bob', PASSWORD);
  await alice.login('alice', PASSWORD);
  await bob.login('bob', PASSWORD);
  const t0 = performance.now();
  let next = 1;
  let done = 0;
  let lastReport = t0;
  let newest = { id: 0, text: '' };
  const worker = async () => {
    while (next <= TOTAL) {
      const i = next++;
      const fromBob = i % 3 === 0;
      const c = fromBob ? bob : alice;
      for (;;) {
        const r = await c.request({ op: 'send', to: fromBob ? 'alice' : 'bob', text: textOf(i), session: c.session() });
        if (r.ok) {
          if (r.result.id > newest.id) newest = { id: r.result.id, text: textOf(i) };
          break;
        }
        if (r.error?.code !== 'RATE_LIMITED' && r.error?.code !== 'TIMEOUT') throw new Error(`send ${i}: ${r.error?.code} ${r.error?.message}`);
      }
      done++;
      const now = performance.now();
      if (now - lastReport > 5000) {
        lastReport = now;
        log(`  preload: ${done} / ${TOTAL} (${Math.round(done / ((now - t0) / 1000))} messages/s)`);
      }
    }
  };
  // One worker per slot of the window: requests go out in order on each connection and pipeline.
  await Promise.all(Array.from({ length: Math.min(WINDOW, TOTAL) }, worker));
  const secs = (performance.now() - t0) / 1000;
  // The connections kept every pushed frame: drop them before measuring anything else.
  alice.close();
  bob.close();
  return { secs, newest: newest.text };
}

async function heapMB(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const used = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
  return Math.round((used / 1e6) * 10) / 10;
}

/** Clicks the conversation button in the page and times, in the page, until the newest message is in the DOM. */
async function openTimed(page: Page, other: string, newest: string): Promise<number> {
  return page.evaluate(
    ([name, text]) =>
      new Promise<number>((resolve, reject) => {
        const button = document.querySelector(`button.conv[aria-label="${name}"]`) as HTMLButtonElement | null;
        if (!button) return reject(new Error(`no conversation button for ${name}`));
        // (No named helper functions in here: tsx's keepNames would reference a __name the page does not have.)
        const t0 = performance.now();
        setTimeout(() => reject(new Error(`"${text}" not shown within 60 s`)), 60_000);
        const obs = new MutationObserver(() => {
          if (![...document.querySelectorAll('[role=log] .msg .text')].some((e) => e.textContent === text)) return;
          obs.disconnect();
          // Until the frame that shows it has been painted.
          requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0), 0));
        });
        obs.observe(document.body, { childList: true, subtree: true, characterData: true });
        button.click();
      }),
    [other, newest] as const,
  );
}

/** Scrolls the message list like a wheel (400 px a frame) and returns the median and p95 frame times. */
async function scrollFrames(page: Page, frames = 60): Promise<{ median: number; p95: number; rows: number }> {
  return page.evaluate(async (n) => {
    const el = document.querySelector('[role=log]') as HTMLElement;
    const times: number[] = [];
    let last = performance.now();
    for (let i = 0; i < n; i++) {
      el.scrollTop -= 400;
      await new Promise((r) => requestAnimationFrame(r));
      const t = performance.now();
      times.push(t - last);
      last = t;
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(n / 2)], p95: times[Math.floor(n * 0.95)], rows: el.querySelectorAll('.vrow').length };
  }, frames);
}

/** Scrolls to the top again and again (each time the list loads an older page) until the beginning is shown. */
async function loadEverything(page: Page, timeoutMs: number): Promise<{ ms: number }> {
  return page.evaluate(
    async ([limit]) => {
      const el = document.querySelector('[role=log]') as HTMLElement;
      const t0 = performance.now();
      let lastNote = t0;
      while (!el.textContent?.includes('This is the beginning of your conversation')) {
        if (performance.now() - t0 > limit) throw new Error(`not everything loaded after ${limit} ms`);
        el.scrollTop = 0;
        el.dispatchEvent(new Event('scroll'));
        const n = el.querySelectorAll('.msg').length;
        if (performance.now() - lastNote > 5000) {
          lastNote = performance.now();
          console.log(`quorum-measure: loading older pages, ${Math.round(lastNote - t0)} ms, list ${el.scrollHeight} px, ${n} rows`);
        }
        await new Promise((r) => requestAnimationFrame(r));
      }
      return { ms: performance.now() - t0 };
    },
    [timeoutMs] as const,
  );
}

async function main(): Promise<void> {
  buildWebClient();
  await buildReplica(); // the replicas run built (dist/replica/cli.js), rebuilt when replica/ changed
  log(`measure-100k: ${TOTAL} messages, ${REPLICAS} replica(s)`);
  const cluster = await Cluster.start({ size: REPLICAS });
  const browser = await launchChromium();
  try {
    const leader = await cluster.leader();
    const { secs: preloadSecs, newest } = await preload(leader.address);
    log(`  preloaded ${TOTAL} messages in ${preloadSecs.toFixed(1)} s (${Math.round(TOTAL / preloadSecs)} messages/s)`);

    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    page.on('console', (m) => m.text().startsWith('quorum-measure:') && log(`  ${m.text().slice(16)}`));
    let historyRequests = 0;
    page.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload === 'string' && f.payload.includes('"op":"history"') && historyRequests++));
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.goto(`http://${leader.address}/`);
    await statusBar(page, 'Connected').waitFor({ timeout: 30_000 });
    const heapEmpty = await heapMB(cdp);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    const tLogin = performance.now();
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('button.conv[aria-label="bob"]').waitFor({ timeout: 30_000 });
    const loginMs = performance.now() - tLogin;

    log(`  logged in (${Math.round(loginMs)} ms); opening the conversation`);
    const firstRenderMs = await openTimed(page, 'bob', newest);
    const heapFirst = await heapMB(cdp);
    const scrollFirst = await scrollFrames(page, 30);

    const requestsBefore = historyRequests;
    const all = await loadEverything(page, 600_000);
    const pages = historyRequests - requestsBefore;
    const loadedCount = await page.evaluate(() => document.querySelector('[role=log] .messages-inner')?.getBoundingClientRect().height ?? 0);
    const heapAll = await heapMB(cdp);
    // From the bottom up through the whole conversation, as a reader would.
    await page.evaluate(() => {
      const el = document.querySelector('[role=log]') as HTMLElement;
      el.scrollTop = el.scrollHeight / 2;
    });
    const scrollAll = await scrollFrames(page, 60);
    const jumps = await page.evaluate(async () => {
      const el = document.querySelector('[role=log]') as HTMLElement;
      const t0 = performance.now();
      for (let i = 1; i <= 20; i++) {
        el.scrollTop = (el.scrollHeight * i) / 21;
        await new Promise((r) => requestAnimationFrame(r));
      }
      return (performance.now() - t0) / 20;
    });

    const result = {
      messages: TOTAL,
      replicas: REPLICAS,
      preloadSeconds: Math.round(preloadSecs * 10) / 10,
      loginToConversationListMs: Math.round(loginMs),
      firstRenderMs: Math.round(firstRenderMs),
      heapMB: { emptyPage: heapEmpty, firstPageShown: heapFirst, everyMessageLoaded: heapAll },
      scrollNewestPage: { medianFrameMs: round1(scrollFirst.median), p95FrameMs: round1(scrollFirst.p95), rowsInDom: scrollFirst.rows },
      loadEverything: { ms: Math.round(all.ms), historyPages: pages, listHeightPx: Math.round(loadedCount) },
      scrollAll: { medianFrameMs: round1(scrollAll.median), p95FrameMs: round1(scrollAll.p95), rowsInDom: scrollAll.rows, farJumpMs: round1(jumps) },
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      log(`  log in → conversation list: ${result.loginToConversationListMs} ms`);
      log(`  open the conversation → newest message painted (first render): ${result.firstRenderMs} ms`);
      log(`  JS heap: ${heapEmpty} MB empty page, ${heapFirst} MB with the newest page shown, ${heapAll} MB with all ${TOTAL} messages loaded`);
      log(`  scrolling the newest page: median frame ${result.scrollNewestPage.medianFrameMs} ms, p95 ${result.scrollNewestPage.p95FrameMs} ms`);
      log(`  loading every message by scrolling up: ${result.loadEverything.ms} ms over ${pages} history pages`);
      log(`  scrolling all ${TOTAL}: median frame ${result.scrollAll.medianFrameMs} ms, p95 ${result.scrollAll.p95FrameMs} ms, ${scrollAll.rows} rows in the DOM; far jumps ${result.scrollAll.farJumpMs} ms each`);
    }
  } finally {
    await browser.close();
    await cluster.destroy();
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

await main();
