// Version gates on real processes (replica/chat/versions.ts): a replica started with QUORUM_MAX_VERSION=1 plays the
// release before version 2. While it is a member the cluster runs version 1 and everything works and converges; once it
// is upgraded the leader raises the cluster version; an old replica then refuses to start, stops at the raise when it
// catches up to it (a learner that was down during the raise), and cannot join, each time with one line that says
// to upgrade it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { Cluster, freePort, ReplicaProc, waitConverged, waitFor } from '../helpers/cluster.js';

const OLD = { QUORUM_MAX_VERSION: '1' };
const PW = 'password-version-gates';
const UPGRADE = 'but this replica supports only version 1: upgrade this replica';

let cluster: Cluster;
const joiners = new Map<string, ReplicaProc>();

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3, envOf: (id) => (id === 'r3' ? OLD : {}) });
}, 60_000);

afterAll(async () => {
  closeClients();
  for (const r of joiners.values()) await r.kill();
  await cluster?.destroy();
});

/** A replica that joins the cluster as a learner (an empty data folder). */
async function joiner(id: string, env: Record<string, string>): Promise<ReplicaProc> {
  const r = new ReplicaProc({
    id,
    port: await freePort(),
    dataDir: join(cluster.root, id),
    logFile: join(cluster.root, `${id}.log`),
    extraArgs: ['--join', cluster.addresses.join(','), '--secret-file', cluster.secretFile, '--learner'],
    env,
  });
  joiners.set(id, r);
  r.start();
  return r;
}

/** The plain-text lines the replica wrote since its last start (its stderr; the JSON log lines are left out). */
function linesOfLastRun(r: ReplicaProc): string[] {
  const text = readFileSync(r.options.logFile, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('{'))
    .slice(-3);
}

async function clusterVersions(): Promise<(number | undefined)[]> {
  return Promise.all(cluster.replicas.filter((r) => r.running).map(async (r) => (await r.status()).clusterVersion));
}

/** The versions the leader's record says the members support. */
async function reportedVersions(): Promise<Record<string, number | undefined>> {
  const rows = (await (await cluster.leader()).status()).members;
  return Object.fromEntries(rows.map((m) => [m.id, m.version]));
}

async function sendSome(texts: string[]): Promise<void> {
  const ann = client(cluster.addresses);
  await ann.login('ann', PW);
  for (const text of texts) await ann.send('bob', text);
}

describe('version gates on real processes', () => {
  it('with a replica of version 1 the cluster runs version 1; writes work and every replica converges', async () => {
    const reported = await waitFor('every member to report its version', async () => {
      const versions = await reportedVersions();
      return Object.values(versions).every((v) => v !== undefined) ? versions : null;
    });
    expect(reported).toEqual({ r1: 2, r2: 2, r3: 1 });
    const ann = client(cluster.addresses);
    const bob = client(cluster.addresses);
    await ann.signup('ann', PW);
    await bob.signup('bob', PW);
    await ann.login('ann', PW);
    for (let i = 0; i < 20; i++) await ann.send('bob', `v1-${i}`);
    await waitConverged(cluster.addresses);
    for (const r of cluster.replicas) expect(await r.status()).toMatchObject({ version: r.id === 'r3' ? 1 : 2, clusterVersion: 1 });
  });

  it('a learner of version 2 joins (and reports it), then goes down', async () => {
    const r4 = await joiner('r4', {});
    await r4.waitHealthy(60_000);
    await waitFor('r4 to report version 2', async () => (await reportedVersions()).r4 === 2);
    expect(await clusterVersions()).toEqual([1, 1, 1]);
    await r4.stop();
  });

  it('once the old replica is upgraded, the leader raises the cluster version to 2; writes go on', async () => {
    const r3 = cluster.byId('r3');
    await r3.stop();
    r3.options.env = {};
    r3.start();
    await r3.waitHealthy();
    await waitFor('cluster version 2 on every replica', async () => (await clusterVersions()).every((v) => v === 2));
    await sendSome(['v2-a', 'v2-b']);
    await waitConverged(cluster.addresses);
  });

  it('an old replica refuses to start on the data of a cluster at version 2, with one line', async () => {
    const r3 = cluster.byId('r3');
    await r3.stop();
    r3.options.env = OLD;
    r3.start();
    expect(await r3.exited).toBe(1);
    const lines = linesOfLastRun(r3);
    expect(lines[lines.length - 1]).toBe(
      `UNAVAILABLE: cannot start replica r3: ${join(r3.options.dataDir, 'state.db')}: this replica's cluster runs Quorum version 2, ${UPGRADE}`,
    );
    expect(lines.some((l) => /^\s+at /.test(l))).toBe(false);
    r3.options.env = {};
    r3.start();
    await r3.waitHealthy();
  });

  it('an old replica that was down during the raise starts, and stops at the raise with one line', async () => {
    const r4 = joiners.get('r4')!;
    r4.options.env = OLD;
    r4.start();
    expect(await r4.exited).toBe(1);
    const last = linesOfLastRun(r4).pop();
    // It meets the raise in the log (or, if the log was compacted past it, in the snapshot it is sent).
    expect(last).toMatch(new RegExp(`^UNAVAILABLE: replica r4 stopped after an error: (the cluster moved to Quorum version 2|.*runs Quorum version 2), ${UPGRADE}$`));
    // Upgraded, it catches up and converges.
    r4.options.env = {};
    r4.start();
    await r4.waitHealthy(60_000);
    await sendSome(['v2-c']);
    await waitConverged([...cluster.addresses, r4.address]);
    const ann = client(cluster.addresses);
    await ann.login('ann', PW);
    expect(await conversationTexts(ann, 'bob')).toEqual([...Array.from({ length: 20 }, (_, i) => `v1-${i}`), 'v2-a', 'v2-b', 'v2-c']);
  });

  it('an old replica cannot join a cluster at version 2: it stops once it receives the state, with one line', async () => {
    const r5 = await joiner('r5', OLD);
    expect(await r5.exited).toBe(1);
    expect(linesOfLastRun(r5).pop()).toMatch(new RegExp(`^UNAVAILABLE: replica r5 stopped after an error: .*runs Quorum version 2, ${UPGRADE}$`));
    await sendSome(['after-r5']);
    await waitConverged(cluster.addresses);
  }, 90_000);
});
