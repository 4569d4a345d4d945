/**
 * Accessibility and the narrow layout of the web client, in Chromium against a real replica: axe-core (WCAG 2.1 A and
 * AA rules, plus "label-content-name-mismatch": a control's visible text must be part of its name) finds nothing on
 * the main screens (login, chat, the New group dialog, message search, cluster, settings), in light and dark; at 390×844 (a phone) the layout is one column
 * with the connection bar, the queued count and a usable composer. Screenshots: test-results/screenshots/e2e-a11y-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { Cluster, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import {
  axeFindings,
  chromiumMissing,
  haveChromium,
  launchChromium,
  NetworkSwitch,
  openWith,
  say,
  shot,
  signUpOnPage,
  stateOf,
  statusBar,
  UI_TIMEOUT,
  waitText,
  watchErrors,
} from './support.js';

if (!haveChromium) console.warn(`accessibility e2e skipped: ${chromiumMissing}`);

describe.skipIf(!haveChromium)('accessibility and the narrow layout (Chromium, real replica)', () => {
  let cluster: Cluster;
  let browser: Browser;
  let replica: ReplicaProc;
  const pageErrors: string[][] = [];

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([Cluster.start({ size: 1 }), launchChromium()]);
    replica = await cluster.leader();
    const ben = await RawConn.open(replica.address);
    await ben.signup('ben');
    ben.close();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`axe finds nothing on the login, chat, New group, message search, cluster and settings screens (${scheme})`, async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: scheme });
      const page = await context.newPage();
      pageErrors.push(watchErrors(page, scheme));
      await page.goto(`http://${replica.address}/`);
      await statusBar(page, 'Connected').waitFor({ timeout: UI_TIMEOUT });
      const findings: Record<string, string[]> = {};
      findings.login = await axeFindings(page);
      await shot(page, `a11y-login-${scheme}`);

      const me = `ann-${scheme}`;
      await signUpOnPage(page, me);
      const ben = await RawConn.open(replica.address);
      await ben.login('ben');
      await ben.ok({ op: 'send', to: me, text: `hello ${me}`, session: ben.session() });
      ben.close();
      await openWith(page, 'ben');
      await waitText(page, `hello ${me}`);
      await say(page, 'hi ben');
      await waitText(page, 'hi ben');
      findings.chat = await axeFindings(page);
      await shot(page, `a11y-chat-${scheme}`);

      // The team features (cluster version 3): the New group dialog with a field's error, and the message search.
      await page.getByRole('button', { name: 'New group' }).click({ timeout: UI_TIMEOUT });
      const dialog = page.getByRole('dialog', { name: 'New group' });
      await dialog.getByLabel('Group name').fill('no spaces here');
      await dialog.getByRole('button', { name: 'Create group' }).click();
      await dialog.getByText(/Group names are/).waitFor({ timeout: UI_TIMEOUT });
      findings.newGroup = await axeFindings(page);
      await shot(page, `a11y-new-group-${scheme}`);
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('searchbox', { name: 'Search messages' }).fill('hello');
      await page.getByRole('list', { name: 'Search results' }).getByRole('listitem').first().waitFor({ timeout: UI_TIMEOUT });
      findings.search = await axeFindings(page);
      await shot(page, `a11y-search-${scheme}`);
      await page.getByRole('searchbox', { name: 'Search messages' }).fill('');

      await page.getByRole('button', { name: 'Cluster' }).click();
      await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: UI_TIMEOUT });
      findings.cluster = await axeFindings(page);
      await shot(page, `a11y-cluster-${scheme}`);

      await page.getByRole('button', { name: 'Settings' }).click();
      findings.settings = await axeFindings(page);
      await shot(page, `a11y-settings-${scheme}`);

      expect(findings).toEqual({ login: [], chat: [], newGroup: [], search: [], cluster: [], settings: [] });
      await context.close();
    }, 120_000);
  }

  it('each screen with a conversation has a level-one heading, and each message names its sender', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    pageErrors.push(watchErrors(page, 'cy'));
    await page.goto(`http://${replica.address}/`);
    await signUpOnPage(page, 'cy');
    expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
    await openWith(page, 'ben');
    await say(page, 'a note for ben');
    // Committed (not the outbox's row): the message row itself names the sender.
    await waitFor('sent', async () => ['Sent', 'Delivered', 'Read'].includes((await stateOf(page, 'a note for ben')) ?? ''), UI_TIMEOUT);
    const ben = await RawConn.open(replica.address);
    await ben.login('ben');
    await ben.ok({ op: 'send', to: 'cy', text: 'a reply for cy', session: ben.session() });
    ben.close();
    await waitText(page, 'a reply for cy');
    const row = (text: string) => page.getByRole('log', { name: 'Messages' }).locator('.msg').filter({ hasText: text });
    expect((await row('a note for ben').innerText()).replace(/\s+/g, ' ')).toContain('You: a note for ben');
    expect((await row('a reply for cy').innerText()).replace(/\s+/g, ' ')).toContain('ben: a reply for cy');
    await page.getByRole('button', { name: 'Cluster' }).click();
    expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);
    await context.close();
  }, 60_000);

  it('at 390×844 one column: the conversation list, then the conversation with its composer and the queued count', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, hasTouch: true });
    const network = await NetworkSwitch.install(context);
    const page = await context.newPage();
    pageErrors.push(watchErrors(page, 'dee'));
    await page.goto(`http://${replica.address}/`);
    await shot(page, 'a11y-narrow-login');
    await signUpOnPage(page, 'dee');
    await openWith(page, 'ben');
    await say(page, 'sent from a phone');
    // Committed before the network goes (the outbox's row has the same text): only the next one is queued.
    await waitFor('sent', async () => ['Sent', 'Delivered', 'Read'].includes((await stateOf(page, 'sent from a phone')) ?? ''), UI_TIMEOUT);

    await network.goOffline();
    await statusBar(page, /Reconnecting|Connecting/).waitFor({ timeout: UI_TIMEOUT });
    await say(page, 'queued on a phone');
    const queued = page.getByRole('status').getByText('1 queued message');
    await queued.waitFor({ timeout: UI_TIMEOUT });
    expect(await queued.isVisible()).toBe(true);
    const composer = await page.getByLabel('Message', { exact: true }).boundingBox();
    expect(composer!.width).toBeGreaterThan(250);
    const bar = await page.getByRole('status').boundingBox();
    expect(bar!.x + bar!.width).toBeLessThanOrEqual(390);
    // One column: the conversation takes the width; the list is one "back" away.
    const region = await page.getByRole('region', { name: 'Conversation with ben' }).boundingBox();
    expect(region!.width).toBeGreaterThan(380);
    expect(await axeFindings(page)).toEqual([]);
    await shot(page, 'a11y-narrow-conversation');

    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await page.getByRole('button', { name: 'ben', exact: true }).waitFor({ timeout: UI_TIMEOUT });
    await shot(page, 'a11y-narrow-list');
    await network.goOnline();
    await context.close();
  }, 90_000);

  it('no page had an uncaught error', () => {
    expect(pageErrors.flat()).toEqual([]);
  });
});
