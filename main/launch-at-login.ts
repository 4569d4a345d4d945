/**
 * "Open Quorum when I log in" (a setting, off by default). macOS and Windows: Electron's login item
 * (app.setLoginItemSettings). Linux has none: an XDG autostart entry, `~/.config/autostart/quorum.desktop`
 * (`$XDG_CONFIG_HOME/autostart`), written when on and removed when off; for an AppImage it starts the AppImage
 * (`$APPIMAGE`), not the temporary mount it runs from.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The part of Electron's `app` used here. */
export interface LoginItemApp {
  setLoginItemSettings(settings: { openAtLogin: boolean }): void;
  getLoginItemSettings(): { openAtLogin: boolean };
}

export interface LaunchAtLoginEnv {
  platform: string;
  app: LoginItemApp;
  /** process.env (HOME, XDG_CONFIG_HOME, APPIMAGE). */
  env: Record<string, string | undefined>;
  /** The app's executable (process.execPath). */
  execPath: string;
}

export const AUTOSTART_FILE = 'quorum.desktop';

/** The XDG autostart folder. */
export function autostartDir(env: Record<string, string | undefined>): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME ?? '', '.config'), 'autostart');
}

/** Quotes an argument of a desktop entry's Exec line (the spec's quoting rules). */
function execArg(arg: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(arg) ? arg : `"${arg.replace(/(["`$\\])/g, '\\$1')}"`;
}

export function setLaunchAtLogin(enabled: boolean, e: LaunchAtLoginEnv): void {
  if (e.platform !== 'linux') {
    e.app.setLoginItemSettings({ openAtLogin: enabled });
    return;
  }
  const file = join(autostartDir(e.env), AUTOSTART_FILE);
  if (!enabled) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(autostartDir(e.env), { recursive: true });
  const exec = e.env.APPIMAGE || e.execPath;
  writeFileSync(
    file,
    ['[Desktop Entry]', 'Type=Application', 'Name=Quorum', 'Comment=Team chat that survives machine failures', `Exec=${execArg(exec)}`, 'Icon=quorum', 'Terminal=false', 'X-GNOME-Autostart-enabled=true', ''].join(
      '\n',
    ),
  );
}

export function launchesAtLogin(e: LaunchAtLoginEnv): boolean {
  if (e.platform !== 'linux') return e.app.getLoginItemSettings().openAtLogin;
  return existsSync(join(autostartDir(e.env), AUTOSTART_FILE));
}
