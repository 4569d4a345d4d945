// Every QuorumClient call sends its op with exactly its parameters (what the replica's schema reads), and a refusal
// reaches the caller as the replica worded it. Against a fake replica over a real WebSocket that answers each of these
// ops with a refusal, so the frames the client built are what is checked.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import { FakeCluster } from '../helpers/fake-replica.js';
import { seededRandom } from '../helpers/random.js';

let cluster: FakeCluster;
let client: QuorumClient;
const REFUSED = new Set<string>();

beforeEach(async () => {
  cluster = await FakeCluster.start(1);
  cluster.addAccount('alice');
  cluster.replica('r1').hook = (req) => (REFUSED.has(req.op) ? { error: { code: 'FORBIDDEN', message: `no ${req.op} here` } } : undefined);
  client = new QuorumClient({
    servers: cluster.addresses,
    WebSocket,
    random: seededRandom(5),
    backoff: { initialMs: 10, maxMs: 50 },
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 1_000,
  });
  await client.login('alice', 'password123');
});
afterEach(async () => {
  REFUSED.clear();
  client.close();
  await cluster.close();
});

/** Calls `call`, expects the replica's refusal, and returns the parameters of the frame it sent (id, op, session removed). */
async function sent(op: string, call: () => Promise<unknown>): Promise<Record<string, unknown>> {
  REFUSED.add(op);
  await expect(call()).rejects.toMatchObject({ code: 'FORBIDDEN', message: `no ${op} here` });
  const frames = cluster.framesOf(op);
  expect(frames.length, op).toBeGreaterThan(0);
  const { id: _id, op: _op, session: _session, ...params } = frames.at(-1)!;
  return params;
}

describe('QuorumClient calls', () => {
  it('send each op with exactly its parameters', async () => {
    const cases: [string, () => Promise<unknown>, Record<string, unknown>][] = [
      ['accounts', () => client.accounts({ pattern: 'a*', limit: 5, pageToken: 'a:al' }), { pattern: 'a*', limit: 5, pageToken: 'a:al' }],
      ['send', () => client.send('bob', 'hi'), { to: 'bob', text: 'hi' }],
      ['read', () => client.read(), {}],
      ['history', () => client.history('bob', { limit: 3, before: 9 }), { with: 'bob', limit: 3, before: 9 }],
      ['conversations', () => client.conversations(7), { limit: 7 }],
      ['markRead', () => client.markRead('bob', 4), { with: 'bob', upTo: 4 }],
      ['delivered', () => client.delivered(6), { upTo: 6 }],
      ['delete', () => client.delete([1, 2]), { ids: [1, 2] }],
      ['edit', () => client.edit(3, 'fixed'), { messageId: 3, text: 'fixed' }],
      ['createGroup', () => client.createGroup('crew', ['bob']), { name: 'crew', members: ['bob'] }],
      ['addMembers', () => client.addMembers('crew', ['cy']), { group: 'crew', members: ['cy'] }],
      ['removeMembers', () => client.removeMembers('crew', ['cy']), { group: 'crew', members: ['cy'] }],
      ['leaveGroup', () => client.leaveGroup('crew'), { group: 'crew' }],
      ['renameGroup', () => client.renameGroup('crew', 'team'), { group: 'crew', name: 'team' }],
      ['setAdmin', () => client.setAdmin('crew', 'bob', false), { group: 'crew', member: 'bob', admin: false }],
      ['groupSend', () => client.sendToGroup('crew', 'all'), { group: 'crew', text: 'all' }],
      ['markGroupRead', () => client.markGroupRead('crew', 8), { group: 'crew', upTo: 8 }],
      ['groups', () => client.groups(), {}],
      ['groupHistory', () => client.groupHistory('crew', { limit: 2, before: 5 }), { group: 'crew', limit: 2, before: 5 }],
      ['presence', () => client.presence(['bob', 'cy']), { users: ['bob', 'cy'] }],
      ['typing', () => client.typing({ group: 'crew' }), { group: 'crew' }],
      ['search', () => client.search('deploy', { limit: 4 }), { query: 'deploy', limit: 4 }],
      ['status', () => client.status(), {}],
      ['deleteAccount', () => client.deleteAccount('password123'), { password: 'password123' }],
    ];
    for (const [op, call, params] of cases) expect(await sent(op, call), op).toEqual(params);
  });

  it('leave out what was not given', async () => {
    expect(await sent('accounts', () => client.accounts())).toEqual({});
    REFUSED.clear();
    expect(await sent('read', () => client.read(12))).toEqual({ limit: 12 });
    REFUSED.clear();
    expect(await sent('conversations', () => client.conversations())).toEqual({});
    REFUSED.clear();
    expect(await sent('history', () => client.history('bob'))).toEqual({ with: 'bob' });
    REFUSED.clear();
    expect(await sent('groupHistory', () => client.groupHistory('crew'))).toEqual({ group: 'crew' });
    REFUSED.clear();
    expect(await sent('search', () => client.search('x'))).toEqual({ query: 'x' });
    REFUSED.clear();
    expect(await sent('typing', () => client.typing({ to: 'bob' }))).toEqual({ to: 'bob' });
  });

  it('refuse bad parameters before sending anything, saying which; refuse everything once closed', async () => {
    const before = cluster.replica('r1').frames.length;
    await expect(client.send('bob', '')).rejects.toMatchObject({ code: 'INVALID', message: expect.stringMatching(/^send: text: ./) });
    await expect(client.history('no spaces allowed')).rejects.toMatchObject({ code: 'INVALID', message: expect.stringMatching(/^history: with: ./) });
    expect(cluster.replica('r1').frames.length).toBe(before);
    const login = cluster.framesOf('login').at(-1)!;
    expect(Object.keys(login).sort()).toEqual(['id', 'op', 'password', 'session', 'token', 'username']);
    expect(login).toMatchObject({ username: 'alice', password: 'password123', token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    client.close();
    await expect(client.groups()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'the client was closed' });
  });
});
