// What the desktop window says about its host and team, which URL it uses for a replica (plain only to this machine),
// and how a throttled login reads.
import { describe, expect, it } from 'vitest';
import { desktopReplicaUrl } from '../../renderer/src/net/replica-url.js';
import { readableError } from '../../renderer/src/errors.js';
import { describeHost, describePlan, hostTrouble } from '../../renderer/src/store/host.js';
import { QuorumError } from '../../replica/protocol/errors.js';
import { clusterNodes, learnersHeldText } from '../../renderer/src/ui/ClusterView.js';
import type { ReplicaStatus } from '../../replica/protocol/client.js';
import { AUTOPILOT_CONFIG_DEFAULTS, type HostStatus } from '../../main/ipc-contract.js';

function hostStatus(over: Partial<HostStatus>): HostStatus {
  return {
    state: 'running',
    config: { enabled: true, dataDir: '/home/ann/.config/Quorum/replica', port: 7420, autopilot: AUTOPILOT_CONFIG_DEFAULTS },
    address: '127.0.0.1:7420',
    replicaId: 'ann-1',
    role: 'leader',
    term: 2,
    members: 1,
    voter: true,
    clusterId: 'c1',
    restarts: 0,
    restartInMs: null,
    lastError: null,
    team: { phase: 'solo', exposure: 'loopback', joiningVia: null, backupDir: null, joinError: null },
    secrets: { kind: 'keystore', detail: 'encrypted' },
    disk: null,
    at: 1_000,
    ...over,
  };
}

describe('the desktop window', () => {
  it('reaches its own replica in plain text and every other machine over wss://', () => {
    expect(desktopReplicaUrl('127.0.0.1:7420')).toBe('ws://127.0.0.1:7420/client');
    expect(desktopReplicaUrl('localhost:7420')).toBe('ws://localhost:7420/client');
    expect(desktopReplicaUrl('[::1]:7420')).toBe('ws://[::1]:7420/client');
    expect(desktopReplicaUrl('192.168.1.20:7420')).toBe('wss://192.168.1.20:7420/client');
    expect(desktopReplicaUrl('127.example.com:7420')).toBe('wss://127.example.com:7420/client');
    expect(desktopReplicaUrl('desk-7.local:7420')).toBe('wss://desk-7.local:7420/client');
    expect(desktopReplicaUrl('not an address')).toBe('wss://not an address/client');
  });

  it('says how long to wait after too many failed logins', () => {
    expect(readableError(new QuorumError('RATE_LIMITED', 'slow down', null, 39_200))).toBe('Too many attempts. Try again in 40 s.');
    expect(readableError(new QuorumError('RATE_LIMITED', 'slow down', null, 301_000))).toBe('Too many attempts. Try again in 6 min.');
    expect(readableError(new QuorumError('RATE_LIMITED', 'slow down'))).toMatch(/Wait a moment/);
  });

  it('shows a full disk, a data folder in use, damaged data and low space in the connection bar, and nothing when all is well', () => {
    const storage = { freeBytes: 300 * 2 ** 20, totalBytes: 2 ** 34, warnBelowBytes: 512 * 2 ** 20, lowSpace: true };
    expect(hostTrouble(hostStatus({}), 1_000)).toBeNull();
    expect(hostTrouble(hostStatus({ disk: { ...storage, lowSpace: false } }), 1_000)).toBeNull();
    expect(hostTrouble(hostStatus({ state: 'diskFull', disk: { ...storage, freeBytes: 0 } }), 1_000)).toMatchObject({ tone: 'error', text: expect.stringMatching(/^disk full: .*free space on the disk of \/home\/ann\/\.config\/Quorum\/replica, then start it again/) });
    expect(hostTrouble(hostStatus({ state: 'folderInUse' }), 1_000)).toMatchObject({ tone: 'error', text: expect.stringMatching(/^another Quorum is using \/home\/ann\/\.config\/Quorum\/replica/) });
    expect(hostTrouble(hostStatus({ state: 'damaged' }), 1_000)).toMatchObject({ tone: 'error', text: expect.stringMatching(/damaged data/) });
    expect(hostTrouble(hostStatus({ state: 'outdated' }), 1_000)).toMatchObject({ tone: 'error', text: expect.stringMatching(/update Quorum$/) });
    expect(describeHost(hostStatus({ state: 'outdated' }), 1_000)).toMatch(/Update Quorum, then start it again\.$/);
    expect(hostTrouble(hostStatus({ disk: storage }), 1_000)).toEqual({ tone: 'warn', text: 'low disk space: 300 MB free for this machine’s replica' });
    expect(hostTrouble(hostStatus({ state: 'crashed', restartInMs: 2_000 }), 1_500)).toMatchObject({ text: 'this machine’s replica crashed; restarting in 2 s' });
  });

  it('says where a solo install’s data goes before it joins another team', () => {
    const lines = describePlan({
      kind: 'join',
      current: { kind: 'solo' },
      backupDir: '/home/ann/.config/Quorum/replica-backup-2026-12-04-104233',
      target: { leader: 'bob-1', members: [{ id: 'bob-1', address: '10.0.0.2:7420', voter: true }, { id: 'cy-1', address: '10.0.0.3:7420', voter: false }] },
    });
    expect(lines[0]).toBe('The invite reached a team of 2 machines (1 voting, led by bob-1).');
    expect(lines[1]).toMatch(/moved to a backup folder dated when you confirm, like \/home\/ann\/\.config\/Quorum\/replica-backup-2026-12-04-104233\. They are never mixed into the team you join/);
    expect(lines[2]).toMatch(/logged out/);
  });

  it('shows autopilot’s view of each member, and the role the leader knows when a member did not answer the window', () => {
    const now = new Date(2026, 11, 4, 12, 0, 0).getTime();
    const tenFortyTwo = new Date(2026, 11, 4, 10, 42, 0).getTime();
    const leader: ReplicaStatus = {
      id: 'a', address: '10.0.0.1:7420', role: 'leader', term: 3, leader: { id: 'a', address: '10.0.0.1:7420' },
      commitIndex: 9, appliedIndex: 9, lastIndex: 9, voter: true, quorum: true,
      members: [
        { id: 'a', address: '10.0.0.1:7420', voter: true, match: 9, reachable: true, autopilot: { health: 'healthy', since: tenFortyTwo, roleSince: tenFortyTwo, lastChange: null } },
        { id: 'b', address: '10.0.0.2:7420', voter: false, match: 4, reachable: true, autopilot: { health: 'catchingUp', since: now - 5_000, roleSince: null, lastChange: null } },
        { id: 'c', address: '10.0.0.3:7420', voter: false, reachable: false, autopilot: { health: 'unreachable', since: now - 6 * 60_000, roleSince: null, lastChange: { op: 'demote', id: 'c', at: now - 60_000, reason: 'dead-voter', explanation: 'unreachable for 5 min' } } },
      ],
    };
    const rows = clusterNodes(leader, { '10.0.0.2:7420': null, '10.0.0.3:7420': null }, now);
    expect(rows.map((r) => [r.id, r.role, r.membership])).toEqual([
      ['a', 'leader', 'voter since 10:42'],
      ['b', 'learner', 'learner: catching up'],
      ['c', 'unknown', 'demoted: unreachable for 6 min'],
    ]);
  });

  it('marks a member whose state diverged (its stateCheck, or named in the answering replica’s stateCheck.diverged)', () => {
    const base: ReplicaStatus = {
      id: 'a', address: '10.0.0.1:7420', role: 'leader', term: 3, leader: { id: 'a', address: '10.0.0.1:7420' },
      commitIndex: 9, appliedIndex: 9, lastIndex: 9, voter: true, quorum: true,
      members: [
        { id: 'a', address: '10.0.0.1:7420', voter: true, match: 9, reachable: true, stateCheck: { index: 40, agrees: true } },
        { id: 'b', address: '10.0.0.2:7420', voter: true, match: 9, reachable: true, stateCheck: { index: 40, agrees: false } },
        { id: 'c', address: '10.0.0.3:7420', voter: true, match: 9, reachable: true },
      ],
    };
    expect(clusterNodes(base, {}, 0).map((r) => [r.id, r.diverged])).toEqual([['a', false], ['b', true], ['c', false]]);
    const named = { ...base, stateCheck: { every: 20, index: 40, diverged: ['c'], mismatches: 1 } };
    expect(clusterNodes(named, {}, 0).map((r) => [r.id, r.diverged])).toEqual([['a', false], ['b', true], ['c', true]]);
  });

  it('says why caught-up learners stay learners: an odd number of voters, or the target reached', () => {
    const ap = { enabled: true, targetVoters: 5, stabilizeMs: 10_000, deadAfterMs: 300_000, desiredVoters: 1, waiting: null, recent: [] };
    const two = [{ id: 'a', voter: true }, { id: 'b', voter: false }];
    expect(learnersHeldText(ap, two)).toBe('b stays a learner: 2 members keep 1 voter, an odd number (2 would tolerate no more failures and need a larger majority); promoted when another machine joins.');
    const four = [...two, { id: 'c', voter: true }, { id: 'd', voter: true }];
    expect(learnersHeldText({ ...ap, desiredVoters: 3 }, four)).toMatch(/^b stays a learner: 4 members keep 3 voters/);
    const atTarget = [{ id: 'a', voter: true }, { id: 'b', voter: true }, { id: 'c', voter: true }, { id: 'd', voter: false }, { id: 'e', voter: false }];
    expect(learnersHeldText({ ...ap, targetVoters: 3, desiredVoters: 3 }, atTarget)).toBe('d, e stay learners: 3 voters is the most wanted (target 3).');
    // Not explained by the count (learners still catching up), autopilot waiting, or off: nothing said here.
    const three = [...two, { id: 'c', voter: false }];
    expect(learnersHeldText(ap, three)).toBeNull();
    expect(learnersHeldText({ ...ap, waiting: 'waiting for b' }, two)).toBeNull();
    expect(learnersHeldText({ ...ap, enabled: false }, two)).toBeNull();
    expect(learnersHeldText(ap, [{ id: 'a', voter: true }])).toBeNull();
  });
});
