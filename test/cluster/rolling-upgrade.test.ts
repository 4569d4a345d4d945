// A rolling upgrade from the previous release's real code (issue 19, "Must show"). version-gates.test.ts plays the
// older release with QUORUM_MAX_VERSION on this code; here the replicas first run the code of the previous release
// (test/helpers/previous-release.ts: commit df1db81, the last one whose replica supports cluster version 2 and not 3;
// releases from before version gates cannot share a cluster with newer ones by design, so this is the release a team
// upgrades from one machine at a time). Three replicas of it take writes from this checkout's client library; then
// each is stopped with SIGTERM (a leader hands over first) and started on this checkout's code on the same data
// folder, while a client keeps writing. While versions are mixed an edit and a group are refused with
// UNSUPPORTED_BY_CLUSTER naming the replicas still to update, and the replicas of both releases hold the same state
// hash at the same applied index; once all are upgraded the cluster version becomes 3 and both work. Every
// acknowledged message is in the history exactly once.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { Cluster, ROOT, waitConverged, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { describeUnless } from '../helpers/skip.js';
import { materialisePreviousRelease, PREVIOUS_RELEASE, previousReleaseUnavailable } from '../helpers/previous-release.js';
import { adminMac } from '../../replica/net/peer-auth.js';
import { readSecret } from '../../replica/cli/replica.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import type { QuorumClient } from '../../replica/client/client.js';

const PW = 'password-rolling-upgrade';
const OLD = PREVIOUS_RELEASE.version;

/**
 * One client that sends ann → bob `w-0`, `w-1`, ... one after another until stopped, and records what was
 * acknowledged and what failed. pause() returns once no write is in flight (so the replicas can settle and be compared).
 */
class Writer {
  readonly acked: string[] = [];
  readonly failed: { text: string; error: string }[] = [];
  private n = 0;
  private stopped = false;
  private hold: { reached: () => void; release: Promise<void>; resume: () => void } | null = null;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly c: QuorumClient) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        if (this.hold) {
          this.hold.reached();
          await this.hold.release;
          continue;
        }
        const text = `w-${this.n++}`;
        try {
          await this.c.send('bob', text);
          this.acked.push(text);
        } catch (err) {
          this.failed.push({ text, error: (err as Error).message });
        }
      }
    })();
  }

  /** Resolves once the writer waits (its in-flight write answered). */
  pause(): Promise<void> {
    return new Promise((reached) => {
      let resume!: () => void;
      const release = new Promise<void>((r) => (resume = r));
      this.hold = { reached, release, resume };
    });
  }

  resume(): void {
    const h = this.hold;
    this.hold = null;
    h?.resume();
  }

  /** Resolves once `count` more writes have been acknowledged than now. */
  progressed(count: number): Promise<number> {
    const target = this.acked.length + count;
    return waitFor(`${count} more acknowledged writes`, () => this.acked.length >= target && this.acked.length, 30_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.resume();
    await this.loop;
  }
}

let codeDir: string;
let cluster: Cluster;
let writer: Writer;
let ann: QuorumClient;
/** The id of the first message (old-0), which the test edits. */
let firstId: number;

describeUnless(previousReleaseUnavailable(), 'rolling upgrade from the previous release (real code)', () => {
  beforeAll(async () => {
    codeDir = mkdtempSync(join(tmpdir(), 'quorum-previous-release-'));
    const oldRoot = materialisePreviousRelease(join(codeDir, 'code'));
    cluster = await Cluster.start({ size: 3, codeRoot: oldRoot });
  }, 60_000);

  afterAll(async () => {
    await writer?.stop();
    closeClients();
    await cluster?.destroy();
    if (codeDir) rmSync(codeDir, { recursive: true, force: true });
  });

  /** Every running replica's cluster version. */
  const clusterVersions = () => Promise.all(cluster.replicas.map(async (r) => (await r.status()).clusterVersion));

  /** Each member's version as the leader's record has it. */
  async function reported(): Promise<Record<string, number | undefined>> {
    return Object.fromEntries((await (await cluster.leader()).status()).members.map((m) => [m.id, m.version]));
  }

  /** With the writer paused: every replica (of either release) at the same applied index with the same state hash. */
  async function convergedWhilePaused(): Promise<void> {
    await writer.pause();
    await waitConverged(cluster.addresses);
    writer.resume();
  }

  /** Stops `r` with SIGTERM (a leader hands over first) and starts this checkout's code on its data folder. */
  async function upgrade(r: ReplicaProc): Promise<void> {
    expect(await r.stop()).toBe(0);
    // The others (a majority) keep taking writes while it is down.
    await writer.progressed(3);
    r.options.codeRoot = ROOT;
    // This code compares state hashes with its peers (often here): it must not send them to the previous release,
    // which refuses a frame carrying one and closes the link.
    r.options.extraArgs = [...(r.options.extraArgs ?? []), '--state-check-every', '10'];
    r.start();
    await r.waitHealthy();
    await waitFor(`${r.id} to report version ${SUPPORTED_VERSION}`, async () => (await reported())[r.id] === SUPPORTED_VERSION);
    await writer.progressed(3);
  }

  /** Leadership to `to` (an admin request to the leader, authorized with the cluster secret). */
  async function transferTo(to: ReplicaProc): Promise<void> {
    const leader = await cluster.leader();
    if (leader === to) return;
    const conn = await RawConn.open(leader.address);
    try {
      await waitFor('the hello', () => conn.frames.length > 0);
      const scope = `transfer|${to.id}`;
      await conn.ok({ op: 'admin', scope, mac: adminMac(readSecret(cluster.secretFile).current, conn.frames[0].nonce, scope) });
      await conn.ok({ op: 'transfer', to: to.id });
    } finally {
      conn.close();
    }
    await waitFor(`${to.id} to lead`, async () => (await cluster.leader()).id === to.id);
  }

  /**
   * Expects an edit and a group to be refused by the leader (of this code), naming `behind` as the replicas still to
   * update; and a replica of the previous release to refuse them as requests it does not know (INVALID).
   */
  async function expectRefused(messageId: number, behind: ReplicaProc[], upgradedLeader: ReplicaProc): Promise<void> {
    // The gate is the leader's: a restart may have moved leadership to a replica of the previous release (which does
    // not know the op at all), so it goes back to an upgraded one first.
    await transferTo(upgradedLeader);
    const who = behind.map((r) => `${r.id} \\(version ${OLD}\\)`).join(', ');
    const refusal = {
      code: 'UNSUPPORTED_BY_CLUSTER',
      message: expect.stringMatching(
        new RegExp(`^update every member to use groups, message edits and search \\(it needs Quorum version 3; the cluster runs version ${OLD}\\); still to update: ${who}$`),
      ),
    };
    // A new connection goes to the leader (its hello names it).
    const c = client(cluster.addresses);
    await c.login('ann', PW);
    expect(c.state.replica?.id).toBe((await cluster.leader()).id);
    await expect(c.edit(messageId, 'edited while mixed')).rejects.toMatchObject(refusal);
    await expect(c.createGroup('team', ['bob'])).rejects.toMatchObject(refusal);
    c.close();
    // A replica of the previous release does not know these requests: a client still connected to one after a
    // leadership change gets INVALID (the UI offers them only at cluster version 3: ClientState.clusterVersion).
    const raw = await RawConn.open(behind[0].address);
    try {
      for (const req of [{ op: 'edit', messageId, text: 'edited while mixed' }, { op: 'createGroup', name: 'team', members: ['bob'] }]) {
        const res = await raw.request({ ...req, session: raw.session() });
        expect(res.error?.code, JSON.stringify(res)).toBe('INVALID');
      }
    } finally {
      raw.close();
    }
  }

  it('three replicas of the previous release take writes from this client library', async () => {
    // A new cluster starts at version 1; its leader raises it once every member reported.
    await waitFor(`cluster version ${OLD} on every replica`, async () => (await clusterVersions()).every((v) => v === OLD));
    for (const r of cluster.replicas) expect(await r.status()).toMatchObject({ version: OLD, clusterVersion: OLD });
    ann = client(cluster.addresses);
    const bob = client(cluster.addresses);
    await ann.signup('ann', PW);
    await bob.signup('bob', PW);
    await ann.login('ann', PW);
    firstId = (await ann.send('bob', 'old-0')).id;
    for (let i = 1; i < 10; i++) await ann.send('bob', `old-${i}`);
    const w = client(cluster.addresses);
    await w.login('ann', PW);
    writer = new Writer(w);
    writer.start();
    await writer.progressed(3);
    await convergedWhilePaused();
  });

  it('upgraded one at a time while a client writes: v3 features refused while mixed, naming who is behind; states agree', async () => {
    // The leader first: SIGTERM hands leadership to another replica of the previous release.
    const oldLeader = await cluster.leader();
    await upgrade(oldLeader);
    // Leadership back to the upgraded replica (granted by a leader of the previous release): the gate is the leader's.
    await transferTo(oldLeader);
    let behind = cluster.replicas.filter((r) => r !== oldLeader);
    await expectRefused(firstId, behind, oldLeader);
    await convergedWhilePaused();
    expect(await clusterVersions()).toEqual([OLD, OLD, OLD]);

    // Then the followers, one at a time.
    await upgrade(behind[0]);
    behind = behind.slice(1);
    await expectRefused(firstId, behind, oldLeader);
    await convergedWhilePaused();
    expect(await clusterVersions()).toEqual([OLD, OLD, OLD]);
    await upgrade(behind[0]);
    for (const r of cluster.replicas) expect(readFileSync(r.options.logFile, 'utf8'), `${r.id}'s log`).not.toMatch(/invalid peer frame/);
  });

  it('once all run this code the cluster version is raised; edits and groups work; no acknowledged write is lost', async () => {
    await waitFor(`cluster version ${SUPPORTED_VERSION} on every replica`, async () => (await clusterVersions()).every((v) => v === SUPPORTED_VERSION));
    await ann.edit(firstId, 'old-0 (edited)');
    await ann.createGroup('team', ['bob']);
    await ann.sendToGroup('team', 'hello team');
    await writer.progressed(3);
    await writer.stop();
    expect(writer.failed).toEqual([]);
    await waitConverged(cluster.addresses);

    const texts = await conversationTexts(ann, 'bob');
    const old = Array.from({ length: 10 }, (_, i) => `old-${i}`);
    old[0] = 'old-0 (edited)';
    // Every acknowledged write, once each, in the order they were sent.
    expect(texts).toEqual([...old, ...writer.acked]);
    expect(writer.acked.length).toBeGreaterThan(20);
    expect((await ann.groupHistory('team')).messages.map((m) => m.text)).toContain('hello team');
    // At cluster version 3 the replicas compare state hashes, and agree.
    await waitFor('state hashes compared', async () => (await Promise.all(cluster.replicas.map((r) => r.status()))).every((s) => s.members.some((m) => m.stateCheck?.agrees === true)));
    for (const r of cluster.replicas) expect((await r.status()).stateCheck?.mismatches).toBe(0);
  });
});
