// Autopilot on real processes (short stabilization and dead-after times): members join one by one as learners and
// the leader keeps an odd number of voters (1, 1, 3, 3, 5, 5); a voter stopped (SIGSTOP) past dead-after is demoted
// and a learner takes its vote; `status` and /metrics say so; a leader that quits hands over and its vote moves on;
// no acknowledged message is lost.
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { Cluster, ReplicaProc, REPLICA_CLI, ROOT, freePort, waitFor } from '../helpers/cluster.js';
import { printLogTimeline } from '../helpers/log-timeline.js';
import type { ReplicaStatus, ReplicaStatusRow } from '../../replica/protocol/index.js';

const PW = 'password-123';
const STABILIZE_S = 1;
const DEAD_AFTER_S = 4;
const FAST = ['--autopilot-stabilize', String(STABILIZE_S), '--autopilot-dead-after', String(DEAD_AFTER_S)];

let procs: ReplicaProc[] = [];
let cluster: Cluster | null = null;
let dir: string | null = null;

afterEach(async (ctx) => {
  // CI deletes its clone: what the replicas said goes to the failing test's output.
  if (ctx.task.result?.state === 'fail') printLogTimeline(Object.fromEntries([...(cluster?.replicas ?? []), ...procs].map((r) => [r.id, r.options.logFile])));
  closeClients();
  await Promise.all(procs.map((r) => r.kill()));
  procs = [];
  await cluster?.destroy();
  cluster = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

async function replica(root: string, id: string, args: string[]): Promise<ReplicaProc> {
  const r = new ReplicaProc({ id, port: await freePort(), dataDir: join(root, id), logFile: join(root, `${id}.log`), extraArgs: args });
  procs.push(r);
  r.start();
  return r;
}

/** The status of the replica that leads (with a majority), as it reports itself. */
async function leaderStatus(replicas: ReplicaProc[], what: string, holds: (st: ReplicaStatus) => boolean, timeoutMs = 60_000): Promise<ReplicaStatus> {
  return waitFor(what, async () => {
    const sts = await Promise.all(replicas.filter((r) => r.running).map((r) => r.status().catch(() => null)));
    const leader = sts.find((s) => s?.role === 'leader' && s.quorum);
    return leader && holds(leader) ? leader : null;
  }, timeoutMs, 100);
}

const voters = (st: ReplicaStatus) => st.members.filter((m) => m.voter).map((m) => m.id).sort();
const row = (st: ReplicaStatus, id: string): ReplicaStatusRow => st.members.find((m) => m.id === id)!;
const healthyFor = (m: ReplicaStatusRow, ms: number) => m.autopilot?.health === 'healthy' && Date.now() - m.autopilot.since >= ms;

function statusCli(servers: string[]): { replicas: { id: string; membership: string | null; reachable: boolean }[]; autopilot: { desiredVoters: number } | null } {
  const r = spawnSync(process.execPath, [REPLICA_CLI, 'status', '--servers', servers.join(','), '--json', '--timeout', '2'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('autopilot on real processes', () => {
  it('keeps an odd number of voters as members join one by one: 1, 1, 3, 3, 5, 5', async () => {
    dir = mkdtempSync(join(tmpdir(), 'quorum-autopilot-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 'autopilot-test-secret\n', { mode: 0o600 });
    const first = await replica(dir, 'r1', ['--secret-file', secretFile, ...FAST]);
    await first.waitHealthy();
    const expected = [1, 1, 3, 3, 5, 5];
    const seen: number[] = [];
    for (let n = 1; n <= expected.length; n++) {
      if (n > 1) {
        const r = await replica(dir, `r${n}`, ['--join', procs.map((p) => p.address).join(','), '--secret-file', secretFile, '--learner', ...FAST]);
        await waitFor(`r${n} to report the join complete`, () => readFileSync(r.options.logFile, 'utf8').includes('join: complete'), 60_000, 100);
      }
      // Settled: every member caught up for a while (longer than stabilization, so a due promotion has happened),
      // and the voter count the leader aims at reached.
      const st = await leaderStatus(procs, `${n} members settled`, (s) =>
        s.members.length === n &&
        s.members.every((m) => healthyFor(m, 3 * STABILIZE_S * 1000)) &&
        s.autopilot?.desiredVoters === voters(s).length &&
        s.autopilot.waiting === null,
      );
      seen.push(voters(st).length);
    }
    expect(seen).toEqual(expected);
  }, 240_000);

  it('demotes a voter stopped past dead-after, a learner takes its vote, a quitting leader hands over; nothing acknowledged is lost', async () => {
    cluster = await Cluster.start({ size: 3, extraArgs: [...FAST, '--autopilot-voters', '3'] });
    const all = () => [...cluster!.replicas, ...procs];
    for (const id of ['r4', 'r5']) {
      await replica(cluster.root, id, ['--join', cluster.addresses.join(','), '--secret-file', cluster.secretFile, '--learner', ...FAST, '--autopilot-voters', '3']);
    }
    await leaderStatus(all(), 'three voters and two healthy learners', (s) => s.members.length === 5 && voters(s).length === 3 && s.members.every((m) => healthyFor(m, 0)));

    const a = client(cluster.addresses);
    await a.signup('amy', PW);
    await a.signup('bo', PW);
    await a.login('amy', PW);
    const acked: string[] = [];
    const send = async (prefix: string, count: number) => {
      for (let i = 0; i < count; i++) {
        await a.send('bo', `${prefix}-${i}`);
        acked.push(`${prefix}-${i}`);
      }
    };
    await send('before', 20);

    const leader = await cluster.leader();
    const victim = cluster.replicas.find((r) => r !== leader)!;
    victim.signal('SIGSTOP');
    const replaced = await leaderStatus(all(), `${victim.id} demoted and a learner promoted`, (s) => !row(s, victim.id).voter && voters(s).length === 3, 60_000);
    const demoted = row(replaced, victim.id).autopilot!;
    expect(demoted.lastChange).toMatchObject({ op: 'demote', id: victim.id, reason: 'dead-voter' });
    expect(demoted.lastChange!.explanation).toMatch(new RegExp(`^${victim.id} has been unreachable for \\d+ s \\(dead after ${DEAD_AFTER_S} s\\)`));
    const promoted = replaced.autopilot!.recent.find((c) => c.op === 'promote')!;
    expect(promoted).toMatchObject({ reason: 'stable-learner' });
    expect(['r4', 'r5']).toContain(promoted.id);
    expect(voters(replaced)).toEqual([leader.id, promoted.id, ...cluster.replicas.map((r) => r.id).filter((id) => id !== leader.id && id !== victim.id)].sort());
    expect(readFileSync(leader.options.logFile, 'utf8')).toMatch(new RegExp(`autopilot: demoting ${victim.id}`));

    // What an operator sees: the status command's membership column, and the counters.
    const report = statusCli(all().filter((r) => r !== victim).map((r) => r.address));
    const line = (id: string) => report.replicas.find((r) => r.id === id)?.membership;
    expect(line(victim.id)).toMatch(/^demoted: unreachable for \d+ s$/);
    expect(line(promoted.id)).toMatch(/^voter since \d\d:\d\d$/);
    expect(report.autopilot?.desiredVoters).toBe(3);
    const metrics = await (await fetch(`http://${leader.address}/metrics`)).text();
    expect(metrics).toMatch(/quorum_autopilot_changes_total\{op="demote",reason="dead-voter"[^}]*\} 1/);
    expect(metrics).toMatch(/quorum_autopilot_changes_total\{op="promote",reason="stable-learner"[^}]*\} 1/);

    await send('while-stopped', 20);
    victim.signal('SIGCONT');
    // Back, it stays a learner: five members, three voters wanted.
    await leaderStatus(all(), `${victim.id} back as a healthy learner`, (s) => healthyFor(row(s, victim.id), 3 * STABILIZE_S * 1000) && voters(s).length === 3);
    expect(voters(await leaderStatus(all(), 'the same voters', () => true))).toEqual(voters(replaced));

    // The leader quits: it hands leadership over first, then its vote moves to a learner once it is dead-after gone.
    leader.signal('SIGTERM');
    expect(await leader.exited).toBe(0);
    expect(readFileSync(leader.options.logFile, 'utf8')).toMatch(/leadership transferred/);
    const after = await leaderStatus(all(), `${leader.id}'s vote moved to a learner`, (s) => !row(s, leader.id).voter && voters(s).length === 3, 60_000);
    expect(row(after, leader.id).autopilot?.lastChange).toMatchObject({ op: 'demote', reason: 'dead-voter' });

    await send('after', 20);
    const b = client(all().filter((r) => r.running).map((r) => r.address));
    await b.login('bo', PW);
    const got = await conversationTexts(b, 'amy');
    expect(got).toEqual(acked);
  }, 240_000);
});
