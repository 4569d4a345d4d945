/**
 * The app's life as the desktops expect it: one instance (a second launch brings the running one's window forward,
 * re-creating it if it was closed); on macOS the app outlives its window and `activate` (a Dock click) shows or
 * re-creates it; on Windows the app user model id (notifications and the taskbar group under the app, not under
 * electron.exe) and the end of the session (log off, shut down) handled as a quit — leadership handed over, the
 * replica stopped; elsewhere closing the last window quits. Electron-free: main.ts passes `app`, tests a fake.
 */
import type { WindowLike } from './window.js';
import { reveal } from './window.js';

/** The part of Electron's `app` used here. */
export interface LifecycleApp {
  requestSingleInstanceLock(): boolean;
  setAppUserModelId(id: string): void;
  on(event: 'second-instance' | 'activate' | 'window-all-closed', listener: () => void): unknown;
  quit(): void;
}

export interface LifecycleOptions {
  platform: string;
  /** electron-builder's appId (the AppUserModelId the installer gives the shortcut). */
  appId: string;
  /** The main window now (null before it was made; a destroyed one counts as none). */
  window(): WindowLike | null;
  /** Makes the main window again; only called once the app is ready. */
  createWindow(): void;
  isReady(): boolean;
}

/** Returns false when another instance runs: it was told to come forward, and this one quits. */
export function installAppLifecycle(app: LifecycleApp, o: LifecycleOptions): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  if (o.platform === 'win32') app.setAppUserModelId(o.appId);
  const showOrCreate = () => {
    const win = o.window();
    if (win && !win.isDestroyed()) reveal(win);
    else if (o.isReady()) o.createWindow();
  };
  app.on('second-instance', showOrCreate);
  app.on('activate', showOrCreate);
  app.on('window-all-closed', () => {
    if (o.platform !== 'darwin') app.quit();
  });
  return true;
}

/** The part of a BrowserWindow that reports the end of the Windows session. */
export interface SessionEndWindow {
  on(event: 'session-end', listener: () => void): unknown;
}

/** Windows: log off or shut down ends the app like Quit does (before-quit: hand leadership over, stop the replica). */
export function quitOnSessionEnd(win: SessionEndWindow, quit: () => void): void {
  win.on('session-end', () => quit());
}

/**
 * Whether closing the window hides it to the tray (the app keeps running, and its replica serving) or closes it.
 * macOS: closes (the app stays in the Dock; `activate` brings it back). Windows: hides when there is a tray.
 * Linux: hides only where a tray is shown: stock GNOME (and Pantheon) shows none without an extension, and a hidden
 * window there would strand the app with no way back but another launch; Ubuntu's GNOME ships the extension.
 */
export function closeHidesToTray(o: { platform: string; hasTray: boolean; desktop: string | undefined }): boolean {
  if (!o.hasTray || o.platform === 'darwin') return false;
  if (o.platform !== 'linux') return true;
  const desktops = (o.desktop ?? '').toLowerCase().split(':');
  if (desktops.includes('ubuntu')) return true;
  return !desktops.some((d) => d === 'gnome' || d === 'pantheon' || d === 'gnome-classic') && desktops.some((d) => d !== '');
}
