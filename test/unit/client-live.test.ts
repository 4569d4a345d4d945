// QuorumClient live delivery against a fake cluster: resume {token, after} first on every reconnect, no gap and no
// duplicate pushes, coalesced `delivered`, session end, and robustness against malformed frames and bad listeners.
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import type { QuorumClientOptions } from '../../replica/client/index.js';
import type { ChatMessage } from '../../replica/protocol/index.js';
import { FakeCluster, until } from '../helpers/fake-replica.js';
import { seededRandom } from '../helpers/random.js';

const clients: QuorumClient[] = [];
const clusters: FakeCluster[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(size: number): Promise<FakeCluster> {
  const c = await FakeCluster.start(size);
  clusters.push(c);
  c.addAccount('alice');
  c.addAccount('bob');
  return c;
}

function client(servers: string[], options: Partial<QuorumClientOptions> = {}): QuorumClient {
  const c = new QuorumClient({
    servers,
    WebSocket,
    random: seededRandom(11),
    backoff: { initialMs: 10, maxMs: 50 },
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 1_000,
    ...options,
  });
  clients.push(c);
  return c;
}

describe('QuorumClient: live delivery', () => {
  it('resumes after a reconnect before any other request, with no gap and no duplicate', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client(c.addresses);
    const received: ChatMessage[] = [];
    q.on('message', (m) => received.push(m));
    const login = await q.login('alice', 'password123');
    expect(login).toMatchObject({ user: 'alice', unread: 0 });
    expect(login.token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    c.deliver('bob', 'alice', 'one');
    c.deliver('bob', 'alice', 'two');
    await until('two live pushes', () => received.length === 2);

    // The replica goes away; a message arrives while alice is disconnected.
    await r1.down();
    await until('the client noticed', () => q.state.status === 'reconnecting');
    c.deliver('bob', 'alice', 'three (while away)');
    // On the way back the server re-sends an overlapping backlog (from `after - 1`): duplicates must not surface.
    r1.hook = (req, conn) => {
      if (req.op === 'resume') {
        const user = c.tokens.get(req.token);
        if (user) {
          conn.user = user;
          c.backlog(conn, req.after - 1);
        }
      }
      return undefined;
    };
    const pendingSend = q.send('bob', 'sent while reconnecting');
    await r1.up();
    await pendingSend;
    await until('the missed message', () => received.length === 3);

    expect(received.map((m) => m.text)).toEqual(['one', 'two', 'three (while away)']);
    const second = [...r1.conns].at(-1)!;
    expect(second.frames[0]).toMatchObject({ op: 'resume', token: login.token, after: 2 });
    // The resend waited for the resume, so it ran as alice.
    expect(second.frames.findIndex((f) => f.op === 'send')).toBeGreaterThan(second.frames.findIndex((f) => f.op === 'resume'));
    expect(c.messages.filter((m) => m.text === 'sent while reconnecting')).toHaveLength(1);
  });

  it('acknowledges pushed messages with coalesced delivered {upTo}', async () => {
    const c = await cluster(1);
    const q = client(c.addresses);
    const received: ChatMessage[] = [];
    q.on('message', (m) => received.push(m));
    await q.login('alice', 'password123');
    for (let i = 1; i <= 5; i++) c.deliver('bob', 'alice', `burst ${i}`);
    await until('five pushes', () => received.length === 5);
    await until('delivered ack', () => c.messages.every((m) => m.deliveredAt !== null));
    const acks = c.framesOf('delivered');
    expect(acks.length).toBeLessThanOrEqual(2);
    expect(acks.at(-1)).toMatchObject({ upTo: 5, session: { clientId: q.clientId } });
  });

  it('does not acknowledge when autoDelivered is false', async () => {
    const c = await cluster(1);
    const q = client(c.addresses, { autoDelivered: false });
    const received: ChatMessage[] = [];
    q.on('message', (m) => received.push(m));
    await q.login('alice', 'password123');
    // Fake timers from here: the ack would be a 50 ms setTimeout scheduled by the push; advancing past it fires it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      c.deliver('bob', 'alice', 'quiet');
      await vi.waitFor(() => expect(received).toHaveLength(1)); // vi.waitFor polls with real timers
      vi.advanceTimersByTime(1_000);
    } finally {
      vi.useRealTimers();
    }
    await q.status(); // a round trip after the timer: an ack sent by it would have reached the replica first
    expect(c.framesOf('delivered')).toEqual([]);
    // Contrast: the same client acknowledges when asked to (the fake's ack path works in this setup).
    const acking = client(c.addresses);
    await acking.login('alice', 'password123');
    c.deliver('bob', 'alice', 'loud');
    await until('the ack of the acking client', () => c.framesOf('delivered').length > 0);
  });

  it('logs in with `after` to receive the backlog, then live', async () => {
    const c = await cluster(1);
    c.deliver('bob', 'alice', 'old');
    c.deliver('bob', 'alice', 'newer');
    const q = client(c.addresses, { lastMessageId: 1, autoDelivered: false });
    const received: string[] = [];
    q.on('message', (m) => received.push(m.text));
    await q.login('alice', 'password123');
    await until('the backlog', () => received.length === 1);
    expect(received).toEqual(['newer']);
    expect(c.framesOf('login')[0]).toMatchObject({ after: 1 });
  });

  it('reports sessionEnded and stops resuming an ended login', async () => {
    const c = await cluster(1);
    const q = client(c.addresses);
    const ended: string[] = [];
    q.on('sessionEnded', (e) => ended.push(e.reason));
    await q.login('alice', 'password123');
    c.tokens.clear(); // logged out elsewhere
    c.replica('r1').dropAll();
    await until('the refused resume', () => ended.length === 1);
    expect(ended[0]).toMatch(/^UNAUTHENTICATED/);
    await expect(q.status()).resolves.toMatchObject({ id: 'r1' });
    // The server's push form of the same news.
    await q.login('alice', 'password123');
    const conn = [...c.replica('r1').conns].at(-1)!;
    conn.send({ type: 'push', event: 'sessionEnded', reason: 'account deleted' });
    await until('the pushed session end', () => ended.length === 2);
    conn.close();
    await until('reconnected', () => c.replica('r1').connections === 3 && q.state.status === 'connected');
    await q.status();
    expect(c.framesOf('resume')).toHaveLength(1);
  });

  it('ignores malformed frames and survives a throwing listener', async () => {
    const c = await cluster(1);
    const warnings: string[] = [];
    const q = client(c.addresses, { log: { warn: (_o, msg) => warnings.push(msg ?? '') } });
    const received: string[] = [];
    q.on('message', () => {
      throw new Error('listener bug');
    });
    q.on('message', (m) => received.push(m.text));
    await q.login('alice', 'password123');
    const conn = [...c.replica('r1').conns][0];
    conn.send('not json at all');
    conn.send({ type: 'push', event: 'message', message: { id: 'x' } });
    conn.send({ type: 'mystery' });
    conn.send({ type: 'response', id: 999, ok: true, result: {} });
    c.deliver('bob', 'alice', 'still fine');
    await until('the good push', () => received.length === 1);
    expect(received).toEqual(['still fine']);
    expect(warnings.filter((w) => /ignored/.test(w)).length).toBeGreaterThanOrEqual(3);
    await expect(q.send('bob', 'and working')).resolves.toMatchObject({ id: 2 });
    expect(q.state.status).toBe('connected');
  });
});

describe('QuorumClient: cluster version', () => {
  it('reports the cluster version a status gives after the hello (a UI offers version-3 features from it)', async () => {
    const c = await cluster(1);
    const q = client(c.addresses);
    const seen: (number | undefined)[] = [];
    q.on('state', (s) => seen.push(s.clusterVersion));
    await q.login('alice', 'password123');
    // The fake hello says nothing of it; the status that follows every hello does.
    await until('clusterVersion from status', () => q.state.clusterVersion === 2);
    expect(seen.at(-1)).toBe(2);
  });
});

describe('QuorumClient: read-only state', () => {
  it('reports readOnly after NO_QUORUM and clears it when a majority is back', async () => {
    const c = await cluster(1);
    const q = client(c.addresses, { backoff: { initialMs: 10, maxMs: 40 } });
    await q.login('alice', 'password123');
    c.leaderId = null;
    const pending = q.send('bob', 'waits for a majority');
    await until('read-only', () => q.state.readOnly);
    expect(q.state.lastError).toMatch(/NO_QUORUM/);
    c.leaderId = 'r1';
    await pending;
    expect(q.state.readOnly).toBe(false);
    expect(c.messages.filter((m) => m.text === 'waits for a majority')).toHaveLength(1);
  });

  it('a status probe clears readOnly without any write', async () => {
    const c = await cluster(1);
    // Generous: the login must connect first even on a loaded machine; the refused send then waits this long.
    const q = client(c.addresses, { backoff: { initialMs: 10, maxMs: 40 }, giveUpAfterMs: 2000 });
    await q.login('alice', 'password123');
    c.leaderId = null;
    await expect(q.send('bob', 'refused')).rejects.toMatchObject({ code: 'NO_QUORUM' });
    expect(q.state.readOnly).toBe(true);
    c.leaderId = 'r1';
    await until('readOnly cleared by the probe', () => !q.state.readOnly);
  });
});

describe('QuorumClient: presence after a reconnect', () => {
  // Presence lives on the leader's connections: a new connection asks again for what the app watched. A leader that
  // refuses that watch (fresh from its election, or no longer leading) must not leave the app showing everyone offline.
  it('asks again when the watch is refused, and follows NOT_LEADER to the leader', async () => {
    const c = await cluster(2);
    const r1 = c.replica('r1');
    const alice = client(c.addresses);
    const seen: { user: string; online: boolean }[] = [];
    alice.on('presence', (e) => seen.push({ user: e.user, online: e.online }));
    await alice.login('alice', 'password123');
    const bob = client([r1.address]);
    await bob.login('bob', 'password123');
    expect((await alice.presence(['bob'])).presence).toEqual([{ user: 'bob', online: true, lastSeenAt: null }]);

    // The connection is cut; the replica refuses the first re-watch as a busy leader would (TIMEOUT).
    let refusals = 0;
    r1.hook = (req) => (req.op === 'presence' && refusals++ === 0 ? { error: { code: 'TIMEOUT', message: 'not yet' } } : undefined);
    r1.dropAll();
    await until('the watch asked again after the refusal', () => refusals >= 2 && seen.some((e) => e.user === 'bob' && e.online));

    // r1 answers the next re-watch with NOT_LEADER (it lost leadership for a moment): the client leaves it and
    // watches again on the connection it makes next.
    seen.length = 0;
    let refusedOn: { closed: boolean } | null = null;
    r1.hook = (req, conn) => {
      if (req.op !== 'presence' || refusedOn !== null) return undefined;
      refusedOn = conn;
      return { error: { code: 'NOT_LEADER', message: 'not the leader', leader: { id: 'r1', address: r1.address } } as never };
    };
    r1.dropAll();
    await until('the refused connection left by the client', () => refusedOn?.closed);
    await until('the watch answered on the next connection', () => seen.some((e) => e.user === 'bob' && e.online));
  });
});
