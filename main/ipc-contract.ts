/**
 * Messages between the desktop app's processes, as discriminated unions with zod schemas:
 *  - renderer ⇄ main (Electron IPC through the preload's small API; every input validated in main), and
 *  - main ⇄ the local replica running in an Electron utilityProcess.
 * The desktop app's own contract, so it lives in main/ rather than in the replica's wire package. Isomorphic: no Node,
 * DOM or Electron imports (main, preload and the replica's utility process import it; the renderer imports its types
 * only, which the lint rules check).
 */
import * as z from 'zod';
import { LIMITS } from '../replica/protocol/limits.js';
import { Username, ConfChangeRequestSchema } from '../replica/protocol/client.js';
import { isHostPort } from '../replica/protocol/address.js';
import type { ReplicaStorageStatus } from '../replica/protocol/client.js';

// ---- shared pieces ----

/** Most voters the autopilot setting accepts (as the replica's --autopilot-voters). */
export const MAX_AUTOPILOT_VOTERS = 15;

/**
 * Autopilot as this machine's replica runs it when it leads (the replica flags --autopilot-voters,
 * --autopilot-stabilize, --autopilot-dead-after, --no-autopilot; docs/operations.md "Autopilot").
 */
export const AutopilotConfigSchema = z.strictObject({
  /** False: voters change only by hand (--no-autopilot); health is still reported. */
  enabled: z.boolean(),
  /** Most voters wanted: odd, 1 to 15. */
  voters: z
    .number()
    .int()
    .min(1)
    .max(MAX_AUTOPILOT_VOTERS)
    .refine((n) => n % 2 === 1, 'the number of voters must be odd (an even count tolerates no more failures than the odd one below it)'),
  /** Seconds a learner must stay reachable and caught up before it is promoted. */
  stabilizeSeconds: z.number().min(0.1).max(86_400),
  /** Seconds a voter may stay unreachable (asleep, gone) before it is demoted. */
  deadAfterSeconds: z.number().min(0.1).max(7 * 86_400),
});
export type AutopilotConfig = z.infer<typeof AutopilotConfigSchema>;

/** The replica's own defaults (replica/node/autopilot/policy.ts AUTOPILOT_DEFAULTS). */
export const AUTOPILOT_CONFIG_DEFAULTS: AutopilotConfig = { enabled: true, voters: 5, stabilizeSeconds: 10, deadAfterSeconds: 300 };

/** Where and how this machine hosts a replica. */
export const HostConfigSchema = z.strictObject({
  enabled: z.boolean(),
  dataDir: z
    .string()
    .min(1)
    .max(1024)
    .refine((s) => !s.includes('\0'), 'the folder name contains a NUL character'),
  /** 0 lets the OS choose; other values below 1024 need privileges on most systems. */
  port: z.number().int().min(0).max(65535),
  /** Missing in settings written before autopilot: the replica's defaults. */
  autopilot: AutopilotConfigSchema.default(AUTOPILOT_CONFIG_DEFAULTS),
});
export type HostConfig = z.infer<typeof HostConfigSchema>;

/**
 * An invite code as pasted: made by a replica of the cluster to join (it carries the cluster secret and member
 * addresses). This checks only its shape; main decodes it and checks it by reaching the cluster.
 */
export const InviteCodeSchema = z
  .string()
  .trim()
  .min(16, 'the invite code is too short')
  .max(4096, 'the invite code is too long')
  .regex(/^[A-Za-z0-9_.:=+/-]+$/, 'the invite code contains characters that invite codes never have');

export const HOST_STATES = ['disabled', 'starting', 'running', 'crashed', 'diskFull', 'folderInUse', 'damaged', 'outdated', 'stopping', 'stopped'] as const;
/**
 * What the hosted replica process is doing. 'crashed': it exited and is restarted after a backoff. The replica's own
 * stops (its exit statuses, replica/node/exit-status.ts) are never restarted in a loop: 'diskFull' (exit 3): its disk
 * is full, it starts again once there is free space (or the user retries); 'folderInUse' (exit 4): another Quorum (or
 * replica) holds the data folder; 'damaged' (exit 5): the data folder holds damaged data. The last two start again
 * only when the user retries or changes the data folder. 'outdated' (exit 6, VERSION): this Quorum is older than its
 * data folder or its team: the user updates Quorum (restarting the same version only stops again).
 */
export type HostState = (typeof HOST_STATES)[number];

/**
 * What this machine is to its team. 'solo': a one-member cluster of its own (a first install); 'member': one of
 * several; 'joining': a join is in progress (the invite is kept until the replica is a member and caught up).
 */
export type TeamPhase = 'solo' | 'member' | 'joining';

export interface TeamStatus {
  phase: TeamPhase;
  /** Who the replica listens for: this machine only (a solo install that invited nobody) or the LAN. */
  exposure: 'loopback' | 'lan';
  /** While joining: the addresses the invite named. */
  joiningVia: string[] | null;
  /** The backup folder the last join or create moved this machine's earlier data to; null when none. */
  backupDir: string | null;
  /** Why the last join failed (the earlier setup was restored); null when it did not. */
  joinError: string | null;
}

/**
 * How the cluster secret and the login token are kept. 'keystore': encrypted with the OS keystore (Electron
 * safeStorage: Keychain, DPAPI, libsecret/kwallet); 'file': the OS offers no keystore (e.g. Linux without a keyring),
 * so they sit in files only this user can read, and `detail` says so.
 */
export interface SecretProtection {
  kind: 'keystore' | 'file';
  detail: string;
}

/**
 * Free space on the data folder's disk, as the replica last measured it (its `status.storage`:
 * freeBytes, totalBytes, warnBelowBytes, lowSpace; lowSpace is the warning the app shows).
 */
export type DiskSpace = ReplicaStorageStatus;

/** What main tells the renderer about the replica hosted on this machine. */
export interface HostStatus {
  state: HostState;
  config: HostConfig;
  /** host:port the replica listens on once running. */
  address: string | null;
  replicaId: string | null;
  /** Raft role as last reported by the replica. */
  role: string | null;
  term: number | null;
  /** Members of the cluster and whether this replica votes, as it last reported; null before it did. */
  members: number | null;
  voter: boolean | null;
  /** The cluster's public id (as LAN discovery lists it), once the replica knows it. */
  clusterId: string | null;
  /** Crashes since the last stable run. */
  restarts: number;
  /** When state is 'crashed': the restart is scheduled this many ms after `at`. */
  restartInMs: number | null;
  lastError: string | null;
  team: TeamStatus;
  secrets: SecretProtection;
  disk: DiskSpace | null;
  /** ms since epoch when this status was made. */
  at: number;
}

/** What joining another team or creating a new one will do, for the user to confirm once. */
export interface TeamChangePlan {
  kind: 'join' | 'create';
  /** This machine now: an empty data folder, a one-member team of its own, or a member of a team of `members`. */
  current: { kind: 'empty' } | { kind: 'solo' } | { kind: 'member'; members: number };
  /** Where this machine's current data folder will be moved (dated); null when there is nothing to move. */
  backupDir: string | null;
  /** join: the team the invite reached (its members as the cluster reports them). */
  target: { leader: string | null; members: { id: string; address: string; voter: boolean }[] } | null;
}

/** One team found on this network (mDNS `_quorum._tcp`): its public id and the machines that announce it. */
export interface DiscoveredTeam {
  clusterId: string;
  replicas: { id: string; address: string }[];
}

// ---- renderer → main: request/response channels (ipcRenderer.invoke / ipcMain.handle) ----

const NoArg = z.undefined();
const ReplicaIdArg = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/);
/** A login token as replicas make them (base64url). */
const LoginToken = z.string().min(16).max(256).regex(/^[A-Za-z0-9_-]+$/);
/** A kept login: the token and the account it belongs to (shown at once, before the cluster answers). */
export const KeptLoginSchema = z.strictObject({ token: LoginToken, user: Username });
export type KeptLogin = z.infer<typeof KeptLoginSchema>;

export const IPC_INVOKE = {
  'app:info': NoArg,
  /** "Open Quorum when I log in" (the app's login item; an XDG autostart entry on Linux). */
  'app:setLaunchAtLogin': z.strictObject({ enabled: z.boolean() }),
  'replica:getStatus': NoArg,
  'replica:setConfig': HostConfigSchema,
  'replica:chooseDataDir': NoArg,
  /** Starts the replica now instead of waiting (after a full disk was freed, or a crash). */
  'replica:retry': NoArg,
  /** Checks an invite by reaching its cluster and says what joining would do; changes nothing. */
  'team:planJoin': z.strictObject({ inviteCode: InviteCodeSchema }),
  /** Says what creating a new team would do; changes nothing. */
  'team:planCreate': NoArg,
  /** Moves this machine's data aside (when there is any) and joins the invite's team. */
  'team:join': z.strictObject({ inviteCode: InviteCodeSchema }),
  /** Moves this machine's data aside (when there is any) and starts a new one-member team. */
  'team:create': NoArg,
  /** Opens the replica to the LAN when needed, makes an invite code and puts it on the clipboard (never in the page). */
  'team:copyInvite': NoArg,
  /** Lists the teams announcing themselves on this network. */
  'team:discover': z.strictObject({ timeoutSeconds: z.number().min(0.5).max(30) }).optional(),
  /** Membership changes, made by this machine's replica with the cluster secret it holds (desktop only). */
  'cluster:change': z.strictObject({ change: ConfChangeRequestSchema }),
  'cluster:transfer': z.strictObject({ to: ReplicaIdArg }),
  /** The login (token and account), kept by main with the OS keystore so a restart of the app stays logged in. */
  'login:keep': KeptLoginSchema,
  'login:kept': NoArg,
  'login:forget': NoArg,
  'unread:set': z.strictObject({ count: z.number().int().min(0).max(1_000_000_000) }),
  'notify:message': z.strictObject({
    conversation: Username,
    from: Username,
    text: z.string().min(1).max(LIMITS.textMax),
  }),
} as const;

export type InvokeChannel = keyof typeof IPC_INVOKE;
export const INVOKE_CHANNELS = Object.keys(IPC_INVOKE) as InvokeChannel[];

export interface AppInfo {
  platform: string;
  appVersion: string;
  electronVersion: string;
  /** The app opens when the user logs in. */
  launchAtLogin: boolean;
}

export interface InvokeResults {
  'app:info': AppInfo;
  'app:setLaunchAtLogin': AppInfo;
  'replica:getStatus': HostStatus;
  'replica:setConfig': HostStatus;
  'replica:chooseDataDir': string | null;
  'replica:retry': HostStatus;
  'team:planJoin': TeamChangePlan;
  'team:planCreate': TeamChangePlan;
  'team:join': HostStatus;
  'team:create': HostStatus;
  /** The addresses the copied invite names (the code itself stays in main and on the clipboard). */
  'team:copyInvite': { servers: string[] };
  'team:discover': { teams: DiscoveredTeam[] };
  'cluster:change': null;
  'cluster:transfer': null;
  'login:keep': null;
  'login:kept': { login: KeptLogin | null };
  'login:forget': null;
  'unread:set': null;
  'notify:message': null;
}

export type InvokeArg<C extends InvokeChannel> = z.input<(typeof IPC_INVOKE)[C]>;

/** Every invoke answers with this envelope, so a refusal reaches the renderer with its code intact. */
export type IpcResult<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };

// ---- main → renderer: events (webContents.send / ipcRenderer.on) ----

export const IPC_EVENTS = ['replica:status', 'nav:conversation'] as const;
export type EventChannel = (typeof IPC_EVENTS)[number];
export interface EventPayloads {
  'replica:status': HostStatus;
  'nav:conversation': { with: string };
}

/** The API the preload puts on `window.quorum` (renderer side type). */
export interface DesktopApi {
  invoke<C extends InvokeChannel>(channel: C, ...arg: InvokeArg<C> extends undefined ? [] : [InvokeArg<C>]): Promise<IpcResult<InvokeResults[C]>>;
  on<E extends EventChannel>(channel: E, listener: (payload: EventPayloads[E]) => void): () => void;
}

// ---- main ⇄ the replica utilityProcess ----

const HostPort = z.string().max(300).refine(isHostPort, 'not a HOST:PORT');

export const ReplicaStartOptionsSchema = z.strictObject({
  dataDir: z.string().min(1).max(1024),
  port: z.number().int().min(0).max(65535),
  /** Listen address: 127.0.0.1 for a solo install that invited nobody, 0.0.0.0 once it is part of a team. */
  host: z.string().min(1).max(255),
  /** HOST:PORT teammates reach this replica at (its LAN address); absent: the listen address. */
  advertise: HostPort.optional(),
  /** Start as the first member of a new cluster when the data folder holds none (never while a join is in progress). */
  bootstrap: z.boolean(),
  /** Join the cluster these replicas belong to (from an invite); resumed on every start until main forgets it. */
  join: z.array(HostPort).min(1).max(64).optional(),
  /** The cluster secret, base64 (main keeps it with the OS keystore; the replica process never writes it to disk). */
  secret: z.string().min(1).max(4096),
  /** Autopilot's settings when this replica leads. */
  autopilot: AutopilotConfigSchema,
  /** Announce this replica on the LAN (mDNS) so teammates' Join screens list its team. */
  announce: z.boolean(),
  /** Folder of the built web client to serve at GET /. */
  webRoot: z.string().max(1024).optional(),
});
export type ReplicaStartOptions = z.infer<typeof ReplicaStartOptionsSchema>;

export const ToReplicaProcessSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('start'), options: ReplicaStartOptionsSchema }),
  z.strictObject({ type: z.literal('stop') }),
  z.strictObject({ type: z.literal('transferLeadership'), reqId: z.number().int(), timeoutMs: z.number().int().positive() }),
  z.strictObject({ type: z.literal('inviteCode'), reqId: z.number().int() }),
  z.strictObject({
    type: z.literal('clusterAdmin'),
    reqId: z.number().int(),
    request: z.union([
      z.strictObject({ op: z.literal('clusterChange'), change: ConfChangeRequestSchema }),
      z.strictObject({ op: z.literal('transfer'), to: z.string().min(1).max(64) }),
    ]),
  }),
]);
export type ToReplicaProcess = z.infer<typeof ToReplicaProcessSchema>;

/**
 * Why the replica process stopped by itself: one of the replica's stop codes (replica/node/exit-status.ts
 * ReplicaStopCode; its exit status says the same), or 'startFailed' / 'stopped' for any other failure at start or later.
 */
export const REPLICA_FAILURES = ['DISK_FULL', 'DATA_FOLDER_IN_USE', 'DAMAGED', 'VERSION', 'startFailed', 'stopped'] as const;

/** The replica's status.storage, as the process relays it. */
const StorageStatusSchema = z.strictObject({
  freeBytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative(),
  warnBelowBytes: z.number().nonnegative(),
  lowSpace: z.boolean(),
});

export const FromReplicaProcessSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), id: z.string().max(256), address: z.string().max(300) }),
  z.strictObject({
    type: z.literal('status'),
    role: z.string().max(32),
    term: z.number().int().nonnegative(),
    leader: z.string().max(256).nullable(),
    members: z.number().int().nonnegative(),
    voter: z.boolean(),
    clusterId: z.string().max(64).nullable(),
    /** The replica's status.storage; null before its first sample or where the filesystem cannot be asked. */
    storage: StorageStatusSchema.nullable(),
  }),
  /** The join this start made has completed: a member, caught up with the leader. */
  z.strictObject({ type: z.literal('joined') }),
  /** The join this start made failed for good (refused, or no member answered); the message says why. */
  z.strictObject({ type: z.literal('joinFailed'), message: z.string().max(2000) }),
  z.strictObject({ type: z.literal('reply'), reqId: z.number().int(), ok: z.boolean(), value: z.string().max(8192).optional(), error: z.string().max(2000).optional() }),
  z.strictObject({ type: z.literal('fatal'), failure: z.enum(REPLICA_FAILURES), message: z.string().max(2000) }),
  z.strictObject({ type: z.literal('stopped') }),
]);
export type FromReplicaProcess = z.infer<typeof FromReplicaProcessSchema>;
