// QuorumClient's reconnect bookkeeping, seen from outside: where each new connection goes, how long it waits first
// (the log line's retryInMs, and the calls to the injected `random`, which every backoff delay draws from), what the
// state says meanwhile, and the log lines an operator reads. Against the fake cluster over real WebSockets.
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient, type QuorumClientOptions } from '../../replica/client/index.js';
import type { ClientState } from '../../replica/client/types.js';
import { CLOSE_CODES } from '../../replica/protocol/client.js';
import { FakeCluster, until } from '../helpers/fake-replica.js';

const clients: QuorumClient[] = [];
const clusters: FakeCluster[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(size = 1): Promise<FakeCluster> {
  const c = await FakeCluster.start(size);
  clusters.push(c);
  c.addAccount('alice');
  c.addAccount('bob');
  return c;
}

type Line = [level: string, fields: Record<string, unknown>, message: string | undefined];

/** A logger that keeps every line, and a `random` that counts its calls (one per backoff delay drawn). */
function recorder() {
  const lines: Line[] = [];
  const keep = (level: string) => (fields: object, message?: string) => lines.push([level, { ...fields } as Record<string, unknown>, message]);
  let draws = 0;
  return {
    lines,
    log: { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') },
    random: () => {
      draws += 1;
      return 0.5;
    },
    get draws() {
      return draws;
    },
    /** The fields of every line with this message. */
    fields(message: string): Record<string, unknown>[] {
      return lines.filter((l) => l[2] === message).map((l) => l[1]);
    },
  };
}

function client(servers: string[], options: Partial<QuorumClientOptions> = {}): QuorumClient {
  // A clientId of our own: the random source is then used for backoff delays only.
  const c = new QuorumClient({ servers, WebSocket, clientId: 'test', backoff: { initialMs: 10, maxMs: 50 }, requestTimeoutMs: 2_000, connectTimeoutMs: 1_000, ...options });
  clients.push(c);
  return c;
}

describe('QuorumClient reconnects', () => {
  it('follows three leader hints at once; a fourth hop in a row waits for a backoff that counts the hops', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    // Stale hints that cycle: each replica names the other as the leader.
    r1.helloLeader = { id: 'r2', address: r2.address };
    r2.helloLeader = { id: 'r1', address: r1.address };
    const rec = recorder();
    const q = client([r1.address], { random: rec.random, log: rec.log, backoff: { initialMs: 1_000, maxMs: 60_000 } });
    await until('a backoff drawn', () => rec.draws === 1);
    expect([r1.connections, r2.connections]).toEqual([2, 2]);
    const ended = rec.fields('client connection ended');
    // Three free hops, then backoff attempt 3 (0 failures + 3 hops): half (random 0.5) of 1000 · 2³.
    expect(ended.map((f) => f.retryInMs)).toEqual([0, 0, 0, 4_000]);
    expect(ended.map((f) => f.address)).toEqual([r1.address, r2.address, r1.address, r2.address]);
    expect(ended[0]!.reason).toBe(`r1 is not the leader; going to r2 at ${r2.address}`);
    // The hinted address was learned; the state names the hinted leader and no serving replica.
    expect(q.servers).toEqual([r1.address, r2.address]);
    expect(q.state).toMatchObject({ status: 'connecting', replica: null, leader: { id: 'r1', address: r1.address } });
    expect(q.state.lastError).toBe(`r2 is not the leader; going to r1 at ${r1.address}`);
    expect(rec.fields('client connecting').map((f) => f.address)).toEqual([r1.address, r2.address, r1.address, r2.address]);
    expect(rec.fields('client connecting').map((f) => f.epoch)).toEqual([1, 2, 3, 4]);
  });

  it("a NOT_LEADER's hint is the state's leader at once: the reconnect that follows it already names the new leader", async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    const q = client([r1.address, r2.address], { random: () => 0.5 });
    await q.login('alice', 'password123');
    expect(q.state.leader).toEqual({ id: 'r1', address: r1.address });
    const states: ClientState[] = [];
    q.on('state', (s) => states.push(s));
    c.leaderId = 'r2';
    await q.send('bob', 'to the new leader');
    const leaving = states.findIndex((s) => s.status !== 'connected');
    expect(leaving).toBeGreaterThan(0);
    // Still connected to r1 when the hint arrives: the state names r2 before the connection closes, and every state
    // until r2's hello says so.
    expect(states.slice(0, leaving).at(-1)).toMatchObject({ status: 'connected', replica: { id: 'r1' }, leader: { id: 'r2', address: r2.address } });
    expect(states.slice(leaving).map((s) => s.leader?.id)).toEqual(states.slice(leaving).map(() => 'r2'));
  });

  it('a hello resets the backoff: after reaching a replica, a hop to a dead leader backs off from the start', async () => {
    const c = await cluster(3);
    const [dead1, r2, dead2] = [c.replica('r1'), c.replica('r2'), c.replica('r3')];
    await dead1.down();
    await dead2.down();
    // r2 is up and names r3, which is down, as the leader (a failover in progress).
    r2.helloLeader = { id: 'r3', address: dead2.address };
    const rec = recorder();
    client([dead1.address, r2.address], { random: rec.random, log: rec.log, backoff: { initialMs: 10, maxMs: 1_000 } });
    await until('five connections ended', () => rec.fields('client connection ended').length >= 5);
    const ended = rec.fields('client connection ended').slice(0, 5);
    // After dead2, the rotation skips both replicas that never said hello and goes back to r2.
    expect(ended.map((f) => f.address)).toEqual([dead1.address, r2.address, dead2.address, r2.address, dead2.address]);
    // dead1: attempt 0 (5 ms); r2: a free hop; dead2: attempt 0 + 1 hop (10 ms), not 1 failure + 1 hop; r2 again: its
    // hello resets the failures and its hint is a free hop; dead2: 0 failures + 2 hops (20 ms).
    expect(ended.map((f) => f.retryInMs)).toEqual([5, 0, 10, 0, 20]);
  });

  it('when every known replica failed to say hello, the rotation tries them all again in turn', async () => {
    const dead = await cluster(2);
    const addresses = dead.addresses;
    await dead.close();
    const rec = recorder();
    client(addresses, { random: rec.random, log: rec.log, backoff: { initialMs: 1, maxMs: 2 } });
    await until('six connections ended', () => rec.fields('client connection ended').length >= 6);
    expect(rec.fields('client connection ended').slice(0, 6).map((f) => addresses.indexOf(f.address as string))).toEqual([0, 1, 0, 1, 0, 1]);
  });

  it('a first connection that fails backs off (it is no redirect); without backoff options the pace starts at 50 ms', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const dead = await cluster(1);
    const deadAddress = dead.addresses[0]!;
    await dead.close();
    const rec = recorder();
    const q = client([deadAddress, r1.address], { random: rec.random, log: rec.log, backoff: { initialMs: 10, maxMs: 50 } });
    await until('connected', () => q.state.status === 'connected');
    // Half (random 0.5) of the first attempt's 10 ms.
    expect(rec.fields('client connection ended').map((f) => [f.address, f.retryInMs])).toEqual([[deadAddress, 5]]);
    const paced = recorder();
    const p = new QuorumClient({ servers: [r1.address], WebSocket, clientId: 'test', random: paced.random, log: paced.log });
    clients.push(p);
    await until('connected', () => p.state.status === 'connected');
    r1.dropAll();
    await until('ended', () => paced.fields('client connection ended').length >= 1);
    expect(paced.fields('client connection ended')[0]!.retryInMs).toBe(25);
  });

  it('a hello that names the replica itself, or its own address, as leader is served there (no hop)', async () => {
    const c = await cluster(2);
    const r2 = c.replica('r2');
    c.leaderId = 'r2';
    // The same replica under an address the client did not dial (a different interface): not a hop.
    r2.helloLeader = { id: 'r2', address: '127.0.0.9:1' };
    const q = client([r2.address]);
    await until('connected', () => q.state.status === 'connected');
    await q.login('alice', 'password123');
    expect(r2.connections).toBe(1);
    // Another id at this very address (a stale id after a rename): also served here.
    r2.helloLeader = { id: 'rX', address: r2.address };
    r2.dropAll();
    await until('reconnected', () => r2.connections === 2 && q.state.status === 'connected');
    expect(q.state.replica).toEqual({ id: 'r2', address: r2.address });
    await expect(q.status()).resolves.toMatchObject({ id: 'r2' });
    expect(r2.connections).toBe(2);
  });

  it('a replica that sends its clients on to the new leader (close code 4409) is left at once, not after a backoff', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    c.leaderId = 'r1';
    const rec = recorder();
    const q = client([r1.address, r2.address], { random: rec.random, log: rec.log, backoff: { initialMs: 1_000, maxMs: 60_000 } });
    await q.login('alice', 'password123');
    expect(q.state.replica?.id).toBe('r1');
    c.leaderId = 'r2';
    for (const conn of r1.conns) conn.ws.close(CLOSE_CODES.leaderMoved, 'r2 leads now');
    await until('at the new leader', () => q.state.status === 'connected' && q.state.replica?.id === 'r2');
    const ended = rec.fields('client connection ended');
    expect(ended[0]).toMatchObject({ address: r1.address, retryInMs: 0, reason: `connection to ${r1.address} closed: r2 leads now` });
    expect(rec.draws).toBe(0);
  });

  it('reports connecting before the first hello and reconnecting after, with the reason, then connected', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const states: ClientState[] = [];
    const q = client([r1.address]);
    q.on('state', (s) => states.push(s));
    expect(q.state).toEqual({ status: 'connecting', replica: null, leader: null, readOnly: false });
    await until('connected', () => q.state.status === 'connected');
    expect(states.at(-1)).toMatchObject({ status: 'connected', replica: { id: 'r1', address: r1.address }, leader: { id: 'r1' } });
    expect(q.state.lastError).toBeUndefined();
    r1.dropAll();
    await until('reconnecting', () => states.some((s) => s.status === 'reconnecting'));
    const reconnecting = states.find((s) => s.status === 'reconnecting')!;
    expect(reconnecting.replica).toBeNull();
    expect(reconnecting.lastError).toBe(`connection to ${r1.address} closed`);
    await until('connected again', () => q.state.status === 'connected');
    // Connected clears the reason; the leader stays known throughout.
    expect(q.state.lastError).toBeUndefined();
    expect(states.every((s) => s.leader?.id === 'r1' || s === states[0])).toBe(true);
  });
});

describe('QuorumClient state', () => {
  it('is reported once per change: the hinted leader, connected, then the cluster version from status', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    const states: ClientState[] = [];
    const members: string[][] = [];
    const q = client([r1.address]);
    q.on('state', (s) => states.push(s));
    q.on('members', (rows) => members.push(rows.map((r) => `${r.id}@${r.address}`)));
    await until('the members', () => members.length === 1);
    await q.status();
    const leader = { id: 'r1', address: r1.address };
    expect(states).toEqual([
      { status: 'connecting', replica: null, leader, readOnly: false },
      { status: 'connected', replica: leader, leader, readOnly: false },
      { status: 'connected', replica: leader, leader, readOnly: false, clusterVersion: 2 },
    ]);
    expect(members).toEqual([[`r1@${r1.address}`, `r2@${r2.address}`]]);
    // A status that names a leader the hello did not (null in the hello) sets it; a changed version is reported.
    r1.helloLeader = null;
    c.versions.set('r1', 3);
    c.versions.set('r2', 3);
    states.length = 0;
    r1.dropAll();
    await until('the new version', () => states.some((s) => s.clusterVersion === 3));
    // The rotation's next address is r2 (learned from the members), which sends it back to the leader.
    expect(states.map((s) => [s.status, s.leader?.id, s.clusterVersion, s.lastError])).toEqual([
      ['reconnecting', 'r1', 2, `connection to ${r1.address} closed`],
      ['reconnecting', 'r1', 2, `r2 is not the leader; going to r1 at ${r1.address}`],
      ['connected', 'r1', 2, undefined],
      ['connected', 'r1', 3, undefined],
    ]);
  });

  it('a status with no leader leaves the known one; a status with another leader replaces it', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    const q = client([r1.address]);
    await until('connected', () => q.state.status === 'connected' && q.state.clusterVersion === 2);
    r1.hook = (req) => (req.op === 'status' ? { result: { ...c.status(r1), leader: null } } : undefined);
    let seen = 0;
    q.on('members', () => seen++);
    r1.dropAll();
    await until('the members again', () => seen === 1);
    expect(q.state.leader).toEqual({ id: 'r1', address: r1.address });
    r1.hook = (req) => (req.op === 'status' ? { result: { ...c.status(r1), leader: { id: 'r2', address: r2.address } } } : undefined);
    r1.dropAll();
    await until('the members again', () => seen === 2);
    expect(q.state.leader).toEqual({ id: 'r2', address: r2.address });
    // A status from an older release (no cluster version) leaves the known one; a member listed with no address
    // yet ('') is not an address to try; a connected state carries no lastError at all.
    r1.hook = (req) => {
      if (req.op !== 'status') return undefined;
      const { clusterVersion: _, ...older } = c.status(r1);
      return { result: { ...older, members: [...older.members, { id: 'r9', address: '', voter: false }] } };
    };
    r1.dropAll();
    await until('the members again', () => seen === 3 && q.state.status === 'connected');
    expect(q.state.clusterVersion).toBe(2);
    expect(q.servers).toEqual([r1.address, r2.address]);
    expect(Object.keys(q.state)).not.toContain('lastError');
  });
});

describe('QuorumClient log lines', () => {
  it('say what the client did and why, with the fields an operator filters on', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const rec = recorder();
    const q = client([r1.address], { random: rec.random, log: rec.log });
    await q.login('alice', 'password123');

    // A write the leader could not confirm in time is asked again after a backoff (attempt 0: half of 10 ms).
    let timeouts = 1;
    r1.hook = (req) => (req.op === 'send' && timeouts-- > 0 ? { error: { code: 'TIMEOUT', message: 'not committed in time' } } : undefined);
    await q.send('bob', 'one');
    expect(rec.fields('client retrying request')).toEqual([{ op: 'send', code: 'TIMEOUT', delay: 5 }]);

    // A write refused because its session expired goes again in a new one.
    let expiries = 1;
    r1.hook = (req) => (req.op === 'send' && expiries-- > 0 ? { error: { code: 'SESSION_EXPIRED', message: 'forgotten' } } : undefined);
    await q.send('bob', 'two');
    const expired = c.framesOf('send').at(-2)!.session.clientId as string;
    expect(rec.fields('client session expired; sending the write in a new session')).toEqual([{ op: 'send', clientId: expired }]);
    expect(c.framesOf('send').at(-1)!.session.clientId).not.toBe(expired);

    // A response to nothing pending.
    [...r1.conns].at(-1)!.send({ type: 'response', id: 9_999, ok: true, result: {} });
    await until('the ignored response', () => rec.fields('client ignored a response to no pending request').length === 1);
    expect(rec.fields('client ignored a response to no pending request')).toEqual([{ id: 9_999 }]);

    // A malformed membership answer on a new connection is logged and ignored; the connection serves.
    r1.hook = (req) => (req.op === 'status' ? { result: { members: 'nobody' } } : undefined);
    let members = 0;
    q.on('members', () => members++);
    r1.dropAll();
    await until('the malformed status', () => rec.fields('client ignored a malformed status').length === 1);
    expect(rec.fields('client ignored a malformed status')[0]!.err).toEqual(expect.any(String));
    expect(members).toBe(0);
    r1.hook = null;
    await q.send('bob', 'three');

    // A resume the cluster refuses ends the login.
    const ended: string[] = [];
    q.on('sessionEnded', (e) => ended.push(e.reason));
    c.tokens.clear();
    r1.dropAll();
    await until('the session ended', () => ended.length === 1);
    expect(ended).toEqual(['UNAUTHENTICATED: this login has ended']);
    expect(rec.fields('resume refused; the session ended')).toEqual([{ code: 'UNAUTHENTICATED' }]);
    expect(rec.fields('client connection ended').map((f) => f.address)).toEqual([r1.address, r1.address]);
    expect(rec.fields('client connection ended').map((f) => f.reason)).toEqual([`connection to ${r1.address} closed`, `connection to ${r1.address} closed`]);
  });

  it("an app that cannot keep a write's session is warned, and the write goes anyway", async () => {
    const c = await cluster(1);
    const rec = recorder();
    const q = client(c.addresses, { random: rec.random, log: rec.log });
    await q.login('alice', 'password123');
    await expect(q.send('bob', 'kept', { keepSession: () => Promise.reject(new Error('disk full')) })).resolves.toMatchObject({ id: expect.any(Number) });
    expect(rec.fields("the app could not keep a write's session; sending it anyway")).toEqual([{ op: 'send', err: 'disk full' }]);
    expect(c.applied.filter((a) => a.op === 'send')).toHaveLength(1);
    // A keepSession that throws synchronously is the same.
    await expect(q.send('bob', 'kept too', { keepSession: () => { throw new Error('no space'); } })).resolves.toMatchObject({ id: expect.any(Number) });
    expect(rec.fields("the app could not keep a write's session; sending it anyway").map((f) => f.err)).toEqual(['disk full', 'no space']);
  });
});

describe('QuorumClient leaves a replica', () => {
  it('for the hinted leader at once, but a hint naming the replica it is on (by id or address) is stale: it rotates after a backoff', async () => {
    for (const stale of ['same id', 'same address'] as const) {
      const c = await cluster(2);
      const [r1, r2] = [c.replica('r1'), c.replica('r2')];
      const rec = recorder();
      const q = client([r1.address, r2.address], { random: rec.random, log: rec.log });
      await q.login('alice', 'password123');
      let refusals = 1;
      const hint = stale === 'same id' ? { id: 'r1', address: '127.0.0.9:1' } : { id: 'rX', address: r1.address };
      r1.hook = (req) => (req.op === 'send' && refusals-- > 0 ? { error: { code: 'NOT_LEADER', message: 'not me', leader: hint } } : undefined);
      await q.send('bob', stale);
      // It went on by rotation (r2, which sent it back to r1), after one backoff, not to the stale hint.
      expect(r2.connections, stale).toBe(1);
      expect(rec.draws, stale).toBe(1);
      expect(q.servers, stale).toEqual([r1.address, r2.address]);
      expect(rec.fields('client connection ended')[0], stale).toMatchObject({ address: r1.address, reason: `NOT_LEADER from ${r1.address}: not me`, retryInMs: 5 });
      await c.close();
    }
  });

  it('a TIMEOUT that names another leader: leadership moved while the write was in flight; it is resent there, once', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    const rec = recorder();
    const q = client([r1.address], { random: rec.random, log: rec.log });
    await q.login('alice', 'password123');
    r1.hook = (req) => {
      if (req.op !== 'send') return undefined;
      c.leaderId = 'r2';
      return { error: { code: 'TIMEOUT', message: 'leadership moved', leader: { id: 'r2', address: r2.address } } };
    };
    await q.send('bob', 'moved');
    expect(c.applied.filter((a) => a.op === 'send').map((a) => a.replica)).toEqual(['r2']);
    expect(rec.draws).toBe(0);
    expect(rec.fields('client connection ended')[0]).toMatchObject({ reason: `TIMEOUT from ${r1.address}: leadership moved`, retryInMs: 0 });
    expect(q.state.leader).toEqual({ id: 'r2', address: r2.address });
  });

  it('a TIMEOUT that names this very replica is asked again here', async () => {
    const c = await cluster(2);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 0.5 });
    await q.login('alice', 'password123');
    let refusals = 1;
    r1.hook = (req) => (req.op === 'send' && refusals-- > 0 ? { error: { code: 'TIMEOUT', message: 'slow', leader: { id: 'r1', address: r1.address } } } : undefined);
    await q.send('bob', 'same');
    expect(r1.connections).toBe(1);
    expect(r1.frames.filter((f) => f.op === 'send')).toHaveLength(2);
  });

  it('a refusal that names its wait (the login throttle) goes to the caller at once, with the wait', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 0.5 });
    r1.hook = (req) => (req.op === 'login' ? { error: { code: 'RATE_LIMITED', message: 'too many logins; wait 5 s', retryAfterMs: 5_000 } } : undefined);
    await expect(q.login('alice', 'password123')).rejects.toMatchObject({ code: 'RATE_LIMITED', message: 'too many logins; wait 5 s', retryAfterMs: 5_000 });
    expect(c.framesOf('login')).toHaveLength(1);
    // Without a wait RATE_LIMITED is the library's to retry.
    let refusals = 1;
    r1.hook = (req) => (req.op === 'login' && refusals-- > 0 ? { error: { code: 'RATE_LIMITED', message: 'busy' } } : undefined);
    await expect(q.login('alice', 'password123')).resolves.toMatchObject({ user: 'alice' });
    expect(c.framesOf('login')).toHaveLength(3);
  });

  it('a resume or status the replica never answers closes the connection after requestTimeoutMs, and the next one serves', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const rec = recorder();
    const q = client([r1.address], { random: rec.random, log: rec.log, requestTimeoutMs: 300 });
    await q.login('alice', 'password123');
    for (const op of ['resume', 'status']) {
      let drops = 1;
      r1.hook = (req) => (req.op === op && drops-- > 0 ? { drop: true } : undefined);
      const before = r1.connections;
      r1.dropAll();
      await until(`the silent ${op} given up`, () => rec.fields('client connection ended').some((f) => f.reason === `no response from ${r1.address} within 300 ms`));
      rec.lines.length = 0;
      await expect(q.send('bob', `after a silent ${op}`)).resolves.toMatchObject({ id: expect.any(Number) });
      expect(r1.connections, op).toBe(before + 2);
    }
  });

  it('a re-watch of presence the replica keeps refusing is asked 1 + 8 times on a connection, then left until the next one', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const rec = recorder();
    const q = client([r1.address], { random: rec.random, log: rec.log, backoff: { initialMs: 2, maxMs: 2 } });
    await q.login('alice', 'password123');
    await q.presence(['bob']);
    r1.hook = (req) => (req.op === 'presence' ? { error: { code: 'FORBIDDEN', message: 'not now' } } : undefined);
    r1.dropAll();
    const stopped = 'client stopped asking for the watched presence on this connection; it is asked again on the next one';
    await until('the re-watch left', () => rec.fields(stopped).length === 1);
    expect(rec.fields(stopped)).toEqual([{ code: 'FORBIDDEN', asked: 9 }]);
    expect(c.framesOf('presence')).toHaveLength(1 + 9);
    // The connection serves on.
    r1.hook = null;
    await expect(q.send('bob', 'still here')).resolves.toMatchObject({ id: expect.any(Number) });
    expect(r1.connections).toBe(2);
  });

  it('a re-watch refused with NO_QUORUM marks the client read-only and leaves the replica', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 0.5 });
    await q.login('alice', 'password123');
    await q.presence(['bob']);
    let refusals = 1;
    r1.hook = (req) => (req.op === 'presence' && refusals-- > 0 ? { error: { code: 'NO_QUORUM', message: 'no majority' } } : undefined);
    const states: ClientState[] = [];
    q.on('state', (s) => states.push(s));
    r1.dropAll();
    await until('read-only', () => states.some((s) => s.readOnly));
    // First the refusal's reason, then the connection it closed.
    expect(states.filter((s) => s.readOnly).map((s) => s.lastError).slice(0, 2)).toEqual(['NO_QUORUM: no majority', `NO_QUORUM from ${r1.address}: no majority`]);
    await until('connected again', () => r1.connections === 3 && q.state.status === 'connected');
  });

  it('a resume refused with NO_QUORUM marks the client read-only with its reason and leaves the replica; the next resume serves', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 0.5 });
    await q.login('alice', 'password123');
    let refusals = 1;
    r1.hook = (req) => (req.op === 'resume' && refusals-- > 0 ? { error: { code: 'NO_QUORUM', message: 'no majority' } } : undefined);
    const states: ClientState[] = [];
    q.on('state', (s) => states.push(s));
    const ended: string[] = [];
    q.on('sessionEnded', (e) => ended.push(e.reason));
    r1.dropAll();
    await until('connected again', () => r1.connections === 3 && q.state.status === 'connected' && c.framesOf('resume').length === 2);
    expect(states.filter((s) => s.readOnly).map((s) => s.lastError).slice(0, 2)).toEqual(['NO_QUORUM: no majority', `NO_QUORUM from ${r1.address}: no majority`]);
    // The login lives on; the new connection's status says a quorum is back, which ends read-only.
    expect(ended).toEqual([]);
    await until('writable', () => !q.state.readOnly);
    await expect(q.send('bob', 'back')).resolves.toMatchObject({ id: expect.any(Number) });
  });

  it('a resume or re-watch refused with NOT_LEADER leaves the replica but never marks the client read-only', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 0.5 });
    await q.login('alice', 'password123');
    await q.presence(['bob']);
    const states: ClientState[] = [];
    q.on('state', (s) => states.push(s));
    for (const op of ['resume', 'presence']) {
      let refusals = 1;
      r1.hook = (req) => (req.op === op && refusals-- > 0 ? { error: { code: 'NOT_LEADER', message: 'not me', leader: null } } : undefined);
      const asked = c.framesOf(op).length;
      r1.dropAll();
      await until(`${op} asked twice`, () => c.framesOf(op).length >= asked + 2 && q.state.status === 'connected');
    }
    expect(states.some((s) => s.lastError === `NOT_LEADER from ${r1.address}: not me`)).toBe(true);
    expect(states.filter((s) => s.readOnly)).toEqual([]);
  });
});

describe('QuorumClient read-only', () => {
  it('probes the status at a doubling pace while read-only, only once the connection is bound to the login again, and stops once writable (fake clock)', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    // random 1: every delay is its ceiling, initialMs · 2^attempt (100, 200, 400, …). The liveness watch (whose
    // status questions would count too) ticks beyond the clock's last advance.
    const q = client([r1.address], { random: () => 1, backoff: { initialMs: 100, maxMs: 100_000 }, livenessMs: 2_000_000_000, idleLivenessMs: 2_000_000_000 });
    await q.login('alice', 'password123');
    let quorum = false;
    let resumeRefusals = 1;
    let holdResume = false;
    r1.hook = (req) => {
      if (req.op === 'status') return { result: { ...c.status(r1), quorum } };
      if (req.op === 'resume' && resumeRefusals-- > 0) return { error: { code: 'NO_QUORUM', message: 'no majority' } };
      if (req.op === 'resume' && holdResume) return { delayMs: 1_000 };
      return undefined;
    };
    const statuses = () => c.framesOf('status').length;
    // The client's (and the fake replica's) timers run on the fake clock; until() polls on the real one.
    const settle = (what: () => boolean) => until('the condition', what);
    /** A read on the same connection: once answered, every frame the client sent before it has arrived. */
    const fence = () => q.conversations();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      r1.dropAll();
      await settle(() => q.state.status === 'reconnecting');
      // Reconnect (backoff 100 ms): the resume is refused with NO_QUORUM, so read-only; then the next connection serves.
      vi.advanceTimersByTime(100);
      await settle(() => q.state.readOnly && q.state.status === 'reconnecting' && r1.connections === 2);
      vi.advanceTimersByTime(100);
      await settle(() => q.state.status === 'connected' && r1.connections === 3);
      await fence();
      const s0 = statuses();
      // The first probe 100 ms after the connection became ready, then 200 and 400 ms apart.
      let expected = s0;
      for (const delay of [100, 200, 400]) {
        vi.advanceTimersByTime(delay - 1);
        await fence();
        expect(statuses()).toBe(expected);
        vi.advanceTimersByTime(1);
        expected += 1;
        await settle(() => statuses() === expected);
      }
      expect(q.state.readOnly).toBe(true);

      // The next probe (800 ms after the last) comes due while a new connection's resume is unanswered: it asks nothing
      // there (the connection is not bound to the login yet) and waits its next turn (1,600 ms).
      holdResume = true;
      r1.dropAll();
      await settle(() => q.state.status === 'reconnecting');
      vi.advanceTimersByTime(100);
      expected += 1; // the new connection's own status question, with its hello
      await settle(() => statuses() === expected && c.framesOf('resume').length === 3);
      vi.advanceTimersByTime(700); // the probe's turn: 800 ms after the last one
      vi.advanceTimersByTime(300); // the resume's answer (held 1,000 ms): the connection serves
      await fence();
      expect(statuses()).toBe(expected);
      // No second probe timer came with the new connection: the next question at 1,600 ms after the skipped turn.
      vi.advanceTimersByTime(1_600 - 300 - 1);
      await fence();
      expect(statuses()).toBe(expected);
      vi.advanceTimersByTime(1);
      expected += 1;
      await settle(() => statuses() === expected);

      // A quorum is back: the next probe (3,200 ms on) hears it, read-only ends, and the probing stops.
      quorum = true;
      vi.advanceTimersByTime(3_199);
      await fence();
      expect(statuses()).toBe(expected);
      vi.advanceTimersByTime(1);
      expected += 1;
      await settle(() => statuses() === expected && !q.state.readOnly);
      vi.advanceTimersByTime(1_000_000);
      await fence();
      expect(statuses()).toBe(expected);
    } finally {
      vi.useRealTimers();
    }
  });

  it('read-only entered on a serving connection starts the probe then, not when the next connection serves (fake clock)', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 1, backoff: { initialMs: 100, maxMs: 100_000 } });
    await q.login('alice', 'password123');
    await q.presence(['bob']);
    // The re-watch of presence after the next resume is refused once with NO_QUORUM: the connection was serving then.
    let refusals = 1;
    r1.hook = (req) => {
      if (req.op === 'status') return { result: { ...c.status(r1), quorum: false } };
      if (req.op === 'presence' && refusals-- > 0) return { error: { code: 'NO_QUORUM', message: 'no majority' } };
      return undefined;
    };
    const statuses = () => c.framesOf('status').length;
    // The client's (and the fake replica's) timers run on the fake clock; until() polls on the real one.
    const settle = (what: () => boolean) => until('the condition', what);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      r1.dropAll();
      await settle(() => q.state.status === 'reconnecting');
      vi.advanceTimersByTime(100); // t: the reconnect; its re-watch is refused, the probe is due at t + 100
      await settle(() => q.state.readOnly && q.state.status === 'reconnecting' && r1.connections === 2);
      vi.advanceTimersByTime(100); // t + 100: the probe finds no connection (next turn at t + 300); then the reconnect
      await settle(() => q.state.status === 'connected' && r1.connections === 3 && c.framesOf('presence').length === 3);
      await q.conversations();
      const s0 = statuses();
      vi.advanceTimersByTime(199);
      await q.conversations();
      expect(statuses()).toBe(s0);
      vi.advanceTimersByTime(1);
      await settle(() => statuses() === s0 + 1);
      expect(q.state.readOnly).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("stays read-only through served reads until a write is confirmed, probing the replica's status meanwhile", async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client([r1.address], { random: () => 0.5, backoff: { initialMs: 10, maxMs: 20 }, giveUpAfterMs: 1_500 });
    await q.login('alice', 'password123');
    // The leader's writes find no majority, and its status says so; reads are still served (from its state).
    let refuseWrites = true;
    r1.hook = (req) => {
      if (req.op === 'status') return { result: { ...c.status(r1), quorum: false } };
      if (req.op === 'send' && refuseWrites) return { error: { code: 'NO_QUORUM', message: 'no majority' } };
      return undefined;
    };
    await expect(q.send('bob', 'refused')).rejects.toMatchObject({ code: 'NO_QUORUM' });
    expect(q.state.readOnly).toBe(true);
    await until('connected again', () => q.state.status === 'connected');
    await q.conversations();
    expect(q.state.readOnly).toBe(true);
    // The probe asks the replica's status again and again while read-only.
    const statuses = c.framesOf('status').length;
    await until('three probes', () => c.framesOf('status').length >= statuses + 3);
    expect(q.state.readOnly).toBe(true);
    // A confirmed write ends it.
    refuseWrites = false;
    await q.send('bob', 'the majority is back');
    expect(q.state.readOnly).toBe(false);
  });
});
