// Regression (found by the chaos run): every snapshot a follower installed stayed in snapshots/incoming as a .part
// file (a full copy of the state database per install), and files of transfers a crash interrupted were never
// removed. Installed files are now deleted after the install, and leftovers are deleted at start-up.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/client.js';
import { Cluster, waitConverged, waitFor } from '../helpers/cluster.js';

let cluster: Cluster | null = null;
const clients: QuorumClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cluster?.destroy();
  cluster = null;
});

describe('snapshot files', () => {
  it('a follower keeps no snapshot file after installing one, nor any left by a crashed transfer', async () => {
    cluster = await Cluster.start({ size: 3, extraArgs: ['--compact-every', '100', '--keep-entries', '20'] });
    const c = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as never, giveUpAfterMs: 30_000, requestTimeoutMs: 5_000 });
    clients.push(c);
    await c.signup('sam', 'password-123');
    await c.signup('tia', 'password-123');
    await c.login('sam', 'password-123');
    const leader = await cluster.leader();
    const lagging = cluster.replicas.find((r) => r !== leader)!;
    await lagging.kill();
    // A partial file as a transfer interrupted by a crash leaves it.
    const incoming = join(lagging.options.dataDir, 'snapshots', 'incoming');
    mkdirSync(incoming, { recursive: true });
    writeFileSync(join(incoming, `${leader.id}-7-crashed.part`), Buffer.alloc(4096, 1));
    await Promise.all(Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < 50; i++) await c.send('tia', `w${w}-${i}`);
    }));
    lagging.start();
    await lagging.waitHealthy();
    await waitConverged(cluster.addresses);
    await waitFor('the follower to log its snapshot install', () => /installing snapshot/.test(readFileSync(lagging.options.logFile, 'utf8')), 10_000);
    const left = existsSync(incoming) ? readdirSync(incoming) : [];
    expect(left).toEqual([]);
  });
});
