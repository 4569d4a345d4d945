// Issue 12's "three desktops": three machines in their own network namespaces on one bridge, each running main's
// production modules (test/helpers/desktop-agent.ts: host, team, IPC handlers) with a real replica child. Each starts
// solo as a first install does; the first invites (its replica moves to the LAN and announces itself with mDNS);
// the other two find its team by discovery from their Join screen's call (team:discover), check the invite and join
// from their used installs; autopilot makes them voters; then the leader's machine dies (SIGKILL of its main and
// replica processes) and the chat goes on between the other two, with nothing acknowledged lost.
// Multicast stays inside the namespaces this test makes (deleted at the end).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsLab, netnsUnavailableReason, type Host } from '../helpers/netns.js';
import { describeUnless } from '../helpers/skip.js';
import { closeDesktops, RemoteDesktop } from '../helpers/remote-desktop.js';
import { waitFor } from '../helpers/cluster.js';
import { printLogTimeline } from '../helpers/log-timeline.js';

const PW = 'password-123';
const PORT = 7420;

describeUnless(netnsUnavailableReason(), 'three desktops on one LAN (network namespaces)', () => {
  let lab: NetnsLab;
  let root: string;
  let logFd: number;
  const desktops: RemoteDesktop[] = [];

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'quorum-desktops-netns-'));
    logFd = openSync(join(root, 'desktops.log'), 'a');
    lab = new NetnsLab();
  });

  afterAll(async () => {
    await closeDesktops(desktops);
    lab?.destroy();
    closeSync(logFd);
    if (process.env.QUORUM_KEEP_LOGS) console.log(`logs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  });

  function desktopOn(h: Host): RemoteDesktop {
    const d = new RemoteDesktop(h.name, h.ns, {
      name: h.name,
      userData: join(root, h.name),
      port: PORT,
      logFile: join(root, `${h.name}-replica.log`),
      lanAddress: h.address,
      discoverInterface: h.address,
      autopilot: { enabled: true, voters: 5, stabilizeSeconds: 1, deadAfterSeconds: 30 },
    }, logFd);
    desktops.push(d);
    return d;
  }

  it('find each other by mDNS, two join from the app, autopilot makes three voters, one dies and chat goes on', async ({ onTestFailed }) => {
    // CI deletes its clone: what the replicas said goes to the test's output.
    onTestFailed(() => printLogTimeline(Object.fromEntries(['a', 'b', 'c'].map((n) => [n, join(root, `${n}-replica.log`)]))));
    const [ha, hb, hc] = ['a', 'b', 'c'].map((n) => lab.addHost(n));
    const [a, b, c] = [ha, hb, hc].map(desktopOn);
    await Promise.all([a, b, c].map((d) => d.ready));
    await Promise.all([a, b, c].map((d) => d.call('start')));
    await Promise.all([a, b, c].map((d) => d.waitStatus('a solo first install running', (s) => s.state === 'running' && s.role === 'leader' && s.team.phase === 'solo')));

    // On a: an account and a message, then an invite (the replica restarts on the LAN and announces its team).
    await a.call('login', 'ann', PW, true);
    await a.call('send', 'ann', 'ann', 'before the team');
    const invite = await a.invoke('team:copyInvite');
    expect(invite.servers).toContain(`${ha.address}:${PORT}`);
    const code = await a.call<string>('clipboard');
    const clusterId = (await a.waitStatus('a on the LAN', (s) => s.state === 'running' && s.clusterId !== null && s.team.exposure === 'lan')).clusterId;

    // b and c: their Join screen lists a's team (mDNS inside the namespaces); they check the invite and join.
    for (const d of [b, c]) {
      const found = await waitFor(`${d.name} to discover a's team`, async () => {
        const { teams } = await d.invoke('team:discover', { timeoutSeconds: 2 });
        return teams.find((t) => t.clusterId === clusterId) ?? null;
      }, 30_000, 0);
      expect(found.replicas).toContainEqual({ id: expect.any(String), address: `${ha.address}:${PORT}` });
      const plan = await d.invoke('team:planJoin', { inviteCode: code });
      expect(plan).toMatchObject({ kind: 'join', current: { kind: 'solo' } });
    }
    await Promise.all([b, c].map((d) => d.invoke('team:join', { inviteCode: code })));

    // Autopilot (a leads) promotes both once caught up: three voters.
    for (const d of [b, c]) await d.waitStatus('a voting member of the team', (s) => s.state === 'running' && s.team.phase === 'member' && s.voter === true && s.members === 3);
    await a.waitStatus('a team of three', (s) => s.members === 3);

    // The messages of a's team reach b; then the leader's machine dies and the other two go on.
    await b.call('login', 'ann', PW, false);
    await b.call('send', 'ann', 'ann', 'from b');
    const statuses = await Promise.all([a, b, c].map((d) => d.status()));
    const leader = [a, b, c][statuses.findIndex((s) => s.role === 'leader')];
    expect(leader).toBeDefined();
    await leader.kill();
    const [s1, s2] = [a, b, c].filter((d) => d !== leader);
    await waitFor('a new leader among the other two', async () => ((await Promise.all([s1, s2].map((d) => d.status()))).some((s) => s.role === 'leader') ? true : null), 30_000, 100);
    await s1.call('login', 'ann', PW, false);
    await s1.call('send', 'ann', 'ann', 'after the loss');
    await s2.call('login', 'ann', PW, false);
    expect(await s2.call('texts', 'ann', 'ann')).toEqual(['before the team', 'from b', 'after the loss']);
  }, 90_000);
});
