/**
 * Electron main process: wires the small modules of main/ to the real electron API.
 * Built by main/build.mjs (esbuild) into dist/main/main.js; see electron-builder.yml for packaging.
 */
import { app, BrowserWindow, Menu, Notification, Tray, clipboard, dialog, ipcMain, nativeImage, protocol, screen, session, utilityProcess } from 'electron';
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
import { ReplicaHost, type ReplicaChild } from './replica-host.js';
import { defaultSettings, loadSettings, saveSettings, withReplica, type Settings } from './settings.js';
import { createTray, type TrayElectron } from './tray.js';
import { UnreadIndicator } from './unread.js';
import { createMainWindow, reveal, type WindowCtor, type WindowLike } from './window.js';
import { loadWindowState, saveWindowState, type FileAccess } from './window-state.js';
import { replicaProcessEnv } from '../replica/process-env.js';

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
    writeFileSync(tmp, text);
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
  const settingsFile = join(userData, 'settings.json');
  const windowFile = join(userData, 'window-state.json');
  let settings: Settings = loadSettings(settingsFile, files, defaultSettings(userData, join));

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
      startOptions: (config, mode) => ({
        dataDir: config.dataDir,
        port: config.port,
        host: '0.0.0.0',
        bootstrap: mode.bootstrap,
        ...(mode.join ? { join: mode.join } : {}),
        webRoot: rendererRoot,
      }),
    },
    settings.replica,
  );
  host.onStatus((s) => {
    if (win && !win.isDestroyed()) win.webContents.send('replica:status', s);
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
      protocol.handle(APP_SCHEME, (req) => serveAppRequest(req.url, rendererRoot, (p) => readFile(p)));

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
        isFocused: () => !mainWindow.isDestroyed() && mainWindow.isFocused(),
        openConversation: (name) => {
          reveal(mainWindow);
          mainWindow.webContents.send('nav:conversation', { with: name });
        },
      });

      const isTrustedSender = (event: InvokeEventLike) =>
        event.sender === (mainWindow as unknown as { webContents: unknown }).webContents &&
        typeof event.senderFrame?.url === 'string' &&
        event.senderFrame.url.startsWith(`${APP_ORIGIN}/`);

      registerIpcHandlers(
        ipcMain,
        {
          'app:info': () => ({ platform: process.platform, appVersion: app.getVersion(), electronVersion: process.versions.electron ?? '' }),
          'replica:getStatus': () => host.status(),
          'replica:setConfig': async (config) => {
            settings = withReplica(settings, config);
            saveSettings(settingsFile, files, settings);
            await host.setConfig(config);
            return host.status();
          },
          'replica:chooseDataDir': async () => {
            const r = await dialog.showOpenDialog(BrowserWindow.getFocusedWindow() ?? (mainWindow as unknown as BrowserWindow), {
              title: 'Data folder for this machine’s replica',
              properties: ['openDirectory', 'createDirectory'],
            });
            return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
          },
          'replica:createCluster': async () => {
            await host.createCluster();
            settings = withReplica(settings, host.status().config);
            saveSettings(settingsFile, files, settings);
            return host.status();
          },
          'replica:joinCluster': async ({ inviteCode }) => {
            await host.joinCluster(inviteCode);
            settings = withReplica(settings, host.status().config);
            saveSettings(settingsFile, files, settings);
            return host.status();
          },
          'replica:inviteCode': async () => ({ inviteCode: await host.inviteCode() }),
          'cluster:change': async ({ change }) => {
            await host.clusterAdmin({ op: 'clusterChange', change });
            return null;
          },
          'cluster:transfer': async ({ to }) => {
            await host.clusterAdmin({ op: 'transfer', to });
            return null;
          },
          'clipboard:writeText': async ({ text }) => {
            await clipboard.writeText(text);
            return null;
          },
          'unread:set': ({ count }) => {
            unread.set(count);
            return null;
          },
          'notify:message': (m) => {
            notifier.message(m);
            return null;
          },
        },
        { isTrustedSender, log },
      );

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
