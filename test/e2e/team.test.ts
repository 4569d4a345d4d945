/**
 * Team chat in the web client (issue 14), in Chromium against a real 3-replica cluster at cluster version 3: three
 * people in a group across a leader SIGKILL (every message arrives once for all; "Read by N of 2" changing live in the
 * sender's window as the others read), message search opening the
 * conversation at its message, an edit in place shown live to the others, typing and presence that appear and clear.
 * One cluster and one browser for all specs; the specs build on one another (the group of the first is used by the
 * rest), so they run in order. Screenshots: test-results/screenshots/e2e-team-*.png.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeUnless } from '../helpers/skip.js';
import { Cluster, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { printLogTimeline } from '../helpers/log-timeline.js';
import type { ChatMessage } from '../../replica/protocol/client.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import { chromiumSkipReason, countText, launchChromium, messages, say, shot, signUpOnPage, stateOf, statusBar, texts, UI_TIMEOUT, waitText, watchErrors } from './support.js';

describeUnless(chromiumSkipReason, 'team chat: groups, search, edits, presence and typing (Chromium, real 3-replica cluster)', () => {
  let cluster: Cluster;
  let browser: Browser;
  let origin: ReplicaProc;
  const pages: Record<string, Page> = {};
  const pageErrors: string[][] = [];

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([Cluster.start({ size: 3 }), launchChromium()]);
    const leader = await cluster.leader();
    await waitFor('cluster version 3', async () => (await (await cluster.leader()).status()).clusterVersion === SUPPORTED_VERSION);
    // The pages are served by a follower, so killing the leader never takes a page's own server away.
    origin = cluster.replicas.find((r) => r !== leader)!;
    for (const user of ['ann', 'ben', 'cy']) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: 'light' });
      const page = await context.newPage();
      pageErrors.push(watchErrors(page, user));
      await page.goto(`http://${origin.address}/`);
      await signUpOnPage(page, user);
      await page.getByRole('button', { name: 'New group' }).waitFor({ timeout: UI_TIMEOUT });
      pages[user] = page;
    }
  }, 90_000);

  // CI deletes its clone: a failing spec prints what the replicas said (leader changes, connections).
  beforeEach(({ onTestFailed }) => onTestFailed(() => printLogTimeline(Object.fromEntries((cluster?.replicas ?? []).map((r) => [r.id, r.options.logFile])))));

  afterEach(() => {
    const uncaught = pageErrors.flat();
    for (const list of pageErrors) list.length = 0;
    expect(uncaught, 'uncaught page errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  /** The group's history as the cluster holds it (asked of the leader as `user`). */
  async function groupHistory(user: string): Promise<ChatMessage[]> {
    const c = await RawConn.open((await cluster.leader()).address);
    try {
      await c.login(user);
      return (await c.ok({ op: 'groupHistory', group: 'team', limit: 200 })).messages as ChatMessage[];
    } finally {
      c.close();
    }
  }

  /** Opens a conversation from the list by its name (a person, or #group). */
  async function open(page: Page, name: string): Promise<void> {
    await page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name, exact: true }).click({ timeout: UI_TIMEOUT });
  }

  it('three people in a group: created with a validated dialog, messages arrive once for all across a leader SIGKILL', async () => {
    const { ann, ben, cy } = pages;
    await ann.getByRole('button', { name: 'New group' }).click();
    const dialog = ann.getByRole('dialog', { name: 'New group' });
    await dialog.getByLabel('Group name').fill('not a name!');
    await dialog.getByLabel('Members').fill('ben, cy');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    // The field says what is wrong, and is marked invalid; nothing was created.
    await dialog.getByText(/Group names are 1–32 letters/).waitFor({ timeout: UI_TIMEOUT });
    expect(await dialog.getByLabel('Group name').getAttribute('aria-invalid')).toBe('true');
    await shot(ann, 'team-01-new-group-invalid');
    await dialog.getByLabel('Group name').fill('team');
    await dialog.getByRole('button', { name: 'Create group' }).click();
    const region = ann.getByRole('region', { name: 'Group #team' });
    await region.waitFor({ timeout: UI_TIMEOUT });
    // The header lists the members; the history starts with the membership event.
    await expect.poll(() => region.locator('.conv-sub').textContent(), { timeout: UI_TIMEOUT }).toMatch(/^Members: you \(admin\), ben, cy · \d online$/);
    await messages(ann).getByText('ann created #team').waitFor({ timeout: UI_TIMEOUT });

    await say(ann, 'hello team');
    // "Read by N of 2" under ann's message changes live in her open window as each reads it (groupRead pushes).
    for (const [i, p] of [ben, cy].entries()) {
      await open(p, '#team');
      await waitText(p, 'hello team');
      await expect.poll(() => stateOf(ann, 'hello team'), { timeout: UI_TIMEOUT }).toBe(`Read by ${i + 1} of 2`);
    }
    // Others' messages name their sender.
    await messages(ben).locator('.msg.theirs .sender').getByText('ann').waitFor({ timeout: UI_TIMEOUT });
    await say(ben, 'hi from ben');
    await waitText(cy, 'hi from ben');
    await waitText(ann, 'hi from ben');
    await shot(ben, 'team-02-group-ben');

    const oldLeader = await cluster.leader();
    await oldLeader.kill();
    await statusBar(ann, 'Reconnecting').waitFor({ timeout: UI_TIMEOUT });
    const during = ['sent by ann during the failover', 'sent by cy during the failover'];
    await say(ann, during[0]);
    await say(cy, during[1]);
    for (const p of [ann, ben, cy]) await statusBar(p, 'Connected').waitFor({ timeout: UI_TIMEOUT });
    for (const p of [ann, ben, cy]) for (const text of during) await waitText(p, text);
    await say(ben, 'after the failover');
    for (const p of [ann, cy]) await waitText(p, 'after the failover');
    const expected = ['hello team', 'hi from ben', ...during, 'after the failover'];
    for (const p of [ann, ben, cy]) {
      for (const text of during) expect(await countText(p, text)).toBe(1);
      // The two written during the failover may be committed in either order; every window shows the log's.
      expect((await texts(p)).sort()).toEqual([...expected].sort());
    }
    // Exactly once in the replicated history, in the order every window shows.
    const history = (await groupHistory('cy')).filter((m) => !m.event);
    expect(history.map((m) => m.text).sort()).toEqual([...expected].sort());
    for (const p of [ann, ben, cy]) expect(await texts(p)).toEqual(history.map((m) => m.text));
    await shot(ann, 'team-03-after-failover');
    oldLeader.start();
    await oldLeader.waitHealthy();
  }, 60_000);

  it('search finds a message, marks the words, and opens the conversation at it', async () => {
    const { ann } = pages;
    await ann.getByRole('searchbox', { name: 'Search messages' }).fill('failov');
    const results = ann.getByRole('list', { name: 'Search results' });
    const hit = results.getByRole('listitem').filter({ hasText: 'sent by cy during the failover' });
    await hit.waitFor({ timeout: UI_TIMEOUT });
    // The matched word (a prefix of the last one typed) is marked.
    const marked = await hit.locator('mark').allTextContents();
    expect(marked.length).toBe(1);
    expect(marked[0]).toMatch(/^failov/i);
    await shot(ann, 'team-04-search-results');
    await hit.getByRole('button', { name: '#team' }).click();
    await ann.getByRole('region', { name: 'Group #team' }).waitFor({ timeout: UI_TIMEOUT });
    const focused = messages(ann).locator('.msg.focused');
    await focused.waitFor({ timeout: UI_TIMEOUT });
    expect(await focused.locator('.text').textContent()).toBe('sent by cy during the failover');
    await shot(ann, 'team-05-search-opened');
    await ann.getByRole('searchbox', { name: 'Search messages' }).fill('');
    await ann.getByRole('list', { name: 'Conversations' }).waitFor({ timeout: UI_TIMEOUT });
  }, 30_000);

  it('Up arrow edits my last message in place (Escape cancels); the others see the new text and "edited" live', async () => {
    const { ann, ben, cy } = pages;
    const composer = ann.getByLabel('Message', { exact: true });
    await composer.fill('');
    await composer.press('ArrowUp');
    const edit = ann.getByRole('textbox', { name: 'Edit message' });
    await edit.waitFor({ timeout: UI_TIMEOUT });
    expect(await edit.inputValue()).toBe('sent by ann during the failover');
    await edit.press('Escape');
    await edit.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    await waitText(ann, 'sent by ann during the failover');
    await composer.press('ArrowUp');
    await edit.fill('sent by ann during the failover (edited)');
    await shot(ann, 'team-06-editing');
    await edit.press('Enter');
    for (const p of [ann, ben, cy]) {
      await waitText(p, 'sent by ann during the failover (edited)');
      const bubble = messages(p).locator('.msg').filter({ hasText: 'sent by ann during the failover (edited)' });
      await bubble.locator('.edited').getByText(/^edited /).waitFor({ timeout: UI_TIMEOUT });
      expect(await countText(p, 'sent by ann during the failover')).toBe(0);
    }
    await shot(ben, 'team-07-edited-live');
  }, 30_000);

  it('typing shows "ben is typing…" and clears when his message arrives; presence shows online, then last seen', async () => {
    const { ann, ben, cy } = pages;
    const typingLine = ann.locator('.typing-line');
    await ben.getByLabel('Message', { exact: true }).pressSequentially('ty', { delay: 20 });
    await typingLine.getByText('ben is typing…').waitFor({ timeout: UI_TIMEOUT });
    await shot(ann, 'team-08-typing');
    await ben.getByLabel('Message', { exact: true }).press('Enter');
    await waitText(ann, 'ty');
    await expect.poll(() => typingLine.textContent(), { timeout: UI_TIMEOUT }).toBe('');

    // One to one with cy: the header says she is online; once her window closes, when she was last seen.
    const search = ann.getByRole('searchbox', { name: 'Search accounts' });
    await search.fill('cy');
    await ann.getByRole('button', { name: 'cy', exact: true }).click({ timeout: UI_TIMEOUT });
    const header = ann.getByRole('region', { name: 'Conversation with cy' }).locator('.presence-text');
    await header.getByText('online', { exact: true }).waitFor({ timeout: UI_TIMEOUT });
    await shot(ann, 'team-09-presence-online');
    await cy.context().close();
    await header.getByText(/^last seen /).waitFor({ timeout: UI_TIMEOUT });
    await shot(ann, 'team-10-presence-last-seen');
  }, 30_000);
});
