/**
 * Hosts this machine's replica in a child process (an Electron utilityProcess in the app), so a replica crash
 * never takes the UI down: starts it, restarts it with exponential backoff when it dies, stops it gracefully,
 * relays requests (leadership transfer, invite code), and reports its status to listeners.
 * Electron-free: the process is created by the injected `fork`, timers and clock are injected.
 */
import {
  FromReplicaProcessSchema,
  type FromReplicaProcess,
  type HostConfig,
  type HostStatus,
  type ReplicaStartOptions,
  type ToReplicaProcess,
} from './ipc-contract.js';
import { backoffCeiling, type BackoffOptions } from '../replica/util/backoff.js';

/**
 * Restart delays for the hosted replica: exponential and capped, without jitter (one local replica has nobody to
 * spread out from).
 */
export interface RestartBackoff extends BackoffOptions {
  /** A run that lasts this long counts as stable and resets the crash count. */
  stableMs: number;
}

const DEFAULT_RESTART_BACKOFF: RestartBackoff = { initialMs: 500, maxMs: 30_000, stableMs: 60_000 };

/** The part of Electron's UtilityProcess the host uses. */
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
  /** Turns the user's settings into the replica's start options (data folder, port, web root...). */
  startOptions(config: HostConfig, mode: { bootstrap: boolean; join?: string }): ReplicaStartOptions;
  backoff?: RestartBackoff;
  /** How long a graceful stop may take before the process is killed. */
  stopTimeoutMs?: number;
}

interface Pending {
  resolve(r: { ok: boolean; value?: string; error?: string }): void;
  timer: unknown;
}

export class ReplicaHost {
  private config: HostConfig;
  private child: ReplicaChild | null = null;
  private state: HostStatus['state'];
  private address: string | null = null;
  private replicaId: string | null = null;
  private role: string | null = null;
  private term: number | null = null;
  private restarts = 0;
  private restartAt: number | null = null;
  private restartTimer: unknown = null;
  private stableTimer: unknown = null;
  private lastError: string | null = null;
  private stopping: Promise<void> | null = null;
  private join: string | undefined;
  private bootstrap = true;
  private nextReqId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(s: HostStatus) => void>();
  private readonly backoff: RestartBackoff;

  constructor(
    private readonly deps: ReplicaHostDeps,
    config: HostConfig,
  ) {
    this.config = config;
    this.state = config.enabled ? 'stopped' : 'disabled';
    this.backoff = deps.backoff ?? DEFAULT_RESTART_BACKOFF;
  }

  status(): HostStatus {
    return {
      state: this.state,
      config: { ...this.config },
      address: this.address,
      replicaId: this.replicaId,
      role: this.role,
      term: this.term,
      restarts: this.restarts,
      restartInMs: this.restartAt === null ? null : Math.max(0, this.restartAt - this.deps.now()),
      lastError: this.lastError,
      at: this.deps.now(),
    };
  }

  onStatus(listener: (s: HostStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** True when the hosted replica last said it leads. */
  isLeader(): boolean {
    return this.state === 'running' && this.role === 'leader';
  }

  start(): void {
    if (!this.config.enabled || this.child || this.stopping) return;
    this.cancelRestart();
    this.spawn();
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
      }, this.deps.stopTimeoutMs ?? 5_000);
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

  /** Applies new settings: stops the replica and starts it again with them (or leaves it off). */
  async setConfig(config: HostConfig): Promise<void> {
    await this.stop();
    this.config = config;
    this.restarts = 0;
    this.lastError = null;
    this.setState(config.enabled ? 'stopped' : 'disabled');
    this.start();
  }

  /** Restarts the replica as the first member of a new cluster. */
  async createCluster(): Promise<void> {
    await this.stop();
    this.bootstrap = true;
    this.join = undefined;
    this.config = { ...this.config, enabled: true };
    this.restarts = 0;
    this.lastError = null;
    this.start();
  }

  /** Restarts the replica so it joins the cluster the invite code names. */
  async joinCluster(inviteCode: string): Promise<void> {
    await this.stop();
    this.bootstrap = false;
    this.join = inviteCode;
    this.config = { ...this.config, enabled: true };
    this.restarts = 0;
    this.lastError = null;
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
    if (this.state !== 'running') throw Object.assign(new Error('the local replica is not running'), { code: 'UNAVAILABLE' });
    const r = await this.request((reqId) => ({ type: 'inviteCode', reqId }), timeoutMs);
    if (!r.ok || !r.value) throw Object.assign(new Error(r.error ?? 'the replica made no invite code'), { code: 'UNAVAILABLE' });
    return r.value;
  }

  /** A membership change or leadership transfer, made by the local replica with the cluster secret it holds. */
  async clusterAdmin(request: Extract<ToReplicaProcess, { type: 'clusterAdmin' }>['request'], timeoutMs = 20_000): Promise<void> {
    if (this.state !== 'running') throw Object.assign(new Error('the local replica is not running'), { code: 'UNAVAILABLE' });
    const r = await this.request((reqId) => ({ type: 'clusterAdmin', reqId, request }), timeoutMs);
    if (!r.ok) {
      const m = /^([A-Z_]+): (.*)$/s.exec(r.error ?? '');
      throw Object.assign(new Error(m ? m[2] : (r.error ?? 'the change failed')), { code: m ? m[1] : 'UNAVAILABLE' });
    }
  }

  // ---- internals ----

  private onExit: (() => void) | null = null;

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
    this.restartAt = null;
    this.address = null;
    this.replicaId = null;
    this.role = null;
    this.term = null;
    let child: ReplicaChild;
    try {
      child = this.deps.fork();
    } catch (err) {
      this.crashed(`could not start the replica process: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    this.setState('starting');
    child.on('message', (m) => this.onMessage(child, m));
    child.on('exit', (code) => this.onChildExit(child, code));
    const options = this.deps.startOptions(this.config, { bootstrap: this.bootstrap, join: this.join });
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
        // Joined: later restarts reuse the data folder's membership, not the invite code.
        this.join = undefined;
        this.bootstrap = true;
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
        this.emit();
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
        this.deps.log.error({ message: m.message }, 'replica reported a fatal error');
        this.emit();
        break;
      case 'stopped':
        break;
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
    this.crashed(this.lastError ?? `the replica exited unexpectedly (code ${code})`);
  }

  private crashed(reason: string): void {
    this.restarts += 1;
    this.lastError = reason;
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

  private setState(state: HostStatus['state']): void {
    this.state = state;
    this.emit();
  }

  private emit(): void {
    const s = this.status();
    for (const l of this.listeners) l(s);
  }
}
