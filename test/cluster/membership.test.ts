// Membership on real processes: a fourth replica joins three (by snapshot, after compaction) and votes; an original
// is removed; the leader is killed; nothing acknowledged is lost. Transfer, invite codes, SIGTERM hand-over.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { Cluster, ReplicaProc, REPLICA_CLI, ROOT, freePort, waitConverged, waitFor } from '../helpers/cluster.js';
import { adminRequest } from '../../replica/net/admin-client.js';
import type { ReplicaStatus } from '../../replica/protocol/index.js';

const PW = 'password-123';
let cluster: Cluster | null = null;
const extra: ReplicaProc[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(extra.splice(0).map((r) => r.kill()));
  await cluster?.destroy();
  cluster = null;
});


function clusterCli(c: Cluster, args: string[]) {
  const r = spawnSync(process.execPath, [REPLICA_CLI, 'cluster', '--servers', c.addresses.join(','), '--secret-file', c.secretFile, '--json', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function joiner(c: Cluster, id: string, args: string[]): Promise<ReplicaProc> {
  const r = new ReplicaProc({ id, port: await freePort(), dataDir: join(c.root, id), logFile: join(c.root, `${id}.log`), extraArgs: ['--compact-every', '100', '--keep-entries', '20', ...args] });
  extra.push(r);
  r.start();
  return r;
}


describe('membership on real processes', () => {
  it('a fourth replica joins by snapshot and votes; an original is removed; the leader dies; nothing is lost', async () => {
    // Voters by hand (autopilot would keep three voters of four members): a joiner not started as a learner asks to
    // be promoted itself when the leader runs without autopilot.
    cluster = await Cluster.start({ size: 3, extraArgs: ['--compact-every', '100', '--keep-entries', '20', '--no-autopilot'] });
    const a = client(cluster.addresses);
    await a.signup('amy', PW);
    await a.signup('bo', PW);
    await a.login('amy', PW);
    const acked: string[] = [];
    for (let w = 0; w < 4; w++) {
      await Promise.all(Array.from({ length: 8 }, async (_, k) => {
        for (let i = 0; i < 10; i++) {
          const t = `m${w}-${k}-${i}`;
          await a.send('bo', t);
          acked.push(t);
        }
      }));
    }
    const r4 = await joiner(cluster, 'r4', ['--join', cluster.addresses.join(','), '--secret-file', cluster.secretFile, '--no-autopilot']);
    await waitFor('r4 to become a voter', async () => {
      const st = await r4.status().catch(() => null);
      return st?.voter === true && st.role !== 'learner';
    }, 60_000, 100);
    expect(readFileSync(r4.options.logFile, 'utf8')).toMatch(/installing snapshot/);
    await waitConverged([...cluster.addresses, r4.address]);

    // Remove an original replica (a follower), then kill the leader: 3 voters left of whom 2 live.
    const leader = await cluster.leader();
    const victim = cluster.replicas.find((r) => r !== leader)!;
    const rm = clusterCli(cluster, ['remove', victim.id]);
    expect(rm.code, rm.err).toBe(0);
    expect(JSON.parse(rm.out).voters).not.toContain(victim.id);
    await waitFor('the removed replica to say why', async () => (await fetch(`http://${victim.address}/healthz`)).status === 503, 20_000);
    await leader.kill();
    await victim.kill();
    const live = [...cluster.replicas.filter((r) => r.running), r4];
    for (let i = 0; i < 10; i++) {
      const t = `after-${i}`;
      await a.send('bo', t);
      acked.push(t);
    }
    const b = client(live.map((r) => r.address));
    await b.login('bo', PW);
    const got = await conversationTexts(b, 'amy');
    expect(got.sort()).toEqual([...acked].sort());
    expect(new Set(got).size).toBe(got.length);
  });

  it('transfer, invite code with a learner, and SIGTERM of the leader hand leadership over', async () => {
    cluster = await Cluster.start({ size: 3 });
    const leader = await cluster.leader();
    const target = cluster.replicas.find((r) => r !== leader)!;
    const tr = clusterCli(cluster, ['transfer', target.id]);
    expect(tr.code, tr.err).toBe(0);
    expect(JSON.parse(tr.out).leader).toBe(target.id);
    expect((await cluster.leader()).id).toBe(target.id);

    const inv = clusterCli(cluster, ['invite']);
    expect(inv.code, inv.err).toBe(0);
    const code = JSON.parse(inv.out).code as string;
    expect(code).toMatch(/^quorum1\./);
    // The code from a file (so it stays out of the process list).
    const codeFile = join(cluster.root, 'r5.join-code');
    writeFileSync(codeFile, code + '\n', { mode: 0o600 });
    const r5 = await joiner(cluster, 'r5', ['--join-code-file', codeFile, '--learner']);
    await waitFor('r5 to be a caught-up learner', async () => {
      const st = await r5.status().catch(() => null);
      return st?.role === 'learner' && st.appliedIndex > 1;
    }, 60_000, 100);
    expect((await target.status()).members.find((m) => m.id === 'r5')?.voter).toBe(false);

    // SIGTERM of the leader: it hands over before exiting, so the next leader takes over in the next term.
    const before = await target.status();
    target.signal('SIGTERM');
    expect(await target.exited).toBe(0);
    expect(readFileSync(target.options.logFile, 'utf8')).toMatch(/leadership transferred/);
    const next = await cluster.leader();
    expect((await next.status()).term).toBe(before.term + 1);
  });

  it('membership changes asked for at the same moment all go through, one after another (machines joining together)', async () => {
    // Raft takes one change at a time; a change that arrives while another is not applied yet waits its turn at the
    // leader instead of being refused (replica/node/driver.ts proposeConfChange). Learners at unreachable addresses:
    // they do not count toward any majority.
    cluster = await Cluster.start({ size: 3, extraArgs: ['--no-autopilot'] });
    const secret = Buffer.from(readFileSync(cluster.secretFile, 'utf8').trim());
    const ids = ['x1', 'x2', 'x3', 'x4', 'x5'];
    const change = (c: Record<string, unknown>) => adminRequest(cluster!.addresses, secret, { op: 'clusterChange', change: c }, { timeoutMs: 30_000 });
    await Promise.all(ids.map((id, i) => change({ op: 'addLearner', id, address: `127.0.0.1:${i + 1}` })));
    const st = await adminRequest<ReplicaStatus>(cluster.addresses, secret, { op: 'status' });
    expect(st.members.filter((m) => !m.voter).map((m) => m.id).sort()).toEqual(ids);
    await Promise.all(ids.map((id) => change({ op: 'remove', id })));
    const after = await adminRequest<ReplicaStatus>(cluster.addresses, secret, { op: 'status' });
    expect(after.members.map((m) => m.id).sort()).toEqual(['r1', 'r2', 'r3']);
  });
});
