// Groups on real processes: the `chat` CLI's group commands with exact JSON, and group messages reaching every member
// live, exactly once and in order, across a leader crash; every replica converges to the same state.
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuorumClient } from '../../replica/client/index.js';
import type { ChatMessage } from '../../replica/protocol/index.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import { Cluster, REPLICA_CLI, ROOT, waitConverged, waitFor } from '../helpers/cluster.js';
import { adminRequest } from '../../replica/net/admin-client.js';
import { readSecretFile } from '../../replica/security/secret-file.js';

const PW = 'password-groups';
let cluster: Cluster;

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3 });
  await waitFor('the newest cluster version', async () => (await (await cluster.leader()).status()).clusterVersion === SUPPORTED_VERSION);
}, 60_000);
afterAll(async () => {
  await cluster?.destroy();
});

function chat(user: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [REPLICA_CLI, 'chat', '--servers', cluster.addresses.join(','), '--user', user, '--password-stdin', '--json', ...args],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(`${PW}\n`);
  });
}

async function chatJson(user: string, args: string[]): Promise<unknown> {
  const r = await chat(user, args);
  if (r.code !== 0) throw new Error(`chat ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('groups on a real cluster', () => {
  it('the CLI creates and lists groups with exact JSON; refusals are CODE: message with exit 1', async () => {
    for (const user of ['ann', 'bob', 'carl', 'dora']) expect(await chatJson(user, ['signup'])).toEqual({ user });
    expect(await chatJson('ann', ['group', 'create', 'team', 'bob', 'carl'])).toEqual({ group: { name: 'team', members: ['ann', 'bob', 'carl'] } });
    expect(await chatJson('ann', ['group', 'add', 'team', 'dora'])).toEqual({ group: { name: 'team', members: ['ann', 'bob', 'carl', 'dora'] } });
    expect(await chatJson('dora', ['group', 'leave', 'team'])).toEqual({ left: true });
    const { id } = (await chatJson('bob', ['send', '#team', 'hello @ann'])) as { id: number };
    expect(await chatJson('carl', ['groups'])).toEqual({ groups: [{ name: 'team', members: ['ann', 'bob', 'carl'], unread: 1 }] });
    const history = (await chatJson('carl', ['history', '#team'])) as { messages: { id: number; text: string; group: string | null }[] };
    expect(history.messages.at(-1)).toEqual({ id, from: 'bob', to: '#team', text: 'hello @ann', sentAt: expect.any(Number), editedAt: null, group: 'team' });
    expect(await chatJson('carl', ['read'])).toMatchObject({ messages: [{ id, group: 'team' }] });
    expect(await chatJson('carl', ['groups'])).toMatchObject({ groups: [{ unread: 0 }] });

    const outsider = await chat('dora', ['send', '#team', 'let me back in']);
    expect(outsider).toMatchObject({ code: 1, stdout: '', stderr: 'FORBIDDEN: you are not a member of #team\n' });
    const unknown = await chat('dora', ['history', '#nothere']);
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'NOT_FOUND: no group named "#nothere"\n' });
    const taken = await chat('dora', ['group', 'create', 'TEAM']);
    expect(taken).toMatchObject({ code: 1, stderr: 'CONFLICT: a group named "TEAM" exists: choose another name\n' });
    const badName = await chat('dora', ['group', 'create', 'no spaces allowed']);
    expect(badName.code).toBe(2);
  }, 120_000);

  it('group messages reach every member live, exactly once and in order, across a leader crash', async () => {
    const options = { servers: cluster.addresses, WebSocket, backoff: { initialMs: 20, maxMs: 500 } };
    const ann = new QuorumClient(options);
    const members = [new QuorumClient(options), new QuorumClient(options)];
    try {
      await ann.login('ann', PW);
      const received: ChatMessage[][] = [[], []];
      for (const [i, name] of ['bob', 'carl'].entries()) {
        await members[i].login(name, PW);
        members[i].on('message', (m) => {
          if (m.group === 'team' && m.from === 'ann') received[i].push(m);
        });
      }
      const leader = await cluster.leader();
      const acked: number[] = [];
      // Writes in flight when the leader dies are resent and applied once.
      const lane = async (n: number) => {
        for (let i = 0; i < 10; i++) {
          acked.push((await ann.sendToGroup('team', `lane ${n} #${i}`)).id);
          if (n === 0 && i === 3) await leader.kill();
        }
      };
      await Promise.all([0, 1, 2].map(lane));
      expect(acked).toHaveLength(30);
      const sorted = [...acked].sort((a, b) => a - b);
      for (const list of received) {
        await waitFor('every group message pushed live', () => list.length >= 30, 30_000);
        // Exactly once, and in commit order.
        expect(list.map((m) => m.id)).toEqual(sorted);
      }
      const history = await members[1].groupHistory('team', { limit: 500 });
      expect(history.messages.filter((m) => m.from === 'ann' && !m.event).map((m) => m.id)).toEqual(sorted);
      leader.start();
      await leader.waitHealthy();
      await waitConverged(cluster.addresses);
    } finally {
      ann.close();
      for (const m of members) m.close();
    }
  }, 120_000);

  it('presence and typing come from the leader\'s connections and are rebuilt after a failover', async () => {
    const options = { servers: cluster.addresses, WebSocket, backoff: { initialMs: 20, maxMs: 500 } };
    const bob = new QuorumClient(options);
    const ann = new QuorumClient(options);
    try {
      await bob.login('bob', PW);
      // The hello says which features the cluster runs.
      expect(bob.state.clusterVersion).toBe(SUPPORTED_VERSION);
      const seen: { user: string; online: boolean; lastSeenAt: number | null }[] = [];
      bob.on('presence', (p) => seen.push(p));
      const typing: { from: string; group?: string }[] = [];
      bob.on('typing', (t) => typing.push(t));
      expect((await bob.presence(['ann'])).presence).toMatchObject([{ user: 'ann', online: false }]);
      await ann.login('ann', PW);
      await waitFor('ann online', () => seen.some((p) => p.user === 'ann' && p.online));
      await ann.typing({ group: 'team' });
      await ann.typing({ to: 'bob' });
      await waitFor('typing notices', () => typing.length === 2);
      expect(typing).toEqual([{ from: 'ann', group: 'team' }, { from: 'ann' }]);
      // A failover: both reconnect to the new leader, which learns ann is online; bob's watch is renewed.
      const leader = await cluster.leader();
      seen.length = 0;
      await leader.kill();
      await waitFor('ann online again at the new leader', () => seen.some((p) => p.user === 'ann' && p.online), 30_000);
      ann.close();
      await waitFor('ann offline with a last-seen time', () => seen.some((p) => p.user === 'ann' && !p.online && p.lastSeenAt !== null), 30_000);
      leader.start();
      await leader.waitHealthy();
    } finally {
      ann.close();
      bob.close();
    }
  }, 120_000);

  it('a leader that hands over without dying sends its logged-in clients on: presence and typing follow them', async () => {
    // Presence and typing live on the leader's connections. A leader that steps down (a transfer, a lost election)
    // keeps running, so nothing closes its connections; a client with nothing to send would stay with it and be shown
    // offline by the new leader, and typing notices for it would go nowhere.
    await waitFor('every replica back', async () => (await Promise.all(cluster.replicas.map((r) => r.status().then(() => true, () => false)))).every(Boolean), 30_000);
    const options = { servers: cluster.addresses, WebSocket, backoff: { initialMs: 20, maxMs: 500 } };
    const bob = new QuorumClient(options);
    const ann = new QuorumClient(options);
    try {
      await bob.login('bob', PW);
      await ann.login('ann', PW);
      const seen: { user: string; online: boolean }[] = [];
      bob.on('presence', (p) => seen.push(p));
      const typing: { from: string }[] = [];
      bob.on('typing', (t) => typing.push(t));
      expect((await bob.presence(['ann'])).presence).toMatchObject([{ user: 'ann', online: true }]);
      const before = await cluster.leader();
      const target = cluster.replicas.find((r) => r !== before)!;
      const handed = await adminRequest<{ leader: string }>(cluster.addresses, readSecretFile(cluster.secretFile).current, { op: 'transfer', to: target.id }, { timeoutMs: 20_000 });
      expect(handed.leader).toBe(target.id);
      // Both follow the leader by themselves (neither sends anything): the new leader sees ann online and tells bob.
      await waitFor('both clients at the new leader', () => ann.state.replica?.id === target.id && bob.state.replica?.id === target.id, 30_000);
      await waitFor('ann online at the new leader', async () => (await bob.presence(['ann'])).presence[0]?.online === true, 30_000);
      await ann.typing({ to: 'bob' });
      await waitFor('the typing notice', () => typing.length === 1);
      expect(typing).toEqual([{ from: 'ann' }]);
    } finally {
      ann.close();
      bob.close();
    }
  }, 120_000);
});
