/**
 * Drives a desktop-agent.ts process (one "desktop" in its own network namespace) from the test: each call is a request
 * over the fork's IPC channel, answered with its result or its error. The agent leads a process group of its own
 * (its replica child is in it), so the whole "machine" can be frozen and thawed at once, as a laptop sleeps.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestDesktopOptions } from './desktop.js';
import type { HostStatus, InvokeArg, InvokeChannel, InvokeResults } from '../../main/ipc-contract.js';
import { ROOT, waitFor } from './cluster.js';

const AGENT = join(ROOT, 'test', 'helpers', 'desktop-agent.ts');

export class RemoteDesktop {
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly ready: Promise<void>;
  /** SIGSTOPped (pause) and not continued yet. */
  private paused = false;

  constructor(
    readonly name: string,
    ns: string,
    options: TestDesktopOptions,
    logFd: number,
  ) {
    this.proc = fork(AGENT, [], {
      cwd: ROOT,
      execPath: 'ip',
      execArgv: ['netns', 'exec', ns, process.execPath, '--import', 'tsx'],
      env: { ...process.env, QUORUM_DESKTOP_AGENT: JSON.stringify(options) },
      stdio: ['ignore', logFd, logFd, 'ipc'],
      // A process group of its own: `ip netns exec` execs node, so this pid leads it, and the replica child joins it.
      detached: true,
    });
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    this.proc.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      if (m.id === 0) return readyResolve();
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error}`));
    });
    this.proc.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`${this.name}: the desktop process exited`));
      this.pending.clear();
    });
  }

  call<T>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, op, args });
    });
  }

  invoke<C extends InvokeChannel>(channel: C, ...arg: InvokeArg<C> extends undefined ? [] : [InvokeArg<C>]): Promise<InvokeResults[C]> {
    return this.call('invoke', channel, ...arg);
  }

  status(): Promise<HostStatus> {
    return this.call('status');
  }

  /** Polls the status until `holds`; a timeout says what the status last was (state, role, members, team phase, error). */
  async waitStatus(what: string, holds: (s: HostStatus) => boolean, timeoutMs = 60_000): Promise<HostStatus> {
    let last: HostStatus | undefined;
    try {
      return await waitFor(`${this.name}: ${what}`, async () => {
        last = await this.status();
        return holds(last) ? last : null;
      }, timeoutMs, 100);
    } catch (err) {
      if (!last) throw err;
      const { state, role, term, members, voter, replicaId, lastError, team } = last;
      throw new Error(`${(err as Error).message}; last status: ${JSON.stringify({ state, role, term, members, voter, replicaId, lastError, team })}`, { cause: err });
    }
  }

  /** SIGKILLs this desktop: its main process and its replica process (a machine that dies). */
  async kill(): Promise<void> {
    const pid = await this.call<number | null>('replicaPid');
    this.proc.kill('SIGKILL');
    if (pid) process.kill(pid, 'SIGKILL');
  }

  /** Freezes the whole machine: SIGSTOP to its process group (this desktop's main process and its replica child). */
  pause(): void {
    process.kill(-this.proc.pid!, 'SIGSTOP');
    this.paused = true;
  }

  /** Thaws it (SIGCONT to the group): the machine wakes up where it was. */
  resume(): void {
    process.kill(-this.proc.pid!, 'SIGCONT');
    this.paused = false;
  }

  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** Ends the desktop (its replica stops when its main goes); a paused one is thawed first so that it can. */
  close(): void {
    if (this.paused && !this.exited) this.resume();
    if (this.proc.connected) this.proc.disconnect();
  }

  /** Kills whatever is left of the machine's process group (after close() did not end it in time). */
  killGroup(): void {
    try {
      process.kill(-this.proc.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Closes every desktop, waits up to `graceMs` for each to exit, then kills what is left of their process groups. */
export async function closeDesktops(desktops: readonly RemoteDesktop[], graceMs = 20_000): Promise<void> {
  for (const d of desktops) d.close();
  await Promise.all(desktops.map((d) => (d.exited ? null : Promise.race([new Promise((r) => d.proc.once('exit', r)), new Promise((r) => setTimeout(r, graceMs))]))));
  for (const d of desktops) if (!d.exited) d.killGroup();
}
