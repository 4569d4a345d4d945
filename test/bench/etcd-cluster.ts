/**
 * A 3-member etcd cluster on 127.0.0.1 for the side-by-side benchmark, driven through etcd's HTTP/JSON gRPC gateway
 * (POST /v3/kv/put with base64 key and value) with Node's http and keep-alive agents. Members are real `etcd`
 * processes (Debian's etcd-server); each has its own data folder under the bench's temporary directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, createWriteStream, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { freePort, waitFor } from '../helpers/cluster.js';

export interface EtcdTiming {
  /** null: etcd's own defaults (heartbeat 100 ms, election timeout 1000 ms). */
  heartbeatMs: number | null;
  electionMs: number | null;
}

/** Finds the etcd binary, installing Debian's etcd-server when missing and allowed (root, apt-get present). */
export function ensureEtcd(): { bin: string } | { reason: string } {
  const which = () => spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
  let bin = which();
  if (bin) return { bin };
  if (process.getuid?.() !== 0) return { reason: 'no etcd binary on PATH and not running as root to install etcd-server' };
  if (!existsSync('/usr/bin/apt-get')) return { reason: 'no etcd binary on PATH and no apt-get to install etcd-server' };
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'etcd-server', 'etcd-client'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 300_000,
  });
  bin = which();
  if (bin) return { bin };
  return { reason: `etcd-server could not be installed (apt-get exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}` };
}

export class EtcdMember {
  proc: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  constructor(
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly args: string[],
    private readonly bin: string,
    private readonly logFile: string,
  ) {}

  get clientUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(): void {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const p = spawn(this.bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Two sources into one file: neither may end it (the second would write after end); it closes on exit.
    p.stdout!.pipe(out, { end: false });
    p.stderr!.pipe(out, { end: false });
    p.once('close', () => out.end());
    this.proc = p;
    this.exited = new Promise((r) => p.once('exit', () => r()));
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill('SIGKILL');
    await this.exited;
  }
}

export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  private readonly agents = new Map<string, http.Agent>();

  private constructor(readonly root: string) {}

  static async start(bin: string, timing: EtcdTiming, size = 3): Promise<EtcdCluster> {
    const c = new EtcdCluster(mkdtempSync(join(tmpdir(), 'quorum-bench-etcd-')));
    const ports: { client: number; peer: number }[] = [];
    for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
    const initial = ports.map((p, i) => `e${i + 1}=http://127.0.0.1:${p.peer}`).join(',');
    for (let i = 0; i < size; i++) {
      const name = `e${i + 1}`;
      const dataDir = join(c.root, name);
      mkdirSync(dataDir, { recursive: true });
      const args = [
        '--name', name,
        '--data-dir', dataDir,
        '--listen-client-urls', `http://127.0.0.1:${ports[i].client}`,
        '--advertise-client-urls', `http://127.0.0.1:${ports[i].client}`,
        '--listen-peer-urls', `http://127.0.0.1:${ports[i].peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${ports[i].peer}`,
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `bench-${process.pid}`,
        '--logger', 'zap',
      ];
      if (timing.heartbeatMs !== null) args.push('--heartbeat-interval', String(timing.heartbeatMs));
      if (timing.electionMs !== null) args.push('--election-timeout', String(timing.electionMs));
      c.members.push(new EtcdMember(name, ports[i].client, ports[i].peer, args, bin, join(c.root, `${name}.log`)));
    }
    for (const m of c.members) m.start();
    await c.leader(30_000);
    return c;
  }

  agent(member: EtcdMember, maxSockets: number): http.Agent {
    const key = `${member.clientPort}/${maxSockets}`;
    let a = this.agents.get(key);
    if (!a) {
      a = new http.Agent({ keepAlive: true, maxSockets });
      this.agents.set(key, a);
    }
    return a;
  }

  /** POSTs a JSON body to a member's gateway; resolves with the parsed answer or rejects on HTTP/network error. */
  post(member: EtcdMember, path: string, body: unknown, opts: { agent?: http.Agent; timeoutMs?: number } = {}): Promise<any> {
    const data = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: member.clientPort,
          path,
          method: 'POST',
          agent: opts.agent ?? this.agent(member, 4),
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
          timeout: opts.timeoutMs ?? 5000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            else {
              try {
                resolve(JSON.parse(text));
              } catch {
                reject(new Error(`bad JSON from etcd: ${text.slice(0, 200)}`));
              }
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('etcd request timed out')));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** One put of `value` at `key` through the gateway (acknowledged once committed by a majority). */
  put(member: EtcdMember, key: string, value: string, opts: { agent?: http.Agent; timeoutMs?: number } = {}): Promise<any> {
    return this.post(member, '/v3/kv/put', { key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') }, opts);
  }

  /** Member status: its own id and the leader id it knows (0 / missing while none). */
  async status(member: EtcdMember): Promise<{ id: string; leader: string; raftTerm: string }> {
    const s = await this.post(member, '/v3/maintenance/status', {}, { timeoutMs: 1000 });
    return { id: String(s.header?.member_id ?? ''), leader: String(s.leader ?? '0'), raftTerm: String(s.raftTerm ?? s.header?.raft_term ?? '') };
  }

  /** Waits until every running member reports the same leader, and returns that member. */
  async leader(timeoutMs = 20_000): Promise<EtcdMember> {
    return waitFor('an etcd leader', async () => {
      const running = this.members.filter((m) => m.running);
      const sts = await Promise.all(running.map((m) => this.status(m).catch(() => null)));
      if (sts.some((s) => !s || s.leader === '0' || s.leader === 'undefined')) return null;
      const lead = sts[0]!.leader;
      if (!sts.every((s) => s!.leader === lead)) return null;
      const idx = sts.findIndex((s) => s!.id === lead);
      return idx >= 0 ? running[idx] : null;
    }, timeoutMs, 50);
  }

  get pids(): (number | undefined)[] {
    return this.members.map((m) => m.pid);
  }

  async destroy(): Promise<void> {
    for (const a of this.agents.values()) a.destroy();
    await Promise.all(this.members.map((m) => m.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
