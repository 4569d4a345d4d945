/**
 * Electron main process: wires the small modules of main/ to the real electron API.
 * Built by main/build.mjs (esbuild) into dist/main/main.js; see electron-builder.yml for packaging.
 */
import { app, BrowserWindow, Menu, Notification, Tray, clipboard, dialog, ipcMain, nativeImage, powerMonitor, protocol, safeStorage, screen, session, shell, utilityProcess } from 'electron';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { installAppLifecycle, closeHidesToTray, quitOnSessionEnd } from './app-lifecycle.js';
import { appMenuTemplate, installContextMenu, type MenuItemSpec } from './menus.js';
import { RotatingLog } from './log-file.js';
import { launchesAtLogin, setLaunchAtLogin } from './launch-at-login.js';
import { APP_ORIGIN, APP_SCHEME, APP_URL, serveAppRequest } from './app-protocol.js';
import { drop } from './drop.js';
import { registerIpcHandlers, type InvokeEventLike } from './ipc-handlers.js';
import { createNotifier } from './notify.js';
import { installQuitHandler } from './quit.js';
import { handOverBeforeSleep } from './power.js';
import { ReplicaHost, replicaProcessArgs, type ReplicaChild } from './replica-host.js';
import { SecretKeeper } from './secret-keeper.js';
import { defaultSettings, SettingsStore } from './settings.js';
import { Team } from './team.js';
import { lanAddress } from './lan-address.js';
import { DesktopServices } from './desktop.js';
import { ClusterCertificateTrust } from './cluster-certificates.js';
import { createTray, type TrayElectron } from './tray.js';
import { UnreadIndicator, type OverlayWindow } from './unread.js';
import { createMainWindow, reveal, type WindowCtor, type WindowLike } from './window.js';
import { loadWindowState, saveWindowState, type FileAccess } from './window-state.js';
import { replicaProcessEnv } from '../replica/process-env.js';
import { adminRequest } from '../replica/net/admin-client.js';
import { discoverClusters } from '../replica/node/discovery.js';
import type { ReplicaStatus } from '../replica/protocol/client.js';

/** electron-builder.yml appId (Windows' AppUserModelId must match the installer's shortcut). */
const APP_ID = 'org.quorum.chat';

// Logs go to the app's logs folder (Help → Open logs folder), rotated by size; and to stdout for a terminal launch.
app.setAppLogsPath();
const logsDir = app.getPath('logs');
const mainLog = new RotatingLog({ dir: logsDir, name: 'main' });
const replicaLog = new RotatingLog({ dir: logsDir, name: 'replica' });
const log = pino({ name: 'quorum-main' }, pino.multistream([{ stream: process.stdout }, { stream: mainLog }]));
const here = dirname(fileURLToPath(import.meta.url)); // <app>/dist/main
const appRoot = join(here, '..', '..');
const rendererRoot = join(appRoot, 'dist', 'renderer');
const assets = join(appRoot, 'main', 'assets');

const files: FileAccess = {
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
  writeFile(path, text) {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp`;
    // Settings hold sealed secrets (and plain ones where the OS has no keystore): this user only.
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path);
  },
};

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true } },
]);

function run(): void {
  let win: WindowLike | null = null;
  let openWindow: (() => void) | null = null;
  let quitting = false;
  const currentWindow = (): WindowLike | null => (win && !win.isDestroyed() ? win : null);
  const lifecycle = installAppLifecycle(app as never, {
    platform: process.platform,
    appId: APP_ID,
    window: currentWindow,
    createWindow: () => openWindow?.(),
    isReady: () => app.isReady(),
  });
  if (!lifecycle) return;

  const userData = app.getPath('userData');
  const loginEnv = { platform: process.platform, app, env: process.env, execPath: process.execPath };
  const windowFile = join(userData, 'window-state.json');
  const settings = new SettingsStore(join(userData, 'settings.json'), files, defaultSettings(userData, join));
  const secrets = new SecretKeeper(safeStorage, process.platform);
  const certificates = new ClusterCertificateTrust();

  let team: Team | null = null;
  const host = new ReplicaHost(
    {
      fork: () => {
        const child = utilityProcess.fork(join(here, 'replica-process.js'), replicaProcessArgs(userData), {
          serviceName: 'Quorum replica',
          stdio: 'pipe',
          env: replicaProcessEnv(process.env),
        });
        // The replica's own log lines (pino JSON) go to replica.log beside main.log.
        child.stdout?.on('data', (chunk: Buffer) => replicaLog.write(chunk));
        child.stderr?.on('data', (chunk: Buffer) => replicaLog.write(chunk));
        return child as unknown as ReplicaChild;
      },
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      now: () => Date.now(),
      log,
      startOptions: (config) => {
        const options = team!.startOptions(config);
        // The renderer trusts the replicas of the cluster this replica belongs to (or is joining).
        drop(certificates.useSecret(Buffer.from(options.secret, 'base64')), (err) => log.error({ err }, 'cannot derive the cluster CA'));
        return options;
      },
    },
    settings.get().replica,
  );
  team = new Team({
    host,
    settings,
    secrets,
    reachCluster: (servers, secret) => adminRequest<ReplicaStatus>(servers, secret, { op: 'status' }, { timeoutMs: 10_000 }),
    lanAddress,
    writeClipboard: (text) => clipboard.writeText(text),
    now: () => Date.now(),
    log,
    webRoot: rendererRoot,
  });

  installQuitHandler(app, host, log, {
    onQuitting: (step) => {
      quitting = true;
      // The window says what takes the moment (a hand-over waits for another voter to take over).
      const w = currentWindow();
      w?.setTitle(step === 'handingOver' ? 'Quorum — handing leadership to another machine before quitting…' : 'Quorum — stopping this machine’s replica…');
    },
  });

  drop(
    app.whenReady().then(() => {
      const ses = session.defaultSession;
      ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
      ses.setPermissionCheckHandler(() => false);
      // The page only ever loads app:// files and opens WebSockets to replicas; plain web requests are refused.
      ses.webRequest.onBeforeRequest({ urls: ['http://*/*', 'https://*/*'] }, (_details, callback) => callback({ cancel: true }));
      // Teammates' replicas answer wss:// with certificates of the cluster CA, which no system trusts: accept those.
      ses.setCertificateVerifyProc((request, callback) => callback(certificates.verify(request)));
      // Replicas ask every TLS client for a certificate (peers present one); the window has none to give, and must never
      // hand a teammate's replica a personal certificate from the system store.
      app.on('select-client-certificate', (event, _contents, _url, _list, callback) => {
        event.preventDefault();
        callback();
      });
      protocol.handle(APP_SCHEME, (req) => serveAppRequest(req.url, rendererRoot, (p) => readFile(p)));
      handOverBeforeSleep(powerMonitor, host, log);

      const icon = nativeImage.createFromPath(join(assets, 'icon.png'));
      const trayIcon = nativeImage.createFromPath(join(assets, 'tray.png'));
      const trayUnread = nativeImage.createFromPath(join(assets, 'tray-unread.png'));
      Menu.setApplicationMenu(
        Menu.buildFromTemplate(appMenuTemplate({ platform: process.platform, appName: 'Quorum', devTools: !app.isPackaged, openLogsFolder: () => drop(shell.openPath(logsDir)) }) as never),
      );
      const tray = createTray(
        { Tray: Tray as unknown as TrayElectron['Tray'], buildMenu: (template) => Menu.buildFromTemplate(template) },
        {
          icon: trayIcon,
          open: () => {
            const w = currentWindow();
            if (w) reveal(w);
            else openWindow?.();
          },
          quit: () => app.quit(),
          log,
        },
      );
      const unread = new UnreadIndicator(app, tray, {
        platform: process.platform,
        icons: { normal: trayIcon, unread: trayUnread },
        overlay: { window: () => currentWindow() as unknown as OverlayWindow | null, icon: nativeImage.createFromPath(join(assets, 'overlay-unread.png')) },
      });

      const hideToTray = closeHidesToTray({ platform: process.platform, hasTray: tray !== null, desktop: process.env.XDG_CURRENT_DESKTOP });
      openWindow = () => {
        const displays = screen.getAllDisplays().map((d) => d.workArea);
        const made = createMainWindow(BrowserWindow as unknown as WindowCtor, {
          preload: join(here, 'preload.cjs'),
          url: APP_URL,
          state: loadWindowState(windowFile, files, displays),
          icon,
          devTools: !app.isPackaged,
          saveState: (s) => saveWindowState(windowFile, files, s),
          hideOnClose: () => hideToTray && !quitting,
          log,
        });
        const browserWindow = made as unknown as BrowserWindow;
        installContextMenu(browserWindow.webContents, (template: MenuItemSpec[]) => Menu.buildFromTemplate(template as never).popup({ window: browserWindow }));
        quitOnSessionEnd(browserWindow as never, () => app.quit());
        win = made;
        drop(made.loadURL(APP_URL));
        // A window made again (macOS activate, tray, second launch) shows the count the closed one showed.
        made.once('ready-to-show', () => unread.showOverlay());
      };

      const notifier = createNotifier({
        Notification,
        platform: process.platform,
        isFocused: () => currentWindow()?.isFocused() ?? false,
        openConversation: (name) => {
          if (!currentWindow()) openWindow?.();
          const w = currentWindow();
          if (!w) return;
          reveal(w);
          w.webContents.send('nav:conversation', { with: name });
        },
      });

      const services = new DesktopServices({
        host,
        team: team!,
        settings,
        secrets,
        appInfo: () => ({ platform: process.platform, appVersion: app.getVersion(), electronVersion: process.versions.electron ?? '' }),
        loginItem: {
          set: (enabled) => setLaunchAtLogin(enabled, loginEnv),
          get: () => launchesAtLogin(loginEnv),
        },
        chooseFolder: async () => {
          const parent = BrowserWindow.getFocusedWindow() ?? (currentWindow() as unknown as BrowserWindow | null);
          const options = {
            title: 'Data folder for this machine’s replica',
            properties: ['openDirectory', 'createDirectory'] as ('openDirectory' | 'createDirectory')[],
          };
          const r = await (parent ? dialog.showOpenDialog(parent, options) : dialog.showOpenDialog(options));
          return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
        },
        discover: (timeoutMs) => discoverClusters({ timeoutMs }),
        setUnread: (count) => unread.set(count),
        notify: (m) => notifier.message(m),
      });
      services.onStatus((s) => currentWindow()?.webContents.send('replica:status', s));

      const isTrustedSender = (event: InvokeEventLike) =>
        currentWindow() !== null &&
        event.sender === (currentWindow() as unknown as { webContents: unknown }).webContents &&
        typeof event.senderFrame?.url === 'string' &&
        event.senderFrame.url.startsWith(`${APP_ORIGIN}/`);
      registerIpcHandlers(ipcMain, services.handlers(), { isTrustedSender, log });

      openWindow();
      host.start();
    }),
    (err) => {
      log.error({ err }, 'startup failed');
      app.exit(1);
    },
  );
}

run();
