// The app's log files (rotated by size in the logs folder, structured lines from pino) and launch at login (Electron's
// login item on macOS/Windows, faked at its two methods; an XDG autostart entry on Linux, on a real folder).
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { RotatingLog } from '../../main/log-file.js';
import { AUTOSTART_FILE, launchesAtLogin, setLaunchAtLogin, type LoginItemApp } from '../../main/launch-at-login.js';
import { DesktopServices } from '../../main/desktop.js';
import { registerIpcHandlers, type InvokeEventLike } from '../../main/ipc-handlers.js';
import { defaultSettings, SettingsStore } from '../../main/settings.js';
import type { ReplicaHost } from '../../main/replica-host.js';
import type { Team } from '../../main/team.js';
import type { SecretKeeper } from '../../main/secret-keeper.js';
import { silentLog } from '../helpers/main-fakes.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('log files', () => {
  it('pino writes structured lines to main.log; past maxBytes it rotates, keeping `keep` older files', () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-logs-'));
    const file = new RotatingLog({ dir: join(dir, 'logs'), name: 'main', maxBytes: 2_000, keep: 2 });
    const log = pino({ name: 'quorum-main', base: undefined }, file);
    for (let i = 0; i < 100; i++) log.info({ i }, 'event');
    expect(readdirSync(join(dir, 'logs')).sort()).toEqual(['main.1.log', 'main.2.log', 'main.log']);
    for (const f of ['main.log', 'main.1.log', 'main.2.log']) {
      const text = readFileSync(join(dir, 'logs', f), 'utf8');
      expect(text.length).toBeLessThanOrEqual(2_000);
      for (const line of text.trimEnd().split('\n')) expect(JSON.parse(line)).toMatchObject({ msg: 'event', name: 'quorum-main' });
    }
    // The newest events are in main.log, the ones before in main.1.log; the oldest are gone.
    const last = (f: string) => readFileSync(join(dir, 'logs', f), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l).i as number);
    expect(last('main.log').at(-1)).toBe(99);
    expect(last('main.1.log').at(-1)).toBe(last('main.log')[0] - 1);
    expect(last('main.2.log')[0]).toBeGreaterThan(0);
  });

  it('continues an existing file after a restart, and drops writes it cannot make (never throws)', () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-logs-'));
    new RotatingLog({ dir, name: 'replica', maxBytes: 100 }).write('x'.repeat(60) + '\n');
    const again = new RotatingLog({ dir, name: 'replica', maxBytes: 100 });
    again.write('y'.repeat(60) + '\n');
    expect(readFileSync(join(dir, 'replica.1.log'), 'utf8')).toMatch(/^x+\n$/);
    rmSync(dir, { recursive: true, force: true });
    expect(again.write('z\n')).toBe(true);
  });
});

describe('launch at login', () => {
  function fakeApp() {
    let open = false;
    const app: LoginItemApp = { setLoginItemSettings: (s) => (open = s.openAtLogin), getLoginItemSettings: () => ({ openAtLogin: open }) };
    return app;
  }

  it('macOS and Windows: Electron’s login item', () => {
    for (const platform of ['darwin', 'win32']) {
      const app = fakeApp();
      const e = { platform, app, env: {}, execPath: '/Applications/Quorum.app/Contents/MacOS/Quorum' };
      setLaunchAtLogin(true, e);
      expect(launchesAtLogin(e)).toBe(true);
      setLaunchAtLogin(false, e);
      expect(launchesAtLogin(e)).toBe(false);
    }
  });

  it('Linux: an XDG autostart entry that starts the AppImage (quoted), removed when turned off', () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-autostart-'));
    const e = { platform: 'linux', app: fakeApp(), env: { XDG_CONFIG_HOME: join(dir, 'config'), APPIMAGE: '/home/ann/Apps/Quorum 0.1.AppImage' }, execPath: '/tmp/.mount_Quorum/quorum' };
    expect(launchesAtLogin(e)).toBe(false);
    setLaunchAtLogin(true, e);
    const entry = readFileSync(join(dir, 'config', 'autostart', AUTOSTART_FILE), 'utf8');
    expect(entry).toMatch(/^\[Desktop Entry\]\nType=Application\nName=Quorum\n/);
    expect(entry).toContain('Exec="/home/ann/Apps/Quorum 0.1.AppImage"\n');
    expect(launchesAtLogin(e)).toBe(true);
    setLaunchAtLogin(false, e);
    expect(existsSync(join(dir, 'config', 'autostart', AUTOSTART_FILE))).toBe(false);
    // An installed package: the executable; HOME/.config when XDG_CONFIG_HOME is unset.
    const deb = { ...e, env: { HOME: join(dir, 'home') }, execPath: '/opt/Quorum/quorum' };
    setLaunchAtLogin(true, deb);
    expect(readFileSync(join(dir, 'home', '.config', 'autostart', AUTOSTART_FILE), 'utf8')).toContain('Exec=/opt/Quorum/quorum\n');
  });
});

describe('launch at login through the renderer’s API', () => {
  it('app:setLaunchAtLogin sets the login item, keeps the choice in the settings, and app:info reports the OS’s state', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-settings-'));
    const settings = new SettingsStore(join(dir, 'settings.json'), { readFile: () => null, writeFile: () => undefined }, defaultSettings(dir, join));
    let open = false;
    const services = new DesktopServices({
      host: { onStatus: () => () => undefined } as unknown as ReplicaHost,
      team: { onChange: () => () => undefined } as unknown as Team,
      settings,
      secrets: {} as SecretKeeper,
      appInfo: () => ({ platform: 'linux', appVersion: '0.1.0', electronVersion: '45.5.0' }),
      loginItem: { set: (enabled) => (open = enabled), get: () => open },
      chooseFolder: async () => null,
      discover: async () => [],
      setUnread: () => undefined,
      notify: () => undefined,
    });
    const handlers = new Map<string, (e: InvokeEventLike, ...a: unknown[]) => unknown>();
    registerIpcHandlers({ handle: (c, l) => handlers.set(c, l) }, services.handlers(), { isTrustedSender: () => true, log: silentLog });
    expect(await handlers.get('app:info')!({})).toEqual({ ok: true, result: { platform: 'linux', appVersion: '0.1.0', electronVersion: '45.5.0', launchAtLogin: false } });
    expect(await handlers.get('app:setLaunchAtLogin')!({}, { enabled: true })).toMatchObject({ ok: true, result: { launchAtLogin: true } });
    expect(open).toBe(true);
    expect(settings.get().launchAtLogin).toBe(true);
    expect(await handlers.get('app:setLaunchAtLogin')!({}, { enabled: 'yes' })).toMatchObject({ ok: false, error: { code: 'INVALID' } });
  });
});
