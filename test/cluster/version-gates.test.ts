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
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';

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
    expect(reported).toEqual({ r1: SUPPORTED_VERSION, r2: SUPPORTED_VERSION, r3: 1 });
    const ann = client(cluster.addresses);
    const bob = client(cluster.addresses);
    await ann.signup('ann', PW);
    await bob.signup('bob', PW);
    await ann.login('ann', PW);
    for (let i = 0; i < 20; i++) await ann.send('bob', `v1-${i}`);
    await waitConverged(cluster.addresses);
    for (const r of cluster.replicas) expect(await r.status()).toMatchObject({ version: r.id === 'r3' ? 1 : SUPPORTED_VERSION, clusterVersion: 1 });
    // A feature the old replica lacks is refused, naming what to update; nothing changes.
    const [first] = (await ann.history('bob', { limit: 1 })).messages;
    await expect(ann.edit(first.id, 'edited while mixed')).rejects.toMatchObject({
      code: 'UNSUPPORTED_BY_CLUSTER',
      message: expect.stringMatching(/^update every member to use groups, message edits and search \(it needs Quorum version 3; the cluster runs version 1\); still to update: r3 \(version 1\)$/),
    });
  });

  it('a learner of the newest version joins (and reports it), then goes down', async () => {
    const r4 = await joiner('r4', {});
    await r4.waitHealthy(60_000);
    await waitFor('r4 to report its version', async () => (await reportedVersions()).r4 === SUPPORTED_VERSION);
    expect(await clusterVersions()).toEqual([1, 1, 1]);
    await r4.stop();
  });

  it('once the old replica is upgraded, the leader raises the cluster version to the newest; edits work then; writes go on', async () => {
    const r3 = cluster.byId('r3');
    await r3.stop();
    r3.options.env = {};
    r3.start();
    await r3.waitHealthy();
    await waitFor('the newest cluster version on every replica', async () => (await clusterVersions()).every((v) => v === SUPPORTED_VERSION));
    await sendSome(['v2-a', 'v2-b']);
    const ann = client(cluster.addresses);
    await ann.login('ann', PW);
    const [first] = (await ann.history('bob', { limit: 1, before: Number.MAX_SAFE_INTEGER })).messages;
    await ann.edit(first.id, 'v2-b');
    await ann.edit(first.id, first.text);
    await waitConverged(cluster.addresses);
  });

  it('an old replica refuses to start on the data of a cluster at a newer version, with one line', async () => {
    const r3 = cluster.byId('r3');
    await r3.stop();
    r3.options.env = OLD;
    r3.start();
    expect(await r3.exited).toBe(EXIT_STATUS.VERSION);
    const lines = linesOfLastRun(r3);
    expect(lines[lines.length - 1]).toBe(
      `VERSION: cannot start replica r3: ${join(r3.options.dataDir, 'state.db')}: this replica's cluster runs Quorum version ${SUPPORTED_VERSION}, ${UPGRADE}`,
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
    expect(await r4.exited).toBe(EXIT_STATUS.VERSION);
    const last = linesOfLastRun(r4).pop();
    // It meets the raise in the log (or, if the log was compacted past it, in the snapshot it is sent).
    expect(last).toMatch(new RegExp(`^VERSION: replica r4: (the cluster moved to Quorum version ${SUPPORTED_VERSION}|.*runs Quorum version ${SUPPORTED_VERSION}), ${UPGRADE}$`));
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

  it('an old replica cannot join a cluster at a newer version: it stops once it receives the state, with one line', async () => {
    const r5 = await joiner('r5', OLD);
    expect(await r5.exited).toBe(EXIT_STATUS.VERSION);
    expect(linesOfLastRun(r5).pop()).toMatch(new RegExp(`^VERSION: replica r5: .*runs Quorum version ${SUPPORTED_VERSION}, ${UPGRADE}$`));
    await sendSome(['after-r5']);
    await waitConverged(cluster.addresses);
  }, 90_000);
});

describe('snapshots across versions on real processes', () => {
  let mixed: Cluster;
  afterAll(async () => {
    closeClients();
    await mixed?.destroy();
  });

  it('a replica of the previous release is sent no snapshot it cannot read: it waits, and catches up once upgraded', async () => {
    const PREVIOUS = { QUORUM_MAX_VERSION: String(SUPPORTED_VERSION - 1) };
    mixed = await Cluster.start({ size: 3, extraArgs: ['--compact-every', '40', '--keep-entries', '5'], envOf: (id) => (id === 'r3' ? PREVIOUS : {}) });
    const ann = client(mixed.addresses);
    await ann.signup('ann', PW);
    await ann.signup('bob', PW);
    await ann.login('ann', PW);
    await waitFor('every member to report its version', async () => (await (await mixed.leader()).status()).members.every((m) => m.version !== undefined));
    const r3 = mixed.byId('r3');
    await r3.stop();
    // Far enough for the leader to compact past r3: it would need a snapshot, in a format its release cannot read.
    for (let i = 0; i < 120; i++) await ann.send('bob', `while r3 is down ${i}`);
    r3.start();
    const leader = await mixed.leader();
    await waitFor('the leader to withhold the snapshot', () => readFileSync(leader.options.logFile, 'utf8').includes('snapshot withheld: r3 supports version'));
    // r3 waits (no snapshot, no stop); the others go on.
    expect(r3.running).toBe(true);
    expect((await r3.status()).appliedIndex).toBeLessThan((await leader.status()).appliedIndex - 100);
    await ann.send('bob', 'still writing');
    // Upgraded, it gets the snapshot and converges; then the cluster moves to the newest version.
    await r3.stop();
    r3.options.env = {};
    r3.start();
    await waitConverged(mixed.addresses, 60_000);
    await waitFor('the newest cluster version', async () => (await leader.status()).clusterVersion === SUPPORTED_VERSION);
  }, 180_000);
});
