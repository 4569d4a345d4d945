// QuorumClient against a fake cluster: leader following, reconnection with backoff, same-seq resends (exactly once),
// bounded retries, final errors, read-only state. Deterministic: seeded jitter, conditions polled, no fixed sleeps.
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient, QuorumError } from '../../replica/client/index.js';
import type { ClientState, QuorumClientOptions } from '../../replica/client/index.js';
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
  return c;
}

function client(servers: string[], options: Partial<QuorumClientOptions> = {}): QuorumClient {
  const c = new QuorumClient({
    servers,
    WebSocket,
    random: seededRandom(7),
    backoff: { initialMs: 10, maxMs: 80 },
    requestTimeoutMs: 2_000,
    connectTimeoutMs: 1_000,
    ...options,
  });
  clients.push(c);
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<QuorumError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(QuorumError);
    return err as QuorumError;
  }
  throw new Error('expected the call to fail');
}

describe('QuorumClient: finding the leader', () => {
  it('learns every member from status after connecting', async () => {
    const c = await cluster(3);
    const members: string[][] = [];
    const q = client([c.replica('r1').address]);
    q.on('members', (rows) => members.push(rows.map((r) => r.id)));
    await until('members event', () => members.length > 0);
    expect(members[0]).toEqual(['r1', 'r2', 'r3']);
    expect(q.servers.sort()).toEqual(c.addresses.sort());
    expect(q.state).toMatchObject({ status: 'connected', replica: { id: 'r1' }, leader: { id: 'r1' }, readOnly: false });
  });

  it("follows the hello's leader from a follower to the leader", async () => {
    const c = await cluster(3);
    c.leaderId = 'r3';
    const q = client([c.replica('r1').address]);
    await expect(q.signup('alice', 'password123')).resolves.toEqual({ user: 'alice' });
    expect(q.state.replica?.id).toBe('r3');
    // The follower got no request: the client left on its hello.
    expect(c.replica('r1').frames).toEqual([]);
  });

  it('follows a NOT_LEADER hint and resends the request there', async () => {
    const c = await cluster(3);
    const q = client(c.addresses);
    await q.signup('alice', 'password123');
    expect(q.state.replica?.id).toBe('r1');
    c.leaderId = 'r2'; // r1 is deposed: it now answers NOT_LEADER with a hint to r2
    const sent = await q.signup('bob', 'password123');
    expect(sent).toEqual({ user: 'bob' });
    expect(q.state.replica?.id).toBe('r2');
    const bobFrames = c.framesOf('signup').filter((f) => f.username === 'bob');
    expect(bobFrames.map((f) => f.session)).toEqual([bobFrames[0].session, bobFrames[0].session]);
    expect(c.applied.filter((w) => w.op === 'signup')).toHaveLength(2);
  });

  it('reconnects with backoff through dead addresses to a live replica', async () => {
    const c = await cluster(3);
    await c.replica('r1').down();
    await c.replica('r2').down();
    c.leaderId = 'r3';
    const states: ClientState[] = [];
    const q = client(c.addresses);
    q.on('state', (s) => states.push(s));
    await expect(q.signup('carol', 'password123')).resolves.toEqual({ user: 'carol' });
    expect(q.state.replica?.id).toBe('r3');
    expect(states.some((s) => s.status === 'connecting' && s.lastError?.includes('cannot connect'))).toBe(true);
  });

  it('asks no leader twice in a row when a replica knows none, and tries another replica', async () => {
    const c = await cluster(2);
    c.leaderId = null; // an election: both answer NO_QUORUM
    // Which replica received each signup, in the order the client sent them.
    const asked: string[] = [];
    for (const replica of c.replicas) replica.hook = (req, _conn, r) => (req.op === 'signup' ? void asked.push(r.id) : undefined);
    const q = client(c.addresses);
    const pending = q.signup('dave', 'password123');
    await until('NO_QUORUM seen twice', () => asked.length >= 2);
    expect(q.state.readOnly).toBe(true);
    // After r1's NO_QUORUM the next attempt goes to r2: another side of a partition may have a leader.
    expect(asked.slice(0, 2)).toEqual(['r1', 'r2']);
    c.leaderId = 'r2';
    await expect(pending).resolves.toEqual({ user: 'dave' });
    expect(q.state.readOnly).toBe(false);
    expect(c.applied.filter((w) => w.op === 'signup')).toHaveLength(1);
    expect(c.applied.find((w) => w.op === 'signup')?.replica).toBe('r2');
  });
});

describe('QuorumClient: stale hints and unusable replicas', () => {
  it('survives replicas that point at each other, backing off until a leader emerges', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    c.leaderId = null;
    r1.helloLeader = { id: 'r2', address: r2.address };
    r2.helloLeader = { id: 'r1', address: r1.address };
    const q = client([r1.address]);
    const pending = q.signup('gina', 'password123');
    await until('several hops', () => r1.connections + r2.connections >= 8);
    c.leaderId = 'r2';
    r1.helloLeader = undefined;
    r2.helloLeader = undefined;
    await expect(pending).resolves.toEqual({ user: 'gina' });
    expect(q.state.replica?.id).toBe('r2');
  });

  it('leaves a replica that answers UNAVAILABLE (stopping or removed) for another one', async () => {
    const c = await cluster(2);
    c.leaderId = 'r2';
    const r1 = c.replica('r1');
    r1.helloLeader = null; // r1 does not know the leader, and it is shutting down
    r1.hook = (req) => (req.op === 'status' ? undefined : { error: { code: 'UNAVAILABLE', message: 'this replica is stopping' } });
    const q = client([r1.address, c.replica('r2').address]);
    await expect(q.signup('hank', 'password123')).resolves.toEqual({ user: 'hank' });
    expect(q.state.replica?.id).toBe('r2');
  });

  it('leaves a replica whose state diverged (STATE_DIVERGED) for another one', async () => {
    const c = await cluster(2);
    c.leaderId = 'r2';
    const r1 = c.replica('r1');
    r1.helloLeader = null;
    r1.hook = (req) => (req.op === 'status' ? undefined : { error: { code: 'STATE_DIVERGED', message: "this replica's state differs from the cluster's" } });
    const q = client([r1.address, c.replica('r2').address]);
    await expect(q.signup('hana', 'password123')).resolves.toEqual({ user: 'hana' });
    expect(q.state.replica?.id).toBe('r2');
  });

  it('retries INTERNAL a few times, then reports it', async () => {
    const c = await cluster(1);
    c.replica('r1').hook = (req) => (req.op === 'signup' ? { error: { code: 'INTERNAL', message: 'internal error; the request may be retried' } } : undefined);
    const q = client(c.addresses);
    expect((await rejection(q.signup('ivy', 'password123'))).code).toBe('INTERNAL');
    expect(c.framesOf('signup')).toHaveLength(4);
  });
});

describe('QuorumClient: exactly once across failures', () => {
  it('resends an unanswered write with the same session seq after the leader dies, applied once', async () => {
    const c = await cluster(3);
    const q = client(c.addresses);
    await q.signup('alice', 'password123');
    await q.signup('bob', 'password123');
    await q.login('alice', 'password123');
    // r1 commits the send, then dies before answering; r2 takes over with the same replicated state.
    c.replica('r1').hook = (req, _conn, replica) => {
      if (req.op !== 'send') return undefined;
      c.leaderId = 'r2';
      void replica.down();
      return { close: true, apply: true };
    };
    const result = await q.send('bob', 'hello once');
    const sends = c.framesOf('send');
    expect(sends).toHaveLength(2);
    expect(sends[1]).toEqual(sends[0]); // the identical frame: same request id and session
    expect(c.applied.filter((w) => w.op === 'send')).toHaveLength(1);
    expect(c.messages.filter((m) => m.text === 'hello once')).toHaveLength(1);
    expect(result.id).toBe(c.messages.find((m) => m.text === 'hello once')!.id);
    expect(q.state.replica?.id).toBe('r2');
  });

  it('treats a silent replica as dead after requestTimeoutMs and resends elsewhere', async () => {
    const c = await cluster(2);
    const q = client(c.addresses, { requestTimeoutMs: 1000 });
    await q.signup('alice', 'password123');
    c.replica('r1').hook = (req) => {
      if (req.op !== 'signup') return undefined;
      c.leaderId = 'r2';
      return { drop: true };
    };
    await expect(q.signup('erin', 'password123')).resolves.toEqual({ user: 'erin' });
    expect(c.framesOf('signup').filter((f) => f.username === 'erin')).toHaveLength(2);
    expect(q.state.replica?.id).toBe('r2');
  });

  it('retries TIMEOUT on the same replica with the same seq; a delayed answer still counts once', async () => {
    const c = await cluster(1);
    const q = client(c.addresses);
    let timeouts = 0;
    c.replica('r1').hook = (req) => {
      if (req.op === 'signup' && timeouts < 2) {
        timeouts++;
        return { error: { code: 'TIMEOUT', message: 'not committed in time' } };
      }
      if (req.op === 'signup') return { delayMs: 30 };
      return undefined;
    };
    await expect(q.signup('frank', 'password123')).resolves.toEqual({ user: 'frank' });
    const frames = c.framesOf('signup');
    expect(frames).toHaveLength(3);
    expect(new Set(frames.map((f) => JSON.stringify(f))).size).toBe(1);
  });

  it('sends requests made while disconnected in call order, with consecutive seqs', async () => {
    const c = await cluster(1);
    await c.replica('r1').down();
    const q = client(c.addresses);
    const calls = [q.signup('u1', 'password123'), q.signup('u2', 'password123'), q.signup('u3', 'password123')];
    await until('a few failed connection attempts', () => q.state.lastError !== undefined);
    await c.replica('r1').up();
    await Promise.all(calls);
    expect(c.framesOf('signup').map((f) => [f.username, f.session.seq])).toEqual([
      ['u1', 1],
      ['u2', 2],
      ['u3', 3],
    ]);
    expect(c.framesOf('signup').every((f) => f.session.clientId === q.clientId)).toBe(true);
  });
});

describe('QuorumClient: bounded retries and final errors', () => {
  it('gives up after giveUpAfterMs with UNAVAILABLE when nothing answers', async () => {
    const c = await cluster(2);
    const addresses = c.addresses;
    await c.close();
    const q = client(addresses, { giveUpAfterMs: 300 });
    const started = Date.now();
    const err = await rejection(q.signup('alice', 'password123'));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/within 300 ms/);
    // No wall-clock ceiling (the machine is shared): the give-up is the rejection itself; the time is printed.
    console.log(`gave up after ${Date.now() - started} ms (giveUpAfterMs 300)`);
  });

  it('gives up with the last retryable code (TIMEOUT) when the cluster keeps timing out', async () => {
    const c = await cluster(1);
    c.replica('r1').hook = (req) => (req.op === 'send' ? { error: { code: 'TIMEOUT', message: 'not committed in time' } } : undefined);
    const q = client(c.addresses, { giveUpAfterMs: 2000 });
    await q.signup('alice', 'password123');
    await q.login('alice', 'password123');
    const err = await rejection(q.send('alice', 'hi'));
    expect(err.code).toBe('TIMEOUT');
    expect(c.framesOf('send').length).toBeGreaterThan(1);
  });

  it('rejects final errors at once with their code', async () => {
    const c = await cluster(1);
    const q = client(c.addresses);
    await q.signup('alice', 'password123');
    expect((await rejection(q.signup('alice', 'password123'))).code).toBe('USERNAME_TAKEN');
    expect((await rejection(q.login('alice', 'wrong-password'))).code).toBe('BAD_CREDENTIALS');
    expect((await rejection(q.send('alice', 'not logged in'))).code).toBe('UNAUTHENTICATED');
    await q.login('alice', 'password123');
    expect((await rejection(q.send('nobody', 'hi'))).code).toBe('NOT_FOUND');
    expect(c.framesOf('signup')).toHaveLength(2);
  });

  it('refuses invalid input locally without sending it or using a seq', async () => {
    const c = await cluster(1);
    const q = client(c.addresses);
    const err = await rejection(q.signup('not a name!', 'password123'));
    expect(err.code).toBe('INVALID');
    expect(err.message).toMatch(/^signup: username/);
    expect((await rejection(q.signup('alice', 'short'))).code).toBe('INVALID');
    expect((await rejection(q.send('bob', 'x'.repeat(5000)))).code).toBe('INVALID');
    await q.signup('alice', 'password123');
    expect(c.framesOf('signup').map((f) => f.session.seq)).toEqual([1]);
  });

  it('close() rejects unanswered calls and reports the closed state', async () => {
    const c = await cluster(1);
    c.replica('r1').hook = () => ({ drop: true });
    const q = client(c.addresses);
    const pending = q.signup('alice', 'password123');
    await until('the signup reached the server', () => c.framesOf('signup').length === 1);
    q.close();
    expect((await rejection(pending)).code).toBe('UNAVAILABLE');
    expect(q.state.status).toBe('closed');
    expect((await rejection(q.signup('bob', 'password123'))).code).toBe('UNAVAILABLE');
  });
});

describe('QuorumClient: status', () => {
  it('statusOf asks one replica over its own connection and leaves the main one alone', async () => {
    const c = await cluster(3);
    const q = client([c.replica('r1').address]);
    await until('connected', () => q.state.status === 'connected');
    const connectionsBefore = c.replica('r1').connections;
    const st = await q.statusOf(c.replica('r3').address);
    expect(st).toMatchObject({ id: 'r3', role: 'follower', leader: { id: 'r1' } });
    expect(q.state.replica?.id).toBe('r1');
    expect(c.replica('r1').connections).toBe(connectionsBefore);
    await until('the probe connection to close', () => c.replica('r3').conns.size === 0);
    await expect(q.status()).resolves.toMatchObject({ id: 'r1', role: 'leader' });
  });

  it('statusOf rejects with UNAVAILABLE for an unreachable replica', async () => {
    const c = await cluster(2);
    const q = client([c.replica('r1').address]);
    await c.replica('r2').down();
    const err = await rejection(q.statusOf(c.replica('r2').address, { timeoutMs: 500 }));
    expect(err.code).toBe('UNAVAILABLE');
  });
});

describe('QuorumClient: writes never outlive their session (issue 11, finding 2)', () => {
  const expired = { error: { code: 'SESSION_EXPIRED' as const, message: "this client's session expired" } };

  it('gives up on a write after writeGiveUpMs even when giveUpAfterMs is unset: "not sent" when nothing was sent', async () => {
    const c = await cluster(1);
    const address = c.addresses[0];
    await c.close();
    const q = client([address], { writeGiveUpMs: 300 });
    const err = await rejection(q.signup('alice', 'password123'));
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/^not sent: signup: no leader took it within 300 ms; nothing was changed/);
  });

  it('"not confirmed" (TIMEOUT) once it was sent and no answer said it changed nothing', async () => {
    const c = await cluster(1);
    const q = client(c.addresses, { writeGiveUpMs: 400, requestTimeoutMs: 150 });
    c.replica('r1').hook = (req) => (req.op === 'signup' ? { drop: true } : undefined);
    const err = await rejection(q.signup('alice', 'password123'));
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/^not confirmed: signup: the cluster did not confirm it within 400 ms; it may or may not have been applied/);
  });

  it('a write whose only transmission was refused as SESSION_EXPIRED goes again in a new session', async () => {
    const c = await cluster(1);
    const q = client(c.addresses, { clientId: 'client-first' });
    let refused = 0;
    c.replica('r1').hook = (req) => (req.op === 'signup' && req.session.clientId === 'client-first' && ++refused ? expired : undefined);
    await q.signup('alice', 'password123');
    expect(c.framesOf('signup').map((f) => f.session)).toEqual([
      { clientId: 'client-first', seq: 1 },
      { clientId: 'client-first-1', seq: 1 },
    ]);
    expect(c.applied.map((w) => w.clientId)).toEqual(['client-first-1']);
    expect(q.clientId).toBe('client-first-1');
  });

  it('a new session of a client whose id is as long as allowed still fits: the id is cut before its number', async () => {
    const c = await cluster(1);
    const base = `c${'x'.repeat(63)}`;
    const q = client(c.addresses, { clientId: base });
    let refused = 0;
    c.replica('r1').hook = (req) => (req.op === 'signup' && req.session.clientId === base && ++refused ? expired : undefined);
    await q.signup('alice', 'password123');
    expect(q.clientId).toBe(`${base.slice(0, 52)}-1`);
    expect(c.applied.map((w) => w.clientId)).toEqual([q.clientId]);
  });

  it('a write sent more than once that meets SESSION_EXPIRED is refused with it (its outcome is unknown)', async () => {
    const c = await cluster(1);
    const q = client(c.addresses, { clientId: 'client-first' });
    let sends = 0;
    c.replica('r1').hook = (req) => {
      if (req.op !== 'signup') return undefined;
      sends += 1;
      return sends === 1 ? { close: true } : expired;
    };
    const err = await rejection(q.signup('alice', 'password123'));
    expect(err.code).toBe('SESSION_EXPIRED');
    expect(c.applied).toEqual([]);
    c.replica('r1').hook = null;
    await q.signup('bob', 'password123');
    expect(c.framesOf('signup').map((f) => f.session)).toEqual([
      { clientId: 'client-first', seq: 1 },
      { clientId: 'client-first', seq: 1 },
      { clientId: 'client-first-1', seq: 1 },
    ]);
  });
});

