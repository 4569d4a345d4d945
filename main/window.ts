/**
 * The main window: sandboxed, context-isolated, no Node in the page, navigation and new windows denied,
 * size and place remembered.
 */
import type { WindowState } from './window-state.js';
import { MIN_HEIGHT, MIN_WIDTH } from './window-state.js';

export interface WebContentsLike {
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
  on(event: 'will-navigate' | 'will-redirect', listener: (event: { preventDefault(): void }, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): unknown;
  getURL(): string;
  send(channel: string, payload: unknown): void;
}

export interface WindowLike {
  webContents: WebContentsLike;
  loadURL(url: string): Promise<void>;
  once(event: 'ready-to-show', listener: () => void): unknown;
  on(event: 'close', listener: (event: { preventDefault(): void }) => void): unknown;
  show(): void;
  hide(): void;
  focus(): void;
  isFocused(): boolean;
  setTitle(title: string): void;
  isMinimized(): boolean;
  isMaximized(): boolean;
  maximize(): void;
  restore(): void;
  getNormalBounds(): { x: number; y: number; width: number; height: number };
  isDestroyed(): boolean;
}

export type WindowCtor = new (options: Record<string, unknown>) => WindowLike;

export interface WindowOptions {
  preload: string;
  url: string;
  state: WindowState;
  icon?: unknown;
  devTools: boolean;
  /** Called with the state to remember when the window closes. */
  saveState(s: WindowState): void;
  /** When true the close button hides the window (to the tray) instead of closing it. */
  hideOnClose(): boolean;
  log: { warn(obj: object, msg?: string): void };
}

export const SECURE_WEB_PREFERENCES = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  webviewTag: false,
  navigateOnDragDrop: false,
  safeDialogs: true,
  spellcheck: true,
} as const;

export function createMainWindow(BrowserWindow: WindowCtor, options: WindowOptions): WindowLike {
  const win = new BrowserWindow({
    width: options.state.width,
    height: options.state.height,
    ...(options.state.x !== undefined && options.state.y !== undefined ? { x: options.state.x, y: options.state.y } : {}),
    minWidth: MIN_WIDTH,
    minHeight: MIN_HEIGHT,
    show: false,
    title: 'Quorum',
    ...(options.icon ? { icon: options.icon } : {}),
    autoHideMenuBar: true,
    webPreferences: { ...SECURE_WEB_PREFERENCES, preload: options.preload, devTools: options.devTools },
  });
  if (options.state.maximized) win.maximize();
  lockDown(win.webContents, options.url, options.log);
  win.once('ready-to-show', () => win.show());
  win.on('close', (event) => {
    options.saveState({ ...win.getNormalBounds(), maximized: win.isMaximized() });
    if (options.hideOnClose()) {
      event.preventDefault();
      win.hide();
    }
  });
  return win;
}

/** Denies new windows, navigation away from the app and webviews. */
export function lockDown(wc: WebContentsLike, appUrl: string, log: WindowOptions['log']): void {
  const origin = new URL(appUrl).origin;
  wc.setWindowOpenHandler(({ url }) => {
    log.warn({ url: url.slice(0, 200) }, 'denied window.open');
    return { action: 'deny' };
  });
  const guard = (event: { preventDefault(): void }, url: string) => {
    let sameApp: boolean;
    try {
      sameApp = new URL(url).origin === origin && url === wc.getURL();
    } catch {
      sameApp = false;
    }
    if (!sameApp) {
      event.preventDefault();
      log.warn({ url: url.slice(0, 200) }, 'denied navigation');
    }
  };
  wc.on('will-navigate', guard);
  wc.on('will-redirect', guard);
  wc.on('will-attach-webview', (event) => event.preventDefault());
}

/** Brings the window forward (second instance, notification click, tray click). */
export function reveal(win: WindowLike): void {
  if (win.isDestroyed()) return;
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}
