/**
 * Electron main process: wires the small modules of main/ to the real electron API.
 * Built by main/build.mjs (esbuild) into dist/main/main.js; see electron-builder.yml for packaging.
 */
import { app, BrowserWindow, Menu, Notification, Tray, clipboard, dialog, ipcMain, nativeImage, powerMonitor, protocol, safeStorage, screen, session, utilityProcess } from 'electron';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { APP_ORIGIN, APP_SCHEME, APP_URL, serveAppRequest } from './app-protocol.js';
import { drop } from './drop.js';
import { registerIpcHandlers, type InvokeEventLike } from './ipc-handlers.js';
import { createNotifier } from './notify.js';
import { installQuitHandler } from './quit.js';
import { handOverBeforeSleep } from './power.js';
import { ReplicaHost, type ReplicaChild } from './replica-host.js';
import { SecretKeeper } from './secret-keeper.js';
import { defaultSettings, SettingsStore } from './settings.js';
import { Team } from './team.js';
import { lanAddress } from './lan-address.js';
import { DesktopServices } from './desktop.js';
import { ClusterCertificateTrust } from './cluster-certificates.js';
import { createTray, type TrayElectron } from './tray.js';
import { UnreadIndicator } from './unread.js';
import { createMainWindow, reveal, type WindowCtor, type WindowLike } from './window.js';
import { loadWindowState, saveWindowState, type FileAccess } from './window-state.js';
import { replicaProcessEnv } from '../replica/process-env.js';
import { adminRequest } from '../replica/net/admin-client.js';
import { discoverClusters } from '../replica/node/discovery.js';
import type { ReplicaStatus } from '../replica/protocol/client.js';

const log = pino({ name: 'quorum-main' });
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
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  let win: WindowLike | null = null;
  let quitting = false;
  app.on('second-instance', () => {
    if (win) reveal(win);
  });

  const userData = app.getPath('userData');
  const windowFile = join(userData, 'window-state.json');
  const settings = new SettingsStore(join(userData, 'settings.json'), files, defaultSettings(userData, join));
  const secrets = new SecretKeeper(safeStorage, process.platform);
  const certificates = new ClusterCertificateTrust();

  let team: Team | null = null;
  const host = new ReplicaHost(
    {
      fork: () =>
        utilityProcess.fork(join(here, 'replica-process.js'), [], {
          serviceName: 'Quorum replica',
          stdio: 'inherit',
          env: replicaProcessEnv(process.env),
        }) as unknown as ReplicaChild,
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
    onQuitting: () => {
      quitting = true;
    },
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
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
      const tray = createTray(
        { Tray: Tray as unknown as TrayElectron['Tray'], buildMenu: (template) => Menu.buildFromTemplate(template) },
        { icon: trayIcon, open: () => win && reveal(win), quit: () => app.quit(), log },
      );
      const unread = new UnreadIndicator(app, tray, { platform: process.platform, icons: { normal: trayIcon, unread: trayUnread } });

      const displays = screen.getAllDisplays().map((d) => d.workArea);
      win = createMainWindow(BrowserWindow as unknown as WindowCtor, {
        preload: join(here, 'preload.cjs'),
        url: APP_URL,
        state: loadWindowState(windowFile, files, displays),
        icon,
        devTools: !app.isPackaged,
        saveState: (s) => saveWindowState(windowFile, files, s),
        hideOnClose: () => tray !== null && !quitting && process.platform !== 'darwin',
        log,
      });
      const mainWindow = win;

      const notifier = createNotifier({
        Notification,
        platform: process.platform,
        isFocused: () => !mainWindow.isDestroyed() && mainWindow.isFocused(),
        openConversation: (name) => {
          reveal(mainWindow);
          mainWindow.webContents.send('nav:conversation', { with: name });
        },
      });

      const services = new DesktopServices({
        host,
        team: team!,
        settings,
        secrets,
        appInfo: () => ({ platform: process.platform, appVersion: app.getVersion(), electronVersion: process.versions.electron ?? '' }),
        chooseFolder: async () => {
          const r = await dialog.showOpenDialog(BrowserWindow.getFocusedWindow() ?? (mainWindow as unknown as BrowserWindow), {
            title: 'Data folder for this machine’s replica',
            properties: ['openDirectory', 'createDirectory'],
          });
          return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
        },
        discover: (timeoutMs) => discoverClusters({ timeoutMs }),
        setUnread: (count) => unread.set(count),
        notify: (m) => notifier.message(m),
      });
      services.onStatus((s) => {
        if (!mainWindow.isDestroyed()) mainWindow.webContents.send('replica:status', s);
      });

      const isTrustedSender = (event: InvokeEventLike) =>
        event.sender === (mainWindow as unknown as { webContents: unknown }).webContents &&
        typeof event.senderFrame?.url === 'string' &&
        event.senderFrame.url.startsWith(`${APP_ORIGIN}/`);
      registerIpcHandlers(ipcMain, services.handlers(), { isTrustedSender, log });

      drop(mainWindow.loadURL(APP_URL));
      host.start();
    }),
    (err) => {
      log.error({ err }, 'startup failed');
      app.exit(1);
    },
  );
}

run();
