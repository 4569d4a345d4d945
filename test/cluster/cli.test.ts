// The `chat` and `status` commands end to end: real replica processes (the built `dist/replica/cli.js replica`), the
// commands run as processes too (`dist/replica/cli.js chat|status`), password on stdin, exact JSON on stdout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import type { ChatMessage } from '../../replica/protocol/index.js';
import { Cluster, ReplicaProc, REPLICA_CLI, ROOT, singleReplica, waitFor } from '../helpers/cluster.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REPLICA_CLI, ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** `chat --password-stdin --json ...`: returns the parsed document, failing loudly with stderr otherwise. */
async function chatJson(servers: string[], user: string, args: string[], password = 'password123'): Promise<unknown> {
  const r = await cli(['chat', '--servers', servers.join(','), '--user', user, '--password-stdin', '--json', ...args], `${password}\n`);
  if (r.code !== 0) throw new Error(`chat ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  expect(r.stdout.endsWith('\n')).toBe(true);
  expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
  return JSON.parse(r.stdout);
}

describe('chat and status against one real replica', () => {
  let r: ReplicaProc;
  let destroy: () => Promise<void>;

  beforeAll(async () => {
    ({ replica: r, destroy } = await singleReplica('quorum-cli-'));
  });
  afterAll(() => destroy());

  it('runs every chat command with exact JSON output', async () => {
    const s = [r.address];
    expect(await chatJson(s, 'alice', ['signup'])).toEqual({ user: 'alice' });
    expect(await chatJson(s, 'bob', ['signup'])).toEqual({ user: 'bob' });

    const first = (await chatJson(s, 'alice', ['send', 'bob', 'hello bob'])) as { id: number };
    expect(first).toEqual({ id: expect.any(Number) });
    const second = (await chatJson(s, 'alice', ['send', 'bob', 'second message'])) as { id: number };
    expect(second.id).toBeGreaterThan(first.id);

    expect(await chatJson(s, 'bob', ['login'])).toEqual({ user: 'bob', unread: 2 });

    const history = (await chatJson(s, 'bob', ['history', 'alice'])) as { messages: { sentAt: number }[] };
    const [t1, t2] = history.messages.map((m) => m.sentAt);
    expect(history).toEqual({
      messages: [
        { id: first.id, from: 'alice', to: 'bob', text: 'hello bob', sentAt: t1, editedAt: null, group: null },
        { id: second.id, from: 'alice', to: 'bob', text: 'second message', sentAt: t2, editedAt: null, group: null },
      ],
    });
    expect(t1).toBeGreaterThan(1_600_000_000_000);
    expect(t2).toBeGreaterThanOrEqual(t1);
    expect(await chatJson(s, 'bob', ['history', 'alice', '--before', String(second.id), '--limit', '5'])).toEqual({
      messages: [{ id: first.id, from: 'alice', to: 'bob', text: 'hello bob', sentAt: t1, editedAt: null, group: null }],
    });

    expect(await chatJson(s, 'bob', ['read', '--limit', '1'])).toEqual({
      messages: [{ id: first.id, from: 'alice', to: 'bob', text: 'hello bob', sentAt: t1, editedAt: null, group: null }],
    });
    expect(await chatJson(s, 'bob', ['read'])).toEqual({
      messages: [{ id: second.id, from: 'alice', to: 'bob', text: 'second message', sentAt: t2, editedAt: null, group: null }],
    });
    expect(await chatJson(s, 'bob', ['read'])).toEqual({ messages: [] });

    expect(await chatJson(s, 'bob', ['accounts'])).toEqual({ accounts: [{ username: 'alice' }, { username: 'bob' }], nextPageToken: null });
    const page = (await chatJson(s, 'bob', ['accounts', '--limit', '1'])) as { nextPageToken: string };
    expect(page).toEqual({ accounts: [{ username: 'alice' }], nextPageToken: expect.any(String) });
    expect(await chatJson(s, 'bob', ['accounts', '--limit', '1', '--page-token', page.nextPageToken])).toEqual({
      accounts: [{ username: 'bob' }],
      nextPageToken: null,
    });
    expect(await chatJson(s, 'bob', ['accounts', 'a*'])).toEqual({ accounts: [{ username: 'alice' }], nextPageToken: null });

    expect(await chatJson(s, 'alice', ['delete', String(first.id)])).toEqual({ deleted: 1 });
    expect(await chatJson(s, 'bob', ['history', 'alice'])).toEqual({
      messages: [{ id: second.id, from: 'alice', to: 'bob', text: 'second message', sentAt: t2, editedAt: null, group: null }],
    });

    expect(await chatJson(s, 'alice', ['delete-account'])).toEqual({ deleted: true });
  }, 180_000); // 17 CLI processes, each compiling the CLI through tsx: slow on a loaded machine

  it('reports refusals as CODE: message with a non-zero exit', async () => {
    const base = ['chat', '--servers', r.address, '--password-stdin', '--json'];
    await chatJson([r.address], 'carol', ['signup']);
    const taken = await cli([...base, '--user', 'carol', 'signup'], 'password123\n');
    expect(taken).toMatchObject({ code: 1, stdout: '' });
    expect(taken.stderr).toMatch(/^USERNAME_TAKEN: /);
    const wrong = await cli([...base, '--user', 'carol', 'login'], 'not-the-password\n');
    expect(wrong).toMatchObject({ code: 1, stdout: '', stderr: 'BAD_CREDENTIALS: wrong username or password\n' });
    const usage = await cli([...base, '--user', 'carol', 'send', 'dave']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^INVALID: send takes TO and TEXT/);
    const noTty = await cli(['chat', '--servers', r.address, '--user', 'carol', 'login']);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/^INVALID: no terminal to prompt for the password on/);
  });

  it('edit and search: the edit is pushed live, search follows edits and deletes, refusals change nothing', async () => {
    const s = [r.address];
    await waitFor('cluster version 3', async () => (await r.status()).clusterVersion === 3);
    await chatJson(s, 'gina', ['signup']);
    await chatJson(s, 'hugo', ['signup']);
    const hugo = new QuorumClient({ servers: s, WebSocket });
    try {
      await hugo.login('hugo', 'password123');
      const edits: ChatMessage[] = [];
      hugo.on('edited', (m) => edits.push(m));
      const { id } = (await chatJson(s, 'gina', ['send', 'hugo', 'the release is on Tuesday'])) as { id: number };
      const other = (await chatJson(s, 'gina', ['send', 'hugo', 'release notes attached'])) as { id: number };
      expect(await chatJson(s, 'gina', ['edit', String(id), 'the release is on Wednesday'])).toEqual({ edited: true });
      await waitFor('the edit pushed to hugo', () => edits.length === 1);
      expect(edits[0]).toMatchObject({ id, text: 'the release is on Wednesday', editedAt: expect.any(Number) });
      const found = (await chatJson(s, 'hugo', ['search', 'wednesday'])) as { messages: { id: number; editedAt: number; matches: number[][] }[] };
      expect(found.messages).toEqual([
        { id, from: 'gina', to: 'hugo', text: 'the release is on Wednesday', sentAt: expect.any(Number), editedAt: edits[0].editedAt, group: null, matches: [[18, 27]] },
      ]);
      expect(await chatJson(s, 'hugo', ['search', 'tuesday'])).toEqual({ messages: [] });
      const forbidden = await cli(['chat', '--servers', r.address, '--user', 'hugo', '--password-stdin', '--json', 'edit', String(id), 'mine now'], 'password123\n');
      expect(forbidden).toMatchObject({ code: 1, stdout: '', stderr: `FORBIDDEN: message ${id} is not yours to edit: only its sender may\n` });
      await chatJson(s, 'gina', ['delete', String(other.id)]);
      const human = await cli(['chat', '--servers', r.address, '--user', 'hugo', '--password-stdin', 'search', 'release'], 'password123\n');
      expect(human.stdout).toMatch(/^#\d+ {2}\S+ \S+ {2}gina -> hugo: the \[release\] is on Wednesday \(edited\)\n$/);
    } finally {
      hugo.close();
    }
  });

  it('status prints the replica', async () => {
    const st = await cli(['status', '--servers', r.address, '--json']);
    expect(st.code).toBe(0);
    const doc = JSON.parse(st.stdout) as { replicas: Record<string, unknown>[] };
    expect(doc.replicas).toEqual([
      {
        id: 'r1',
        address: r.address,
        role: 'leader',
        term: expect.any(Number),
        leader: 'r1',
        commitIndex: expect.any(Number),
        appliedIndex: expect.any(Number),
        voter: true,
        reachable: true,
        membership: 'voter',
        version: SUPPORTED_VERSION,
        freeBytes: expect.any(Number),
        lowSpace: expect.any(Boolean),
      },
    ]);
  });
});

describe('chat and status against three real replicas', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('client library: writes apply once and live delivery has no gap or duplicate across a leader crash', async () => {
    const options = { servers: cluster.addresses, WebSocket, backoff: { initialMs: 20, maxMs: 500 } };
    const setup = new QuorumClient(options);
    await setup.signup('sender', 'password123');
    await setup.signup('receiver', 'password123');
    setup.close();
    const sender = new QuorumClient(options);
    const receiver = new QuorumClient(options);
    try {
      await sender.login('sender', 'password123');
      await receiver.login('receiver', 'password123');
      const received: ChatMessage[] = [];
      receiver.on('message', (m) => received.push(m));
      const receiverStates: string[] = [];
      receiver.on('state', (st) => receiverStates.push(st.status));

      const leader = await cluster.leader();
      const acked: { id: number; text: string }[] = [];
      // Several writes in flight at once, so some are unanswered when the leader dies and get resent.
      const pump = async (lane: number) => {
        for (let i = 0; i < 15; i++) {
          const text = `lane ${lane} #${i}`;
          const { id } = await sender.send('receiver', text);
          acked.push({ id, text });
          if (lane === 0 && i === 5) await leader.kill();
        }
      };
      await Promise.all([0, 1, 2, 3].map(pump));
      expect(acked).toHaveLength(60);

      await waitFor('every message pushed live', () => received.length >= 60, 30_000);
      expect(received.map((m) => m.id).sort((a, b) => a - b)).toEqual(acked.map((m) => m.id).sort((a, b) => a - b));
      expect(new Set(received.map((m) => m.id)).size).toBe(received.length);
      const history = await receiver.history('sender', { limit: 500 });
      expect(history.messages.map((m) => m.text).sort()).toEqual(acked.map((m) => m.text).sort());
      // The receiver was on the dead leader: it reconnected and resumed, and nothing was lost or repeated.
      expect(receiverStates).toContain('reconnecting');
      expect(receiver.state.replica?.id).not.toBe(leader.id);

      leader.start();
      await leader.waitHealthy();
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('follows the leader from any replica, and keeps working when the leader dies', async () => {
    const leader = await cluster.leader();
    const follower = cluster.replicas.find((x) => x.id !== leader.id)!;
    // Only a follower is listed: the client learns the leader from its hello and goes there.
    expect(await chatJson([follower.address], 'erin', ['signup'])).toEqual({ user: 'erin' });
    expect(await chatJson([follower.address], 'frank', ['signup'])).toEqual({ user: 'frank' });

    await leader.kill();
    const sent = (await chatJson(cluster.addresses, 'erin', ['send', 'frank', 'after failover'])) as { id: number };
    expect(sent).toEqual({ id: expect.any(Number) });
    const read = (await chatJson(cluster.addresses, 'frank', ['read'])) as { messages: { id: number; text: string }[] };
    expect(read.messages.map((m) => [m.id, m.text])).toEqual([[sent.id, 'after failover']]);

    // status: the dead replica is a row with reachable=false and nulls; the command still succeeds.
    const st = await cli(['status', '--servers', cluster.addresses.join(','), '--json']);
    expect(st.code).toBe(0);
    const rows = (JSON.parse(st.stdout) as { replicas: { id: string; reachable: boolean; role: string | null; leader: string | null }[] }).replicas;
    expect(rows.map((row) => row.id)).toEqual(['r1', 'r2', 'r3']);
    const dead = rows.find((row) => row.id === leader.id)!;
    expect(dead).toMatchObject({ reachable: false, role: null, leader: null });
    const live = rows.filter((row) => row.reachable);
    expect(live).toHaveLength(2);
    const newLeader = await waitFor('a new leader', () => cluster.leader());
    expect(newLeader.id).not.toBe(leader.id);
    expect(live.every((row) => row.leader === null || row.leader === newLeader.id)).toBe(true);
  });
});
