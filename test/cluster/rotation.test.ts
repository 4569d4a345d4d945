/**
 * Rotating the cluster secret on a live 3-replica cluster, as docs/security.md says: three rolling restarts with the
 * secret file holding OLD+NEW, then NEW+OLD, then NEW. Writes keep being acknowledged after every restart (the
 * replicas at different steps accept each other), nothing is lost, and at the end the old secret (and an invite code
 * made with it) is refused while the new one administers the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import { Cluster, REPLICA_CLI, ROOT, waitConverged } from '../helpers/cluster.js';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [REPLICA_CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('rotating the cluster secret', () => {
  let cluster: Cluster;
  let client: QuorumClient;
  const sent: string[] = [];

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
    client = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as never, giveUpAfterMs: 30_000 });
    await client.signup('ann', 'password-123');
    await client.signup('bob', 'password-123');
    await client.login('ann', 'password-123');
  }, 120_000);
  afterAll(async () => {
    client?.close();
    await cluster?.destroy();
  });

  it('three rolling restarts move the cluster to the new secret without an outage; the old one is then refused', async () => {
    const oldSecret = readFileSync(cluster.secretFile, 'utf8').trim();
    const newSecret = `rotated-${Date.now().toString(36)}-secret-value`;
    const oldFile = join(cluster.root, 'old-secret');
    writeFileSync(oldFile, `${oldSecret}\n`, { mode: 0o600 });
    for (const [step, lines] of [
      ['old+new', [oldSecret, newSecret]],
      ['new+old', [newSecret, oldSecret]],
      ['new', [newSecret]],
    ] as const) {
      writeFileSync(cluster.secretFile, lines.join('\n') + '\n', { mode: 0o600 });
      for (const r of cluster.replicas) {
        await r.stop();
        r.start();
        await r.waitHealthy();
        await cluster.leader();
        // Written through whichever replicas lead, with the restarted one at the new step and the others not yet.
        const text = `${step}: after restarting ${r.id}`;
        await client.send('bob', text);
        sent.push(text);
      }
    }
    await waitConverged(cluster.addresses, 60_000);
    const history = await client.history('bob', { limit: 100 });
    expect(history.messages.map((m) => m.text)).toEqual(sent);

    // The old secret pins the old CA: refused at once, with what to do.
    const refused = await cli(['cluster', '--servers', cluster.addresses.join(','), '--secret-file', oldFile, '--timeout', '10', 'transfer', 'r1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^UNTRUSTED: .*secret was rotated/m);
    const leader = await cluster.leader();
    const target = cluster.replicas.find((r) => r !== leader)!;
    const ok = await cli(['cluster', '--servers', cluster.addresses.join(','), '--secret-file', cluster.secretFile, '--timeout', '20', 'transfer', target.id]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 300_000);
});
