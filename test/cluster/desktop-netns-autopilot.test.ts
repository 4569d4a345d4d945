// Issue 12's four desktops: autopilot keeps a team's own voters while its machines sleep and quit. Four machines in
// their own network namespaces on one bridge, each running main's production modules (test/helpers/desktop-agent.ts)
// with a real replica child. Each starts solo as a first install does; the user sets Autopilot in Settings on each
// (3 voters, stabilize 1 s, dead after 5 s: the replica restarts with them); the first invites and the other three join
// from their used installs. Autopilot makes three voters and leaves the fourth an idle learner. Then, while a user
// writes on the idle learner's machine all along:
//  - a voter's machine sleeps (SIGSTOP to its whole process group: main and replica) past dead-after: the leader
//    demotes it (dead-voter, "demoted: unreachable for N s" in the Cluster view) and the idle learner takes its vote;
//    woken (SIGCONT), it comes back as a learner and stays one;
//  - the leader's machine quits the way the app quits (main/quit.ts: hand leadership over, then stop the replica):
//    the quit reports its hand-over step, its replica saw the new leader take over before it stopped, and once it
//    is dead-after gone its vote moves to the woken learner;
// and at the end every message acknowledged at any point is read back exactly once, in order.
// (desktop-netns-team.test.ts covers discovery by mDNS and a machine that dies; this file joins by invite code.)
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsLab, netnsUnavailableReason, type Host } from '../helpers/netns.js';
import { describeUnless } from '../helpers/skip.js';
import { closeDesktops, RemoteDesktop } from '../helpers/remote-desktop.js';
import { waitFor } from '../helpers/cluster.js';
import { printLogTimeline } from '../helpers/log-timeline.js';
import type { AutopilotConfig } from '../../main/ipc-contract.js';
import type { ReplicaStatus, ReplicaStatusRow } from '../../replica/protocol/index.js';
import { describeMember } from '../../replica/protocol/autopilot.js';

const PW = 'password-123';
const PORT = 7420;
const AUTOPILOT: AutopilotConfig = { enabled: true, voters: 3, stabilizeSeconds: 1, deadAfterSeconds: 5 };

const voters = (st: ReplicaStatus) => st.members.filter((m) => m.voter).map((m) => m.id).sort();
const row = (st: ReplicaStatus, id: string): ReplicaStatusRow => {
  const r = st.members.find((m) => m.id === id);
  if (!r) throw new Error(`${id} is not a member: ${st.members.map((m) => m.id).join(', ')}`);
  return r;
};
const healthyFor = (m: ReplicaStatusRow, ms: number) => m.autopilot?.health === 'healthy' && Date.now() - m.autopilot.since >= ms;

describeUnless(netnsUnavailableReason(), 'four desktops on one LAN: autopilot through a sleep and a quit (network namespaces)', () => {
  let lab: NetnsLab | undefined;
  let root: string;
  let logFd: number;
  const desktops: RemoteDesktop[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'quorum-desktops-autopilot-'));
    logFd = openSync(join(root, 'desktops.log'), 'a');
    lab = new NetnsLab();
  });

  afterAll(async () => {
    // A paused machine is thawed first (close() does), so that it can stop its replica and exit.
    await closeDesktops(desktops);
    lab?.destroy();
    closeSync(logFd);
    if (process.env.QUORUM_KEEP_LOGS) console.log(`logs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  });

  function desktopOn(h: Host): RemoteDesktop {
    // No autopilot option: the app's defaults (5 voters, 10 s, 300 s) until the user changes them in Settings.
    const d = new RemoteDesktop(h.name, h.ns, { name: h.name, userData: join(root, h.name), port: PORT, logFile: join(root, `${h.name}-replica.log`), lanAddress: h.address }, logFd);
    desktops.push(d);
    return d;
  }

  it('three voters and an idle learner: a sleeping voter is replaced by the learner, a quitting leader hands over, nothing acknowledged is lost', async ({ onTestFailed }) => {
    // CI deletes its clone: what the replicas said goes to the test's output.
    onTestFailed(() => printLogTimeline(Object.fromEntries(['a', 'b', 'c', 'd'].map((n) => [n, join(root, `${n}-replica.log`)]))));
    const all = ['a', 'b', 'c', 'd'].map((n) => desktopOn(lab!.addHost(n)));
    const [a] = all;
    await Promise.all(all.map((d) => d.ready));
    await Promise.all(all.map((d) => d.call('start')));
    await Promise.all(all.map((d) => d.waitStatus('a solo first install running', (s) => s.state === 'running' && s.role === 'leader' && s.team.phase === 'solo')));

    // Settings → Autopilot on every machine, as the user sets it (replica:setConfig restarts the replica with it).
    await Promise.all(all.map(async (d) => d.invoke('replica:setConfig', { ...(await d.status()).config, autopilot: AUTOPILOT })));
    await Promise.all(all.map((d) => d.waitStatus('running with the new autopilot settings', (s) => s.state === 'running' && s.role === 'leader' && s.config.autopilot.voters === 3)));

    // On a: two accounts and a first message, then an invite; the other three join from their used installs.
    await a.call('login', 'amy', PW, true);
    await a.call('login', 'bo', PW, true);
    await a.call('send', 'amy', 'bo', 'before the team');
    await a.invoke('team:copyInvite');
    const code = await a.call<string>('clipboard');
    await a.waitStatus('a on the LAN', (s) => s.state === 'running' && s.team.exposure === 'lan');
    await Promise.all(all.slice(1).map((d) => d.invoke('team:join', { inviteCode: code })));
    const after = await Promise.all(all.map((d) => d.waitStatus('a member of the team of four', (s) => s.state === 'running' && s.members === 4 && s.replicaId !== null && (s.team.phase === 'member' || d === a))));
    const ids = new Map(all.map((d, i) => [d, after[i].replicaId!]));
    const id = (d: RemoteDesktop) => ids.get(d)!;
    const byId = (replicaId: string) => all.find((d) => id(d) === replicaId)!;

    // Autopilot (target 3) makes three voters; the fourth stays an idle learner. Its user logs in and starts writing.
    const idle = await waitFor('a learner of the team', async () => {
      const s = await Promise.all(all.map((d) => d.status()));
      const learners = all.filter((_, i) => s[i].voter === false);
      return s.filter((x) => x.voter === true).length === 3 && learners.length === 1 ? learners[0] : null;
    }, 60_000, 200);
    await idle.call('login', 'amy', PW, false);
    // What the Cluster view on the idle machine shows: the leader's status (the writer keeps the client on the leader).
    const view = (what: string, holds: (st: ReplicaStatus) => boolean, timeoutMs = 60_000) =>
      waitFor(`${what} (the leader's view)`, async () => {
        const st = await idle.call<ReplicaStatus>('clusterStatus', 'amy');
        return st.role === 'leader' && st.quorum && holds(st) ? st : null;
      }, timeoutMs, 200);
    await idle.call('startWriter', 'amy', 'bo', 'msg', 50);
    const acked = async () => (await idle.call<{ acked: number }>('writerProgress')).acked;
    const writesGoOn = async (what: string) => {
      const base = await acked();
      await waitFor(`five more messages acknowledged ${what}`, async () => (await acked()) >= base + 5, 60_000, 100);
    };

    const settled = await view('four members, three voters, all healthy', (st) =>
      st.members.length === 4 && voters(st).length === 3 && st.members.every((m) => m.autopilot?.health === 'healthy') && st.autopilot?.waiting === null,
    );
    expect(settled.autopilot).toMatchObject({ enabled: true, targetVoters: 3, desiredVoters: 3, stabilizeMs: 1_000, deadAfterMs: 5_000 });
    expect(row(settled, id(idle)).voter).toBe(false);
    const leader = byId(settled.id);
    const [sleeper, other] = all.filter((d) => d !== leader && d !== idle);
    await writesGoOn('before anything happens');

    // The sleeper's machine sleeps past dead-after: demoted as unreachable, and the idle learner takes its vote.
    sleeper.pause();
    const replaced = await view(`${sleeper.name} demoted and ${idle.name} promoted`, (st) => !row(st, id(sleeper)).voter && row(st, id(idle)).voter && voters(st).length === 3, 90_000);
    expect(replaced.id).toBe(id(leader));
    expect(voters(replaced)).toEqual([id(leader), id(other), id(idle)].sort());
    const demotion = row(replaced, id(sleeper)).autopilot!.lastChange!;
    expect(demotion).toMatchObject({ op: 'demote', id: id(sleeper), reason: 'dead-voter' });
    expect(demotion.explanation).toMatch(new RegExp(`^${id(sleeper)} has been unreachable for \\d+ s \\(dead after ${AUTOPILOT.deadAfterSeconds} s\\)`));
    expect(describeMember(row(replaced, id(sleeper)), Date.now())).toMatch(/^demoted: unreachable for \d+ s$/);
    expect(row(replaced, id(idle)).autopilot!.lastChange).toMatchObject({ op: 'promote', id: id(idle), reason: 'stable-learner' });
    expect(describeMember(row(replaced, id(idle)), Date.now())).toMatch(/^voter since \d\d:\d\d$/);
    const metrics = await leader.call<string>('metrics');
    expect(metrics).toMatch(/quorum_autopilot_changes_total\{op="demote",reason="dead-voter"[^}]*\} 1/);
    await writesGoOn(`while ${sleeper.name} sleeps`);

    // Woken, it comes back as a learner and stays one: three voters are wanted and there are three.
    sleeper.resume();
    await sleeper.waitStatus('back as a learner', (s) => s.state === 'running' && s.team.phase === 'member' && s.voter === false);
    const back = await view(`${sleeper.name} back, healthy for a while`, (st) => healthyFor(row(st, id(sleeper)), 3 * AUTOPILOT.stabilizeSeconds * 1000));
    expect(row(back, id(sleeper)).voter).toBe(false);
    expect(voters(back)).toEqual(voters(replaced));

    // The leader's machine quits as the app quits: the quit hands leadership over, then stops the replica.
    const quit = await leader.call<{ step?: string; msg?: string }[]>('quit');
    expect(quit.map((e) => e.step ?? e.msg)).toEqual(['handingOver', 'this machine leads: transferring leadership before quitting', 'leadership transferred', 'stopping']);
    // Its replica waited until the new leader led (replica/node/leadership.ts) before it stopped.
    const lines = readFileSync(join(root, `${leader.name}-replica.log`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; to?: string });
    const handedTo = lines.filter((l) => l.msg === 'leadership transferred').at(-1)?.to;
    expect([id(other), id(idle)]).toContain(handedTo);
    expect(lines.some((l) => /transfer before stop failed/.test(l.msg))).toBe(false);
    expect((await leader.status()).state).toBe('stopped');
    const moved = await view(`${leader.name}'s vote moved to ${sleeper.name}`, (st) => !row(st, id(leader)).voter && row(st, id(sleeper)).voter && voters(st).length === 3, 90_000);
    expect(moved.id).toBe(handedTo);
    expect(row(moved, id(leader)).autopilot!.lastChange).toMatchObject({ op: 'demote', reason: 'dead-voter' });
    expect(row(moved, id(sleeper)).autopilot!.lastChange).toMatchObject({ op: 'promote', reason: 'stable-learner' });
    await writesGoOn(`after ${leader.name} quit`);

    // Every acknowledged message, read on another machine: each once, in the order written. A send that failed (its
    // outcome unknown to the writer) may or may not be there, but never twice.
    const written = await idle.call<{ acked: string[]; failed: { text: string; error: string }[] }>('stopWriter');
    await other.call('login', 'bo', PW, false);
    const got = await other.call<string[]>('texts', 'bo', 'amy');
    const unknown = new Set(written.failed.map((f) => f.text));
    expect(got.filter((t) => !unknown.has(t))).toEqual(['before the team', ...written.acked]);
    expect(new Set(got).size).toBe(got.length);
    console.log(`four desktops: ${written.acked.length} messages acknowledged, ${written.failed.length} failed (${written.failed.map((f) => f.error).join('; ') || 'none'})`);
  }, 180_000);
});
