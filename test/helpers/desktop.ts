/**
 * A "desktop" without Electron: the production main-process modules (settings, secret keeper, ReplicaHost, Team,
 * DesktopServices and their IPC handlers) over a user-data folder, hosting a real replica child process
 * (test/helpers/replica-child.ts). Only Electron's own APIs are replaced, at the thinnest edge: safeStorage (an
 * AES-GCM keyring of this "machine"), the clipboard (a string), the folder dialog, the badge and notifications.
 * Tests call `invoke(channel, arg)`, which runs the same validation and handlers the app's ipcMain does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, renameSync, writeFileSync, closeSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { ReplicaHost, replicaProcessArgs, type RestartBackoff } from '../../main/replica-host.js';
import { SecretKeeper, type SafeStorageLike } from '../../main/secret-keeper.js';
import { defaultSettings, SettingsStore, type Settings } from '../../main/settings.js';
import { Team } from '../../main/team.js';
import { DesktopServices } from '../../main/desktop.js';
import { registerIpcHandlers, type InvokeEventLike } from '../../main/ipc-handlers.js';
import { installQuitHandler, type QuitStep } from '../../main/quit.js';
import { lanAddress } from '../../main/lan-address.js';
import type { HostConfig, HostStatus, InvokeArg, InvokeChannel, InvokeResults, IpcResult } from '../../main/ipc-contract.js';
import type { FileAccess } from '../../main/window-state.js';
import { adminRequest } from '../../replica/net/admin-client.js';
import { discoverClusters } from '../../replica/node/discovery.js';
import type { ReplicaStatus } from '../../replica/protocol/client.js';
import { ForkedReplicaChild } from './replica-child.js';
import { waitFor } from './cluster.js';

/** Electron's safeStorage as an OS keyring would behave: encrypts with this machine's key; can be made unavailable. */
export class FakeKeyring implements SafeStorageLike {
  private readonly key = randomBytes(32);
  constructor(
    public available = true,
    public backend = 'gnome_libsecret',
  ) {}
  isEncryptionAvailable(): boolean {
    return this.available;
  }
  getSelectedStorageBackend(): string {
    return this.backend;
  }
  encryptString(plain: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }
  decryptString(encrypted: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key, encrypted.subarray(0, 12));
    decipher.setAuthTag(encrypted.subarray(12, 28));
    return Buffer.concat([decipher.update(encrypted.subarray(28)), decipher.final()]).toString('utf8');
  }
}

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
    writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  },
};

export interface TestDesktopOptions {
  name: string;
  /** The machine's user-data folder (settings.json, replica/, backups beside it). */
  userData: string;
  port: number;
  /** Autopilot flags for this desktop's replica (defaults: the app's). */
  autopilot?: HostConfig['autopilot'];
  /** The machine's keyring (kept across "restarts" of the app on the same machine). */
  keyring?: FakeKeyring;
  /**
   * Runs the built replica process (dist/main/replica-process.js, what the app ships; test/global-setup.ts builds it)
   * or, false, its sources through tsx. Default: built.
   */
  built?: boolean;
  /** Runs the replica process inside this network namespace. */
  netns?: string;
  /** Where the replica process's log lines go (appended). */
  logFile: string;
  backoff?: RestartBackoff;
  /** Wraps the invite check (the test may change the world right after it). */
  reachCluster?: (servers: string[], secret: Buffer, real: (servers: string[], secret: Buffer) => Promise<ReplicaStatus>) => Promise<ReplicaStatus>;
  /**
   * This machine's LAN address (default: the real one, main/lan-address.ts). Tests outside network namespaces pass
   * 127.0.0.1 so nothing they start talks on the machine's real network (or multicasts on it).
   */
  lanAddress?: string | null;
  /** The address whose interface LAN discovery listens on (a network namespace has no default route for multicast). */
  discoverInterface?: string;
}

export class TestDesktop {
  readonly keyring: FakeKeyring;
  readonly settings: SettingsStore;
  readonly host: ReplicaHost;
  readonly team: Team;
  readonly services: DesktopServices;
  readonly children: ForkedReplicaChild[] = [];
  clipboard = '';
  /** The OS's login item for this "app" (Electron's app.setLoginItemSettings, faked at its edge). */
  readonly loginItem = { openAtLogin: false, set: (enabled: boolean) => void (this.loginItem.openAtLogin = enabled), get: () => this.loginItem.openAtLogin };
  readonly statuses: HostStatus[] = [];
  /** What main's quit path did, in order: its steps (onQuitting) and the lines it logged (e.g. 'leadership transferred'). */
  readonly quitLog: { step?: QuitStep; msg?: string; at: number }[] = [];
  private readonly handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => unknown>();
  private readonly logFd: number;
  private beforeQuit: ((e: { preventDefault(): void }) => void) | null = null;
  private quitDone: (() => void) | null = null;

  constructor(readonly options: TestDesktopOptions) {
    this.keyring = options.keyring ?? new FakeKeyring();
    mkdirSync(options.userData, { recursive: true });
    mkdirSync(dirname(options.logFile), { recursive: true });
    this.logFd = openSync(options.logFile, 'a');
    const defaults: Settings = defaultSettings(options.userData, join);
    defaults.replica.port = options.port;
    if (options.autopilot) defaults.replica.autopilot = options.autopilot;
    this.settings = new SettingsStore(join(options.userData, 'settings.json'), files, defaults);
    const secrets = new SecretKeeper(this.keyring, 'linux');
    const log = pino({ name: `desktop-${options.name}`, level: process.env.QUORUM_TEST_LOG ?? 'silent' });
    let team: Team | null = null;
    this.host = new ReplicaHost(
      {
        fork: () => {
          const child = new ForkedReplicaChild({ netns: options.netns, logFd: this.logFd, built: options.built ?? true, args: replicaProcessArgs(options.userData) });
          this.children.push(child);
          return child;
        },
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
        now: () => Date.now(),
        log,
        startOptions: (config) => team!.startOptions(config),
        backoff: options.backoff ?? { initialMs: 200, maxMs: 2_000, stableMs: 60_000 },
        stopTimeoutMs: 20_000,
      },
      this.settings.get().replica,
    );
    const real = (servers: string[], secret: Buffer) => adminRequest<ReplicaStatus>(servers, secret, { op: 'status' }, { timeoutMs: 10_000 });
    team = new Team({
      host: this.host,
      settings: this.settings,
      secrets,
      reachCluster: (servers, secret) => (options.reachCluster ? options.reachCluster(servers, secret, real) : real(servers, secret)),
      lanAddress: () => (options.lanAddress !== undefined ? options.lanAddress : lanAddress()),
      writeClipboard: (text) => {
        this.clipboard = text;
      },
      now: () => Date.now(),
      log,
      restartTimeoutMs: 60_000,
    });
    this.team = team;
    this.services = new DesktopServices({
      host: this.host,
      team,
      settings: this.settings,
      secrets,
      appInfo: () => ({ platform: 'linux', appVersion: 'test', electronVersion: '' }),
      loginItem: this.loginItem,
      chooseFolder: async () => null,
      discover: (timeoutMs) => discoverClusters({ timeoutMs, ...(options.discoverInterface ? { interfaceAddress: options.discoverInterface } : {}) }),
      setUnread: () => undefined,
      notify: () => undefined,
    });
    this.services.onStatus((s) => this.statuses.push(s));
    registerIpcHandlers({ handle: (channel, listener) => this.handlers.set(channel, listener) }, this.services.handlers(), {
      isTrustedSender: () => true,
      log,
    });
    installQuitHandler(
      {
        on: (_event, listener) => {
          this.beforeQuit = listener;
        },
        quit: () => {
          // The app's final quit: passes the handler and ends the "app".
          this.beforeQuit?.({ preventDefault: () => undefined });
          this.quitDone?.();
        },
      },
      this.host,
      {
        info: (obj, msg) => {
          this.quitLog.push({ msg, at: Date.now() });
          log.info(obj, msg);
        },
        warn: (obj, msg) => {
          this.quitLog.push({ msg, at: Date.now() });
          log.warn(obj, msg);
        },
      },
      { transferTimeoutMs: 5_000, onQuitting: (step) => this.quitLog.push({ step, at: Date.now() }) },
    );
  }

  /** Starts the app: the replica comes up as the settings say (a first install: a solo cluster on loopback). */
  start(): void {
    this.host.start();
  }

  /** A renderer call through the app's IPC validation and handlers; the envelope as the page gets it. */
  async invokeRaw<C extends InvokeChannel>(channel: C, ...arg: InvokeArg<C> extends undefined ? [] : [InvokeArg<C>]): Promise<IpcResult<InvokeResults[C]>> {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`no handler for ${channel}`);
    return (await handler({}, ...arg)) as IpcResult<InvokeResults[C]>;
  }

  /** Like invokeRaw, but throws a refusal as an Error with its code. */
  async invoke<C extends InvokeChannel>(channel: C, ...arg: InvokeArg<C> extends undefined ? [] : [InvokeArg<C>]): Promise<InvokeResults[C]> {
    const r = await this.invokeRaw(channel, ...arg);
    if (!r.ok) throw Object.assign(new Error(`${r.error.code}: ${r.error.message}`), { code: r.error.code });
    return r.result;
  }

  status(): HostStatus {
    return this.services.status();
  }

  get child(): ForkedReplicaChild | undefined {
    return this.children.at(-1);
  }

  /** Loopback address of this desktop's replica, for test clients. */
  get localAddress(): string {
    return `127.0.0.1:${this.options.port}`;
  }

  async waitStatus(what: string, holds: (s: HostStatus) => boolean, timeoutMs = 60_000): Promise<HostStatus> {
    return waitFor(`${this.options.name}: ${what}`, () => {
      const s = this.status();
      return holds(s) ? s : null;
    }, timeoutMs, 50);
  }

  waitRunning(timeoutMs = 60_000): Promise<HostStatus> {
    return this.waitStatus('replica running', (s) => s.state === 'running' && s.role !== null, timeoutMs);
  }

  /** Quits the "app" as Electron would: before-quit → hand leadership over if leading → stop the replica → quit. */
  quit(): Promise<void> {
    return new Promise((resolve) => {
      this.quitDone = resolve;
      this.beforeQuit?.({ preventDefault: () => undefined });
    });
  }

  /** Ends the test's hold on everything: stops the replica (or kills it) and closes the log. */
  async destroy(): Promise<void> {
    await this.host.stop().catch(() => undefined);
    for (const c of this.children) if (c.alive) c.kill();
    try {
      closeSync(this.logFd);
    } catch {
      // closed already
    }
  }
}
