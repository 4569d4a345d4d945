/**
 * The desktop app's window in plain Chromium, for e2e tests of the desktop-only screens (Join, team, Cluster view
 * membership) against a TestDesktop (test/helpers/desktop.ts: main's production modules with a real replica child).
 * What is real: the built renderer (dist/renderer, served with main's own app-protocol handler and its CSP), the
 * production preload (main/preload.ts, bundled with esbuild, its channel lists and checks as shipped), main's IPC
 * validation and handlers (TestDesktop registers them with registerIpcHandlers as main.ts does), and main's status
 * events (DesktopServices.onStatus → 'replica:status', as main.ts sends them to the window).
 * What stands in: only Electron's IPC transport. The preload's `electron` import is test/e2e/preload-electron-shim.ts,
 * whose ipcRenderer.invoke is a Playwright binding into the test process, and the page is served at
 * http://127.0.0.1:PORT (its own replica's address, which that replica accepts as its own page) instead of
 * app://quorum, which plain Chromium cannot load.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { APP_ORIGIN, serveAppRequest } from '../../main/app-protocol.js';
import type { InvokeChannel } from '../../main/ipc-contract.js';
import { ROOT } from '../helpers/cluster.js';
import type { TestDesktop } from '../helpers/desktop.js';

/**
 * Chromium flags the desktop window needs on top of the usual ones: the page is answered by the test (a route), not
 * by a socket on 127.0.0.1, so Chromium cannot place it in the loopback address space, and its Local Network Access
 * checks would refuse its WebSockets to this machine's replica (the app's window is app://quorum, loaded by main).
 */
export const DESKTOP_WINDOW_CHROMIUM_ARGS = ['--disable-features=LocalNetworkAccessChecks'];

let preloadBundle: Promise<string> | null = null;

/** main/preload.ts bundled for a page, with the electron shim in place of `electron` (built once per run). */
function preloadScript(): Promise<string> {
  preloadBundle ??= build({
    entryPoints: [join(ROOT, 'main', 'preload.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    alias: { electron: join(ROOT, 'test', 'e2e', 'preload-electron-shim.ts') },
    logLevel: 'warning',
  }).then((r) => r.outputFiles[0].text);
  return preloadBundle;
}

export interface DesktopWindow {
  page: Page;
  context: BrowserContext;
  /** The page's address (its own replica's host:port). */
  url: string;
  close(): Promise<void>;
}

/** Opens `desktop`'s window: a new browser context whose page is the renderer wired to that desktop's main. */
export async function openDesktopWindow(browser: Browser, desktop: TestDesktop, options: { viewport?: { width: number; height: number } } = {}): Promise<DesktopWindow> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 760 }, colorScheme: 'light' });
  const origin = `http://${desktop.localAddress}`;
  const rendererRoot = join(ROOT, 'dist', 'renderer');
  // Every page request (not the WebSockets) is answered as main's app:// protocol handler answers the window.
  await context.route(`${origin}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    const res = await serveAppRequest(`${APP_ORIGIN}${path}`, rendererRoot, (p) => readFile(p));
    await route.fulfill({ status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) });
  });
  await context.exposeBinding('__quorumIpcInvoke', (_source, channel: string, args: unknown[]) =>
    desktop.invokeRaw(channel as InvokeChannel as 'app:info', ...(args as [])),
  );
  await context.addInitScript({ content: await preloadScript() });
  const page = await context.newPage();
  // main.ts: services.onStatus((s) => window.webContents.send('replica:status', s)).
  const stop = desktop.services.onStatus((s) => {
    void page
      .evaluate(([channel, payload]) => (globalThis as { __quorumIpcDeliver?: (c: string, p: unknown) => void }).__quorumIpcDeliver?.(channel, payload), ['replica:status', s] as const)
      .catch(() => undefined); // the page is reloading or closed: it asks for the status when it starts
  });
  await page.goto(`${origin}/`);
  return {
    page,
    context,
    url: origin,
    close: async () => {
      stop();
      await context.close();
    },
  };
}
