/**
 * The replica's utility process under Node: forks the built dist/main/replica-process.js (or, `built: false`,
 * main/replica-process.ts through tsx) through replica-child-entry.ts, which maps Electron's parentPort onto the
 * fork's IPC channel, and gives main's ReplicaHost the same ReplicaChild interface Electron's UtilityProcess has. Optionally inside a network namespace (test/helpers/netns.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ReplicaChild } from '../../main/replica-host.js';
import type { ToReplicaProcess } from '../../main/ipc-contract.js';
import { replicaProcessEnv } from '../../replica/process-env.js';
import { ROOT } from './cluster.js';

const ENTRY = join(ROOT, 'test', 'helpers', 'replica-child-entry.ts');

export interface ReplicaChildOptions {
  /** Run inside this network namespace (`ip netns exec NS`; execs, so the pid is the replica's). */
  netns?: string;
  /** Appends the child's stdout and stderr here (pino JSON lines); default: inherited. */
  logFd?: number;
  /** Run the built bundle (dist/main/replica-process.js, main/build.mjs: what the app ships), not the sources. */
  built?: boolean;
  /** Arguments after the built bundle's path, as main gives them (main/replica-host.ts replicaProcessArgs). */
  args?: string[];
}

/** A forked replica process, as ReplicaHost sees a utility process, plus its pid for signals. */
export class ForkedReplicaChild implements ReplicaChild {
  readonly proc: ChildProcess;
  private exited: number | null = null;

  constructor(options: ReplicaChildOptions = {}) {
    const nodeArgs = ['--import', 'tsx'];
    const args = options.built ? [join(ROOT, 'dist', 'main', 'replica-process.js'), ...(options.args ?? [])] : [];
    const stdio = options.logFd === undefined ? 'inherit' : (['ignore', options.logFd, options.logFd, 'ipc'] as const);
    this.proc = options.netns
      ? fork(ENTRY, args, { cwd: ROOT, execPath: 'ip', execArgv: ['netns', 'exec', options.netns, process.execPath, ...nodeArgs], env: replicaProcessEnv(process.env), stdio: stdio as never })
      : fork(ENTRY, args, { cwd: ROOT, execArgv: nodeArgs, env: replicaProcessEnv(process.env), stdio: stdio as never });
    this.proc.on('exit', (code, signal) => {
      this.exited = code ?? (signal ? 128 : 1);
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  postMessage(message: ToReplicaProcess): void {
    // A child that is exiting (a replica that stopped by itself, e.g. on a full disk) may close its channel while the
    // message is on its way: the write fails with EPIPE. Electron's postMessage to a utility process that has gone
    // drops the message; so does this (with a callback, the failure is handed to it instead of thrown as 'error').
    if (this.proc.connected) this.proc.send(message, undefined, {}, () => {});
  }

  kill(): boolean {
    return this.proc.kill('SIGKILL');
  }

  on(event: 'message' | 'exit', listener: (x: never) => void): this {
    if (event === 'message') this.proc.on('message', listener as (m: unknown) => void);
    // Electron's 'exit' carries the exit code; a process killed by a signal reports 128 + nothing better here.
    else this.proc.on('exit', (code, signal) => (listener as (c: number) => void)(code ?? (signal ? 128 : 1)));
    return this;
  }
}
