/**
 * The tray icon: a click or "Open Quorum" shows the window, "Quit Quorum" quits. Some Linux desktops have no tray:
 * then there is none (null), and closing the window quits instead of hiding it (main.ts).
 */
import type { TrayLike } from './unread.js';

/** The part of Electron's Tray the app uses. */
export interface TrayInstance extends TrayLike {
  setContextMenu(menu: unknown): void;
  on(event: 'click', listener: () => void): unknown;
}

export interface TrayMenuItem {
  label?: string;
  type?: 'separator';
  click?: () => void;
}

/** Electron's Tray constructor and Menu.buildFromTemplate (faked in unit tests). */
export interface TrayElectron {
  Tray: new (icon: unknown) => TrayInstance;
  buildMenu(template: TrayMenuItem[]): unknown;
}

export interface TrayOptions {
  icon: unknown;
  open(): void;
  quit(): void;
  log: { warn(obj: object, msg?: string): void };
}

export function createTray(electron: TrayElectron, options: TrayOptions): TrayInstance | null {
  try {
    const tray = new electron.Tray(options.icon);
    tray.setToolTip('Quorum');
    tray.setContextMenu(
      electron.buildMenu([
        { label: 'Open Quorum', click: () => options.open() },
        { type: 'separator' },
        { label: 'Quit Quorum', click: () => options.quit() },
      ]),
    );
    tray.on('click', () => options.open());
    return tray;
  } catch (err) {
    options.log.warn({ err }, 'no tray on this desktop');
    return null;
  }
}
