/**
 * Messages between the desktop app's processes, as discriminated unions with zod schemas:
 *  - renderer ⇄ main (Electron IPC through the preload's small API; every input validated in main), and
 *  - main ⇄ the local replica running in an Electron utilityProcess.
 * The desktop app's own contract, so it lives in main/ rather than in the replica's wire package. Isomorphic: no Node,
 * DOM or Electron imports (main, preload and the replica's utility process import it; the renderer imports its types
 * only, which the lint rules check).
 */
import { z } from 'zod';
import { LIMITS } from '../replica/protocol/limits.js';
import { Username, ConfChangeRequestSchema } from '../replica/protocol/client.js';

// ---- shared pieces ----

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
});
export type HostConfig = z.infer<typeof HostConfigSchema>;

/**
 * An invite code: made by a replica of the cluster to join (it carries the cluster secret and member
 * addresses). Main checks only its shape; the replica decodes and checks it.
 */
export const InviteCodeSchema = z
  .string()
  .trim()
  .min(16, 'the invite code is too short')
  .max(4096, 'the invite code is too long')
  .regex(/^[A-Za-z0-9_.:=+/-]+$/, 'the invite code contains characters that invite codes never have');

export const HOST_STATES = ['disabled', 'starting', 'running', 'crashed', 'stopping', 'stopped'] as const;
export type HostState = (typeof HOST_STATES)[number];

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
  /** Crashes since the last stable run. */
  restarts: number;
  /** When state is 'crashed': the restart is scheduled this many ms after `at`. */
  restartInMs: number | null;
  lastError: string | null;
  /** ms since epoch when this status was made. */
  at: number;
}

// ---- renderer → main: request/response channels (ipcRenderer.invoke / ipcMain.handle) ----

const NoArg = z.undefined();

export const IPC_INVOKE = {
  'app:info': NoArg,
  'replica:getStatus': NoArg,
  'replica:setConfig': HostConfigSchema,
  'replica:chooseDataDir': NoArg,
  /** Wipes nothing: starts this machine's replica as the first member of a brand-new cluster. */
  'replica:createCluster': NoArg,
  'replica:joinCluster': z.strictObject({ inviteCode: InviteCodeSchema }),
  'replica:inviteCode': NoArg,
  /** Membership changes, made by this machine's replica with the cluster secret it holds (desktop only). */
  'cluster:change': z.strictObject({ change: ConfChangeRequestSchema }),
  'cluster:transfer': z.strictObject({ to: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/) }),
  'clipboard:writeText': z.strictObject({ text: z.string().min(1).max(8192) }),
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
}

export interface InvokeResults {
  'app:info': AppInfo;
  'replica:getStatus': HostStatus;
  'replica:setConfig': HostStatus;
  'replica:chooseDataDir': string | null;
  'replica:createCluster': HostStatus;
  'replica:joinCluster': HostStatus;
  'replica:inviteCode': { inviteCode: string };
  'cluster:change': null;
  'cluster:transfer': null;
  'clipboard:writeText': null;
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

export const ReplicaStartOptionsSchema = z.strictObject({
  dataDir: z.string().min(1).max(1024),
  port: z.number().int().min(0).max(65535),
  /** Listen address; the desktop app listens on the LAN so teammates can join. */
  host: z.string().min(1).max(255),
  /** Start as the first member of a new cluster when the data folder holds none. */
  bootstrap: z.boolean(),
  /** Join an existing cluster with this invite code. */
  join: InviteCodeSchema.optional(),
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

export const FromReplicaProcessSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), id: z.string().max(256), address: z.string().max(300) }),
  z.strictObject({
    type: z.literal('status'),
    role: z.string().max(32),
    term: z.number().int().nonnegative(),
    leader: z.string().max(256).nullable(),
  }),
  z.strictObject({ type: z.literal('reply'), reqId: z.number().int(), ok: z.boolean(), value: z.string().max(8192).optional(), error: z.string().max(2000).optional() }),
  z.strictObject({ type: z.literal('fatal'), message: z.string().max(2000) }),
  z.strictObject({ type: z.literal('stopped') }),
]);
export type FromReplicaProcess = z.infer<typeof FromReplicaProcessSchema>;
