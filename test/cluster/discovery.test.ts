// LAN discovery for real: replicas in their own network namespaces on one bridge advertise _quorum._tcp with mDNS, and
// `cluster discover`, run in another namespace, finds them grouped by cluster: a three-member cluster, a replica that
// joined it (it learns the cluster id from the leader), and a solo cluster; a replica started with --no-discovery is
// not listed. Multicast stays inside the namespaces this test made; a replica on loopback in the test's own namespace
// opens no mDNS socket at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_REPLICA, ReplicaProc, REPLICA_CLI, ROOT, freePort, waitFor } from '../helpers/cluster.js';
import { NetnsLab, netnsUnavailableReason, type Host } from '../helpers/netns.js';
import { derivedClusterId } from '../../replica/node/cluster-id.js';

const reason = netnsUnavailableReason();

const PORT = 7400;

interface Discovered {
  clusters: { clusterId: string; replicas: { id: string; address: string }[] }[];
}

describeUnless(reason, 'LAN discovery (mDNS in network namespaces)', () => {
  let lab: NetnsLab;
  let dir: string;
  const procs: ChildProcess[] = [];
  const hosts = new Map<string, Host>();
  const addr = (name: string) => `${hosts.get(name)!.address}:${PORT}`;

  /** A replica in its own namespace; plain /client from the client namespace is allowed for the status probes. */
  function start(name: string, args: string[]): void {
    const h = hosts.get(name)!;
    // Opened now (not later on the thread pool): a stream still opening when afterAll removes the folder throws ENOENT.
    const out = createWriteStream('', { fd: openSync(join(dir, `${name}.log`), 'a') });
    const p = spawn(lab.exec(h)[0], [...lab.exec(h).slice(1), process.execPath, ...BUILT_REPLICA, 'replica', '--id', name, '--data', join(dir, name), '--listen', addr(name), '--allow-plain-clients', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout!.pipe(out, { end: false });
    p.stderr!.pipe(out, { end: false });
    p.once('close', () => out.end());
    procs.push(p);
  }

  /** Runs node code in the client namespace; its stdout parsed as JSON (null on failure). */
  function inClient<T>(args: string[], timeoutMs = 20_000): { code: number | null; out: T | null; err: string } {
    const h = hosts.get('cl')!;
    const r = spawnSync(lab.exec(h)[0], [...lab.exec(h).slice(1), process.execPath, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
    let out: T | null;
    try {
      out = JSON.parse(r.stdout.trim()) as T;
    } catch {
      // no JSON: the command failed (its stderr says why)
      out = null;
    }
    return { code: r.status, out, err: r.stderr };
  }

  const clusterIdOf = (name: string): string | null => {
    const code = `fetch('http://${addr(name)}/healthz').then(()=>new Promise((res)=>{const W=require('ws');const ws=new W('ws://${addr(name)}/client');ws.on('message',(d)=>{const f=JSON.parse(d);if(f.type==='hello')ws.send(JSON.stringify({id:1,op:'status'}));if(f.type==='response'){console.log(JSON.stringify(f.result.clusterId??null));ws.close();res()}});ws.on('error',()=>{console.log('null');res()})})).catch(()=>console.log('null'))`;
    return inClient<string | null>(['-e', code], 10_000).out;
  };

  const discover = () => inClient<Discovered>([REPLICA_CLI, 'cluster', 'discover', '--json', '--timeout', '2', '--interface', hosts.get('cl')!.address], 30_000);

  beforeAll(async () => {
    lab = new NetnsLab();
    dir = mkdtempSync(join(tmpdir(), 'quorum-discovery-'));
    writeFileSync(join(dir, 'secret'), 'discovery-secret-value\n', { mode: 0o600 });
    for (const name of ['a1', 'a2', 'a3', 'a4', 'b1', 'c1', 'cl']) hosts.set(name, lab.addHost(name));
    const initial = ['a1', 'a2', 'a3'].map((n) => `${n}=${addr(n)}`).join(',');
    for (const n of ['a1', 'a2', 'a3']) start(n, ['--initial-cluster', initial, '--secret-file', join(dir, 'secret')]);
    start('b1', []);
    start('c1', ['--no-discovery']);
    await waitFor('cluster A and B to know their ids', () => ['a1', 'a2', 'a3', 'b1'].every((n) => clusterIdOf(n) !== null), 60_000, 500);
    start('a4', ['--join', addr('a1'), '--secret-file', join(dir, 'secret'), '--learner']);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists each cluster with its replicas; a joiner learns its cluster id; --no-discovery is not listed', async () => {
    const idA = clusterIdOf('a1')!;
    const idB = clusterIdOf('b1')!;
    expect(idA).toMatch(/^[0-9a-f]{16}$/);
    expect(idB).not.toBe(idA);
    expect(clusterIdOf('a2')).toBe(idA);
    await waitFor('a4 to learn the cluster id from its leader', () => clusterIdOf('a4') === idA, 60_000, 500);
    const expected: Discovered = {
      clusters: [
        { clusterId: idA, replicas: ['a1', 'a2', 'a3', 'a4'].map((id) => ({ id, address: addr(id) })) },
        { clusterId: idB, replicas: [{ id: 'b1', address: addr('b1') }] },
      ].sort((x, y) => x.clusterId.localeCompare(y.clusterId)),
    };
    const found = await waitFor('discover to list both clusters', () => {
      const r = discover();
      return r.code === 0 && JSON.stringify(r.out) === JSON.stringify(expected) ? r.out : null;
    }, 60_000, 200);
    expect(found).toEqual(expected);
    expect(readFileSync(join(dir, 'c1.log'), 'utf8')).not.toMatch(/advertising _quorum/);
  });
});

// In the test's own network namespace: no multicast at all (the replica listens on loopback), and the cluster id of a
// data folder that predates cluster ids.
describe('LAN discovery on loopback', () => {
  let dir: string;
  let loopback: ReplicaProc | null = null;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-discovery-lo-'));
  });

  afterAll(async () => {
    await loopback?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a replica on loopback opens no mDNS socket', async () => {
    loopback = new ReplicaProc({ id: 'lo1', port: await freePort(), dataDir: join(dir, 'lo1'), logFile: join(dir, 'lo1.log') });
    loopback.start();
    await loopback.waitHealthy();
    await waitFor('the replica to say it does not advertise', () => /LAN discovery: not advertising \(127\.0\.0\.1 is not reachable from the LAN\)/.test(readFileSync(join(dir, 'lo1.log'), 'utf8')), 20_000, 100);
    // UDP sockets of the process (inodes of its socket fds, looked up in its namespace's /proc/net/udp): none on 5353.
    const pid = loopback.proc!.pid!;
    const inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter(Boolean),
    );
    const udp = readFileSync(`/proc/${pid}/net/udp`, 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/));
    const own = udp.filter((cols) => cols.length > 9 && inodes.has(cols[9]));
    expect(own.map((cols) => cols[1])).not.toContainEqual(expect.stringMatching(/:14E9$/));
  });

  it('a data folder without a cluster id gets one from its leader, derived from the configuration', async () => {
    const r = loopback!;
    const before = (await r.status()).clusterId;
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    await r.stop();
    rmSync(join(dir, 'lo1', 'cluster-id'));
    r.start();
    await r.waitHealthy();
    const expected = derivedClusterId({ voters: ['lo1'], learners: [] });
    await waitFor('the leader to derive the cluster id', async () => (await r.status()).clusterId === expected, 20_000, 100);
    expect(readFileSync(join(dir, 'lo1', 'cluster-id'), 'utf8').trim()).toBe(expected);
  });
});
