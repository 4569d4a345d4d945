/**
 * The web client (dist/renderer, served by the replicas themselves) in Chromium against a real 3-replica cluster:
 * live chat between two people, a leader SIGKILLed mid-conversation, the offline outbox, deleting messages and an
 * account, and the cluster view seeing a dead replica. Each spec uses its own accounts; the cluster is shared and
 * every spec leaves all three replicas running. Screenshots go to test-results/screenshots/e2e-*.png.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Cluster, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import type { ChatMessage } from '../../replica/protocol/client.js';
import { RawConn } from '../helpers/raw-client.js';
import {
  barHistory,
  chromiumSkipReason,
  countText,
  launchChromium,
  messages,
  NetworkSwitch,
  converse,
  PASSWORD,
  recordBar,
  say,
  shot,
  stateOf,
  signUpOnPage,
  statusBar,
  texts,
  UI_TIMEOUT,
  waitText,
  watchErrors,
} from './support.js';


describeUnless(chromiumSkipReason, 'web client against a real 3-replica cluster (Chromium)', () => {
  let cluster: Cluster;
  let browser: Browser;
  /** Uncaught errors of every page, checked after each spec (so a spec run alone is checked too). */
  const pageErrors: string[][] = [];

  beforeAll(async () => {
    [cluster, browser] = await Promise.all([Cluster.start({ size: 3 }), launchChromium()]);
    await cluster.leader();
  }, 90_000);

  afterEach(() => {
    const uncaught = pageErrors.flat();
    for (const list of pageErrors) list.length = 0;
    expect(uncaught, 'uncaught page errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  /** A running follower: the page's origin, so killing the leader never takes the page's own server away. */
  async function follower(except: ReplicaProc[] = []): Promise<ReplicaProc> {
    const leader = await cluster.leader();
    const f = cluster.replicas.find((r) => r !== leader && r.running && !except.includes(r));
    if (!f) throw new Error('no running follower');
    return f;
  }

  /** A fresh browser context (its own storage: a second person) with a page on `origin`, signed up as `user`. */
  async function person(origin: ReplicaProc, user: string, setup?: (c: BrowserContext) => Promise<void>): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    await setup?.(context);
    const page = await context.newPage();
    pageErrors.push(watchErrors(page, user));
    await page.goto(`http://${origin.address}/`);
    await signUpOnPage(page, user);
    return page;
  }

  /** The messages with this text in the replicated history of user's conversation with withUser (asked of the leader). */
  async function historyOf(user: string, withUser: string, text: string): Promise<ChatMessage[]> {
    const leader = await cluster.leader();
    const c = await RawConn.open(leader.address);
    try {
      await c.login(user);
      const r = await c.ok({ op: 'history', with: withUser, limit: 200 });
      return (r.messages as ChatMessage[]).filter((m) => m.text === text);
    } finally {
      c.close();
    }
  }

  async function closeAll(...pages: Page[]): Promise<void> {
    for (const p of pages) await p.context().close();
  }

  it('two people sign up and chat; messages arrive live in the other window', async () => {
    const origin = await follower();
    const alice = await person(origin, 'alice');
    await shot(alice, '01-signed-up');
    const bob = await person(origin, 'bob');
    await converse(alice, 'alice', bob, 'bob', 'live');
    // A few more, back and forth, each seen live by the other.
    for (let i = 1; i <= 3; i++) {
      await say(alice, `ping ${i}`);
      await waitText(bob, `ping ${i}`);
      await say(bob, `pong ${i}`);
      await waitText(alice, `pong ${i}`);
    }
    expect(await texts(bob)).toEqual(['hello bob, live', 'hi alice, live', 'ping 1', 'pong 1', 'ping 2', 'pong 2', 'ping 3', 'pong 3']);
    // Bob has the conversation open: alice's last message becomes Read on her side.
    await messages(alice).getByText('Read', { exact: true }).first().waitFor({ timeout: UI_TIMEOUT });
    await shot(alice, '02-chat-alice');
    await shot(bob, '03-chat-bob');
    await closeAll(alice, bob);
  });

  it('survives a leader SIGKILL mid-conversation: Reconnecting then Connected, the failover message arrives once', async () => {
    const origin = await follower();
    const carol = await person(origin, 'carol');
    const dave = await person(origin, 'dave');
    await converse(carol, 'carol', dave, 'dave', 'before the crash');
    const oldLeader = await cluster.leader();
    await recordBar(carol);
    await recordBar(dave);

    await oldLeader.kill();
    await statusBar(carol, 'Reconnecting').waitFor({ timeout: UI_TIMEOUT });
    await shot(carol, '04-reconnecting');
    const during = 'sent while the leader was down';
    await say(carol, during);
    // It is in carol's window at once, marked queued (or already sent if the new leader was quick).
    await waitText(carol, during);

    await statusBar(carol, 'Connected').waitFor({ timeout: UI_TIMEOUT });
    await statusBar(dave, 'Connected').waitFor({ timeout: UI_TIMEOUT });
    await waitText(dave, during);
    await expect.poll(() => messages(carol).getByText('Queued', { exact: true }).count(), { timeout: UI_TIMEOUT }).toBe(0);
    await say(dave, 'got it after the failover');
    await waitText(carol, 'got it after the failover');

    const newLeader = await cluster.leader();
    expect(newLeader).not.toBe(oldLeader);
    await statusBar(carol, `Connected to ${newLeader.id}`).waitFor({ timeout: UI_TIMEOUT });
    for (const p of [carol, dave]) {
      const seen = await barHistory(p);
      const r = seen.findIndex((t) => t.startsWith('Reconnecting'));
      expect(r, `bar history: ${JSON.stringify(seen)}`).toBeGreaterThan(0);
      expect(seen.slice(r).some((t) => t.startsWith('Connected')), `bar history: ${JSON.stringify(seen)}`).toBe(true);
    }
    // Exactly once: in both windows, and in the replicated history.
    expect(await countText(carol, during)).toBe(1);
    expect(await countText(dave, during)).toBe(1);
    expect(await historyOf('dave', 'carol', during)).toHaveLength(1);
    expect(await texts(dave)).toEqual(['hello dave, before the crash', 'hi carol, before the crash', during, 'got it after the failover']);
    // Carol's window tells the truth about her messages, including receipts pushed while it was reconnecting.
    for (const text of ['hello dave, before the crash', during]) {
      const [m] = await historyOf('carol', 'dave', text);
      const truth = m.readAt !== null ? 'Read' : m.deliveredAt !== null ? 'Delivered' : 'Sent';
      await expect.poll(() => stateOf(carol, text), { timeout: UI_TIMEOUT }).toBe(truth);
    }
    await shot(carol, '05-after-failover');

    oldLeader.start();
    await oldLeader.waitHealthy();
    await closeAll(carol, dave);
  });

  it('keeps messages written offline in the outbox, marked queued, and sends them once, in order, on reconnect', async () => {
    const origin = await follower();
    let net!: NetworkSwitch;
    const erin = await person(origin, 'erin', async (c) => {
      net = await NetworkSwitch.install(c);
    });
    const frank = await person(origin, 'frank');
    await converse(erin, 'erin', frank, 'frank', 'online');
    await say(frank, 'frank deletes this while erin is away');
    await waitText(erin, 'frank deletes this while erin is away');
    // Frank looks away (cluster view), so erin's next message is delivered but not yet read.
    await frank.getByRole('button', { name: 'Cluster', exact: true }).click();
    await say(erin, 'read while erin is away');
    await expect.poll(() => stateOf(erin, 'read while erin is away'), { timeout: UI_TIMEOUT }).toBe('Delivered');

    await net.goOffline();
    await statusBar(erin, 'Reconnecting').waitFor({ timeout: UI_TIMEOUT });
    // While erin is away, frank reads her message, deletes one of his and writes a new one: pushes she misses.
    await frank.getByRole('button', { name: 'Back to chat' }).click();
    await waitFor('frank to have read erin\'s message', async () => (await historyOf('frank', 'erin', 'read while erin is away'))[0]?.readAt);
    await messages(frank).locator('.msg', { hasText: 'frank deletes this while erin is away' }).getByRole('checkbox').check();
    await frank.getByRole('button', { name: 'Delete selected' }).click();
    await frank.getByRole('dialog').getByRole('button', { name: 'Delete messages' }).click();
    await expect.poll(() => countText(frank, 'frank deletes this while erin is away'), { timeout: UI_TIMEOUT }).toBe(0);
    await say(frank, 'written while erin is away');
    await waitText(frank, 'written while erin is away');

    const queued = ['offline one', 'offline two', 'offline three'];
    for (const t of queued) await say(erin, t);
    for (const t of queued) await waitText(erin, t);
    expect(await messages(erin).getByText('Queued', { exact: true }).count()).toBe(3);
    await statusBar(erin, '3 queued messages').waitFor({ timeout: UI_TIMEOUT });
    await shot(erin, '06-offline-queued');
    // Nothing left the browser.
    expect(await historyOf('frank', 'erin', 'offline one')).toEqual([]);
    expect(await countText(frank, 'offline one')).toBe(0);

    await net.goOnline();
    await statusBar(erin, 'Connected').waitFor({ timeout: UI_TIMEOUT });
    await expect.poll(() => messages(erin).getByText('Queued', { exact: true }).count(), { timeout: UI_TIMEOUT }).toBe(0);
    for (const t of queued) await waitText(frank, t);
    const conversation = ['hello frank, online', 'hi erin, online', 'read while erin is away', 'written while erin is away', ...queued];
    expect(await texts(frank)).toEqual(conversation);
    // Erin's window catches up with what happened while she was away: the new message, the deletion, the receipt.
    await expect.poll(() => texts(erin), { timeout: UI_TIMEOUT }).toEqual(conversation);
    await expect.poll(() => stateOf(erin, 'read while erin is away'), { timeout: UI_TIMEOUT }).toBe('Read');
    for (const t of queued) expect(await historyOf('frank', 'erin', t)).toHaveLength(1);
    await shot(erin, '07-outbox-sent');
    await closeAll(erin, frank);
  });

  it('deletes a message for both people, and deletes an account after asking for its password', async () => {
    const origin = await follower();
    const gina = await person(origin, 'gina');
    const hank = await person(origin, 'hank');
    await converse(gina, 'gina', hank, 'hank', 'hello');
    await say(gina, 'a message to delete');
    await say(gina, 'a message to keep');
    await waitText(hank, 'a message to keep');
    await waitText(hank, 'a message to delete');

    await messages(gina).locator('.msg', { hasText: 'a message to delete' }).getByRole('checkbox').check();
    await gina.getByRole('button', { name: 'Delete selected' }).click();
    const confirm = gina.getByRole('dialog');
    await confirm.getByRole('button', { name: 'Delete messages' }).waitFor({ timeout: UI_TIMEOUT });
    await shot(gina, '08-delete-confirm');
    await confirm.getByRole('button', { name: 'Delete messages' }).click();
    await expect.poll(() => countText(gina, 'a message to delete'), { timeout: UI_TIMEOUT }).toBe(0);
    await expect.poll(() => countText(hank, 'a message to delete'), { timeout: UI_TIMEOUT }).toBe(0);
    expect(await texts(hank)).toEqual(['hello hank, hello', 'hi gina, hello', 'a message to keep']);
    expect(await historyOf('hank', 'gina', 'a message to delete')).toEqual([]);

    await gina.getByRole('button', { name: 'Delete account' }).click();
    const dialog = gina.getByRole('dialog');
    const submit = dialog.getByRole('button', { name: 'Delete my account' });
    await submit.waitFor({ timeout: UI_TIMEOUT });
    expect(await submit.isDisabled()).toBe(true);
    await dialog.getByLabel('Password').fill('not-the-password');
    await submit.click();
    await dialog.getByRole('alert').waitFor({ timeout: UI_TIMEOUT });
    await shot(gina, '09-delete-account-refused');
    await dialog.getByLabel('Password').fill(PASSWORD);
    await submit.click();
    await gina.getByText('Your account was deleted.').waitFor({ timeout: UI_TIMEOUT });
    await shot(gina, '10-account-deleted');
    // The account is gone: logging in again is refused, and nobody can find it.
    await gina.getByLabel('Username').fill('gina');
    await gina.getByLabel('Password').fill(PASSWORD);
    await gina.getByRole('button', { name: 'Log in' }).click();
    await gina.getByRole('alert').waitFor({ timeout: UI_TIMEOUT });
    await hank.getByRole('searchbox', { name: 'Search accounts' }).fill('gina');
    await hank.getByText('No account matches').waitFor({ timeout: UI_TIMEOUT });
    await closeAll(gina, hank);
  });

  it('the cluster view shows a killed replica as unreachable, and reachable again once it is back', async () => {
    const origin = await follower();
    const victim = await follower([origin]);
    const ivy = await person(origin, 'ivy');
    await ivy.getByRole('button', { name: 'Cluster', exact: true }).click();
    const diagram = ivy.getByRole('img', { name: /Cluster diagram/ });
    await diagram.waitFor({ timeout: UI_TIMEOUT });
    await expect.poll(() => diagram.getAttribute('aria-label'), { timeout: UI_TIMEOUT }).toMatch(/3 replicas; 0 unreachable/);
    const row = ivy.getByRole('row').filter({ has: ivy.getByRole('rowheader', { name: victim.id }) });
    await row.getByRole('cell', { name: 'yes', exact: true }).waitFor({ timeout: UI_TIMEOUT });

    await victim.kill();
    await expect.poll(() => diagram.getAttribute('aria-label'), { timeout: UI_TIMEOUT }).toMatch(/3 replicas; 1 unreachable/);
    await row.getByRole('cell', { name: 'no', exact: true }).waitFor({ timeout: UI_TIMEOUT });
    await ivy.getByText(/2 of 3 voters reachable/).waitFor({ timeout: UI_TIMEOUT });
    await statusBar(ivy, 'cannot survive another replica failure').waitFor({ timeout: UI_TIMEOUT });
    await shot(ivy, '11-cluster-replica-down');

    victim.start();
    await victim.waitHealthy();
    await row.getByRole('cell', { name: 'yes', exact: true }).waitFor({ timeout: UI_TIMEOUT });
    await expect.poll(() => diagram.getAttribute('aria-label'), { timeout: UI_TIMEOUT }).toMatch(/3 replicas; 0 unreachable/);
    await statusBar(ivy, 'can survive 1 more replica failure').waitFor({ timeout: UI_TIMEOUT });
    await shot(ivy, '12-cluster-healthy');
    await closeAll(ivy);
  });

  it('a page reload keeps the login (this tab only); after logging out a reload shows the login screen', async () => {
    const page = await person(await follower(), 'rita');
    await page.reload();
    await page.getByRole('searchbox', { name: 'Search accounts' }).waitFor({ timeout: UI_TIMEOUT });
    expect(await page.getByLabel('Username').count()).toBe(0);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor({ timeout: UI_TIMEOUT });
    await page.reload();
    await page.getByLabel('Username').waitFor({ timeout: UI_TIMEOUT });
    expect(await page.getByRole('searchbox', { name: 'Search accounts' }).count()).toBe(0);
    await page.context().close();
  });

});
