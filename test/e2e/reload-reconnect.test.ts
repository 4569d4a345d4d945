/**
 * The web client across page reloads and reconnects, in Chromium against a real 3-replica cluster: a message queued
 * while every replica is down survives a reload made while the cluster has no majority (the person stays signed in,
 * read-only, with the message) and arrives exactly once when the replicas return; a message the cluster applied but
 * whose answer never reached the page goes out again after a reload in the same session, and is stored once; the
 * backlog replayed after a reconnect raises no notification (live messages do) and keeps the server's unread count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Cluster, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import type { ChatMessage } from '../../replica/protocol/client.js';
import { client, closeClients } from '../helpers/clients.js';
import {
  chromiumMissing,
  NetworkSwitch,
  haveChromium,
  launchChromium,
  openWith,
  PASSWORD,
  say,
  shot,
  signUpOnPage,
  stateOf,
  statusBar,
  UI_TIMEOUT,
  waitText,
  watchErrors,
} from './support.js';

if (!haveChromium) console.warn(`outbox-reload e2e skipped: ${chromiumMissing}`);

describe.skipIf(!haveChromium)('the outbox across page reloads (Chromium, real replicas)', () => {
  let cluster: Cluster;
  let browser: Browser;
  const pageErrors: string[][] = [];

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([Cluster.start({ size: 3 }), launchChromium()]);
    await cluster.leader();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  async function person(origin: ReplicaProc, user: string, setup?: (c: BrowserContext) => Promise<void>): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    await setup?.(context);
    const page = await context.newPage();
    pageErrors.push(watchErrors(page, user));
    await page.goto(`http://${origin.address}/`);
    await signUpOnPage(page, user);
    return page;
  }

  /** The messages with this text in the replicated history of user's conversation with withUser (read through the leader, wherever it is). */
  async function historyOf(user: string, withUser: string, text: string): Promise<ChatMessage[]> {
    const c = client(cluster.replicas.filter((r) => r.running).map((r) => r.address));
    try {
      await c.login(user, PASSWORD);
      const r = await c.history(withUser, { limit: 200 });
      return r.messages.filter((m) => m.text === text);
    } finally {
      c.close();
    }
  }

  /** Reloads the page, accepting the "leave the page?" question; returns whether it was asked. */
  async function reload(page: Page): Promise<boolean> {
    let asked = false;
    const onDialog = (d: { type(): string; accept(): Promise<void> }) => {
      if (d.type() === 'beforeunload') asked = true;
      void d.accept();
    };
    page.on('dialog', onDialog);
    await page.reload({ waitUntil: 'domcontentloaded' });
    page.off('dialog', onDialog);
    return asked;
  }

  it('a message queued while every replica is down survives a reload during the outage and arrives exactly once', async () => {
    // The page's own replica leads, so the page can talk to it before the outage.
    const origin = await cluster.leader();
    const erin = await person(origin, 'erin');
    const frank = await person(origin, 'frank');
    await openWith(erin, 'frank');
    await frank.context().close();
    await say(erin, 'before the outage');
    await waitFor('sent before the outage', async () => (await stateOf(erin, 'before the outage')) !== 'Queued', UI_TIMEOUT);

    for (const r of cluster.replicas) await r.kill();
    // Whichever replica leads after the outage, the page (served by `origin`) must be allowed to reach it: pages
    // of one replica are foreign to the others until replica/net/exposure.ts accepts the cluster's own origins.
    for (const r of cluster.replicas) r.options.extraArgs = [...(r.options.extraArgs ?? []), ...cluster.replicas.flatMap((o) => ['--allow-origin', `http://${o.address}`])];
    await statusBar(erin, /Reconnecting|Connecting/).waitFor({ timeout: UI_TIMEOUT });
    const text = 'queued while every replica was down';
    await say(erin, text);
    expect(await stateOf(erin, text)).toBe('Queued');
    await statusBar(erin, '1 queued message').waitFor({ timeout: UI_TIMEOUT });

    // One replica back: its page loads again, but the cluster has no majority.
    origin.start();
    await origin.waitHealthy();
    expect(await reload(erin)).toBe(true);
    // Still signed in (no login screen), read-only, with the queued message in the reopened conversation.
    await erin.getByRole('searchbox', { name: 'Search accounts' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await erin.getByLabel('Username').count()).toBe(0);
    await erin.getByRole('region', { name: 'Conversation with frank' }).waitFor({ timeout: UI_TIMEOUT });
    await waitText(erin, text);
    expect(await stateOf(erin, text)).toBe('Queued');
    await statusBar(erin, 'Read-only').waitFor({ timeout: UI_TIMEOUT });
    await statusBar(erin, '1 queued message').waitFor({ timeout: UI_TIMEOUT });
    await shot(erin, 'outbox-reload-read-only');

    for (const r of cluster.replicas) if (r !== origin) r.start();
    await cluster.leader(60_000);
    await waitFor('the queued message sent', async () => ((await stateOf(erin, text)) ?? 'Queued') !== 'Queued', 60_000);
    await waitFor('the message in the replicated history', async () => (await historyOf('erin', 'frank', text)).length >= 1, 30_000);
    expect(await historyOf('erin', 'frank', text)).toHaveLength(1);
    // And the page shows it once, with the earlier message before it.
    await waitText(erin, 'before the outage');
    const shown = await erin.getByRole('log', { name: 'Messages' }).locator('.msg .text').allTextContents();
    expect(shown.filter((t) => t === text)).toHaveLength(1);
    expect(shown.indexOf('before the outage')).toBeLessThan(shown.indexOf(text));
    await erin.context().close();
  }, 240_000);

  it('a message applied whose answer never arrived goes out again after a reload in the same session: stored once', async () => {
    const origin = await cluster.leader();
    const text = 'applied, answer lost, page reloaded';
    /** Until the reload, the answer to the page's send of `text` is swallowed (the cluster applies it all the same). */
    let swallowing = true;
    let swallowed = 0;
    const gina = await person(origin, 'gina', async (context) => {
      await context.routeWebSocket(/\/client$/, (ws) => {
        const server = ws.connectToServer();
        const dropped = new Set<number>();
        ws.onMessage((data) => {
          const frame = JSON.parse(String(data)) as { id?: number; op?: string; text?: string };
          if (swallowing && frame.op === 'send' && frame.text === text && typeof frame.id === 'number') dropped.add(frame.id);
          server.send(data);
        });
        server.onMessage((data) => {
          const frame = JSON.parse(String(data)) as { type?: string; id?: number; event?: string; message?: { text?: string } };
          if (frame.type === 'response' && typeof frame.id === 'number' && dropped.has(frame.id)) {
            swallowed++;
            return;
          }
          // The cluster also pushes my own message to my connections: that copy is lost too.
          if (swallowing && frame.type === 'push' && frame.event === 'message' && frame.message?.text === text) return;
          ws.send(data);
        });
      });
    });
    await person(origin, 'hal').then((p) => p.context().close());
    await openWith(gina, 'hal');
    await say(gina, text);
    await waitFor('the cluster applied it, the answer swallowed', async () => swallowed >= 1 && (await historyOf('gina', 'hal', text)).length === 1, 30_000);
    expect(await stateOf(gina, text)).toBe('Queued');

    swallowing = false;
    expect(await reload(gina)).toBe(true);
    await gina.getByRole('region', { name: 'Conversation with hal' }).waitFor({ timeout: UI_TIMEOUT });
    await waitFor('sent after the reload', async () => ['Sent', 'Delivered', 'Read'].includes((await stateOf(gina, text)) ?? ''), 30_000);
    expect(await historyOf('gina', 'hal', text)).toHaveLength(1);
    await gina.context().close();
  }, 120_000);

  /**
   * Records the notifications the page shows (their bodies, in window.__notified) with the permission granted, and
   * makes the window unfocused (the person is in another window), which is when the client notifies. A string, so no
   * bundler helper ends up in the page.
   */
  const RECORD_NOTIFICATIONS = `
    window.__notified = [];
    window.Notification = function (title, options) { window.__notified.push(options.body); this.onclick = null; this.close = function () {}; };
    window.Notification.permission = 'granted';
    window.Notification.requestPermission = function () { return Promise.resolve('granted'); };
    document.hasFocus = function () { return false; };
  `;

  it('a backlog replayed after a reconnect raises no notification, live messages do, and the unread count is the server\'s', async () => {
    const origin = await cluster.leader();
    let network!: NetworkSwitch;
    const ivy = await person(origin, 'ivy', async (context) => {
      network = await NetworkSwitch.install(context);
      await context.addInitScript({ content: RECORD_NOTIFICATIONS });
    });
    const notified = () => ivy.evaluate(() => (window as unknown as { __notified: string[] }).__notified);
    // Jack uses the client library: on a loaded machine the leader may move during the test, and it follows.
    const jack = client(cluster.replicas.map((r) => r.address));
    try {
      await jack.signup('jack', PASSWORD);
      await jack.login('jack', PASSWORD);
      const send = (text: string) => jack.send('ivy', text);
      await send('live one');
      await waitFor('the live message notified', async () => (await notified()).includes('live one'), UI_TIMEOUT);

      await network.goOffline();
      await statusBar(ivy, /Reconnecting|Connecting/).waitFor({ timeout: UI_TIMEOUT });
      await send('while away 1');
      await send('while away 2');
      await network.goOnline();
      await statusBar(ivy, 'Connected').waitFor({ timeout: UI_TIMEOUT });
      const badge = ivy.getByRole('listitem').filter({ has: ivy.getByRole('button', { name: 'jack', exact: true }) }).locator('.badge');
      await waitFor('the backlog counted unread', async () => (await badge.textContent()) === '3 unread', UI_TIMEOUT);

      await send('live two');
      await waitFor('the next live message notified', async () => (await notified()).includes('live two'), UI_TIMEOUT);
      expect(await notified()).toEqual(['live one', 'live two']);
      await waitFor('unread 4', async () => (await badge.textContent()) === '4 unread', UI_TIMEOUT);
    } finally {
      closeClients();
      await ivy.context().close();
    }
  }, 120_000);

  it('no page had an uncaught error', () => {
    expect(pageErrors.flat()).toEqual([]);
  });
});
