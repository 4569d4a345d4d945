/**
 * Shared pieces of the browser end-to-end tests: finding Chromium, making sure the web client is built, signing up
 * through the UI, recording what the connection bar said, cutting a page's WebSockets, and screenshots.
 * Every wait polls a condition with a timeout (Playwright's auto-waiting locators or waitFor); none is a fixed sleep.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page, type WebSocketRoute } from 'playwright-core';
import { ROOT } from '../helpers/cluster.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const chromiumMissing = `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`;
/** Why the browser tests cannot run here, or null. */
export const chromiumSkipReason = haveChromium ? null : chromiumMissing;
export const SCREENSHOTS = join(ROOT, 'test-results', 'screenshots');
export const PASSWORD = 'password-123';

/** Generous for a shared 2-core machine; every wait returns as soon as its condition holds. */
export const UI_TIMEOUT = 20_000;

export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...extraArgs],
  });
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `e2e-${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Collects uncaught page errors so a test can assert there were none. */
export function watchErrors(page: Page, who: string): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`${who}: ${e.message}`));
  return errors;
}

export function statusBar(page: Page, text: string | RegExp) {
  return page.getByRole('status').filter({ hasText: text });
}

export function messages(page: Page) {
  return page.getByRole('log', { name: 'Messages' });
}

/** Signs up through the auth screen of a page already showing it, and waits for the workspace. */
export async function signUpOnPage(page: Page, user: string, password = PASSWORD): Promise<void> {
  await statusBar(page, 'Connected').waitFor({ timeout: UI_TIMEOUT });
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('searchbox', { name: 'Search accounts' }).waitFor({ timeout: UI_TIMEOUT });
}

/** Opens the conversation with `other` through the account directory (works before any message exists). */
export async function openWith(page: Page, other: string): Promise<void> {
  const search = page.getByRole('searchbox', { name: 'Search accounts' });
  await search.fill(other);
  await page.getByRole('button', { name: other, exact: true }).click({ timeout: UI_TIMEOUT });
  await page.getByRole('region', { name: `Conversation with ${other}` }).waitFor({ timeout: UI_TIMEOUT });
}

/** Types a message in the composer and sends it with Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const box = page.getByLabel('Message', { exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** Opens each other's conversation and exchanges a first message both ways, checking live delivery. */
export async function converse(a: Page, aName: string, b: Page, bName: string, tag: string): Promise<void> {
  await openWith(a, bName);
  await say(a, `hello ${bName}, ${tag}`);
  await waitText(a, `hello ${bName}, ${tag}`);
  // b has not opened anything: the message arrives live as a new conversation in b's list.
  await b.getByRole('button', { name: aName, exact: true }).click({ timeout: UI_TIMEOUT });
  await waitText(b, `hello ${bName}, ${tag}`);
  await say(b, `hi ${aName}, ${tag}`);
  await waitText(a, `hi ${aName}, ${tag}`);
}

/** How many message bubbles in the open conversation have exactly this text (the list is virtualized: keep it short). */
export function countText(page: Page, text: string): Promise<number> {
  return messages(page).locator('.msg .text').getByText(text, { exact: true }).count();
}

export async function waitText(page: Page, text: string, timeout = UI_TIMEOUT): Promise<void> {
  await messages(page).locator('.msg .text').getByText(text, { exact: true }).waitFor({ timeout });
}

/** The state label (Queued, Sent, Delivered, Read, Not sent) of the one bubble with this text; null if none. */
export async function stateOf(page: Page, text: string): Promise<string | null> {
  const bubble = messages(page).locator('.msg').filter({ has: page.locator('.text').getByText(text, { exact: true }) });
  if ((await bubble.count()) !== 1) return null;
  return ((await bubble.locator('.state').textContent()) ?? '').trim();
}

/** The texts of the open conversation's messages, top to bottom. */
export function texts(page: Page): Promise<string[]> {
  return messages(page).locator('.msg .text').allTextContents();
}

/**
 * Records every text the connection bar shows, from now on, inside the page (a MutationObserver), so a brief state
 * ("Reconnecting…" for a few hundred ms) is never missed by polling. Read it back with barHistory().
 */
export async function recordBar(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __bar?: string[]; __barObserver?: MutationObserver };
    w.__barObserver?.disconnect();
    const el = document.querySelector('.connection .connection-text');
    const seen: string[] = [el?.textContent ?? ''];
    // An anonymous callback: a named helper would need esbuild's __name in the page when run under tsx.
    const obs = new MutationObserver(() => {
      const t = el?.textContent ?? '';
      if (seen[seen.length - 1] !== t) seen.push(t);
    });
    if (el) obs.observe(el, { childList: true, characterData: true, subtree: true });
    w.__bar = seen;
    w.__barObserver = obs;
  });
}

export function barHistory(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __bar?: string[] }).__bar ?? []);
}

/**
 * A switch on a browser context's client WebSockets, for the offline tests. Chromium's offline emulation
 * (context.setOffline) refuses new connections but leaves open WebSockets working (checked by hand: a page stayed
 * "Connected" and kept talking), so cutting the network needs both: close the open sockets at the route, and
 * refuse new ones while offline. Must be installed before the page opens its first socket.
 */
export class NetworkSwitch {
  private offline = false;
  private readonly open = new Set<{ page: WebSocketRoute; server: WebSocketRoute }>();

  private constructor(private readonly context: BrowserContext) {}

  static async install(context: BrowserContext): Promise<NetworkSwitch> {
    const sw = new NetworkSwitch(context);
    await context.routeWebSocket(/\/client$/, (ws) => {
      if (sw.offline) {
        void ws.close({ code: 1001, reason: 'offline (test)' });
        return;
      }
      const pair = { page: ws, server: ws.connectToServer() };
      sw.open.add(pair);
      // Closing either side closes the other (Playwright's default); forget the pair then.
      ws.onClose(() => {
        sw.open.delete(pair);
        void pair.server.close().catch(() => {});
      });
      pair.server.onClose((_code, reason) => {
        sw.open.delete(pair);
        void ws.close({ code: 1001, reason: reason ?? "server closed" }).catch(() => {});
      });
    });
    return sw;
  }

  async goOffline(): Promise<void> {
    this.offline = true;
    await this.context.setOffline(true);
    const all = [...this.open];
    this.open.clear();
    await Promise.all(
      all.flatMap((p) => [p.server.close().catch(() => {}), p.page.close({ code: 1001, reason: 'offline (test)' }).catch(() => {})]),
    );
  }

  async goOnline(): Promise<void> {
    this.offline = false;
    await this.context.setOffline(false);
  }
}

/** axe-core's own source, evaluated in the page. */
const AXE_SOURCE = axe.source;

interface AxeViolation {
  id: string;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe-core in the page (evaluated, so the page's CSP does not apply) and lists what it found, one line each. */
export async function axeFindings(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const inPage = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await inPage.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      rules: { 'label-content-name-mismatch': { enabled: true } },
    });
    return result.violations;
  });
  return violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.help}) at ${n.target.join(' ')}: ${n.failureSummary ?? ''}`.replace(/\s+/g, ' ')));
}
