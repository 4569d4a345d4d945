// Several hosts: each replica in its own network namespace on a bridge. Cutting the leader's link leaves it a
// minority that refuses writes; the majority elects a leader and serves; after healing all converge.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_REPLICA, REPLICA_CLI, ROOT, waitFor } from '../helpers/cluster.js';
import { NetnsLab, netnsUnavailableReason, type Host } from '../helpers/netns.js';

const reason = netnsUnavailableReason();

const PORT = 7400;

describeUnless(reason, 'replicas on separate hosts (network namespaces)', () => {
  let lab: NetnsLab;
  let dir: string;
  const procs = new Map<string, ReturnType<typeof spawn>>();
  let hosts: Host[] = [];
  let clientHost: Host;

  function cli(h: Host, args: string[], input?: string, timeoutMs = 30_000) {
    const r = spawnSync(lab.exec(h)[0], [...lab.exec(h).slice(1), process.execPath, REPLICA_CLI, ...args], {
      cwd: ROOT,
      input,
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  function probe(h: Host, address: string): { role: string; term: number; appliedIndex: number; stateHash?: string } | null {
    // /debug/state answers other machines only with the metrics token.
    const code = `Promise.all([fetch('http://${address}/healthz').then(r=>r.json()),fetch('http://${address}/debug/state',{headers:{authorization:'Bearer ${METRICS_TOKEN}'}}).then(r=>r.json())]).then(([h,s])=>console.log(JSON.stringify({...h,...s}))).catch(()=>console.log('null'))`;
    const r = spawnSync(lab.exec(h)[0], [...lab.exec(h).slice(1), process.execPath, '-e', code], { encoding: 'utf8', timeout: 10_000 });
    try {
      return JSON.parse(r.stdout.trim());
    } catch {
      return null;
    }
  }

  const addr = (h: Host) => `${h.address}:${PORT}`;
  const METRICS_TOKEN = 'netns-metrics-token';
  /** Clients on other machines talk TLS, trusting the cluster CA the replicas wrote to their data folders. */
  const tls = () => ['--ca-file', join(dir, 'r1', 'cluster-ca.pem')];

  beforeAll(async () => {
    lab = new NetnsLab();
    dir = mkdtempSync(join(tmpdir(), 'quorum-netns-'));
    writeFileSync(join(dir, 'secret'), 'netns-secret-value\n', { mode: 0o600 });
    writeFileSync(join(dir, 'metrics-token'), `${METRICS_TOKEN}\n`, { mode: 0o600 });
    hosts = ['r1', 'r2', 'r3'].map((n) => lab.addHost(n));
    clientHost = lab.addHost('cl');
    const initial = hosts.map((h) => `${h.name}=${addr(h)}`).join(',');
    for (const h of hosts) {
      // Opened here, synchronously: a stream's own open runs later, where a failure is an uncaught exception.
      const out = createWriteStream('', { fd: openSync(join(dir, `${h.name}.log`), 'a') });
      const p = spawn(lab.exec(h)[0], [...lab.exec(h).slice(1), process.execPath, ...BUILT_REPLICA, 'replica', '--id', h.name, '--data', join(dir, h.name), '--listen', addr(h), '--initial-cluster', initial, '--secret-file', join(dir, 'secret'), '--metrics-token-file', join(dir, 'metrics-token'), '--no-discovery'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      // Two sources into one file: neither may end it (the second would write after end); it closes on exit.
      p.stdout!.pipe(out, { end: false });
      p.stderr!.pipe(out, { end: false });
      p.once('close', () => out.end());
      procs.set(h.name, p);
    }
    await waitFor('a leader on the bridge', () => hosts.some((h) => probe(clientHost, addr(h))?.role === 'leader'), 60_000, 200);
  }, 120_000);

  afterAll(() => {
    for (const p of procs.values()) p.kill('SIGKILL');
    lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('another machine reaches the replicas over TLS only; metrics need the token', async () => {
    const servers = hosts.map(addr).join(',');
    const plain = cli(clientHost, ['chat', '--servers', servers, '--user', 'ann', '--password-stdin', '--json', '--timeout', '3', 'login'], 'password-123\n');
    expect(plain.code).toBe(1);
    expect(plain.err).toMatch(/serves other machines over TLS only/);
    const code = `fetch('http://${addr(hosts[0])}/metrics').then(async r=>console.log(r.status, await r.text()))`;
    const r = spawnSync(lab.exec(clientHost)[0], [...lab.exec(clientHost).slice(1), process.execPath, '-e', code], { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout).toMatch(/^403 .*--metrics-listen/);
  });

  it('isolating the leader: minority refuses writes, majority elects and serves, then all converge', async () => {
    const servers = hosts.map(addr).join(',');
    expect(cli(clientHost, ['chat', ...tls(), '--servers', servers, '--user', 'ann', '--password-stdin', '--json', 'signup'], 'password-123\n').code).toBe(0);
    expect(cli(clientHost, ['chat', ...tls(), '--servers', servers, '--user', 'ben', '--password-stdin', '--json', 'signup'], 'password-123\n').code).toBe(0);
    expect(cli(clientHost, ['chat', ...tls(), '--servers', servers, '--user', 'ann', '--password-stdin', '--json', 'send', 'ben', 'before the cut'], 'password-123\n').code).toBe(0);

    const leader = hosts.find((h) => probe(clientHost, addr(h))?.role === 'leader')!;
    lab.setLink(leader, false);
    try {
      // The isolated side (a client on the old leader's own host) cannot get a write acknowledged.
      const minority = cli(leader, ['chat', ...tls(), '--servers', addr(leader), '--user', 'ann', '--password-stdin', '--json', '--timeout', '5', 'send', 'ben', 'minority write'], 'password-123\n', 20_000);
      expect(minority.code).not.toBe(0);
      // The majority elects a new leader and serves.
      const others = hosts.filter((h) => h !== leader);
      await waitFor('a new leader in the majority', () => others.some((h) => probe(clientHost, addr(h))?.role === 'leader'), 30_000, 200);
      const w = cli(clientHost, ['chat', ...tls(), '--servers', others.map(addr).join(','), '--user', 'ann', '--password-stdin', '--json', 'send', 'ben', 'majority write'], 'password-123\n');
      expect(w.code, w.err).toBe(0);
    } finally {
      lab.setLink(leader, true);
    }
    await waitFor('all replicas converge', () => {
      const ds = hosts.map((h) => probe(clientHost, addr(h)));
      return ds.every((d) => d && d.appliedIndex === ds[0]!.appliedIndex && d.stateHash === ds[0]!.stateHash);
    }, 60_000, 300);
    const h = cli(clientHost, ['chat', ...tls(), '--servers', servers, '--user', 'ben', '--password-stdin', '--json', 'history', 'ann'], 'password-123\n');
    expect(h.code, h.err).toBe(0);
    const texts = JSON.parse(h.out).messages.map((m: { text: string }) => m.text);
    expect(texts).toEqual(['before the cut', 'majority write']);
  });
});
