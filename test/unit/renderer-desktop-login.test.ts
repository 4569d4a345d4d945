// The desktop window's kept login through main's real handlers (TestDesktop: settings, safeStorage stand-in): "stay
// signed in" is sealed by main and survives a restart of the app; a window-only login never reaches main or disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDesktop } from '../helpers/desktop.js';
import type { KeptLogin, KeptLoginStore } from '../../renderer/src/store/store-deps.js';

let root: string;
let app: TestDesktop;

/** The page's window-only storage (sessionStorage in the app). */
class WindowOnly implements KeptLoginStore {
  kept: KeptLogin | null = null;
  save(login: KeptLogin): void {
    this.kept = login;
  }
  load(): KeptLogin | null {
    return this.kept;
  }
  clear(): void {
    this.kept = null;
  }
}

async function flushIpc(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'quorum-kept-login-'));
  app = new TestDesktop({ name: 'a', userData: join(root, 'a'), port: 1, logFile: join(root, 'a.log'), lanAddress: '127.0.0.1' });
  // What main/preload.ts exposes, wired to this desktop's handlers; set before the renderer modules load.
  (globalThis as { quorum?: unknown }).quorum = { invoke: (channel: string, arg?: unknown) => (app.invokeRaw as (c: string, ...a: unknown[]) => Promise<unknown>)(channel, ...(arg === undefined ? [] : [arg])), on: () => () => {} };
});
afterAll(async () => {
  await app.destroy();
  delete (globalThis as { quorum?: unknown }).quorum;
  rmSync(root, { recursive: true, force: true });
});

describe('the desktop window’s kept login', () => {
  it('stays signed in through main, sealed, and comes back after a restart', async () => {
    const { desktopKeptLogin } = await import('../../renderer/src/store/host.js');
    const windowOnly = new WindowOnly();
    const kept = await desktopKeptLogin(windowOnly);
    const login = { token: 't'.repeat(43), user: 'ann' };
    kept.save(login, true);
    await flushIpc();
    expect(windowOnly.kept).toBeNull();
    expect(readFileSync(join(root, 'a', 'settings.json'), 'utf8')).not.toContain(login.token);
    // The window reloads (or the app restarts): main gives it back.
    expect((await desktopKeptLogin(new WindowOnly())).load()).toEqual(login);

    kept.clear();
    await flushIpc();
    expect((await desktopKeptLogin(new WindowOnly())).load()).toBeNull();
  });

  it('keeps a login for this window only out of main', async () => {
    const { desktopKeptLogin } = await import('../../renderer/src/store/host.js');
    const windowOnly = new WindowOnly();
    const kept = await desktopKeptLogin(windowOnly);
    kept.save({ token: 'u'.repeat(43), user: 'bob' }, false);
    await flushIpc();
    expect(windowOnly.kept).toEqual({ token: 'u'.repeat(43), user: 'bob' });
    expect(kept.load()).toEqual({ token: 'u'.repeat(43), user: 'bob' });
    expect(await app.invoke('login:kept')).toEqual({ login: null });
  });
});
