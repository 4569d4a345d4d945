import { describe, expect, it } from 'vitest';
import { createMainWindow, lockDown, type WindowLike } from '../../main/window.js';
import { parseWindowState, DEFAULT_WINDOW_STATE } from '../../main/window-state.js';
import { resolveAppPath, serveAppRequest, APP_CSP } from '../../main/app-protocol.js';
import { silentLog } from '../helpers/main-fakes.js';

function fakeWebContents(url = 'app://quorum/index.html') {
  const on: Record<string, (e: { preventDefault(): void }, url: string) => void> = {};
  let openHandler: ((d: { url: string }) => { action: string }) | null = null;
  return {
    on,
    openHandler: () => openHandler!,
    wc: {
      setWindowOpenHandler: (h: (d: { url: string }) => { action: 'deny' }) => (openHandler = h),
      on: (e: string, l: (e: { preventDefault(): void }, url: string) => void) => (on[e] = l),
      getURL: () => url,
      send: () => {},
    },
  };
}

describe('main window', () => {
  it('is created sandboxed, context-isolated, without Node, from the remembered size', () => {
    let options: Record<string, unknown> = {};
    const f = fakeWebContents();
    class FakeWindow {
      webContents = f.wc;
      constructor(o: Record<string, unknown>) {
        options = o;
      }
      once() {}
      on() {}
      maximize() {}
    }
    createMainWindow(FakeWindow as unknown as new (o: Record<string, unknown>) => WindowLike, {
      preload: '/app/dist/main/preload.cjs',
      url: 'app://quorum/index.html',
      state: { width: 900, height: 700, x: 10, y: 20 },
      devTools: false,
      saveState: () => {},
      hideOnClose: () => false,
      log: silentLog,
    });
    expect(options).toMatchObject({ width: 900, height: 700, x: 10, y: 20, show: false });
    expect(options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
      preload: '/app/dist/main/preload.cjs',
      devTools: false,
    });
  });

  it('denies window.open, navigation away, redirects and webviews', () => {
    const f = fakeWebContents();
    lockDown(f.wc, 'app://quorum/index.html', silentLog);
    expect(f.openHandler()({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    for (const [event, url, blocked] of [
      ['will-navigate', 'https://example.com/', true],
      ['will-navigate', 'file:///etc/passwd', true],
      ['will-navigate', 'app://quorum/other.html', true],
      ['will-redirect', 'http://10.0.0.1/', true],
      ['will-navigate', 'app://quorum/index.html', false],
    ] as const) {
      let prevented = false;
      f.on[event]({ preventDefault: () => (prevented = true) }, url);
      expect([event, url, prevented]).toEqual([event, url, blocked]);
    }
    let prevented = false;
    f.on['will-attach-webview']({ preventDefault: () => (prevented = true) }, '');
    expect(prevented).toBe(true);
  });
});

describe('remembered window size', () => {
  const display = [{ x: 0, y: 0, width: 1920, height: 1080 }];
  it('restores a saved size and position that a display shows', () => {
    expect(parseWindowState(JSON.stringify({ width: 1000, height: 800, x: 100, y: 50, maximized: true }), display)).toEqual({
      width: 1000,
      height: 800,
      x: 100,
      y: 50,
      maximized: true,
    });
  });
  it('drops a position off every display, clamps tiny sizes, and ignores garbage', () => {
    expect(parseWindowState(JSON.stringify({ width: 1000, height: 800, x: 5000, y: 50 }), display)).toEqual({ width: 1000, height: 800 });
    expect(parseWindowState(JSON.stringify({ width: 200, height: 200 }), display)).toEqual({ width: 480, height: 400 });
    expect(parseWindowState('{not json', display)).toEqual(DEFAULT_WINDOW_STATE);
    expect(parseWindowState(JSON.stringify({ width: 'big' }), display)).toEqual(DEFAULT_WINDOW_STATE);
    expect(parseWindowState(null, display)).toEqual(DEFAULT_WINDOW_STATE);
  });
});

describe('app:// protocol', () => {
  it('confines paths to the renderer folder', () => {
    expect(resolveAppPath('app://quorum/', '/r')).toBe('/r/index.html');
    expect(resolveAppPath('app://quorum/assets/index-abc.js', '/r')).toBe('/r/assets/index-abc.js');
    expect(resolveAppPath('app://quorum/../../etc/passwd', '/r')).toBe('/r/etc/passwd');
    expect(resolveAppPath('app://quorum/%2e%2e/%2e%2e/etc/passwd', '/r')).toBe('/r/etc/passwd');
    expect(resolveAppPath('app://quorum/..%2F..%2Fetc%2Fpasswd', '/r')).toBeNull();
    expect(resolveAppPath('app://quorum/a%00b', '/r')).toBeNull();
    expect(resolveAppPath('app://other/index.html', '/r')).toBeNull();
    expect(resolveAppPath('file:///etc/passwd', '/r')).toBeNull();
  });
  it('serves files with the strict CSP and a 404 otherwise', async () => {
    const ok = await serveAppRequest('app://quorum/index.html', '/r', async () => new TextEncoder().encode('<html>'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/text\/html/);
    expect(ok.headers.get('content-security-policy')).toBe(APP_CSP);
    expect(APP_CSP).toContain("script-src 'self'");
    expect(APP_CSP).not.toMatch(/unsafe-(inline|eval)/);
    const missing = await serveAppRequest('app://quorum/nope.js', '/r', async () => {
      throw new Error('ENOENT');
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toBe(APP_CSP);
  });
});
