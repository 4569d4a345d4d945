// The `chat` and `status` commands run in-process against a fake cluster: exact JSON documents, human output,
// `CODE: message` failures with their exit codes, leader following and bounded retries.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { main as chat } from '../../replica/cli/chat.js';
import type { ChatIO } from '../../replica/cli/chat.js';
import { formatDiverged, formatTable, main as status } from '../../replica/cli/status.js';
import { FakeCluster } from '../helpers/fake-replica.js';

const clusters: FakeCluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(size: number): Promise<FakeCluster> {
  const c = await FakeCluster.start(size);
  clusters.push(c);
  return c;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
}

async function run(command: (argv: string[], io: ChatIO) => Promise<number>, argv: string[], password = 'password123'): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: ChatIO = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    password: async () => password,
    WebSocket,
  };
  const code = await command(argv, io);
  let json: unknown = undefined;
  try {
    json = JSON.parse(stdout);
  } catch {
    // human output
  }
  return { code, stdout, stderr, json };
}

describe('chat command', () => {
  it('prints exactly one JSON document per command', async () => {
    const c = await cluster(1);
    const base = ['--servers', c.addresses.join(','), '--password-stdin', '--json'];
    const chatAs = (user: string, ...args: string[]) => run(chat, [...base, '--user', user, ...args]);

    expect((await chatAs('alice', 'signup')).json).toEqual({ user: 'alice' });
    expect((await chatAs('bob', 'signup')).json).toEqual({ user: 'bob' });
    expect((await chatAs('alice', 'send', 'bob', 'hi bob'))).toMatchObject({ code: 0, stderr: '', json: { id: 1 } });
    expect((await chatAs('alice', 'send', 'bob', 'second'))).toMatchObject({ json: { id: 2 } });
    const sentAt = c.messages.map((m) => m.sentAt);
    expect((await chatAs('bob', 'login')).json).toEqual({ user: 'bob', unread: 2 });
    expect((await chatAs('bob', 'read', '--limit', '1')).json).toEqual({
      messages: [{ id: 1, from: 'alice', to: 'bob', text: 'hi bob', sentAt: sentAt[0], editedAt: null, group: null }],
    });
    expect((await chatAs('bob', 'history', 'alice')).json).toEqual({
      messages: [
        { id: 1, from: 'alice', to: 'bob', text: 'hi bob', sentAt: sentAt[0], editedAt: null, group: null },
        { id: 2, from: 'alice', to: 'bob', text: 'second', sentAt: sentAt[1], editedAt: null, group: null },
      ],
    });
    expect((await chatAs('bob', 'history', 'alice', '--before', '2')).json).toMatchObject({ messages: [{ id: 1 }] });
    expect((await chatAs('bob', 'accounts')).json).toEqual({ accounts: [{ username: 'alice' }, { username: 'bob' }], nextPageToken: null });
    expect((await chatAs('bob', 'accounts', '--limit', '1')).json).toEqual({ accounts: [{ username: 'alice' }], nextPageToken: 'alice' });
    expect((await chatAs('bob', 'accounts', 'b*')).json).toEqual({ accounts: [{ username: 'bob' }], nextPageToken: null });
    expect((await chatAs('alice', 'delete', '1', '2')).json).toEqual({ deleted: 2 });
    expect((await chatAs('alice', 'delete-account')).json).toEqual({ deleted: true });
    expect(c.accounts.has('alice')).toBe(false);
    // Every command but signup logged in and (except delete-account) logged out again.
    expect(c.framesOf('login')).toHaveLength(11);
    expect(c.framesOf('logout')).toHaveLength(10);
    expect(c.tokens.size).toBe(0);
    // The shell never acknowledges pushes as delivered.
    expect(c.framesOf('delivered')).toEqual([]);
  });

  it('prints human-readable output without --json', async () => {
    const c = await cluster(1);
    const base = ['--servers', c.addresses[0], '--password-stdin'];
    expect((await run(chat, [...base, '--user', 'alice', 'signup'])).stdout).toBe('signed up alice\n');
    await run(chat, [...base, '--user', 'bob', 'signup']);
    expect((await run(chat, ['send', 'bob', 'hello', ...base, '--user', 'alice'])).stdout).toBe('sent message 1 to bob\n');
    expect((await run(chat, [...base, '--user', 'bob', 'login'])).stdout).toBe('logged in as bob: 1 unread message\n');
    const read = await run(chat, [...base, '--user', 'bob', 'read']);
    expect(read.stdout).toMatch(/^#1 {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}alice -> bob: hello\n$/);
    expect((await run(chat, [...base, '--user', 'bob', 'read'])).stdout).toBe('no unread messages\n');
    expect((await run(chat, [...base, '--user', 'bob', 'accounts', '--limit', '1'])).stdout).toBe('alice\n(more: --page-token alice)\n');
  });

  it('fails with CODE: message on stderr and a non-zero exit', async () => {
    const c = await cluster(1);
    const base = ['--servers', c.addresses[0], '--password-stdin', '--json'];
    await run(chat, [...base, '--user', 'alice', 'signup']);
    const taken = await run(chat, [...base, '--user', 'alice', 'signup']);
    expect(taken).toMatchObject({ code: 1, stdout: '', stderr: 'USERNAME_TAKEN: the username "alice" is taken\n' });
    const wrong = await run(chat, [...base, '--user', 'alice', 'login'], 'wrong-password');
    expect(wrong).toMatchObject({ code: 1, stdout: '', stderr: 'BAD_CREDENTIALS: wrong username or password\n' });
    const missing = await run(chat, [...base, '--user', 'alice', 'send', 'nobody', 'hi']);
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: 'NOT_FOUND: no account named "nobody"\n' });
    // The refused send still logged out.
    expect(c.tokens.size).toBe(0);
    const short = await run(chat, [...base, '--user', 'bob', 'signup'], 'short');
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/^INVALID: signup: password: /);
    const usage = await run(chat, [...base, '--user', 'alice', 'send', 'bob']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^INVALID: send takes TO and TEXT; got 1 argument\nusage: npm run --silent chat/);
    const help = await run(chat, ['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: /);
  });

  it('follows NOT_LEADER to the leader', async () => {
    const c = await cluster(3);
    c.leaderId = 'r3';
    const r = await run(chat, ['--servers', c.replica('r1').address, '--user', 'zed', '--password-stdin', '--json', 'signup']);
    expect(r).toMatchObject({ code: 0, json: { user: 'zed' } });
    expect(c.applied).toEqual([expect.objectContaining({ op: 'signup', replica: 'r3' })]);
  });

  it('gives up after --timeout with UNAVAILABLE when no replica answers', async () => {
    const c = await cluster(1);
    const address = c.addresses[0];
    await c.close();
    const started = Date.now();
    const r = await run(chat, ['--servers', address, '--user', 'alice', '--password-stdin', '--json', '--timeout', '0.4', 'login']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^UNAVAILABLE: not sent: login: no leader took it within 400 ms; nothing was changed/);
    // No wall-clock ceiling (the machine is shared): the exit is the give-up; the time, process start included, is printed.
    console.log(`chat gave up after ${Date.now() - started} ms (--timeout 0.4)`);
  });
});

describe('status command', () => {
  it('prints one row per replica, unreachable ones with nulls, and exits 0 while any answers', async () => {
    const c = await cluster(3);
    const [a1, a2, a3] = c.addresses;
    c.versions.set('r3', 1);
    await c.replica('r3').down();
    // Only r1 is listed: r2 is asked because r1 reports it; r3 is a member that does not answer.
    const r = await run(status, ['--servers', a1, '--json', '--timeout', '1']);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({
      replicas: [
        { id: 'r1', address: a1, role: 'leader', term: 3, leader: 'r1', commitIndex: 0, appliedIndex: 0, voter: true, reachable: true, membership: null, version: 2, freeBytes: null, lowSpace: null },
        { id: 'r2', address: a2, role: 'follower', term: 3, leader: 'r1', commitIndex: 0, appliedIndex: 0, voter: true, reachable: true, membership: null, version: 2, freeBytes: null, lowSpace: null },
        // Unreachable: its version is what the replicated record says it reported.
        { id: 'r3', address: a3, role: null, term: null, leader: null, commitIndex: null, appliedIndex: null, voter: true, reachable: false, membership: null, version: 1, freeBytes: null, lowSpace: null },
      ],
      clusterVersion: 1,
      autopilot: null,
      diverged: [],
    });
    const human = await run(status, ['--servers', `${a1},${a3}`, '--timeout', '1']);
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID {2}ADDRESS +ROLE +TERM {2}LEADER {2}COMMIT {2}APPLIED {2}VOTER {2}REACHABLE {2}VERSION {2}FREE {2}MEMBERSHIP$/);
    expect(lines).toHaveLength(5);
    expect(lines[3]).toMatch(/^r3 +127\.0\.0\.1:\d+ +- +- +- +- +- +yes +no +1 +- +-$/);
    expect(lines[4]).toBe('cluster version 1; version 2 once these are updated: r3 (version 1)');
    expect(human.stderr).toMatch(new RegExp(`^${a3.replace(/\./g, '\\.')}: UNAVAILABLE: `));
  });

  it('exits 1 when no listed replica answers', async () => {
    const c = await cluster(2);
    const addresses = c.addresses;
    await c.close();
    const r = await run(status, ['--servers', addresses.join(','), '--json', '--timeout', '0.5']);
    expect(r.code).toBe(1);
    expect(r.json).toEqual({
      replicas: addresses
        .slice()
        .sort()
        .map((address) => ({ id: null, address, role: null, term: null, leader: null, commitIndex: null, appliedIndex: null, voter: null, reachable: false, membership: null, version: null, freeBytes: null, lowSpace: null })),
      clusterVersion: null,
      autopilot: null,
      diverged: [],
    });
    expect(r.stderr).toMatch(/^UNAVAILABLE: no replica answered/);
  });

  it('names replicas whose state diverged under the table (none: no line)', () => {
    expect(formatDiverged([])).toBe('');
    expect(formatDiverged(['r3'])).toBe("state diverged: r3 (state hash differs from the majority's; rebuild: npm run --silent cluster -- ... resync ID)\n");
  });

  it('aligns the table columns', () => {
    const table = formatTable([
      { id: 'r1', address: 'a:1', role: 'leader', term: 12, leader: 'r1', commitIndex: 100, appliedIndex: 100, voter: true, reachable: true, membership: 'voter since 10:42', version: 2, freeBytes: 41_234_567_890, lowSpace: false },
      { id: 'r2', address: 'b:1', role: 'follower', term: 12, leader: 'r1', commitIndex: 100, appliedIndex: 100, voter: true, reachable: true, membership: null, version: 2, freeBytes: 310_400_000, lowSpace: true },
      { id: null, address: 'longer-host:7400', role: null, term: null, leader: null, commitIndex: null, appliedIndex: null, voter: null, reachable: false, membership: null, version: null, freeBytes: null, lowSpace: null },
    ]);
    expect(table.split('\n')).toEqual([
      'ID  ADDRESS           ROLE      TERM  LEADER  COMMIT  APPLIED  VOTER  REACHABLE  VERSION  FREE        MEMBERSHIP',
      'r1  a:1               leader    12    r1      100     100      yes    yes        2        41.2 GB     voter since 10:42',
      'r2  b:1               follower  12    r1      100     100      yes    yes        2        310 MB low  -',
      '-   longer-host:7400  -         -     -       -       -        -      no         -        -           -',
    ]);
  });
});
