/**
 * The desktop app's persisted settings: JSON in userData (mode 0600: it holds sealed secrets), validated on load.
 * Fields added later have defaults, so a settings file of an older version loads with what it had.
 */
import * as z from 'zod';
import { AUTOPILOT_CONFIG_DEFAULTS, HostConfigSchema, type HostConfig } from './ipc-contract.js';
import { SealedSchema } from './secret-keeper.js';
import type { FileAccess } from './window-state.js';
import { isHostPort } from '../replica/protocol/address.js';

/** Port the desktop replica listens on by default (teammates connect to host:port). */
export const DEFAULT_REPLICA_PORT = 7420;

/**
 * A join in progress, kept until the replica is a member and caught up, so a restart of the app resumes it instead of
 * starting a cluster of its own in the empty folder.
 */
const PendingJoinSchema = z.strictObject({
  /** The invite's replica addresses. */
  servers: z.array(z.string().refine(isHostPort)).min(1).max(64),
  /** The invite's cluster secret, sealed with the OS keystore. */
  secret: SealedSchema,
  /** Where this machine's earlier data folder was moved (restored if the join fails); null: there was none. */
  backupDir: z.string().min(1).max(1100).nullable(),
  /** Loopback or LAN before the join, restored with the old folder if the join fails. */
  exposureBefore: z.enum(['loopback', 'lan']),
  /** ms since epoch when the user confirmed the join. */
  startedAt: z.number(),
});
export type PendingJoin = z.infer<typeof PendingJoinSchema>;

const TeamSettingsSchema = z.strictObject({
  /** 'loopback' until this install invites someone or joins a team (then 'lan'). */
  exposure: z.enum(['loopback', 'lan']),
  pendingJoin: PendingJoinSchema.nullable(),
  /** The backup folder the last join or create made; null when none. */
  backupDir: z.string().max(1100).nullable(),
  /** Why the last join failed (the earlier setup was restored). */
  joinError: z.string().max(2000).nullable(),
});
export type TeamSettings = z.infer<typeof TeamSettingsSchema>;

export const DEFAULT_TEAM_SETTINGS: TeamSettings = { exposure: 'loopback', pendingJoin: null, backupDir: null, joinError: null };

const SettingsSchema = z.object({
  replica: HostConfigSchema,
  team: TeamSettingsSchema.default(DEFAULT_TEAM_SETTINGS),
  /** Open the app when the user logs in (off until the user turns it on). */
  launchAtLogin: z.boolean().default(false),
  /** The login token kept across restarts of the app, sealed; null when logged out. */
  login: SealedSchema.nullable().default(null),
});
export type Settings = z.infer<typeof SettingsSchema>;

export function defaultSettings(userData: string, join: (...p: string[]) => string): Settings {
  // A first install hosts a one-member cluster, so the app works alone at once.
  return {
    replica: { enabled: true, dataDir: join(userData, 'replica'), port: DEFAULT_REPLICA_PORT, autopilot: { ...AUTOPILOT_CONFIG_DEFAULTS } },
    team: { ...DEFAULT_TEAM_SETTINGS },
    launchAtLogin: false,
    login: null,
  };
}

export function loadSettings(file: string, fs: FileAccess, defaults: Settings): Settings {
  const text = fs.readFile(file);
  if (!text) return defaults;
  try {
    const r = SettingsSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : defaults;
  } catch {
    return defaults;
  }
}

/** The settings file, read once and written on every change (callers change it through `update`). */
export class SettingsStore {
  private current: Settings;

  constructor(
    private readonly file: string,
    private readonly fs: FileAccess,
    defaults: Settings,
  ) {
    this.current = loadSettings(file, fs, defaults);
  }

  get(): Settings {
    return this.current;
  }

  update(change: (s: Settings) => Settings): Settings {
    this.current = change(this.current);
    this.fs.writeFile(this.file, JSON.stringify(this.current, null, 2));
    return this.current;
  }

  setReplica(replica: HostConfig): Settings {
    return this.update((s) => ({ ...s, replica }));
  }

  setTeam(change: Partial<TeamSettings>): Settings {
    return this.update((s) => ({ ...s, team: { ...s.team, ...change } }));
  }
}
