/**
 * Hosts this machine's replica in a child process (an Electron utilityProcess in the app), so a replica crash
 * never takes the UI down: starts it, restarts it with exponential backoff when it dies, stops it gracefully, relays
 * requests (leadership transfer, invite code, cluster changes), and reports its state and its events (joined, join
 * failed) to listeners. A replica that stopped by itself for a reason of its machine or data (its exit statuses,
 * replica/node/exit-status.ts: 3 disk full, 4 data folder in use, 5 damaged, 6 too old) is never restarted in a loop:
 * it waits for the user (who frees space, quits the other Quorum, rebuilds, or updates Quorum) to press "Start it now". Free space is what the
 * replica measures (its status.storage); main measures nothing itself.
 * Electron-free: the process is created by the injected `fork`; timers and clock are injected.
 */
import {
  FromReplicaProcessSchema,
  type DiskSpace,
  type FromReplicaProcess,
  type HostConfig,
  type HostState,
  type ReplicaStartOptions,
  type ToReplicaProcess,
} from './ipc-contract.js';
import { backoffCeiling, type BackoffOptions } from '../replica/util/backoff.js';
import { EXIT_STATUS } from '../replica/node/exit-status.js';
import { missingCaseError } from '../replica/util/missing-case-error.js';
import { CODE_CACHE_FLAG } from '../replica/launch/code-cache.js';
import { join } from 'node:path';

/**
 * The arguments of the replica process (dist/main/replica-process.js): its compiled code is kept in the user data
 * folder (`userData/code-cache/`), since the app's own folder may be read-only.
 */
export function replicaProcessArgs(userData: string): string[] {
  return [`${CODE_CACHE_FLAG}${join(userData, 'code-cache')}`];
}

/**
 * Restart delays for the hosted replica: exponential and capped, without jitter (one local replica has nobody to
 * spread out from).
 */
export interface RestartBackoff extends BackoffOptions {
  /** A run that lasts this long counts as stable and resets the crash count. */
  stableMs: number;
}

const DEFAULT_RESTART_BACKOFF: RestartBackoff = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 };

/** The part of Electron's UtilityProcess (or of the test's child_process adapter) the host uses. */
export interface ReplicaChild {
  postMessage(message: ToReplicaProcess): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

export interface HostLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReplicaHostDeps {
  fork(): ReplicaChild;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  log: HostLogger;
  /** The replica's start options for this start (read at every start: the team's state may have changed). */
  startOptions(config: HostConfig): ReplicaStartOptions;
  backoff?: RestartBackoff;
  /** How long a graceful stop may take before the process is killed. */
  stopTimeoutMs?: number;
}

/** The hosted process as main sees it (main/desktop.ts adds the team and how secrets are kept). */
export interface ProcessStatus {
  state: HostState;
  config: HostConfig;
  address: string | null;
  replicaId: string | null;
  role: string | null;
  term: number | null;
  members: number | null;
  voter: boolean | null;
  clusterId: string | null;
  restarts: number;
  restartInMs: number | null;
  lastError: string | null;
  disk: DiskSpace | null;
  at: number;
}

/** What the replica told main about this start's join. */
export type ReplicaEvent = { type: 'joined' } | { type: 'joinFailed'; message: string };

interface Pending {
  resolve(r: { ok: boolean; value?: string; error?: string }): void;
  timer: unknown;
}

export class ReplicaHost {
  private config: HostConfig;
  private child: ReplicaChild | null = null;
  private state: HostState;
  private address: string | null = null;
  private replicaId: string | null = null;
  private role: string | null = null;
  private term: number | null = null;
  private members: number | null = null;
  private voter: boolean | null = null;
  private clusterId: string | null = null;
  private disk: DiskSpace | null = null;
  private restarts = 0;
  private restartAt: number | null = null;
  private restartTimer: unknown = null;
  private stableTimer: unknown = null;
  private lastError: string | null = null;
  /** The failure the child reported before it exited (its exit status says the same for a full disk). */
  private reportedFailure: Extract<FromReplicaProcess, { type: 'fatal' }>['failure'] | null = null;
  private stopping: Promise<void> | null = null;
  /** The app is quitting: nothing starts the replica again (a crash, a settings change, a retry, a team change). */
  private shutDown = false;
  private onExit: (() => void) | null = null;
  private nextReqId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(s: ProcessStatus) => void>();
  private readonly eventListeners = new Set<(e: ReplicaEvent) => void>();
  private readonly backoff: RestartBackoff;

  constructor(
    private readonly deps: ReplicaHostDeps,
    config: HostConfig,
  ) {
    this.config = config;
    this.state = config.enabled ? 'stopped' : 'disabled';
    this.backoff = deps.backoff ?? DEFAULT_RESTART_BACKOFF;
  }

  status(): ProcessStatus {
    return {
      state: this.state,
      config: { ...this.config, autopilot: { ...this.config.autopilot } },
      address: this.address,
      replicaId: this.replicaId,
      role: this.role,
      term: this.term,
      members: this.members,
      voter: this.voter,
      clusterId: this.clusterId,
      restarts: this.restarts,
      restartInMs: this.restartAt === null ? null : Math.max(0, this.restartAt - this.deps.now()),
      lastError: this.lastError,
      disk: this.disk,
      at: this.deps.now(),
    };
  }

  onStatus(listener: (s: ProcessStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onEvent(listener: (e: ReplicaEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** True when the hosted replica last said it leads. */
  isLeader(): boolean {
    return this.state === 'running' && this.role === 'leader';
  }

  isRunning(): boolean {
    return this.state === 'running';
  }

  start(): void {
    if (!this.config.enabled || this.child || this.stopping || this.shutDown) return;
    this.cancelRestart();
    this.spawn();
  }

  /**
   * Starts now: after a crash (skipping the backoff), after the replica's own stop (the user freed space, quit the other
   * Quorum, or moved damaged data aside), or when stopped.
   */
  retry(): void {
    if (this.child || this.stopping || !this.config.enabled || this.shutDown) return;
    this.cancelRestart();
    this.lastError = null;
    this.spawn();
  }

  /**
   * The app's last stop (quit, or the session ending): stops the replica gracefully, and from now on nothing starts it
   * again — not a crash restart, nor a settings change or team change that was waiting for the same stop.
   */
  shutdown(): Promise<void> {
    this.shutDown = true;
    return this.stop();
  }

  /** Graceful stop: asks the replica to stop, kills it if it has not exited after stopTimeoutMs. */
  stop(): Promise<void> {
    this.cancelRestart();
    if (this.stopping) return this.stopping;
    const child = this.child;
    if (!child) {
      this.setState(this.config.enabled ? 'stopped' : 'disabled');
      return Promise.resolve();
    }
    this.setState('stopping');
    this.stopping = new Promise<void>((resolve) => {
      const killTimer = this.deps.setTimeout(() => {
        this.deps.log.warn({}, 'replica did not stop in time; killing it');
        child.kill();
      }, this.deps.stopTimeoutMs ?? 10_000);
      this.onExit = () => {
        this.deps.clearTimeout(killTimer);
        resolve();
      };
      child.postMessage({ type: 'stop' });
    }).finally(() => {
      this.stopping = null;
      this.onExit = null;
    });
    return this.stopping;
  }

  /**
   * Stops the replica, runs `change` while nothing runs (e.g. moving the data folder; it may return new settings),
   * then starts it again, also when `change` threw (with what it left).
   */
  async restartWith(change: () => HostConfig | void | Promise<HostConfig | void>): Promise<void> {
    await this.stop();
    try {
      const config = await change();
      if (config) this.config = config;
    } finally {
      this.restarts = 0;
      this.lastError = null;
      this.start();
    }
  }

  /** Applies new settings: stops the replica and starts it again with them (or leaves it off). */
  async setConfig(config: HostConfig): Promise<void> {
    await this.stop();
    this.config = config;
    this.restarts = 0;
    this.lastError = null;
    this.setState(config.enabled ? 'stopped' : 'disabled');
    this.start();
  }

  /**
   * Asks the replica to hand leadership to another voter. Resolves true when it reports success; false when
   * it does not lead, is not running, refused, or did not answer within timeoutMs.
   */
  async transferLeadership(timeoutMs: number): Promise<boolean> {
    if (!this.isLeader()) return false;
    const r = await this.request((reqId) => ({ type: 'transferLeadership', reqId, timeoutMs }), timeoutMs + 500);
    if (!r.ok) this.deps.log.warn({ error: r.error }, 'leadership transfer did not complete');
    return r.ok;
  }

  async inviteCode(timeoutMs = 5_000): Promise<string> {
    this.requireRunning();
    const r = await this.request((reqId) => ({ type: 'inviteCode', reqId }), timeoutMs);
    if (!r.ok || !r.value) throw Object.assign(new Error(r.error ?? 'the replica made no invite code'), { code: 'UNAVAILABLE' });
    return r.value;
  }

  /** A membership change or leadership transfer, made by the local replica with the cluster secret it holds. */
  async clusterAdmin(request: Extract<ToReplicaProcess, { type: 'clusterAdmin' }>['request'], timeoutMs = 20_000): Promise<void> {
    this.requireRunning();
    const r = await this.request((reqId) => ({ type: 'clusterAdmin', reqId, request }), timeoutMs);
    if (!r.ok) {
      const m = /^([A-Z_]+): (.*)$/s.exec(r.error ?? '');
      throw Object.assign(new Error(m ? m[2] : (r.error ?? 'the change failed')), { code: m ? m[1] : 'UNAVAILABLE' });
    }
  }

  // ---- internals ----

  private requireRunning(): void {
    if (this.state !== 'running') throw Object.assign(new Error('this machine’s replica is not running'), { code: 'UNAVAILABLE' });
  }

  private request(make: (reqId: number) => ToReplicaProcess, timeoutMs: number): Promise<{ ok: boolean; value?: string; error?: string }> {
    const child = this.child;
    if (!child) return Promise.resolve({ ok: false, error: 'not running' });
    const reqId = this.nextReqId++;
    return new Promise((resolve) => {
      const timer = this.deps.setTimeout(() => {
        this.pending.delete(reqId);
        resolve({ ok: false, error: 'timed out' });
      }, timeoutMs);
      this.pending.set(reqId, { resolve, timer });
      child.postMessage(make(reqId));
    });
  }

  private spawn(): void {
    if (this.shutDown) return;
    this.restartAt = null;
    this.address = null;
    this.replicaId = null;
    this.role = null;
    this.term = null;
    this.reportedFailure = null;
    let options: ReplicaStartOptions;
    let child: ReplicaChild;
    try {
      options = this.deps.startOptions(this.config);
      child = this.deps.fork();
    } catch (err) {
      this.crashed(`could not start the replica process: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.setState('starting');
    child.on('message', (m) => this.onMessage(child, m));
    child.on('exit', (code) => this.onChildExit(child, code));
    child.postMessage({ type: 'start', options });
  }

  private onMessage(child: ReplicaChild, raw: unknown): void {
    if (child !== this.child) return;
    const parsed = FromReplicaProcessSchema.safeParse(raw);
    if (!parsed.success) {
      this.deps.log.warn({ issues: parsed.error.issues.slice(0, 3) }, 'ignored a malformed message from the replica process');
      return;
    }
    const m: FromReplicaProcess = parsed.data;
    switch (m.type) {
      case 'ready':
        this.address = m.address;
        this.replicaId = m.id;
        this.lastError = null;
        this.stableTimer = this.deps.setTimeout(() => {
          this.restarts = 0;
          this.stableTimer = null;
          this.emit();
        }, this.backoff.stableMs);
        this.setState('running');
        break;
      case 'status':
        this.role = m.role;
        this.term = m.term;
        this.members = m.members;
        this.voter = m.voter;
        this.clusterId = m.clusterId;
        this.disk = m.storage;
        this.emit();
        break;
      case 'joined':
        this.emitEvent({ type: 'joined' });
        break;
      case 'joinFailed':
        this.emitEvent({ type: 'joinFailed', message: m.message });
        break;
      case 'reply': {
        const p = this.pending.get(m.reqId);
        if (p) {
          this.pending.delete(m.reqId);
          this.deps.clearTimeout(p.timer);
          p.resolve({ ok: m.ok, value: m.value, error: m.error });
        }
        break;
      }
      case 'fatal':
        this.lastError = m.message;
        this.reportedFailure = m.failure;
        this.deps.log.error({ failure: m.failure, message: m.message }, 'replica stopped after an error');
        this.emit();
        break;
      case 'stopped':
        break;
      default:
        throw missingCaseError(m);
    }
  }

  private onChildExit(child: ReplicaChild, code: number): void {
    if (child !== this.child) return;
    this.child = null;
    if (this.stableTimer !== null) {
      this.deps.clearTimeout(this.stableTimer);
      this.stableTimer = null;
    }
    for (const [id, p] of this.pending) {
      this.deps.clearTimeout(p.timer);
      p.resolve({ ok: false, error: 'the replica exited' });
      this.pending.delete(id);
    }
    this.role = null;
    if (this.onExit) {
      const done = this.onExit;
      this.setState(this.config.enabled ? 'stopped' : 'disabled');
      done();
      return;
    }
    const halt = haltFor(code, this.reportedFailure);
    if (halt) {
      this.halted(halt);
      return;
    }
    this.crashed(this.lastError ?? `the replica exited unexpectedly (code ${code})`);
  }

  /** The replica stopped by itself for a reason restarting cannot fix: say so and wait for the user (retry). */
  private halted(state: HaltState): void {
    const dataDir = this.config.dataDir;
    const fallback: Record<HaltState, string> = {
      diskFull: `disk full at ${dataDir}: stopped; free space and restart`,
      folderInUse: `the data folder ${dataDir} is in use by another process`,
      damaged: `the data folder ${dataDir} holds damaged data`,
      outdated: `this Quorum is older than its data folder ${dataDir} or its team`,
    };
    this.lastError ??= fallback[state];
    // Restarting the same Quorum only stops again: the line says what to do.
    if (state === 'outdated') this.lastError = `update Quorum: ${this.lastError}`;
    this.deps.log.warn({ dataDir, state, reason: this.lastError }, 'replica stopped by itself; it starts again when the user retries');
    this.setState(state);
  }

  private crashed(reason: string): void {
    this.restarts += 1;
    this.lastError = reason;
    if (this.shutDown) {
      this.setState('stopped');
      return;
    }
    const delay = backoffCeiling(this.restarts - 1, this.backoff);
    this.restartAt = this.deps.now() + delay;
    this.deps.log.warn({ restarts: this.restarts, delayMs: delay, reason }, 'replica crashed; restarting after backoff');
    this.restartTimer = this.deps.setTimeout(() => {
      this.restartTimer = null;
      this.spawn();
    }, delay);
    this.setState('crashed');
  }

  private cancelRestart(): void {
    if (this.restartTimer !== null) {
      this.deps.clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    this.restartAt = null;
  }

  private setState(state: HostState): void {
    this.state = state;
    this.emit();
  }

  private emit(): void {
    const s = this.status();
    for (const l of this.listeners) l(s);
  }

  private emitEvent(e: ReplicaEvent): void {
    for (const l of this.eventListeners) l(e);
  }
}

type HaltState = Extract<HostState, 'diskFull' | 'folderInUse' | 'damaged' | 'outdated'>;

/**
 * The host state for a replica's own stop, from its exit status (replica/node/exit-status.ts) or, when the status was
 * lost (e.g. a killed process after it reported), from the stop code its last 'fatal' message carried; null: a crash.
 */
export function haltFor(code: number, reported: Extract<FromReplicaProcess, { type: 'fatal' }>['failure'] | null): HaltState | null {
  if (code === EXIT_STATUS.DISK_FULL || reported === 'DISK_FULL') return 'diskFull';
  if (code === EXIT_STATUS.DATA_FOLDER_IN_USE || reported === 'DATA_FOLDER_IN_USE') return 'folderInUse';
  if (code === EXIT_STATUS.DAMAGED || reported === 'DAMAGED') return 'damaged';
  if (code === EXIT_STATUS.VERSION || reported === 'VERSION') return 'outdated';
  return null;
}
