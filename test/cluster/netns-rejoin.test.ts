// Regression (found by the chaos run): after a partition healed, a replica stayed deaf for as long as TCP's
// retransmission backoff on its stalled peer connections (28 s after a 23 s cut in the chaos run; minutes after longer
// ones), because nothing noticed that an "open" peer link had stopped carrying anything. Peer links now ping and
// reconnect when silent, so a replica whose link comes back follows the leader again within a few seconds.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_REPLICA, ROOT, waitFor } from '../helpers/cluster.js';
import { NetnsLab, netnsUnavailableReason, type Host } from '../helpers/netns.js';

const reason = netnsUnavailableReason();

const PORT = 7400;
const CUT_MS = 14_000;

describeUnless(reason, 'a replica whose link was cut (network namespaces)', () => {
  let lab: NetnsLab;
  let dir: string;
  const procs: ReturnType<typeof spawn>[] = [];
  let hosts: Host[] = [];
  let clientHost: Host;
  const addr = (h: Host) => `${h.address}:${PORT}`;

  function health(h: Host): { role: string; term: number; leader: string | null } | null {
    const code = `fetch('http://${addr(h)}/healthz',{signal:AbortSignal.timeout(1500)}).then(r=>r.json()).then(j=>console.log(JSON.stringify(j))).catch(()=>console.log('null'))`;
    const r = spawnSync(lab.exec(clientHost)[0], [...lab.exec(clientHost).slice(1), process.execPath, '-e', code], { encoding: 'utf8', timeout: 10_000 });
    try {
      return JSON.parse(r.stdout.trim());
    } catch {
      return null;
    }
  }

  beforeAll(async () => {
    lab = new NetnsLab();
    dir = mkdtempSync(join(tmpdir(), 'quorum-rejoin-'));
    writeFileSync(join(dir, 'secret'), 'rejoin-secret-value\n', { mode: 0o600 });
    hosts = ['r1', 'r2', 'r3'].map((n) => lab.addHost(n));
    clientHost = lab.addHost('cl');
    const initial = hosts.map((h) => `${h.name}=${addr(h)}`).join(',');
    for (const h of hosts) {
      // Opened here, synchronously: a stream's own open runs later, where a failure is an uncaught exception.
      const out = createWriteStream('', { fd: openSync(join(dir, `${h.name}.log`), 'a') });
      const p = spawn(lab.exec(h)[0], [...lab.exec(h).slice(1), process.execPath, ...BUILT_REPLICA, 'replica', '--id', h.name, '--data', join(dir, h.name), '--listen', addr(h), '--initial-cluster', initial, '--secret-file', join(dir, 'secret'), '--no-discovery'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Two sources into one file: neither may end it (the second would write after end); it closes on exit.
      p.stdout!.pipe(out, { end: false });
      p.stderr!.pipe(out, { end: false });
      p.once('close', () => out.end());
      procs.push(p);
    }
    await waitFor('a leader followed by everyone', () => {
      const hs = hosts.map(health);
      const leader = hs.find((x) => x?.role === 'leader');
      return leader && hs.every((x) => x && (x.role === 'leader' || x.leader === leader.leader)) ? true : null;
    }, 60_000, 300);
  }, 120_000);

  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`follows the leader again within seconds after a ${CUT_MS / 1000} s cut`, async () => {
    const states = hosts.map(health);
    const victim = hosts[states.findIndex((x) => x?.role === 'follower')];
    expect(victim).toBeDefined();
    lab.setLink(victim, false);
    // Long enough for TCP's retransmission backoff to grow well past the few seconds a rejoin should take.
    await new Promise((r) => setTimeout(r, CUT_MS));
    lab.setLink(victim, true);
    const healed = Date.now();
    await waitFor('the cut-off replica to follow a leader again', () => {
      const h = health(victim);
      return h && h.leader !== null && h.role === 'follower' ? h : null;
    }, 60_000, 250);
    const secs = (Date.now() - healed) / 1000;
    expect(secs, `followed a leader again ${secs.toFixed(1)} s after the link came back`).toBeLessThan(8);
  }, 120_000);
});
