/**
 * The desktop app through Playwright's `_electron`, where an Electron binary is installed: a fresh user-data folder
 * (so a first install: the app hosts a one-member cluster on this machine), sign up in the app's window, and chat
 * live with a second person using the web client that the app's own replica serves (in Chromium).
 * Without an Electron binary (or without a display, or without Chromium for the second person) the specs are skipped
 * and the reason is printed. The binary is located the way node_modules/electron/index.js does, without calling it:
 * since Electron 45 that call downloads a missing binary.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { _electron, type Browser, type ElectronApplication, type Page } from 'playwright-core';
import { freePort, ROOT, waitFor } from '../helpers/cluster.js';
import { APP_URL } from '../../main/app-protocol.js';
import { chromiumMissing, converse, haveChromium, launchChromium, say, shot, signUpOnPage, statusBar, waitText, watchErrors } from './support.js';

/** The Electron executable require('electron') would return, or why there is none. */
function electronBinary(): { path: string } | { missing: string } {
  let pkgDir: string;
  try {
    pkgDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return { missing: 'the electron package is not installed' };
  }
  const pathFile = join(pkgDir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const path = override ? join(override, rel || 'electron') : rel ? join(pkgDir, 'dist', rel) : null;
  if (!path) return { missing: `${pathFile} does not exist (electron 45 fetches its binary on first launch; run \`npx install-electron\` where there is network)` };
  if (!existsSync(path)) return { missing: `${path} does not exist` };
  return { path };
}

function skipReason(): string | null {
  const bin = electronBinary();
  if ('missing' in bin) return `no Electron binary installed here: ${bin.missing}`;
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return 'no display for the Electron window (DISPLAY is not set; run under xvfb-run)';
  }
  if (!haveChromium) return `the second person uses Chromium, and there is ${chromiumMissing}`;
  return null;
}

const reason = skipReason();

describeUnless(reason, 'the desktop app through _electron', () => {
  let userData: string;
  let port: number;
  let app: ElectronApplication;
  let browser: Browser;
  let win: Page;
  let errors: string[];

  beforeAll(async () => {
    // dist/main (the app's main process, preload and replica process) was built by test/global-setup.ts: building it
    // again here would replace it under the desktop tests running beside this one.
    // A fresh user-data folder: a first install, except that the replica listens on a free port, not 7420.
    userData = mkdtempSync(join(tmpdir(), 'quorum-electron-'));
    port = await freePort();
    writeFileSync(join(userData, 'settings.json'), JSON.stringify({ replica: { enabled: true, dataDir: join(userData, 'replica'), port } }));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'ELECTRON_RUN_AS_NODE') env[k] = v;
    app = await _electron.launch({
      executablePath: (electronBinary() as { path: string }).path,
      // Chromium refuses to run its sandbox as root (containers, CI); the page's sandbox preference is checked below.
      args: [ROOT, `--user-data-dir=${userData}`, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])],
      cwd: ROOT,
      env,
      timeout: 60_000,
    });
    win = await app.firstWindow();
    errors = watchErrors(win, 'electron window');
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (userData) rmSync(userData, { recursive: true, force: true });
  });

  it('runs isolated: no Node in the page, only the preload API, loaded from app://', async () => {
    const globals = await win.evaluate(() => ({
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      quorum: typeof (globalThis as { quorum?: unknown }).quorum,
    }));
    expect(globals.require).toBe('undefined');
    expect(globals.process).toBe('undefined');
    expect(globals.quorum).toBe('object');
    // The window's webPreferences themselves are unit-tested (test/unit/main-window.test.ts); here: the page's URL.
    expect(win.url()).toBe(APP_URL);
  });

  it('signs up in the app window and chats live with a person on the web client its replica serves', async () => {
    // The app hosts this machine's replica (a one-member cluster on a first install) and connects to it.
    await statusBar(win, 'Connected').waitFor({ timeout: 60_000 });
    await waitFor('the app replica to serve the web client', async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null))?.ok, 30_000, 100);
    await signUpOnPage(win, 'desk');
    await shot(win, 'electron-01-signed-up');

    const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
    const pageErrors = watchErrors(page, 'web');
    await page.goto(`http://127.0.0.1:${port}/`);
    await signUpOnPage(page, 'webby');
    await converse(win, 'desk', page, 'webby', 'from the desktop');
    for (let i = 1; i <= 2; i++) {
      await say(page, `web ${i}`);
      await waitText(win, `web ${i}`);
      await say(win, `desk ${i}`);
      await waitText(page, `desk ${i}`);
    }
    await shot(win, 'electron-02-chat');
    await page.close();
    expect([...errors, ...pageErrors]).toEqual([]);
  });

  it('behaves like a desktop app: one instance, an application menu with Help → Open logs folder, logs in the logs folder', async () => {
    // (The pieces are unit-tested under Node with Electron faked; this checks them wired into the real binary.)
    const facts = await app.evaluate(({ app: electronApp, Menu }) => {
      const menu = Menu.getApplicationMenu();
      const help = menu?.items.find((i) => i.role === 'help' || i.label === 'Help');
      return {
        singleInstance: electronApp.hasSingleInstanceLock(),
        menus: menu?.items.map((i) => i.label) ?? [],
        help: help?.submenu?.items.map((i) => i.label) ?? [],
        logs: electronApp.getPath('logs'),
      };
    });
    expect(facts.singleInstance).toBe(true);
    expect(facts.menus.length).toBeGreaterThan(2);
    expect(facts.help).toContain('Open logs folder');
    await waitFor('main.log and replica.log in the logs folder', () => existsSync(join(facts.logs, 'main.log')) && existsSync(join(facts.logs, 'replica.log')), 30_000, 100);
    expect(readFileSync(join(facts.logs, 'replica.log'), 'utf8')).toMatch(/replica started/);
  });
});
