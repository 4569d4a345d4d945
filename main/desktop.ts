/**
 * The desktop's main-process services behind the renderer's API: the status the renderer sees (the hosted replica,
 * the team, how secrets are kept) and the handler of every invoke channel. main.ts wires them to Electron's ipcMain;
 * the end-to-end test wires the same handlers to a test bridge, so the page drives what the app runs.
 */
import { KeptLoginSchema, type AppInfo, type DiscoveredTeam, type HostConfig, type HostStatus } from './ipc-contract.js';
import type { InvokeHandlers } from './ipc-handlers.js';
import type { ReplicaHost } from './replica-host.js';
import type { SecretKeeper } from './secret-keeper.js';
import type { SettingsStore } from './settings.js';
import type { Team } from './team.js';

export interface DesktopServicesDeps {
  host: ReplicaHost;
  team: Team;
  settings: SettingsStore;
  secrets: SecretKeeper;
  appInfo(): Omit<AppInfo, 'launchAtLogin'>;
  /** The OS's "open at login" for this app (main/launch-at-login.ts). */
  loginItem: { set(enabled: boolean): void; get(): boolean };
  /** Asks the user for a folder (Electron's dialog); null when cancelled. */
  chooseFolder(): Promise<string | null>;
  /** Teams announcing themselves on this network (mDNS), listened for `timeoutMs`. */
  discover(timeoutMs: number): Promise<DiscoveredTeam[]>;
  setUnread(count: number): void;
  notify(m: { conversation: string; from: string; text: string }): void;
}

function refused(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** How long the Join screen listens for announcements unless it asks otherwise. */
const DISCOVER_DEFAULT_SECONDS = 3;

export class DesktopServices {
  private readonly listeners = new Set<(s: HostStatus) => void>();

  constructor(private readonly deps: DesktopServicesDeps) {
    deps.host.onStatus(() => this.emit());
    deps.team.onChange(() => this.emit());
  }

  status(): HostStatus {
    return { ...this.deps.host.status(), team: this.deps.team.status(), secrets: this.deps.secrets.protection() };
  }

  onStatus(listener: (s: HostStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The invoke handlers (inputs already validated by ipc-handlers.ts). */
  handlers(): InvokeHandlers {
    const { host, team, settings, secrets } = this.deps;
    return {
      'app:info': () => this.appInfo(),
      'app:setLaunchAtLogin': ({ enabled }) => {
        this.deps.loginItem.set(enabled);
        settings.update((s) => ({ ...s, launchAtLogin: enabled }));
        return this.appInfo();
      },
      'replica:getStatus': () => this.status(),
      'replica:setConfig': async (config: HostConfig) => {
        if (settings.get().team.pendingJoin && config.dataDir !== settings.get().replica.dataDir) {
          throw refused('CONFLICT', 'this machine is joining its team: change the data folder once it has joined');
        }
        settings.setReplica(config);
        await host.setConfig(config);
        return this.status();
      },
      'replica:chooseDataDir': () => this.deps.chooseFolder(),
      'replica:retry': () => {
        host.retry();
        return this.status();
      },
      'team:planJoin': ({ inviteCode }) => team.planJoin(inviteCode),
      'team:planCreate': () => team.planCreate(),
      'team:join': async ({ inviteCode }) => {
        await team.join(inviteCode);
        return this.status();
      },
      'team:create': async () => {
        await team.create();
        return this.status();
      },
      'team:copyInvite': () => team.copyInvite(),
      'team:discover': async (arg) => ({ teams: await this.deps.discover((arg?.timeoutSeconds ?? DISCOVER_DEFAULT_SECONDS) * 1000) }),
      'cluster:change': async ({ change }) => {
        await host.clusterAdmin({ op: 'clusterChange', change });
        return null;
      },
      'cluster:transfer': async ({ to }) => {
        await host.clusterAdmin({ op: 'transfer', to });
        return null;
      },
      'login:keep': (login) => {
        settings.update((s) => ({ ...s, login: secrets.seal(JSON.stringify(login)) }));
        return null;
      },
      'login:kept': () => {
        const sealed = settings.get().login;
        if (!sealed) return { login: null };
        try {
          const kept = KeptLoginSchema.safeParse(JSON.parse(secrets.open(sealed)));
          if (kept.success) return { login: kept.data };
        } catch {
          // The keystore cannot read it any more (another keyring), or it is damaged: the user logs in again.
        }
        settings.update((s) => ({ ...s, login: null }));
        return { login: null };
      },
      'login:forget': () => {
        settings.update((s) => ({ ...s, login: null }));
        return null;
      },
      'unread:set': ({ count }) => {
        this.deps.setUnread(count);
        return null;
      },
      'notify:message': (m) => {
        this.deps.notify(m);
        return null;
      },
    };
  }

  private appInfo(): AppInfo {
    return { ...this.deps.appInfo(), launchAtLogin: this.deps.loginItem.get() };
  }

  private emit(): void {
    const s = this.status();
    for (const l of this.listeners) l(s);
  }
}
