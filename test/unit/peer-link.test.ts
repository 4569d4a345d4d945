/**
 * PeerLink (the outbound transport to one peer) over real loopback sockets against a real PeerEndpoint, with the
 * link's timers faked: reconnects and the lost-link grace fire only when a test advances the clock, so every outcome
 * follows from the sequence of events, never from how fast the machine is.
 *
 * What is checked: an established link that closes and whose reconnect is refused (the peer's process died) is
 * reported lost once; one that comes back is not; one whose reconnect hangs is reported at the grace; a link that was
 * never up is never reported; and a peer seen connecting to us brings a link that waits out its backoff up at once.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { framesOf, LOST_GRACE_MS, PeerLink } from '../../replica/net/peer-link.js';
import type { Message } from '../../replica/raft/types.js';
import { PeerEndpoint } from '../../replica/net/peer-endpoint.js';
import { freePort } from '../helpers/cluster.js';

const log = pino({ level: 'silent' });
const secret = Buffer.from('peer link test secret');

/** The peer 'r1' listening at /peer on `port` (a real PeerEndpoint: challenge, HMAC proof, welcome). */
class Peer {
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  private hole: TcpServer | null = null;
  readonly holeSockets: Socket[] = [];
  /** Every Raft message the endpoint accepted, in arrival order. */
  readonly received: Message[] = [];
  endpoint: PeerEndpoint | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'quorum-peer-link-'));

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const ep = new PeerEndpoint({ selfId: 'r1', secret, incomingDir: join(this.dir, 'in'), log, onMessages: (_from, msgs) => this.received.push(...msgs), onSnapshot: () => {} });
    this.endpoint = ep;
    const http = createServer();
    const wss = new WebSocketServer({ server: http, path: '/peer' });
    wss.on('connection', (ws, req) => ep.accept(ws, req.socket.remoteAddress ?? '?'));
    await new Promise<void>((res) => http.listen(this.port, '127.0.0.1', res));
    this.http = http;
    this.wss = wss;
  }

  /** Drops every connection but keeps listening (a flap). */
  dropConnections(): void {
    for (const c of this.wss!.clients) c.terminate();
  }

  /** Stops listening and drops every connection (the process died: reconnects are refused). */
  async kill(): Promise<void> {
    const http = this.http!;
    this.dropConnections();
    this.wss!.close();
    await new Promise((res) => http.close(res));
    this.http = null;
    this.wss = null;
  }

  /** Listens on the port, accepts connections and never answers (a reconnect that hangs). */
  async blackHole(): Promise<void> {
    const srv = createTcpServer((s) => this.holeSockets.push(s.on('error', () => {})));
    await new Promise<void>((res) => srv.listen(this.port, '127.0.0.1', res));
    this.hole = srv;
  }

  async destroy(): Promise<void> {
    if (this.http) await this.kill();
    for (const s of this.holeSockets) s.destroy();
    if (this.hole) await new Promise((res) => this.hole!.close(res));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Lets real I/O run (the faked clock stands still) until `cond` holds. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200_000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

describe('PeerLink', () => {
  let peer: Peer;
  let link: PeerLink | null = null;
  let lost = 0;

  beforeEach(async () => {
    peer = new Peer(await freePort());
    lost = 0;
    // Real sockets, faked timers (reconnect backoff, lost grace, pings, handshake timeouts).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  });

  afterEach(async () => {
    link?.close();
    link = null;
    vi.useRealTimers();
    await peer.destroy();
  });

  /** A link from 'r2' to the peer; with random 0 the first retry comes 10 ms after a drop. */
  function connect(): PeerLink {
    link = new PeerLink({
      selfId: 'r2',
      selfAddress: '127.0.0.1:1',
      peerId: 'r1',
      peerAddress: `127.0.0.1:${peer.port}`,
      secret,
      log,
      random: () => 0,
      onUnreachable: () => {},
      onLost: () => lost++,
    });
    return link;
  }

  /** `n` appends from r2 to r1, one entry of `bytes` characters each. */
  function appends(n: number, bytes: number): Message[] {
    const data = 'x'.repeat(bytes);
    return Array.from({ length: n }, (_, i) => ({ type: 'app', from: 'r2', to: 'r1', term: 1, index: i, logTerm: 1, commit: 0, entries: [{ index: i + 1, term: 1, type: 'normal', data }] }) as Message);
  }

  it('a batch larger than a peer frame (8 MiB) goes out in several frames: every message arrives, in order, on the same link', async () => {
    await peer.start();
    const l = connect();
    await until('link up', () => l.connected);
    const msgs = appends(60, 200 * 1024); // 12 MiB of entries, as to a follower far behind
    expect(l.send(msgs)).toBe(true);
    await until('all 60 received', () => peer.received.length === 60 || !l.connected);
    expect(peer.received.map((m) => m.entries?.[0]?.index)).toEqual(msgs.map((m) => m.entries![0]!.index));
    expect(l.connected).toBe(true);
  });

  it('framesOf cuts a batch by entry bytes, in order, never splitting a message or leaving an empty frame', () => {
    const sizes = (frames: Message[][]) => frames.map((f) => f.map((m) => m.entries?.[0]?.data.length ?? 0));
    const m = (bytes: number) => appends(1, bytes)[0]!;
    expect(sizes(framesOf([m(400), m(400), m(400)], 1_000))).toEqual([[400, 400], [400]]);
    expect(sizes(framesOf([m(500), m(500), m(1)], 1_000))).toEqual([[500, 500], [1]]);
    expect(sizes(framesOf([m(5_000), m(10)], 1_000))).toEqual([[5_000], [10]]);
    expect(sizes(framesOf([m(10), m(5_000)], 1_000))).toEqual([[10], [5_000]]);
    const heartbeat = { type: 'heartbeat', from: 'r2', to: 'r1', term: 1, commit: 0 } as Message;
    expect(framesOf([heartbeat, m(1_000), heartbeat], 1_000).map((f) => f.length)).toEqual([3]);
    expect(framesOf([heartbeat, m(1_000), heartbeat], 999).map((f) => f.length)).toEqual([1, 1, 1]);
    expect(framesOf([])).toEqual([]);
  });

  it('an established link whose reconnect is refused is reported lost, once', async () => {
    await peer.start();
    const l = connect();
    await until('link up', () => l.connected);
    await peer.kill();
    await until('link down', () => !l.connected);
    expect(lost).toBe(0);
    vi.advanceTimersByTime(10); // the first reconnect: refused
    await until('reported lost', () => lost > 0);
    // Further refused attempts (and the grace) say nothing more.
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(1000);
      await new Promise((r) => setImmediate(r));
    }
    expect(lost).toBe(1);
  });

  it("the endpoint knows a peer's connection to it only while it is authenticated and open (hasInbound)", async () => {
    await peer.start();
    expect(peer.endpoint!.hasInbound('r2')).toBe(false);
    const l = connect();
    await until('link up', () => l.connected);
    expect(peer.endpoint!.hasInbound('r2')).toBe(true);
    expect(peer.endpoint!.hasInbound('r3')).toBe(false);
    l.close();
    await until('the connection closed at the endpoint', () => !peer.endpoint!.hasInbound('r2'));
  });

  it('a link that comes back before the grace is not reported', async () => {
    await peer.start();
    const l = connect();
    await until('link up', () => l.connected);
    peer.dropConnections();
    await until('link down', () => !l.connected);
    vi.advanceTimersByTime(10); // the reconnect succeeds
    await until('link up again', () => l.connected);
    vi.advanceTimersByTime(10 * LOST_GRACE_MS);
    expect(lost).toBe(0);
  });

  it('a link whose reconnect hangs is reported at the grace', async () => {
    await peer.start();
    const l = connect();
    await until('link up', () => l.connected);
    await peer.kill();
    await peer.blackHole();
    await until('link down', () => !l.connected);
    vi.advanceTimersByTime(10); // the reconnect connects to a port that never answers
    await until('the reconnect accepted by the black hole', () => peer.holeSockets.length > 0);
    expect(lost).toBe(0);
    vi.advanceTimersByTime(LOST_GRACE_MS);
    expect(lost).toBe(1);
  });

  it('a link that was never up is never reported lost', async () => {
    const l = connect(); // nobody listens
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(1000);
      await new Promise((r) => setImmediate(r));
    }
    expect(l.connected).toBe(false);
    expect(lost).toBe(0);
  });

  it('peerSeen: a link waiting out its backoff connects at once when the peer shows up', async () => {
    const l = connect(); // refused: a retry is scheduled, and the faked clock never reaches it
    await until('the first attempt refused', () => (l as unknown as { ws: unknown }).ws === null);
    await peer.start();
    l.peerSeen();
    await until('link up without any retry timer firing', () => l.connected);
    l.peerSeen(); // up: nothing to do
    expect(l.connected).toBe(true);
  });
});
