/**
 * Real replica processes for cluster tests: each replica is `node dist/replica/cli.js replica ...` (the built replica,
 * what `npm run replica` runs; test/global-setup.ts builds it before the tests) with its own data folder and port on
 * 127.0.0.1, in the environment the launchers give a replica (replica/process-env.ts).
 * Waits are conditions polled with a timeout, never fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, createWriteStream, readFileSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import WebSocket from 'ws';
import type { ReplicaStatus } from '../../replica/protocol/client.js';
import { REPLICA_NODE_ARGS, replicaProcessEnv } from '../../replica/process-env.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
/**
 * The built command line (`npm run replica`, `chat`, `status` and `cluster` run it): tests spawn
 * `node REPLICA_CLI ...`. Built before the tests by test/global-setup.ts.
 */
export const REPLICA_CLI = join(ROOT, 'dist', 'replica', 'cli.js');

/**
 * `node` arguments that start the built replica as `npm run replica` does: the replica's node flags, then the entry. A
 * replica started without the flags would refuse the code cache the others wrote (V8 checks the flags), and rewrite it.
 */
export const BUILT_REPLICA = [...REPLICA_NODE_ARGS, REPLICA_CLI];

/**
 * A free TCP port on 127.0.0.1 below Linux's ephemeral range (32768+): a port taken from that range (bind to 0) can be
 * handed to some other process's outgoing connection before the replica binds it. Each test process starts at its own
 * offset so parallel test files rarely probe the same ports.
 */
let nextPort = 20000 + ((process.pid * 37) % 600) * 20;
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 2000; tries++) {
    const port = nextPort;
    nextPort = nextPort >= 32000 ? 20000 : nextPort + 1;
    const ok = await new Promise<boolean>((res) => {
      const srv = createServer();
      srv.once('error', () => res(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port found in 20000-32000');
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** One request over a fresh /client connection (for status probes); rejects on connection failure or timeout. */
export function rpc<T = unknown>(address: string, req: Record<string, unknown>, timeoutMs = 2000): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(`ws://${address}/client`);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`rpc to ${address} timed out`));
    }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, ...req })));
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type !== 'response' || f.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (f.ok) resolvePromise(f.result as T);
      else reject(Object.assign(new Error(`${f.error.code}: ${f.error.message}`), { code: f.error.code, leader: f.error.leader }));
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export function statusOf(address: string): Promise<ReplicaStatus> {
  return rpc<ReplicaStatus>(address, { op: 'status' });
}

export interface ReplicaProcOptions {
  id: string;
  port: number;
  dataDir: string;
  initialCluster?: string;
  secretFile?: string;
  extraArgs?: string[];
  /** Flags for node itself, before the script (e.g. --cpu-prof for the bench's profiling). */
  nodeArgs?: string[];
  /** Checkout whose replica runs (default: this one); another checkout's runs through tsx unless `built`. */
  codeRoot?: string;
  logFile: string;
  /** Environment variables for this replica beyond the launchers' (e.g. QUORUM_MAX_VERSION); read at each start. */
  env?: Record<string, string>;
  /**
   * Run the built replica (dist/replica/cli.js, scripts/replica-build.mjs: what `npm run replica` runs) rather than its
   * sources through tsx. Default: built for this checkout (codeRoot absent or this one), sources for another (it may
   * have no build).
   */
  built?: boolean;
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class ReplicaProc {
  proc: ChildProcess | null = null;
  exited: Promise<number | null> = Promise.resolve(null);
  constructor(readonly options: ReplicaProcOptions) {}

  get id(): string {
    return this.options.id;
  }
  get address(): string {
    return `127.0.0.1:${this.options.port}`;
  }
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(): void {
    const root = this.options.codeRoot ?? ROOT;
    const entry = (this.options.built ?? resolve(root) === ROOT) ? [join(root, 'dist', 'replica', 'cli.js')] : ['--import', 'tsx', join(root, 'replica', 'cli.ts')];
    // The product's node flags first (as `npm run replica` gives them), then the caller's, which override them.
    const args = [...REPLICA_NODE_ARGS, ...(this.options.nodeArgs ?? []), ...entry, 'replica', '--id', this.options.id, '--data', this.options.dataDir, '--listen', this.address];
    if (this.options.initialCluster) args.push('--initial-cluster', this.options.initialCluster);
    if (this.options.secretFile) args.push('--secret-file', this.options.secretFile);
    args.push(...(this.options.extraArgs ?? []));
    // Opened now, not later on the thread pool (a stream still opening when a test removes its folder throws ENOENT).
    const out = createWriteStream('', { fd: openSync(this.options.logFile, 'a') });
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: replicaProcessEnv({ ...process.env, ...this.options.env }) });
    // Two sources into one file: neither may end it (the second would write after end); it closes on exit.
    p.stdout!.pipe(out, { end: false });
    p.stderr!.pipe(out, { end: false });
    p.once('close', () => out.end());
    this.proc = p;
    this.exited = new Promise((r) => p.once('exit', (code) => r(code)));
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await waitFor(`${this.id} /healthz`, async () => {
      if (!this.running) throw new Error(`${this.id} exited; its log ends with:\n${logTail(this.options.logFile)}`);
      const r = await fetch(`http://${this.address}/healthz`).catch(() => null);
      return r?.status === 200;
    }, timeoutMs, 50);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<number | null> {
    if (!this.running) return this.proc?.exitCode ?? null;
    this.proc!.kill('SIGTERM');
    return this.exited;
  }

  status(): Promise<ReplicaStatus> {
    return statusOf(this.address);
  }
}

export interface ClusterOptions {
  size: number;
  extraArgs?: string[];
  /** Flags for node itself in every replica process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  keepData?: boolean;
  /** Run the replica code of another checkout (e.g. a baseline worktree for an A/B comparison); default this one. */
  codeRoot?: string;
  /** Give the replicas the cluster secret (default: when there is more than one; a lone replica with one speaks TLS). */
  secret?: boolean;
  /** Extra environment of the replica with this id (e.g. QUORUM_MAX_VERSION to play an older release). */
  envOf?: (id: string) => Record<string, string>;
  /** Run the built replica (dist/replica/cli.js) or its sources through tsx (default: as ReplicaProcOptions.built). */
  built?: boolean;
  /** Called with each replica's empty data folder before it starts (e.g. to mount a small filesystem there). */
  prepareDataDir?: (id: string, dataDir: string) => void;
}

export class Cluster {
  readonly root: string;
  readonly replicas: ReplicaProc[] = [];
  readonly secretFile: string;

  private constructor(root: string) {
    this.root = root;
    this.secretFile = join(root, 'secret');
  }

  static async start(o: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(mkdtempSync(join(tmpdir(), 'quorum-cluster-')));
    writeFileSync(c.secretFile, 'test-secret-' + Math.random().toString(36).slice(2) + '\n', { mode: 0o600 });
    const ports: number[] = [];
    for (let i = 0; i < o.size; i++) ports.push(await freePort());
    const initial = ports.map((p, i) => `r${i + 1}=127.0.0.1:${p}`).join(',');
    for (let i = 0; i < o.size; i++) {
      const id = `r${i + 1}`;
      const dataDir = join(c.root, id);
      mkdirSync(dataDir, { recursive: true });
      o.prepareDataDir?.(id, dataDir);
      c.replicas.push(
        new ReplicaProc({
          id,
          port: ports[i],
          dataDir,
          initialCluster: o.size > 1 ? initial : undefined,
          secretFile: (o.secret ?? o.size > 1) ? c.secretFile : undefined,
          extraArgs: o.extraArgs,
          nodeArgs: o.nodeArgs,
          codeRoot: o.codeRoot,
          logFile: join(c.root, `${id}.log`),
          env: o.envOf?.(id),
          built: o.built,
        }),
      );
    }
    for (const r of c.replicas) r.start();
    try {
      await Promise.all(c.replicas.map((r) => r.waitHealthy()));
    } catch (err) {
      // The caller never gets the cluster to destroy: do it here, or its processes outlive the test run.
      await c.destroy().catch(() => {});
      throw err;
    }
    return c;
  }

  get addresses(): string[] {
    return this.replicas.map((r) => r.address);
  }

  /** The cluster CA bundle the replicas wrote (what a client's --ca-file takes). */
  get caFile(): string {
    return join(this.replicas[0].options.dataDir, 'cluster-ca.pem');
  }

  byId(id: string): ReplicaProc {
    const r = this.replicas.find((x) => x.id === id);
    if (!r) throw new Error(`no replica ${id}`);
    return r;
  }

  /** Waits until the running replicas agree on one leader, and returns it. */
  async leader(timeoutMs = 20_000): Promise<ReplicaProc> {
    return waitFor('a leader', async () => {
      const sts = await Promise.all(this.replicas.filter((r) => r.running).map((r) => r.status().catch(() => null)));
      const leaders = sts.filter((s) => s && s.role === 'leader');
      if (leaders.length !== 1) return null;
      const l = leaders[0]!;
      if (!l.quorum) return null;
      return this.byId(l.id);
    }, timeoutMs);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.kill()));
  }

  async destroy(): Promise<void> {
    await this.stopAll();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The replica's applied index and state hash; from another machine /debug/state needs the metrics token. */
export async function stateDigest(address: string, metricsToken?: string): Promise<{ appliedIndex: number; stateHash: string }> {
  const r = await fetch(`http://${address}/debug/state`, metricsToken ? { headers: { authorization: `Bearer ${metricsToken}` } } : {});
  return (await r.json()) as { appliedIndex: number; stateHash: string };
}

/** Waits until every given replica has applied the same index with the same state hash. */
export async function waitConverged(addresses: string[], timeoutMs = 30_000): Promise<{ appliedIndex: number; stateHash: string }> {
  return waitFor('replicas to converge', async () => {
    const ds = await Promise.all(addresses.map((a) => stateDigest(a)));
    const first = ds[0];
    return ds.every((d) => d.appliedIndex === first.appliedIndex && d.stateHash === first.stateHash) ? first : null;
  }, timeoutMs, 100);
}

/** One real replica process in a fresh temporary folder, for a describe block (kill + remove with `destroy`). */
export async function singleReplica(prefix: string): Promise<{ replica: ReplicaProc; destroy(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const replica = new ReplicaProc({ id: 'r1', port: await freePort(), dataDir: join(dir, 'r1'), logFile: join(dir, 'r1.log') });
  replica.start();
  await replica.waitHealthy();
  return {
    replica,
    destroy: async () => {
      await replica.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
