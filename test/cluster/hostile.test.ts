// Bad input against live replicas (3 real processes on loopback): malformed, oversized, deeply nested, wrongly
// typed and hostile client frames (prototype-pollution keys, unknown ops, huge numbers, binary), garbage bytes to the
// port, bad HTTP paths and methods, forged peer traffic over TLS as a stranger without a cluster certificate would send
// it, and in plain text (no authentication, wrong MAC, huge terms, snapshot frames),
// forged admin requests, and floods of connections and requests from one address.
// After each barrage: every replica is up, the cluster still accepts writes, nothing forged was applied (accounts,
// conversations and configuration as before, no huge term), and memory stays bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { get as httpGet } from 'node:http';
import { readFileSync } from 'node:fs';
import { readSecret } from '../../replica/cli/replica.js';
import WebSocket, { type ClientOptions } from 'ws';
import { QuorumClient } from '../../replica/client/client.js';
import { adminMac, clientMac, newNonce } from '../../replica/net/peer-auth.js';
import { Cluster, waitConverged, waitFor, type ReplicaProc } from '../helpers/cluster.js';
import { RawConn } from '../helpers/raw-client.js';
import { Rng } from '../helpers/random.js';
import { deriveClusterCa } from '../../replica/security/cluster-ca.js';
import { issueReplicaCertificate } from '../../replica/security/replica-certificate.js';

/** A stranger on the LAN: TLS, but no certificate of the cluster and no check of the replica's. */
const STRANGER: ClientOptions = { rejectUnauthorized: false };

const PW = 'password-123';
/** The source address of the socket flood. */
const FLOOD_ADDRESS = '127.0.0.77';
const rng = new Rng(0x05711e);
let cluster: Cluster;
/** The cluster secret (what a compromised machine would hold). */
let secret: Buffer;
let ann: QuorumClient;
const sent: string[] = [];
let baselineTerm = 0;

interface Health {
  role: string;
  term: number;
  leader: string | null;
}

async function health(r: ReplicaProc): Promise<Health & { status: number }> {
  const once = () => fetch(`http://${r.address}/healthz`, { signal: AbortSignal.timeout(5000) });
  // When this test's own process stalls (masking megabytes of forged frames) longer than the server's keep-alive
  // timeout, fetch may reuse a connection the server has just closed: that one failure is retried on a new connection.
  const res = await once().catch((err: Error & { cause?: { code?: string } }) => {
    if (err.cause?.code === 'UND_ERR_SOCKET') return once();
    throw err;
  });
  return { ...((await res.json()) as Health), status: res.status };
}

/** Resident memory of the replica's process, in bytes (Linux /proc). */
function rss(r: ReplicaProc): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${r.proc!.pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${r.id}`);
  return Number(m[1]) * 1024;
}

/** Samples the replica's resident memory every 100 ms while `during` runs; returns the peak growth in bytes. */
async function peakGrowth(r: ReplicaProc, during: () => Promise<void>): Promise<number> {
  const before = rss(r);
  let peak = before;
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rss(r));
    } catch {
      // the process exited between two samples: the peak so far stands
    }
  }, 100);
  try {
    await during();
    await new Promise((res) => setTimeout(res, 500));
    peak = Math.max(peak, rss(r));
  } finally {
    clearInterval(t);
  }
  return peak - before;
}

async function texts(c: QuorumClient, withUser: string): Promise<string[]> {
  return (await c.history(withUser, { limit: 500 })).messages.map((m) => m.text);
}

/** Every replica serves, terms are sane, the cluster accepts a write, and nothing unexpected is stored. */
async function assertIntact(what: string): Promise<void> {
  for (const r of cluster.replicas) {
    expect(r.running, `${r.id} is running after ${what}`).toBe(true);
    const h = await health(r);
    expect(h.status, `${r.id} /healthz after ${what}`).toBe(200);
    expect(h.term, `${r.id} term after ${what} (a forged huge term would show here)`).toBeLessThan(baselineTerm + 1000);
  }
  const t = `after ${what}`;
  await ann.send('bob', t);
  sent.push(t);
  expect(await texts(ann, 'bob')).toEqual(sent);
  const accounts = (await ann.accounts({ pattern: '*', limit: 500 })).accounts.map((a) => a.username).sort();
  expect(accounts).toEqual(['ann', 'bob']);
  const st = await ann.status();
  expect(st.members.map((m) => m.id).sort()).toEqual(['r1', 'r2', 'r3']);
  expect(st.members.every((m) => m.voter)).toBe(true);
}

/** Sends one frame; resolves with the next frame the server sends, or the close code. */
async function exchange(c: RawConn, frame: string | Buffer, binary = false): Promise<{ frame?: any; closed?: number }> {
  const before = c.frames.length;
  if (binary) c.ws.send(frame, { binary: true });
  else c.ws.send(frame, { binary: false });
  await waitFor('an answer to a bad frame', () => c.frames.length > before || c.closed !== null, 10_000, 5);
  return c.frames.length > before ? { frame: c.frames[before] } : { closed: c.closed!.code };
}

beforeAll(async () => {
  cluster = await Cluster.start({ size: 3, extraArgs: ['--heartbeat-ms', '100', '--election-timeout-ms', '1000'] });
  secret = readSecret(cluster.secretFile).current;
  ann = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as never, giveUpAfterMs: 30_000, requestTimeoutMs: 5_000 });
  await ann.signup('ann', PW);
  await ann.signup('bob', PW);
  await ann.login('ann', PW);
  await ann.send('bob', 'hello');
  sent.push('hello');
  const l = await cluster.leader();
  baselineTerm = (await health(l)).term;
}, 120_000);

afterAll(async () => {
  ann?.close();
  await cluster?.destroy();
});

describe('hostile input against live replicas', () => {
  it('client frames: malformed, wrong types, unknown ops, huge numbers, pollution keys, deep nesting, binary: each refused with a clear error', async () => {
    const session = { clientId: 'hostile-client', seq: 1 };
    const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);
    const bad: (string | [Buffer, 'binary'])[] = [
      'not json',
      '{',
      '',
      'null',
      '[]',
      '"a string"',
      '42',
      '{}',
      '{"id":1}',
      '{"id":1,"op":"eval","code":"process.exit(1)"}',
      '{"id":1,"op":"status","extra":true}',
      '{"id":{"nested":1},"op":"status"}',
      '{"id":-1,"op":"status"}',
      '{"id":1.5,"op":"status"}',
      `{"id":"${'x'.repeat(65)}","op":"status"}`,
      '{"id":1e308,"op":"status"}',
      '{"id":1e999,"op":"status"}',
      '{"id":9007199254740993,"op":"status"}',
      JSON.stringify({ id: 1, op: 'send', to: 5, text: ['a'], session: { clientId: 'x', seq: '1' } }),
      JSON.stringify({ id: 1, op: 'send', to: 'bob', text: 'x', session: { ...session, seq: 1e21 } }),
      JSON.stringify({ id: 1, op: 'send', to: 'bob', text: 'x', session: { ...session, seq: -1 } }),
      JSON.stringify({ id: 1, op: 'history', with: 'bob', limit: 1e100 }),
      JSON.stringify({ id: 1, op: 'history', with: 'bob', before: -5 }),
      JSON.stringify({ id: 1, op: 'delete', ids: [1e300], session }),
      JSON.stringify({ id: 1, op: 'delete', ids: Array.from({ length: 501 }, (_, i) => i + 1), session }),
      JSON.stringify({ id: 1, op: 'send', to: 'bob', text: 'x'.repeat(4001), session }),
      JSON.stringify({ id: 1, op: 'signup', username: 'a b', password: PW, session }),
      JSON.stringify({ id: 1, op: 'signup', username: 'x'.repeat(33), password: PW, session }),
      '{"__proto__":{"polluted":true},"id":1,"op":"status"}',
      '{"id":1,"op":"status","constructor":{"prototype":{"polluted":true}}}',
      '{"id":1,"op":"send","to":"bob","text":"x","session":{"clientId":"hostile-client","seq":2,"__proto__":{"admin":true}}}',
      '{"id":1,"op":"clusterChange","change":{"op":"remove","id":"r1","__proto__":{"x":1}}}',
      `{"id":1,"op":"status","x":${deep(20_000)}}`,
      `{"id":1,"op":"send","to":${deep(15_000)},"text":"x","session":{"clientId":"hostile-client","seq":3}}`,
      '{"id":1,"op":"status"' + ',"k":1'.repeat(5000) + '}',
      [Buffer.from([0, 1, 2, 3, 255]), 'binary'],
      [Buffer.from(JSON.stringify({ id: 1, op: 'status' })), 'binary'],
    ];
    for (const r of cluster.replicas) {
      const c = await RawConn.open(r.address);
      await waitFor('hello', () => c.frames.length > 0);
      for (const b of bad) {
        const res = Array.isArray(b) ? await exchange(c, b[0], true) : await exchange(c, b);
        expect(res.closed, `replica ${r.id} closed the connection on ${String(b).slice(0, 60)}`).toBeUndefined();
        const f = res.frame;
        const code = f.type === 'error' ? f.error.code : f.type === 'response' && !f.ok ? f.error.code : 'OK';
        expect(code, `answer to ${String(b).slice(0, 80)}`).toBe('INVALID');
      }
      // Still a usable connection, and the prototype of plain objects in the replica is untouched.
      const st = await c.ok({ op: 'status' });
      expect(st.id).toBe(r.id);
      expect((st as Record<string, unknown>).polluted).toBeUndefined();
      // Frames over 64 KiB close the connection with 1009; invalid UTF-8 in a text frame with 1007.
      const big = await exchange(c, JSON.stringify({ id: 2, op: 'send', to: 'bob', text: 'y'.repeat(70_000), session }));
      expect(big.closed).toBe(1009);
      const c2 = await RawConn.open(r.address);
      await waitFor('hello', () => c2.frames.length > 0);
      const utf = await exchange(c2, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      expect(utf.closed).toBe(1007);
    }
    await assertIntact('malformed client frames');
  });

  it('accounts named like Object.prototype members work like any other account', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'];
    const c = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as never, giveUpAfterMs: 30_000, requestTimeoutMs: 5_000 });
    try {
      for (const n of names) await c.signup(n, PW);
      await c.login('__proto__', PW);
      await c.send('constructor', 'to the constructor');
      await c.send('toString', 'to toString');
      expect(await texts(c, 'constructor')).toEqual(['to the constructor']);
      expect((await c.accounts({ pattern: '*o*', limit: 50 })).accounts.map((a) => a.username)).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'toString']));
      const other = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as never, giveUpAfterMs: 30_000, requestTimeoutMs: 5_000 });
      try {
        await other.login('constructor', PW);
        expect((await other.read()).messages.map((m) => [m.from, m.text])).toEqual([['__proto__', 'to the constructor']]);
      } finally {
        other.close();
      }
      // Clean up so later checks see only ann and bob.
      const del = new QuorumClient({ servers: cluster.addresses, WebSocket: WebSocket as never, giveUpAfterMs: 30_000, requestTimeoutMs: 5_000 });
      try {
        for (const n of names) {
          await del.login(n, PW);
          await del.deleteAccount(PW);
        }
      } finally {
        del.close();
      }
    } finally {
      c.close();
    }
    await assertIntact('prototype-named accounts');
  });

  it('garbage bytes to the port, bad paths and methods: refused, nothing outside the web root served, never a crash', async () => {
    const raw = (address: string, payload: Buffer | string, waitMs = 1000) =>
      new Promise<string>((resolve) => {
        const [host, port] = address.split(':');
        const s: Socket = connect(Number(port), host);
        let got = '';
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => {});
        s.on('connect', () => s.write(payload));
        const t = setTimeout(() => s.destroy(), waitMs);
        s.on('close', () => {
          clearTimeout(t);
          resolve(got);
        });
      });
    const garbage = (n: number) => Buffer.from(Array.from({ length: n }, () => rng.int(256)));
    for (const r of cluster.replicas) {
      const payloads: (Buffer | string)[] = [
        garbage(64),
        garbage(70_000),
        Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), // a TLS ClientHello's start
        '\0\0\0\0\r\n\r\n',
        'GET / HTTP/1.1\r\n' + garbage(200).toString('latin1') + '\r\n\r\n',
        `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(100_000)}\r\n\r\n`,
        'GET /client HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: bad\r\nSec-WebSocket-Version: 99\r\n\r\n',
        'GET /evil HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\nabc',
        'GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
      ];
      for (const p of payloads) {
        const reply = await raw(r.address, p);
        expect(reply, `reply to ${String(p).slice(0, 40)}`).not.toMatch(/^HTTP\/1\.1 5\d\d/);
      }
      for (const [method, path] of [
        ['POST', '/'],
        ['PUT', '/healthz'],
        ['DELETE', '/debug/state'],
        ['PATCH', '/metrics'],
        ['OPTIONS', '/'],
        ['GET', '/../../../../etc/passwd'],
        ['GET', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd'],
        ['GET', '/..%2f..%2f..%2fpackage.json'],
        ['GET', '/assets/..%2f..%2f..%2fpackage.json'],
        ['GET', '/%ff%fe'],
        ['GET', '/%00'],
        ['GET', '/%'],
        ['GET', '//etc/passwd'],
      ] as const) {
        const reply = await raw(r.address, `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0);
        expect(status, `${method} ${path}`).toBeGreaterThanOrEqual(200);
        expect(status, `${method} ${path}`).toBeLessThan(500);
        expect(reply, `${method} ${path} must not serve files outside the web root`).not.toMatch(/root:x:0:0|"name": "quorum"/);
        if (method !== 'GET') expect(status).toBe(405);
      }
    }
    await assertIntact('garbage bytes and bad HTTP');
  });

  it('forged peer traffic: no authentication, wrong MAC, huge terms, snapshot frames, impersonation: closed, nothing applied', async () => {
    const HUGE = 2 ** 52;
    const heartbeat = (from: string, to: string) => ({ type: 'heartbeat', from, to, term: HUGE, commit: HUGE });
    const append = (from: string, to: string) => ({
      type: 'app',
      from,
      to,
      term: HUGE,
      index: 1,
      logTerm: 1,
      commit: HUGE,
      entries: [{ index: 2, term: HUGE, type: 'normal', data: JSON.stringify({ kind: 'signup', username: 'mallory', passwordHash: 'x', at: 1 }) }],
    });

    /** Opens /peer over TLS (as `tls` says), waits for the challenge, runs `script`, resolves with the close code. */
    const peer = (address: string, script: (ws: WebSocket, challenge: any) => void, waitMs = 10_000, tls: ClientOptions = STRANGER) =>
      new Promise<{ code: number; frames: any[] }>((resolve) => {
        const ws = new WebSocket(`wss://${address}/peer`, tls);
        const frames: any[] = [];
        const t = setTimeout(() => ws.terminate(), waitMs);
        ws.on('message', (d) => {
          const f = JSON.parse(d.toString());
          frames.push(f);
          if (f.t === 'challenge') script(ws, f);
        });
        ws.on('error', () => {});
        ws.on('close', (code) => {
          clearTimeout(t);
          resolve({ code, frames });
        });
      });

    for (const r of cluster.replicas) {
      const other = cluster.replicas.find((x) => x !== r)!.id;
      // Raft messages and snapshot frames before authenticating.
      for (const frame of [
        { t: 'msgs', ms: [heartbeat(other, r.id)] },
        { t: 'msgs', ms: [append(other, r.id)] },
        { t: 'snapBegin', xfer: 'x1', size: 10, meta: { index: HUGE, term: HUGE, conf: { voters: ['evil'], learners: [] } } },
        { t: 'snapChunk', xfer: 'x1', offset: 0, data: Buffer.from('0123456789').toString('base64') },
        { t: 'snapEnd', xfer: 'x1', sha256: '0'.repeat(64), msg: { type: 'snap', from: other, to: r.id, term: HUGE } },
        { t: 'welcome', mac: '0'.repeat(64) },
      ]) {
        const res = await peer(r.address, (ws) => ws.send(JSON.stringify(frame)));
        expect(res.code, `unauthenticated ${frame.t}`).toBe(4401);
      }
      // A wrong MAC, a MAC for another replica's challenge, a malformed auth frame, binary, garbage.
      const wrong = await peer(r.address, (ws) => ws.send(JSON.stringify({ t: 'auth', id: other, address: '1.2.3.4:1', nonce: newNonce(), mac: 'ab'.repeat(32) })));
      expect(wrong.code).toBe(4401);
      const replayed = await peer(r.address, (ws) => ws.send(JSON.stringify({ t: 'auth', id: other, address: '1.2.3.4:1', nonce: newNonce(), mac: clientMac(secret, newNonce(), other, r.id) })));
      expect(replayed.code).toBe(4401);
      const malformed = await peer(r.address, (ws) => ws.send(JSON.stringify({ t: 'auth', id: other, mac: 42 })));
      expect(malformed.code).toBe(4401);
      const binary = await peer(r.address, (ws) => ws.send(Buffer.from([1, 2, 3]), { binary: true }));
      expect(binary.code).toBe(4400);
      const junk = await peer(r.address, (ws) => ws.send('}{'));
      expect(junk.code).toBe(4400);

      // In plain text nothing is even asked: the connection is closed before any challenge.
      const plain = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://${r.address}/peer`);
        ws.on('error', () => {});
        ws.on('open', () => ws.send(JSON.stringify({ t: 'msgs', ms: [heartbeat(other, r.id)] })));
        ws.on('close', (code) => resolve(code));
      });
      expect(plain).toBe(4426);
      // Knowing the secret does not let a connection present itself as a replica without that replica's certificate.
      const noCert = await peer(r.address, (ws, ch) => ws.send(JSON.stringify({ t: 'auth', id: other, address: '127.0.0.1:1', nonce: newNonce(), mac: clientMac(secret, ch.nonce, other, r.id) })));
      expect(noCert.code).toBe(4403);

      // Knowing the secret (a compromised machine: it can issue itself the certificate of any replica id) does not let a
      // connection speak for another replica: messages whose `from` is not the authenticated id, or whose `to` is not
      // this replica, are dropped.
      const forged = await issueReplicaCertificate(await deriveClusterCa(secret), other, ['127.0.0.1']);
      const imp = await peer(r.address, (ws, ch) => {
        ws.send(JSON.stringify({ t: 'auth', id: other, address: '127.0.0.1:1', nonce: newNonce(), mac: clientMac(secret, ch.nonce, other, r.id) }));
        setTimeout(() => {
          const third = cluster.replicas.find((x) => x !== r && x.id !== other)!.id;
          ws.send(JSON.stringify({ t: 'msgs', ms: [heartbeat(third, r.id), append(third, r.id), heartbeat(other, 'r9'), { ...heartbeat(other, r.id), type: 'snap' }] }));
          setTimeout(() => ws.close(), 300);
        }, 200);
      }, 10_000, { ...STRANGER, key: forged.keyPem, cert: forged.certPem });
      expect(imp.frames.some((f) => f.t === 'welcome')).toBe(true);
      expect([4400, 4401]).not.toContain(imp.code);
    }
    // Silence: closed after the authentication timeout.
    const t0 = Date.now();
    const silent = await peer(cluster.replicas[0].address, () => {}, 15_000);
    expect(silent.code).toBe(4401);
    expect(Date.now() - t0).toBeGreaterThan(4000);
    await assertIntact('forged peer traffic');
  }, 120_000);

  it('forged administration: no proof, a wrong MAC, or a MAC for another connection changes no membership', async () => {
    for (const r of cluster.replicas) {
      const c = await RawConn.open(r.address);
      await waitFor('hello', () => c.frames.length > 0);
      const hello = c.frames[0];
      for (const req of [
        { op: 'clusterChange', change: { op: 'remove', id: 'r2' } },
        { op: 'clusterChange', change: { op: 'addVoter', id: 'evil', address: '10.9.9.9:7400' } },
        { op: 'transfer', to: 'r2' },
      ]) {
        const res = await c.request(req);
        expect(res.ok, JSON.stringify(req)).toBe(false);
        expect(['FORBIDDEN', 'NOT_LEADER', 'NO_QUORUM']).toContain(res.error!.code);
      }
      const scope = 'clusterChange|remove|r2|';
      const bad = await c.request({ op: 'admin', scope, mac: '0'.repeat(64) });
      expect(bad.error?.code).toBe('FORBIDDEN');
      // A real proof, but for another connection's nonce (a relayed or replayed proof).
      const other = await c.request({ op: 'admin', scope, mac: adminMac(secret, 'f'.repeat(64), scope) });
      expect(other.error?.code).toBe('FORBIDDEN');
      // A real proof for this connection, but for another request: it authorizes only what it names.
      const narrow = await c.request({ op: 'admin', scope: 'transfer|r3', mac: adminMac(secret, hello.nonce, 'transfer|r3') });
      expect(narrow.ok).toBe(true);
      const wrongUse = await c.request({ op: 'clusterChange', change: { op: 'remove', id: 'r2' } });
      expect(wrongUse.error?.code).toBe('FORBIDDEN');
      const after = await c.request({ op: 'clusterChange', change: { op: 'remove', id: 'r2' } });
      expect(after.ok).toBe(false);
      c.close();
    }
    await assertIntact('forged administration');
  });

  it('floods from one address: connections beyond the limit refused, request bursts answered or rate limited, memory bounded', async () => {
    const leader = await cluster.leader();
    const rssBefore = rss(leader);

    // 600 client connections at once: the replica keeps at most 512 per address and closes the rest with 1013.
    const opened = await Promise.all(
      Array.from({ length: 600 }, () =>
        new Promise<{ ws: WebSocket; closed: Promise<number> }>((resolve) => {
          const ws = new WebSocket(`ws://${leader.address}/client`);
          const closed = new Promise<number>((res) => ws.on('close', (code) => res(code)));
          ws.on('error', () => {});
          ws.on('open', () => resolve({ ws, closed }));
          ws.on('close', () => resolve({ ws, closed }));
        }),
      ),
    );
    // Those beyond the limit may open before the replica closes them: wait until that many are closed (a replica that
    // refuses fewer times this out, printing how many it closed).
    const notOpen = () => opened.filter((o) => o.ws.readyState !== WebSocket.OPEN);
    const refused = await waitFor(
      `${600 - 512} of 600 connections refused`,
      () => (notOpen().length >= 600 - 512 ? notOpen() : null),
      10_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; in the end ${notOpen().length} were refused`);
    });
    expect(await Promise.race([refused[0].closed, new Promise((r) => setTimeout(() => r(-1), 5000))])).toBe(1013);
    for (const o of opened) o.ws.terminate();

    // Unauthenticated /peer connections: each is closed within the authentication timeout.
    const peers = await Promise.all(
      Array.from({ length: 300 }, () =>
        new Promise<Promise<number>>((resolve) => {
          const ws = new WebSocket(`wss://${leader.address}/peer`, STRANGER);
          ws.on('error', () => {});
          const closed = new Promise<number>((res) => ws.on('close', (code) => res(code)));
          ws.on('open', () => resolve(closed));
          ws.on('close', () => resolve(closed));
        }),
      ),
    );
    const codes = await Promise.all(peers);
    expect(codes.every((c) => c === 4401 || c === 1006)).toBe(true);

    // A burst of 6000 pipelined requests on one connection: every one answered (ok, or RATE_LIMITED beyond the
    // 4096 outstanding a connection may have); meanwhile another client is still served.
    // The connection flood above may have cost the leader its term (its event loop was busy): log in on whichever
    // replica leads now.
    const c = await waitFor(
      'a connection logged in on the leader',
      async () => {
        const now = await cluster.leader();
        const conn = await RawConn.open(now.address);
        try {
          await conn.login('bob');
          return conn;
        } catch (err) {
          conn.close();
          throw err;
        }
      },
      30_000,
      200,
    );
    const answers = Promise.all(Array.from({ length: 6000 }, (_, i) => c.request(i % 2 ? { op: 'history', with: 'ann', limit: 500 } : { op: 'status' })));
    const t0 = Date.now();
    await ann.send('bob', 'during the burst');
    sent.push('during the burst');
    const servedMs = Date.now() - t0;
    const res = await answers;
    const codes2 = new Set(res.map((r) => (r.ok ? 'OK' : r.error!.code)));
    for (const code of codes2) expect(['OK', 'RATE_LIMITED']).toContain(code);
    expect(servedMs).toBeLessThan(20_000);
    c.close();

    const rssAfter = rss(leader);
    expect(rssAfter - rssBefore, `RSS grew from ${rssBefore} to ${rssAfter}`).toBeLessThan(300 * 1024 * 1024);
    await assertIntact('floods');
    await waitConverged(cluster.addresses, 60_000);
  }, 120_000);

  // Regression (found by this campaign): before authenticating, a /peer connection could send frames of up to the
  // 8 MiB peer limit, which the replica buffered, checked and parsed: 100 such connections from one address took
  // 600 MB and blocked the event loop for 9 s (long enough to lose leadership). Now a stranger's frame may be 4 KiB
  // (refused on its header, before anything is buffered) and one address may have 8 connections authenticating.
  // Regression (found with TLS): a plain /peer connection was refused before its socket had an error listener, so a
  // huge frame sent right after the upgrade raised an unhandled 'error' and ended the replica process. Half of the
  // connections below are plain.
  it('unauthenticated peers sending huge frames: refused before buffering, the replica stays responsive', async () => {
    const leader = await cluster.leader();
    const big = JSON.stringify({ t: 'auth', id: 'r2', address: 'x'.repeat(7 * 1024 * 1024), nonce: '0'.repeat(64), mac: '0'.repeat(64) });
    const growth = await peakGrowth(leader, async () => {
      const closed = Array.from({ length: 60 }, (_, i) => {
        const ws = i % 2 ? new WebSocket(`wss://${leader.address}/peer`, { ...STRANGER, maxPayload: 1e9 }) : new WebSocket(`ws://${leader.address}/peer`, { maxPayload: 1e9 });
        ws.on('error', () => {});
        ws.on('open', () => ws.send(big));
        return new Promise<number>((res) => ws.on('close', (code) => res(code)));
      });
      // Responsive: every /healthz during the flood answers (within the probe's own 5 s timeout).
      const probe = (async () => {
        for (let i = 0; i < 10; i++) {
          expect((await health(leader)).status).toBe(200);
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const codes = await Promise.all(closed);
      await probe;
      for (const c of codes) expect([1009, 1006, 4401, 4426]).toContain(c);
    });
    expect(growth, `peak RSS growth ${Math.round(growth / 1e6)} MB`).toBeLessThan(150 * 1024 * 1024);
    await assertIntact('huge unauthenticated peer frames');
  }, 120_000);

  // Regression (found by this campaign): a client that pipelines requests for large pages and never reads its
  // socket made the replica buffer every answer (4 GB of memory from 3000 requests of a few dozen bytes each).
  // Now at most 64 requests per connection run at once and a connection with 32 MiB unsent is dropped.
  it('a client that asks for large pages and never reads is dropped; memory stays bounded', async () => {
    const leader = await cluster.leader();
    const c = await RawConn.open(leader.address);
    await c.signup('big1');
    await c.signup('big2');
    await c.login('big1');
    const text = 'x'.repeat(3990);
    await Promise.all(Array.from({ length: 10 }, async (_, w) => {
      for (let i = 0; i < 12; i++) await c.ok({ op: 'send', to: 'big2', text: `${w}-${i}-${text}`, session: c.session() });
    }));
    const growth = await peakGrowth(leader, async () => {
      const ws = new WebSocket(`ws://${leader.address}/client`);
      const closed = new Promise<number>((res) => ws.on('close', (code) => res(code)));
      ws.on('error', () => {});
      await new Promise((res) => ws.once('message', res));
      ws.send(JSON.stringify({ id: 1, op: 'login', username: 'big1', password: PW, token: 'T'.repeat(43), session: { clientId: 'slow-reader-1', seq: 1 } }));
      await new Promise((res) => ws.once('message', res));
      const sock = (ws as unknown as { _socket: Socket })._socket;
      sock.pause();
      for (let i = 0; i < 2500; i++) ws.send(JSON.stringify({ id: 100 + i, op: 'history', with: 'big2', limit: 500 }));
      await waitFor('the replica to drop the slow reader', () => readFileSync(leader.options.logFile, 'utf8').includes('it does not read its answers'), 30_000, 100);
      sock.resume();
      expect(await Promise.race([closed, new Promise((res) => setTimeout(() => res('still open'), 30_000))])).toBe(1006);
    });
    expect(growth, `peak RSS growth ${Math.round(growth / 1e6)} MB`).toBeLessThan(400 * 1024 * 1024);
    for (const u of ['big1', 'big2']) {
      const d = await RawConn.open(leader.address);
      await d.login(u);
      await d.ok({ op: 'deleteAccount', password: PW, session: d.session() });
      d.close();
    }
    c.close();
    await assertIntact('a slow reader');
  }, 120_000);

  // Regression (found by this campaign): pipelined HTTP requests on a few sockets made the replica hold an answer
  // for every one (1 GB and several seconds of a blocked event loop from 8 sockets). Now a socket with more than 16
  // unanswered requests is dropped, and one address may hold at most 1024 sockets.
  it('pipelined HTTP floods and socket floods are cut off; memory stays bounded and the cluster serves', async () => {
    const leader = await cluster.leader();
    const [host, port] = leader.address.split(':');
    const dropped = () => readFileSync(leader.options.logFile, 'utf8').split('too many pipelined requests').length - 1;
    const before = dropped();
    const growth = await peakGrowth(leader, async () => {
      const socks = Array.from({ length: 8 }, () => {
        const s = connect(Number(port), host);
        s.on('error', () => {});
        s.on('connect', () => {
          s.pause();
          s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50_000));
        });
        return s;
      });
      await waitFor('the replica to drop the 8 pipelining sockets', () => dropped() - before >= 8, 20_000, 100).finally(() => socks.forEach((s) => s.destroy()));
      const t0 = Date.now();
      expect((await health(leader)).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(5000);
    });
    expect(growth, `peak RSS growth ${Math.round(growth / 1e6)} MB`).toBeLessThan(250 * 1024 * 1024);

    // More sockets than one address may hold, from an address of their own (127.0.0.1, the replicas' own, stays
    // usable): the excess is closed by the replica (waited for as a condition, not within a fixed time: on a loaded
    // machine 1,200 connections take seconds to open).
    let closed = 0;
    const many = await Promise.all(
      Array.from({ length: 1200 }, () =>
        new Promise<Socket>((resolve) => {
          const s = connect({ port: Number(port), host, localAddress: FLOOD_ADDRESS });
          s.on('error', () => {});
          s.once('close', () => closed++);
          s.once('connect', () => resolve(s));
          s.once('error', () => resolve(s));
        }),
      ),
    );
    await waitFor(`the replica to close the sockets beyond 1024 from one address`, () => closed >= 1200 - 1024, 30_000, 50);
    console.log(`socket flood: ${closed} of 1200 sockets from one address closed by the replica`);
    // The rest said nothing: each is closed once it has been silent for as long as HTTP waits for a request's headers
    // (10 s), and the address may connect again.
    await waitFor('the replica to close the silent sockets', () => closed === 1200, 40_000, 100);
    for (const s of many) s.destroy();
    const again = await new Promise<number | undefined>((resolve, reject) => {
      httpGet({ host, port: Number(port), path: '/healthz', localAddress: FLOOD_ADDRESS }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    expect(again, 'the flood address served again once its sockets were closed').toBe(200);
    await assertIntact('HTTP and socket floods');
  }, 120_000);
});
