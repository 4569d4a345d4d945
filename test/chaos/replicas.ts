/**
 * Replica processes for chaos runs: like test/helpers/cluster.ts's ReplicaProc, but started through the host layer
 * (inside a network namespace when there is one), with SIGSTOP/SIGCONT bookkeeping and a feed of the replica's log
 * lines (pino JSON on stdout) so the nemesis can act on events such as "sending snapshot".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { BUILT_REPLICA, ROOT, waitFor } from '../helpers/cluster.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';
import { diskFullMessage } from '../../replica/storage/disk-full.js';

export interface ReplicaSpec {
  index: number;
  id: string;
  address: string;
  /** argv prefix from the host layer (e.g. ip netns exec NS). */
  prefix: string[];
  dataDir: string;
  logFile: string;
  args: string[];
  /** Arguments only this checkout's replica takes: left out while it runs the previous release (codeRoot). */
  currentOnlyArgs?: string[];
  /** Checkout whose replica/cli.ts runs through tsx (the previous release before a rollingUpgrade fault); default this one, built. */
  codeRoot?: string;
}

/** Debian's libfaketime (package libfaketime), multi-threaded variant: the replica's clock is FAKETIME off. */
export const FAKETIME_LIBRARY = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

export type LogListener = (line: Record<string, unknown>, replica: ChaosReplica) => void;

export class ChaosReplica {
  proc: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  paused = false;
  starts = 0;
  /**
   * A faketime offset ('+5h', '-5h', ...) the next start() runs the replica under (libfaketime: its wall clock is that
   * far off); null for the real clock.
   */
  clockOffset: string | null = null;
  /** Exits nobody asked for (the process died by itself): each one fails the run. */
  readonly crashes: string[] = [];
  /** Called on such an exit (the run records when it happened). */
  onCrash: ((what: string) => void) | null = null;
  private expectExit = false;
  /** An exit status the next exit may have without being a crash (set by a fault that makes the replica stop). */
  private allowedExit: number | null = null;
  private lastExitCode: number | null = null;
  /** What the process wrote to stderr since it started (its last 8 KiB). */
  private stderrTail = '';
  /** Error or fatal log lines with a stack trace since allowExit(). */
  private stacksSinceAllowed = 0;
  /** The last error or fatal log line, to say why a replica died. */
  private lastError: string | null = null;
  private readonly listeners = new Set<LogListener>();
  private log: WriteStream | null = null;

  constructor(readonly spec: ReplicaSpec) {
    mkdirSync(spec.dataDir, { recursive: true });
  }

  get id(): string {
    return this.spec.id;
  }
  get address(): string {
    return this.spec.address;
  }
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  onLog(l: LogListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  start(): void {
    if (this.running) return;
    this.starts++;
    this.log ??= createWriteStream(this.spec.logFile, { flags: 'a' });
    this.log.write(
      `--- start #${this.starts} at ${new Date().toISOString()}${this.clockOffset ? ` under faketime ${this.clockOffset}` : ''}${this.spec.codeRoot ? ` running ${this.spec.codeRoot}` : ''}\n`,
    );
    const root = this.spec.codeRoot ?? ROOT;
    // This checkout's replica runs built (run.ts builds it first); a previous release's checkout, through tsx.
    const entry = this.spec.codeRoot ? ['--import', 'tsx', join(root, 'replica', 'cli.ts')] : BUILT_REPLICA;
    const argv = [...this.spec.prefix, process.execPath, ...entry, 'replica', ...this.spec.args, ...(this.spec.codeRoot ? [] : (this.spec.currentOnlyArgs ?? []))];
    // libfaketime preloaded into the replica itself (not the `faketime` wrapper, which forks: a SIGKILL of the wrapper
    // would leave the replica running).
    const env = this.clockOffset ? { ...process.env, LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: this.clockOffset } : process.env;
    const p = spawn(argv[0], argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    this.paused = false;
    this.expectExit = false;
    this.allowedExit = null;
    this.lastExitCode = null;
    this.stderrTail = '';
    this.stacksSinceAllowed = 0;
    this.lastError = null;
    let buf = '';
    p.stdout!.on('data', (chunk: Buffer) => {
      this.log?.write(chunk);
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        if (line.includes('"level":50') || line.includes('"level":60')) {
          this.lastError = line.slice(0, 600);
          if (this.allowedExit !== null && line.includes('"stack":')) this.stacksSinceAllowed++;
        }
        if (this.listeners.size === 0) continue;
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(line);
        } catch {
          continue;
        }
        for (const l of this.listeners) l(obj, this);
      }
    });
    p.stderr!.on('data', (chunk: Buffer) => {
      this.log?.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-8192);
    });
    this.exited = new Promise((r) =>
      p.once('exit', (code, sig) => {
        this.log?.write(`--- exit code=${code} signal=${sig} at ${new Date().toISOString()}\n`);
        this.lastExitCode = code;
        if (!this.expectExit && (code === null || code !== this.allowedExit)) {
          const what = `${this.id} exited by itself (code ${code}, signal ${sig}) at ${new Date().toISOString()}${this.lastError ? `; last error: ${this.lastError}` : ''}`;
          this.crashes.push(what);
          this.onCrash?.(what);
        }
        r();
      }),
    );
  }

  /** The next exit may have status `code` without counting as a crash (a fault that makes the replica stop); null: none. */
  allowExit(code: number | null): void {
    this.allowedExit = code;
    this.stacksSinceAllowed = 0;
  }

  /** The last line the process wrote to stderr (the replica's one-line reason when it stopped by itself). */
  get lastOutputLine(): string {
    return this.stderrTail.trimEnd().split('\n').at(-1) ?? '';
  }

  /** Null when the last exit was the clean stop on a full disk (status 3, one line, no stack); else what was wrong. */
  diskFullStopProblem(): string | null {
    const expected = `DISK_FULL: replica ${this.id}: ${diskFullMessage(this.spec.dataDir)}`;
    if (this.lastExitCode !== EXIT_STATUS.DISK_FULL) return `${this.id} on a full disk exited with status ${this.lastExitCode}, not ${EXIT_STATUS.DISK_FULL}: ${this.lastOutputLine}`;
    if (this.lastOutputLine !== expected) return `${this.id} on a full disk stopped saying "${this.lastOutputLine}", not "${expected}"`;
    if (/^\s+at /m.test(this.stderrTail) || this.stacksSinceAllowed > 0) return `${this.id} logged a stack trace when its disk filled`;
    return null;
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await waitFor(`${this.id} /healthz`, async () => {
      if (!this.running) throw new Error(`${this.id} exited (see ${this.spec.logFile})`);
      const r = await fetch(`http://${this.address}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
      return r?.status === 200;
    }, timeoutMs, 100);
  }

  pause(): void {
    if (!this.running || this.paused) return;
    this.proc!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.running) this.proc!.kill('SIGCONT');
  }

  /** SIGKILL now, without waiting (for kills that must land at an exact moment). */
  killNow(): void {
    if (!this.running) return;
    this.expectExit = true;
    this.proc!.kill('SIGKILL');
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.killNow();
    await this.exited;
    this.paused = false;
  }

  /** SIGTERM (clean stop, may hand leadership over); SIGKILL after the timeout. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.resume();
    this.expectExit = true;
    this.proc!.kill('SIGTERM');
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  closeLog(): void {
    this.log?.end();
    this.log = null;
  }
}
