// QuorumClient paths the failover and live tests do not walk: its options checked, taking over a kept login (resume)
// and leaving it (logout), and what a read says when it gives up. Against the fake cluster over real WebSockets.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient, type QuorumClientOptions } from '../../replica/client/index.js';
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

function client(servers: string[], options: Partial<QuorumClientOptions> = {}): QuorumClient {
  const c = new QuorumClient({ servers, WebSocket, random: seededRandom(3), backoff: { initialMs: 10, maxMs: 50 }, requestTimeoutMs: 2_000, connectTimeoutMs: 1_000, ...options });
  clients.push(c);
  return c;
}

describe('QuorumClient', () => {
  it('says what is missing from its options', () => {
    expect(() => new QuorumClient({ servers: [], WebSocket })).toThrow(expect.objectContaining({ code: 'INVALID', message: 'at least one server address (host:port) is needed' }));
    expect(() => new QuorumClient({ servers: 'a:1' as never, WebSocket })).toThrow(expect.objectContaining({ code: 'INVALID' }));
    for (const bad of ['', ' ', 42]) {
      expect(() => new QuorumClient({ servers: ['127.0.0.1:1', bad as string], WebSocket })).toThrow(
        expect.objectContaining({ code: 'INVALID', message: `a server address must be host:port, not ${JSON.stringify(bad)}` }),
      );
    }
    // The same address twice is one server.
    const once = new QuorumClient({ servers: ['127.0.0.1:1', '127.0.0.1:1'], WebSocket, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    expect(once.servers).toEqual(['127.0.0.1:1']);
    once.close();
    expect(() => new QuorumClient({ servers: ['127.0.0.1:1'], WebSocket: undefined as never })).toThrow(
      expect.objectContaining({ code: 'INVALID', message: 'a WebSocket constructor is needed' }),
    );
  });

  it('takes over a kept login: the same user, live delivery from where it was; logout ends it', async () => {
    const c = await cluster();
    const first = client(c.addresses);
    const login = await first.login('alice', 'password123');
    first.close();
    const second = client(c.addresses);
    const events: string[] = [];
    second.on('message', (m) => events.push(m.text));
    expect(await second.resumeLogin(login.token)).toMatchObject({ user: 'alice' });
    expect(second.user).toBe('alice');
    expect(c.framesOf('resume').at(-1)).toMatchObject({ token: login.token });
    c.deliver('bob', 'alice', 'after the takeover');
    await until('the push', () => events.length === 1);
    expect(await second.logout()).toEqual({ loggedOut: true });
    expect(second.user).toBeNull();
    // The login ended: taking it over again is refused.
    const third = client(c.addresses);
    await expect(third.resumeLogin(login.token)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(third.user).toBeNull();
  });

  it("a login as someone else forgets the previous account's place: live delivery resumes from the new account's", async () => {
    const c = await cluster();
    c.addAccount('carol');
    const q = client(c.addresses);
    const seen: number[] = [];
    q.on('message', (m) => seen.push(m.id));
    await q.login('alice', 'password123');
    const pushed = c.deliver('carol', 'alice', 'for alice only');
    await until('the push to alice', () => seen.includes(pushed.id));
    await q.login('bob', 'password123');
    expect(q.user).toBe('bob');
    // Reconnect: the resume says where bob's live delivery goes on (bob has no messages: 0), not alice's place.
    const resumes = c.framesOf('resume').length;
    c.replica('r1').dropAll();
    await until('a resume after the reconnect', () => c.framesOf('resume').length > resumes);
    expect(c.framesOf('resume').at(-1)).toMatchObject({ after: 0 });
  });

  it('a read that gives up says why: the last refusal, or that no leader answered', async () => {
    const c = await cluster();
    const q = client(c.addresses, { giveUpAfterMs: 300 });
    await q.login('alice', 'password123');
    c.replica('r1').hook = (req) => (req.op === 'conversations' ? { error: { code: 'NO_QUORUM', message: 'the cluster has no majority' } } : undefined);
    await expect(q.conversations()).rejects.toMatchObject({ code: 'NO_QUORUM', message: 'the cluster has no majority (gave up after 300 ms)' });
    c.replica('r1').hook = (req) => (req.op === 'conversations' ? { drop: true } : undefined);
    await expect(q.conversations()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^conversations: no leader answered within 300 ms \(.+\)$/) });
  });

  it('after a reconnect nothing goes out before the resume is answered: the connection is bound to the login first', async () => {
    const c = await cluster();
    const r1 = c.replica('r1');
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    // Who the connection was bound to when each send arrived.
    const boundAtSend: (string | null)[] = [];
    r1.hook = (req, conn) => {
      if (req.op === 'send') boundAtSend.push(conn.user);
      return req.op === 'resume' ? { delayMs: 150 } : undefined;
    };
    const before = r1.frames.length;
    r1.dropAll();
    await until('the resume asked', () => r1.frames.slice(before).some((f) => f.op === 'resume'));
    const sent = q.send('bob', 'after the resume');
    await sent;
    const after = r1.frames.slice(before).map((f) => f.op);
    expect(after.indexOf('send')).toBeGreaterThan(after.indexOf('resume'));
    // The send was asked once, after the resume had bound the connection to alice, never while it was pending.
    expect(boundAtSend).toEqual(['alice']);
  });

  it('a resume refused for a passing reason (INTERNAL) is asked again on the same connection, and then serves', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    let refusals = 1;
    c.replica('r1').hook = (req) => (req.op === 'resume' && refusals-- > 0 ? { error: { code: 'INTERNAL', message: 'a hiccup' } } : undefined);
    const connections = c.replica('r1').connections;
    c.replica('r1').dropAll();
    await until('two resumes', () => c.framesOf('resume').length === 2);
    await expect(q.status()).resolves.toMatchObject({ id: 'r1' });
    expect(c.replica('r1').connections).toBe(connections + 1);
    expect(q.user).toBe('alice');
  });

  it('a resume refused for a passing reason four times in a row ends the login (three asks again at most)', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    const ended: string[] = [];
    q.on('sessionEnded', (e) => ended.push(e.reason));
    c.replica('r1').hook = (req) => (req.op === 'resume' ? { error: { code: 'INTERNAL', message: 'a hiccup' } } : undefined);
    c.replica('r1').dropAll();
    await until('the login ended', () => ended.length === 1);
    expect(ended).toEqual(['INTERNAL: a hiccup']);
    expect(c.framesOf('resume')).toHaveLength(4);
    expect(c.replica('r1').connections).toBe(2);
    // The connection serves without a login now.
    c.replica('r1').hook = null;
    await expect(q.send('bob', 'x')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('a listener taken off with off() hears nothing more; the others still do', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    const heard: string[] = [];
    const first = (s: { status: string }) => heard.push(`first ${s.status}`);
    q.on('state', first);
    q.on('state', (s) => heard.push(`second ${s.status}`));
    await until('connected', () => heard.includes('second connected'));
    q.off('state', first);
    heard.length = 0;
    c.replica('r1').dropAll();
    await until('connected again', () => heard.includes('second connected'));
    expect(heard.filter((h) => h.startsWith('first'))).toEqual([]);
  });

  it('a request with a bad argument is refused at once with INVALID, naming the call and the field; nothing is sent', async () => {
    const c = await cluster();
    const q = client(c.addresses);
    await q.login('alice', 'password123');
    await expect(q.send('bob', 42 as never)).rejects.toMatchObject({ code: 'INVALID', message: expect.stringMatching(/^send: text: .*string/) });
    expect(c.framesOf('send')).toEqual([]);
  });

  it('a resumeLogin as someone else forgets the previous account\'s place', async () => {
    const c = await cluster();
    const token = 'kept-token-0123456789abcdef';
    c.replica('r1').hook = (req) => (req.op === 'resume' && req.token === token ? { result: { user: 'bob', unread: 0 } } : undefined);
    const q = client(c.addresses, { lastMessageId: 5 });
    await q.login('alice', 'password123');
    await q.resumeLogin(token);
    expect(q.user).toBe('bob');
    const before = c.framesOf('resume').length;
    c.replica('r1').dropAll();
    await until('the resume after the reconnect', () => c.framesOf('resume').length > before);
    expect(c.framesOf('resume').at(-1)).toEqual({ op: 'resume', id: expect.any(Number), token });
  });

  it('a write given up before any replica said hello says that no replica answered', async () => {
    const c = await cluster();
    c.replica('r1').silent = true;
    const q = client(c.addresses, { writeGiveUpMs: 300, connectTimeoutMs: 60_000 });
    await expect(q.signup('carol', 'password123')).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: 'not sent: signup: no leader took it within 300 ms; nothing was changed (no replica answered)',
    });
  });

  it('logs a frame error the server reports, and carries on', async () => {
    const c = await cluster();
    const warnings: [object, string | undefined][] = [];
    const q = client(c.addresses, { log: { warn: (o, msg) => warnings.push([o, msg]) } });
    await q.login('alice', 'password123');
    const conn = [...c.replica('r1').conns].at(-1)!;
    conn.send({ type: 'error', error: { code: 'INVALID', message: 'frame too large' } });
    await until('the warning', () => warnings.length === 1);
    expect(warnings[0]).toEqual([{ address: c.addresses[0], code: 'INVALID', message: 'frame too large' }, 'server reported a frame error']);
    await expect(q.status()).resolves.toMatchObject({ id: 'r1' });
  });
});

describe('QuorumClient: where live delivery resumes', () => {
  it('from the place the app gave (lastMessageId), not the newest message at login; a login as the same user keeps it', async () => {
    const c = await cluster();
    // The replica says alice's newest message is 9 and pushes nothing (the app already has up to 5; 6 to 9 come later).
    c.replica('r1').hook = (req) => {
      if (req.op === 'login') return { result: { user: 'alice', token: req.token, unread: 0, lastMessageId: 9 } };
      if (req.op === 'resume' && req.token === 'kept-token-0123456789abcdef') return { result: { user: 'alice', unread: 0, lastMessageId: 9 } };
      return undefined;
    };
    for (const how of ['login', 'resumeLogin'] as const) {
      const q = client(c.addresses, { lastMessageId: 5 });
      if (how === 'login') {
        await q.login('alice', 'password123');
        expect(c.framesOf('login').at(-1), how).toMatchObject({ after: 5 });
        // Again as the same account (a page that logs in twice): the place is kept.
        await q.login('alice', 'password123');
      } else {
        await q.resumeLogin('kept-token-0123456789abcdef');
        await q.resumeLogin('kept-token-0123456789abcdef');
      }
      const resumes = c.framesOf('resume').length;
      const conns = [...c.replica('r1').conns];
      for (const conn of conns) conn.close();
      await until('the resume after the reconnect', () => c.framesOf('resume').length > resumes);
      expect(c.framesOf('resume').at(-1), how).toMatchObject({ after: 5 });
      q.close();
    }
  });

  it('a client with no place yet takes the newest message at login (or resume) as its place', async () => {
    const c = await cluster();
    for (let i = 0; i < 4; i++) c.deliver('bob', 'alice', `m${i}`);
    const q = client(c.addresses);
    const { token } = await q.login('alice', 'password123');
    expect(c.framesOf('login').at(-1)).not.toHaveProperty('after');
    c.replica('r1').dropAll();
    await until('the resume', () => c.framesOf('resume').length === 1);
    expect(c.framesOf('resume')[0]).toMatchObject({ after: 4 });
    // resumeLogin: the fake's resume answer carries no lastMessageId, so a new client resumes with no place at all.
    const other = client(c.addresses);
    await other.resumeLogin(token);
    c.replica('r1').dropAll();
    await until('the resumes', () => c.framesOf('resume').length >= 4);
    expect(c.framesOf('resume').filter((f) => f.after === undefined)).toHaveLength(2);
    // Until a message reaches it: the first push is its place (both clients are alice's, both get message 5).
    const got: number[] = [];
    other.on('message', (m) => got.push(m.id));
    c.deliver('bob', 'alice', 'the first one it sees');
    await until('the push', () => got.length === 1);
    const asked = c.framesOf('resume').length;
    c.replica('r1').dropAll();
    await until('the resumes after it', () => c.framesOf('resume').length === asked + 2);
    expect(c.framesOf('resume').slice(asked).map((f) => f.after)).toEqual([5, 5]);
  });
  it('resumeLogin with no place takes the newest message its answer names; pushes and reads then move the place to the newest seen, whatever their order', async () => {
    const c = await cluster();
    const token = 'kept-token-0123456789abcdef';
    const message = (id: number) => ({ id, from: 'bob', to: 'alice', text: `m${id}`, sentAt: id, deliveredAt: null, readAt: null });
    c.replica('r1').hook = (req) => {
      if (req.op === 'resume' && req.token === token) return { result: { user: 'alice', unread: 0, lastMessageId: 7 } };
      if (req.op === 'read') return { result: { messages: [message(15), message(11)], more: false } };
      return undefined;
    };
    const q = client(c.addresses, { autoDelivered: false });
    const seen: number[] = [];
    q.on('message', (m) => seen.push(m.id));
    await q.resumeLogin(token);
    const resumedAfter = async (): Promise<unknown> => {
      const before = c.framesOf('resume').length;
      c.replica('r1').dropAll();
      await until('the resume after the reconnect', () => c.framesOf('resume').length > before && q.state.status === 'connected');
      return c.framesOf('resume').at(-1)!.after;
    };
    expect(await resumedAfter()).toBe(7);
    // Pushes out of order: the place is the newest, not the last to arrive.
    for (const conn of c.replica('r1').conns) {
      conn.push(message(12));
      conn.push(message(10));
    }
    await until('both pushes', () => seen.length === 2);
    expect(await resumedAfter()).toBe(12);
    // A read's messages count as seen too: the newest of them (15) is the place, and a push of one of them is no news.
    await q.read();
    expect(await resumedAfter()).toBe(15);
    for (const conn of c.replica('r1').conns) {
      conn.push(message(11));
      conn.push(message(16));
    }
    await until('the new push', () => seen.includes(16));
    expect(seen).toEqual([12, 10, 16]);
  });
});

describe('QuorumClient: what a call that gives up says', () => {
  it("a write: the last refusal's code when it said nothing changed (NOT_LEADER: UNAVAILABLE), with its words and hint", async () => {
    const cases: [string, string][] = [
      ['NOT_LEADER', 'UNAVAILABLE'],
      ['NO_QUORUM', 'NO_QUORUM'],
      ['STATE_DIVERGED', 'STATE_DIVERGED'],
      ['UNAVAILABLE', 'UNAVAILABLE'],
    ];
    for (const [refusal, code] of cases) {
      const c = await cluster();
      const r1 = c.replica('r1');
      const hint = { id: 'r1', address: r1.address };
      r1.hook = (req) => (req.op === 'send' ? { error: { code: refusal as 'NOT_LEADER', message: `refused: ${refusal}`, leader: hint } } : undefined);
      const q = client(c.addresses, { giveUpAfterMs: 400 });
      await q.login('alice', 'password123');
      const err = await q.send('bob', 'x').then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, refusal).toMatchObject({ code, leader: hint, message: `not sent: send: no leader took it within 400 ms; nothing was changed (refused: ${refusal})` });
      q.close();
    }
  });

  it('a write once answered TIMEOUT or INTERNAL (maybe applied), then refused until its time is up: "not confirmed" (TIMEOUT), not "not sent"', async () => {
    for (const first of ['TIMEOUT', 'INTERNAL'] as const) {
      const c = await cluster();
      const r1 = c.replica('r1');
      const hint = { id: 'r1', address: r1.address };
      let sends = 0;
      r1.hook = (req) => {
        if (req.op !== 'send') return undefined;
        sends += 1;
        return { error: sends === 1 ? { code: first, message: `first: ${first}`, leader: hint } : { code: 'NOT_LEADER' as const, message: 'refused: NOT_LEADER', leader: hint } };
      };
      const q = client(c.addresses, { giveUpAfterMs: 400 });
      await q.login('alice', 'password123');
      const err = await q.send('bob', 'x').then(
        () => null,
        (e: unknown) => e,
      );
      expect(sends, first).toBeGreaterThan(1);
      expect(err, first).toMatchObject({
        code: 'TIMEOUT',
        message: 'not confirmed: send: the cluster did not confirm it within 400 ms; it may or may not have been applied (refused: NOT_LEADER)',
      });
      q.close();
    }
  });

  it('a read refused with NOT_LEADER every time: UNAVAILABLE, saying why', async () => {
    const c = await cluster();
    const r1 = c.replica('r1');
    r1.hook = (req) => (req.op === 'conversations' ? { error: { code: 'NOT_LEADER', message: 'not me', leader: { id: 'r1', address: r1.address } } } : undefined);
    const q = client(c.addresses, { giveUpAfterMs: 400 });
    await q.login('alice', 'password123');
    await expect(q.conversations()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(new RegExp(`^conversations: no leader answered within 400 ms \\((NOT_LEADER from ${r1.address}: )?not me\\)$`)),
    });
  });
});

describe('QuorumClient: statusOf', () => {
  it("waits the client's own timeouts by default, or the one given, for the hello and for the answer; the URL is the client's", async () => {
    const c = await cluster();
    const r1 = c.replica('r1');
    const urls: string[] = [];
    const q = client(c.addresses, {
      connectTimeoutMs: 300,
      requestTimeoutMs: 400,
      url: (address) => {
        urls.push(address);
        return `ws://${address}/client`;
      },
    });
    await until('connected', () => q.state.status === 'connected');
    r1.silent = true;
    await expect(q.statusOf(r1.address)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: `no hello from ${r1.address} within 300 ms` });
    await expect(q.statusOf(r1.address, { timeoutMs: 150 })).rejects.toMatchObject({ message: `no hello from ${r1.address} within 150 ms` });
    r1.silent = false;
    r1.hook = (req) => (req.op === 'status' ? { drop: true } : undefined);
    await expect(q.statusOf(r1.address)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: `no status from ${r1.address} within 400 ms` });
    await expect(q.statusOf(r1.address, { timeoutMs: 150 })).rejects.toMatchObject({ message: `no status from ${r1.address} within 150 ms` });
    expect(urls.slice(-4)).toEqual([r1.address, r1.address, r1.address, r1.address]);
  });
});

describe('QuorumClient: stray responses', () => {
  it('a second answer to a request that is waiting to be asked again is ignored; the retry decides', async () => {
    const c = await cluster();
    const debug: [Record<string, unknown>, string | undefined][] = [];
    const q = client(c.addresses, { random: () => 0.5, backoff: { initialMs: 200, maxMs: 200 }, log: { debug: (o, m) => debug.push([{ ...o }, m]) } });
    await q.login('alice', 'password123');
    let first = true;
    c.replica('r1').hook = (req, conn) => {
      if (req.op !== 'send' || !first) return undefined;
      first = false;
      // A confused replica answers twice: a retryable refusal, then a result.
      conn.send({ type: 'response', id: req.id, ok: false, error: { code: 'TIMEOUT', message: 'slow' } });
      conn.send({ type: 'response', id: req.id, ok: true, result: { id: -1, sentAt: 0 } });
      return { drop: true };
    };
    const result = await q.send('bob', 'x');
    expect(result.id).toBeGreaterThan(0);
    const sends = c.framesOf('send');
    expect(sends).toHaveLength(2);
    expect(debug.filter(([, m]) => m === 'client ignored a response to no pending request')).toEqual([[{ id: sends[0]!.id }, 'client ignored a response to no pending request']]);
  });
});
