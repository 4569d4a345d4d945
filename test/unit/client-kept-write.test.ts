// QuorumClient writes an app keeps across a restart (KeptWrite): the session is handed to the app before the write
// goes out, a later client sends the very same write again and the cluster applies it once; and `replaying` tells a
// backlog replayed after a reconnect from live arrivals.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import type { ClientSession } from '../../replica/protocol/index.js';
import { FakeCluster, until } from '../helpers/fake-replica.js';
import { seededRandom } from '../helpers/random.js';

const clients: QuorumClient[] = [];
const clusters: FakeCluster[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(): Promise<FakeCluster> {
  const c = await FakeCluster.start(1);
  clusters.push(c);
  c.addAccount('alice');
  c.addAccount('bob');
  return c;
}

function client(servers: string[], options: { giveUpAfterMs?: number } = {}): QuorumClient {
  const c = new QuorumClient({ servers, WebSocket, random: seededRandom(7), backoff: { initialMs: 10, maxMs: 50 }, requestTimeoutMs: 2_000, connectTimeoutMs: 1_000, ...options });
  clients.push(c);
  return c;
}

describe('QuorumClient: kept writes', () => {
  it('hands the session to the app before the write goes out, and sends it once the app has kept it', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    let release!: () => void;
    const kept: ClientSession[] = [];
    const sent = q.send('bob', 'kept first', {
      keepSession: (session) => {
        kept.push(session);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    await until('the session was handed over', () => kept.length === 1);
    // Still being kept, even across a reconnect (which flushes pending writes): a request made later is answered, and
    // the write has not reached the cluster.
    await c.replica('r1').down();
    await until('disconnected', () => q.state.status === 'reconnecting');
    await c.replica('r1').up();
    await until('connected again', () => q.state.status === 'connected');
    await q.status();
    expect(c.framesOf('send')).toHaveLength(0);
    release();
    const result = await sent;
    expect(c.framesOf('send')).toHaveLength(1);
    expect(c.framesOf('send')[0].session).toEqual(kept[0]);
    expect(kept[0].clientId).toBe(q.clientId);
    expect(result.id).toBeGreaterThan(0);
  });

  it('a message to a group is kept the same way: its session handed to the app first, then sent in it', async () => {
    const c = await cluster();
    c.replica('r1').hook = (req) => (req.op === 'groupSend' ? { result: { id: 77, sentAt: 1 } } : undefined);
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    const kept: ClientSession[] = [];
    const result = await q.sendToGroup('team', 'kept for the group', { keepSession: async (session) => void kept.push(session) });
    expect(result).toMatchObject({ id: 77 });
    expect(kept).toHaveLength(1);
    expect(c.framesOf('groupSend').map((f) => f.session)).toEqual(kept);
  });

  it('a write given up while the app was still keeping its session is never sent: "not sent" stays true', async () => {
    const c = await cluster();
    const q = client(c.addresses, { giveUpAfterMs: 300 });
    await q.login('alice', 'password123');
    let release!: () => void;
    const sent = q.send('bob', 'too late', { keepSession: () => new Promise<void>((resolve) => (release = resolve)) });
    await expect(sent).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^not sent: send:/) });
    release();
    // A request after the release: the write, had it gone out, would have reached the replica before it.
    await q.status();
    expect(c.framesOf('send')).toHaveLength(0);
  });

  it('a write whose session expired before it was applied is kept again in its new session, then sent in it', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    let expiries = 1;
    c.replica('r1').hook = (req) => (req.op === 'send' && expiries-- > 0 ? { error: { code: 'SESSION_EXPIRED', message: 'forgotten' } } : undefined);
    const kept: ClientSession[] = [];
    await q.send('bob', 'kept twice', { keepSession: async (session) => void kept.push(session) });
    const sends = c.framesOf('send');
    expect(kept).toHaveLength(2);
    expect(sends.map((f) => f.session)).toEqual(kept);
    expect(kept[1]!.clientId).not.toBe(kept[0]!.clientId);
  });

  it('a client after a restart sends a kept write again as the same write: the cluster applies it once', async () => {
    const c = await cluster();
    const before = client(c.addresses);
    await before.login('alice', 'password123');
    let session: ClientSession | null = null;
    // The leader commits the write, then the connection dies before the answer (the page reloads meanwhile).
    c.replica('r1').hook = (req) => (req.op === 'send' ? { close: true, apply: true } : undefined);
    void before
      .send('bob', 'once', {
        keepSession: async (s) => {
          session = s;
        },
      })
      .catch(() => {});
    await until('the write was applied', () => c.applied.filter((w) => w.op === 'send').length === 1);
    before.close();
    c.replica('r1').hook = null;

    const after = client(c.addresses);
    await after.login('alice', 'password123');
    expect(after.clientId).not.toBe(session!.clientId);
    const result = await after.send('bob', 'once', { session: session! });
    expect(c.applied.filter((w) => w.op === 'send')).toHaveLength(1);
    expect(c.messages.filter((m) => m.text === 'once')).toHaveLength(1);
    expect(result.id).toBe(c.messages.find((m) => m.text === 'once')!.id);
    // The carried frame has exactly the kept session.
    expect(c.framesOf('send').at(-1)!.session).toEqual(session);
  });

  it('a kept write refused as SESSION_EXPIRED is not sent again in a new session: its outcome is unknown', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    c.replica('r1').hook = (req) => (req.op === 'send' ? { error: { code: 'SESSION_EXPIRED', message: 'this client session expired' } } : undefined);
    const old: ClientSession = { clientId: 'an-old-session-id-0001', seq: 4, startIndex: 2 };
    await expect(q.send('bob', 'old', { session: old })).rejects.toMatchObject({ code: 'SESSION_EXPIRED' });
    expect(c.framesOf('send')).toHaveLength(1);
    expect(c.messages.filter((m) => m.text === 'old')).toHaveLength(0);
  });

  it('replaying is true while a reconnected connection receives its backlog, false for live pushes', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    const seen: [string, boolean][] = [];
    q.on('message', (m) => seen.push([m.text, q.replaying]));
    await q.login('alice', 'password123');
    c.deliver('bob', 'alice', 'live before');
    await until('live push', () => seen.length === 1);
    await c.replica('r1').down();
    await until('disconnected', () => q.state.status === 'reconnecting');
    c.deliver('bob', 'alice', 'while away');
    await c.replica('r1').up();
    await until('backlog', () => seen.length === 2);
    await until('ready again', () => q.state.status === 'connected' && !q.replaying);
    c.deliver('bob', 'alice', 'live after');
    await until('live push after', () => seen.length === 3);
    expect(seen).toEqual([
      ['live before', false],
      ['while away', true],
      ['live after', false],
    ]);
  });
});
