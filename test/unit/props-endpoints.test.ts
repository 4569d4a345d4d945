/**
 * Property tests (fast-check, seeded) of the two WebSocket endpoints with fake sockets:
 * - /client (ClientEndpoint): for any sequence of frames (valid requests, JSON of any shape, garbage text, binary),
 *   every frame gets exactly one reply, only schema-valid requests reach the handler and in arrival order, at most
 *   maxRunning run at once, the rate limit admits at most its burst, and a connection that lets answers pile up unread
 *   is dropped;
 * - /peer (PeerEndpoint): before a valid HMAC proof nothing reaches Raft or the snapshot folder, whatever is sent;
 *   after it, only messages from the authenticated peer to this replica get through, and bad frames close the link.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ClientEndpoint, MAX_UNSENT_BYTES, type ClientConn, type ClientHandler } from '../../replica/net/client-endpoint.js';
import { PeerEndpoint } from '../../replica/net/peer-endpoint.js';
import { clientMac, newNonce } from '../../replica/net/peer-auth.js';
import { ClientRequest, type HelloFrame } from '../../replica/protocol/client.js';
import { PeerFrame } from '../../replica/protocol/peer.js';
import type { Message } from '../../replica/raft/types.js';
import { FakeWs } from '../helpers/fake-ws.js';

const SEED = 0xe4d901;
const log = pino({ level: 'silent' });

/** A handler that records every request and answers when told (or at once). */
class FakeHandler implements ClientHandler {
  readonly seen: ClientRequest[] = [];
  readonly held: { req: ClientRequest; release: () => void }[] = [];
  running = 0;
  maxRunning = 0;
  constructor(private readonly hold = false, private readonly result: (req: ClientRequest) => unknown = (req) => ({ echo: req.op })) {}
  hello(): HelloFrame {
    return { type: 'hello', protocol: 1, replica: { id: 'r1', address: '127.0.0.1:1' }, leader: null };
  }
  handle(_conn: ClientConn, req: ClientRequest): Promise<unknown> {
    this.seen.push(req);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve) => {
      const release = () => {
        this.running--;
        resolve(this.result(req));
      };
      if (this.hold) this.held.push({ req, release });
      else release();
    });
  }
  onClose(): void {}
}

const validRequest = fc.oneof(
  fc.record({ id: fc.nat(), op: fc.constant('status') }),
  fc.record({ id: fc.nat(), op: fc.constant('history'), with: fc.constantFrom('ann', 'bob'), limit: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ id: fc.nat(), op: fc.constant('send'), to: fc.constantFrom('ann', 'bob'), text: fc.string({ minLength: 1, maxLength: 20 }), session: fc.record({ clientId: fc.constant('client-0001'), seq: fc.integer({ min: 1, max: 1e6 }) }) }),
);
type Frame = { kind: 'valid'; req: Record<string, unknown> } | { kind: 'json'; text: string } | { kind: 'text'; text: string } | { kind: 'binary'; data: Buffer };
const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 3, arbitrary: validRequest.map((req) => ({ kind: 'valid' as const, req })) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ kind: 'json' as const, text: JSON.stringify(v) ?? 'null' })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((text) => ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((a) => ({ kind: 'binary' as const, data: Buffer.from(a) })) },
);
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('/client endpoint (property)', () => {
  it('answers every frame exactly once; only valid requests reach the handler, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { maxLength: 40 }), async (frames) => {
        const h = new FakeHandler();
        const ep = new ClientEndpoint({ log, handler: h });
        const ws = new FakeWs();
        ep.accept(ws as never, '10.0.0.1');
        expect(ws.sent[0].type).toBe('hello');
        const expected: unknown[] = [];
        for (const f of frames) {
          if (f.kind === 'valid') ws.frame(JSON.stringify(f.req));
          else if (f.kind === 'binary') ws.frame(f.data, true);
          else ws.frame(f.text);
          if (f.kind === 'valid') expected.push(f.req);
          else if (f.kind === 'json' && ClientRequest.safeParse(JSON.parse(f.text)).success) expected.push(JSON.parse(f.text));
        }
        await flush();
        expect(ws.closed).toBeNull();
        const replies = ws.sent.slice(1);
        expect(replies.length).toBe(frames.length);
        expect(h.seen).toEqual(expected);
        for (const r of replies) expect(r.type === 'response' || r.type === 'error').toBe(true);
        const oks = replies.filter((r) => r.type === 'response' && r.ok);
        expect(oks.length).toBe(expected.length);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('works on at most maxRunning requests of a connection at once and starts them in arrival order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 40 }), fc.infiniteStream(fc.nat()), async (maxRunning, n, picks) => {
        const h = new FakeHandler(true);
        const ep = new ClientEndpoint({ log, handler: h, maxRunning });
        const ws = new FakeWs();
        ep.accept(ws as never, '10.0.0.2');
        for (let i = 0; i < n; i++) ws.frame(JSON.stringify({ id: i, op: 'status' }));
        const it = picks[Symbol.iterator]();
        // Release held requests in a random order until all are answered.
        while (h.held.length) {
          expect(h.running).toBeLessThanOrEqual(maxRunning);
          const k = it.next().value % h.held.length;
          h.held.splice(k, 1)[0].release();
          await flush();
        }
        expect(h.maxRunning).toBeLessThanOrEqual(maxRunning);
        expect(h.seen.map((r) => r.id)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(ws.sent.slice(1).map((r) => r.id).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('admits at most the burst of the rate limit; the rest are RATE_LIMITED and never reach the handler', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 60 }), async (burst, n) => {
        const h = new FakeHandler();
        const ep = new ClientEndpoint({ log, handler: h, burst, ratePerSecond: 0.001 });
        const ws = new FakeWs();
        ep.accept(ws as never, '10.0.0.3');
        for (let i = 0; i < n; i++) ws.frame(JSON.stringify({ id: i, op: 'status' }));
        await flush();
        expect(h.seen.length).toBe(Math.min(n, burst));
        const limited = ws.sent.filter((r) => r.type === 'response' && !r.ok && r.error.code === 'RATE_LIMITED');
        expect(limited.length).toBe(Math.max(0, n - burst));
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('drops a connection whose unread answers pass the limit, and then runs none of its waiting requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 20, max: 200 }), async (maxRunning, n) => {
        const h = new FakeHandler();
        const ep = new ClientEndpoint({ log, handler: h, maxRunning });
        const ws = new FakeWs();
        ws.growth = Math.ceil(MAX_UNSENT_BYTES / 10); // every answer adds a tenth of the limit, and nothing drains
        ep.accept(ws as never, '10.0.0.4');
        for (let i = 0; i < n; i++) ws.frame(JSON.stringify({ id: i, op: 'status' }));
        await flush();
        expect(ws.closed?.code).toBe(1006);
        expect(ws.sent.length).toBeLessThanOrEqual(12);
        expect(h.seen.length).toBeLessThanOrEqual(Math.max(12, maxRunning + 11));
        expect(ep.connectionCount).toBe(0);
      }),
      { seed: SEED, numRuns: 50 },
    );
  });
});

// ---------------------------------------------------------------- /peer

const secret = Buffer.from('a cluster secret for the property tests');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function peerEndpoint() {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-peer-props-'));
  dirs.push(dir);
  const got: { msgs: Message[]; snaps: number } = { msgs: [], snaps: 0 };
  const ep = new PeerEndpoint({
    selfId: 'r1',
    secret,
    incomingDir: join(dir, 'incoming'),
    log,
    onMessages: (_from, msgs) => got.msgs.push(...msgs),
    onSnapshot: () => got.snaps++,
  });
  return { ep, got, dir };
}

const hugeTerm = fc.constantFrom(0, 1, 2 ** 31, 2 ** 52, Number.MAX_SAFE_INTEGER);
const nodeId = fc.constantFrom('r1', 'r2', 'r3', 'evil');
const raftMsg = fc.record({
  type: fc.constantFrom('heartbeat', 'app', 'vote', 'preVote', 'snap', 'timeoutNow', 'readIndex'),
  from: nodeId,
  to: nodeId,
  term: hugeTerm,
  commit: fc.option(hugeTerm, { nil: undefined }),
});
const peerFrame = fc.oneof(
  fc.record({ t: fc.constant('msgs'), ms: fc.array(raftMsg, { minLength: 1, maxLength: 5 }) }),
  fc.record({ t: fc.constant('snapBegin'), xfer: fc.string({ maxLength: 10 }), size: fc.nat(), meta: fc.record({ index: hugeTerm, term: hugeTerm, conf: fc.record({ voters: fc.array(nodeId), learners: fc.constant([]) }) }) }),
  fc.record({ t: fc.constant('snapChunk'), xfer: fc.string({ maxLength: 10 }), offset: fc.nat(), data: fc.base64String({ maxLength: 40 }) }),
  fc.record({ t: fc.constant('snapEnd'), xfer: fc.string({ maxLength: 10 }), sha256: fc.constant('0'.repeat(64)), msg: raftMsg }),
  fc.record({ t: fc.constant('auth'), id: nodeId, address: fc.constant('1.2.3.4:5'), nonce: fc.constant(newNonce()), mac: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: 64, maxLength: 64 }) }),
  fc.jsonValue(),
);
const anyPeerInput = fc.oneof(
  peerFrame.map((f) => ({ data: JSON.stringify(f) ?? 'null', binary: false })),
  fc.string({ unit: 'binary', maxLength: 50 }).map((s) => ({ data: s, binary: false })),
  fc.uint8Array({ maxLength: 30 }).map((a) => ({ data: Buffer.from(a), binary: true })),
);

describe('/peer endpoint (property)', () => {
  it('without a valid proof nothing reaches Raft or the snapshot folder, and the first frame closes the link', () => {
    fc.assert(
      fc.property(fc.array(anyPeerInput, { minLength: 1, maxLength: 10 }), (inputs) => {
        const { ep, got, dir } = peerEndpoint();
        const ws = new FakeWs();
        ep.accept(ws as never, '10.0.0.9');
        expect(ws.sent[0].t).toBe('challenge');
        ws.frame(inputs[0].data as string | Buffer, inputs[0].binary);
        expect(ws.closed).not.toBeNull(); // the first frame without a valid proof closes the link
        for (const i of inputs.slice(1)) ws.frame(i.data as string | Buffer, i.binary); // frames racing the close
        expect([4400, 4401]).toContain(ws.closed!.code);
        expect(got.msgs).toEqual([]);
        expect(got.snaps).toBe(0);
        const incoming = join(dir, 'incoming');
        expect(() => readdirSync(incoming)).toThrow(); // never even created
        ep.close();
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('after a valid proof only messages from that peer to this replica get through; bad frames close the link', () => {
    const fromPeer = fc.record({ t: fc.constant('msgs'), ms: fc.array(fc.record({ type: fc.constantFrom('heartbeat', 'app', 'vote', 'snap'), from: fc.constantFrom('r2', 'r2', 'r3'), to: fc.constantFrom('r1', 'r1', 'r9'), term: hugeTerm }), { minLength: 1, maxLength: 4 }) });
    const input = fc.oneof({ weight: 3, arbitrary: fromPeer.map((f) => ({ data: JSON.stringify(f), binary: false })) }, { weight: 1, arbitrary: anyPeerInput });
    fc.assert(
      fc.property(fc.array(input, { maxLength: 12 }), (inputs) => {
        const { ep, got } = peerEndpoint();
        const ws = new FakeWs();
        ep.accept(ws as never, '10.0.0.10');
        const challenge = ws.sent[0];
        ws.frame(JSON.stringify({ t: 'auth', id: 'r2', address: '10.0.0.10:7400', nonce: newNonce(), mac: clientMac(secret, challenge.nonce, 'r2', 'r1') }));
        expect(ws.sent[1].t).toBe('welcome');
        const expected: unknown[] = [];
        for (const i of inputs) {
          if (ws.closed) break;
          ws.frame(i.data as string | Buffer, i.binary);
          if (ws.closed || i.binary) continue;
          const f = PeerFrame.safeParse(JSON.parse(i.data as string));
          if (f.success && f.data.t === 'msgs') expected.push(...f.data.ms.filter((m) => m.from === 'r2' && m.to === 'r1' && m.type !== 'snap'));
        }
        expect(got.msgs).toEqual(expected);
        for (const m of got.msgs) {
          expect(m.from).toBe('r2');
          expect(m.to).toBe('r1');
          expect(m.type).not.toBe('snap');
        }
        if (ws.closed) expect([4400]).toContain(ws.closed.code);
        ep.close();
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
