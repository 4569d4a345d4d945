/**
 * The replica's single port: HTTP (web client at /, /healthz, /metrics, /debug/state) and WebSocket upgrades at /client
 * and /peer, in plain text and TLS alike: the first byte of a connection tells a TLS handshake (0x16) from HTTP, so
 * one port serves the desktop's own window on loopback in plain and everyone else over TLS. Who may use what is
 * decided by Exposure (exposure.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { Server as TlsServer, type TLSSocket, type TlsOptions, type SecureContextOptions } from 'node:tls';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LIMITS } from '../protocol/limits.js';
import type { ClientEndpoint } from './client-endpoint.js';
import type { PeerEndpoint } from './peer-endpoint.js';
import { CONTENT_TYPES } from '../protocol/content-types.js';
import { CLOSE_CODES } from '../protocol/client.js';
import type { Exposure } from './exposure.js';
import type { Transport } from './transport.js';

/** The TLS side of the port (replica/security/replica-tls.ts). */
export interface PortTls {
  /** False when the replica has neither a cluster secret nor an operator certificate: the port speaks plain only. */
  readonly enabled: boolean;
  serverOptions(): TlsOptions;
  defaultContextOptions(): SecureContextOptions;
  /** Called when the served certificates changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}


export interface HttpServerOptions {
  log: Logger;
  client: ClientEndpoint;
  peer: PeerEndpoint;
  metrics: Registry;
  /** 200 when this replica is serving (running and a member); otherwise 503 with the reason. */
  health: () => { serving: boolean; detail: Record<string, unknown> };
  /** Applied index and hash of the replicated state, for convergence checks (tests, chaos). */
  stateDigest: () => { appliedIndex: number; stateHash: string };
  /** Built web client (dist/renderer); null when not built. */
  webRoot: string | null;
  /** TLS of the port; null: plain text only. */
  tls: PortTls | null;
  /** Origin, plain-text and metrics rules. */
  exposure: Exposure;
}

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
  "font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const TYPES = CONTENT_TYPES;

/** Unanswered HTTP requests one connection may have (pipelining); beyond it the connection is dropped. */
export const MAX_PIPELINED = 16;
/** Open sockets (HTTP, /client, /peer) one remote address may hold; /client itself allows 512 per address. */
export const MAX_SOCKETS_PER_ADDRESS = 1024;
/**
 * A TLS handshake costs the replica about 1.5 ms of CPU, so one address could keep a core busy with new connections:
 * it may have this many handshakes under way at once, and start this many per second (with twice that as a burst).
 */
export const MAX_HANDSHAKES_PER_ADDRESS = 16;
export const HANDSHAKES_PER_SECOND = 50;

export class HttpServer {
  /** Answers the HTTP requests and upgrades of plain and TLS connections alike. */
  readonly server: Server;
  /** The listening socket: sniffs each connection's first byte and hands it to TLS or straight to HTTP. */
  private readonly front: NetServer;
  private readonly tlsServer: TlsServer | null;
  private readonly stopTlsUpdates: () => void = () => {};
  private metricsServer: Server | null = null;
  private readonly clientWss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxClientFrameBytes, perMessageDeflate: false });
  private readonly peerWss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxPeerFrameBytes, perMessageDeflate: false });

  /** Open sockets per remote address, and unanswered requests per socket (see the limits below). */
  private readonly socketsByAddress = new Map<string, number>();
  /** TLS handshakes under way, and a token bucket of new ones, per remote address. */
  private readonly handshakes = new Map<string, { pending: number; tokens: number; at: number }>();
  /** Settles the handshake count of a connection (by remote address:port) when its handshake completes. */
  private readonly handshaking = new Map<string, () => void>();
  private readonly sockets = new Set<Socket>();
  private readonly unanswered = new WeakMap<object, number>();

  constructor(private readonly options: HttpServerOptions) {
    this.server = createServer((req, res) => {
      // Browsers never pipeline; a socket with many requests in flight is a flood that would make us hold an
      // answer for each of them in memory. Drop it.
      const sock = req.socket;
      const depth = (this.unanswered.get(sock) ?? 0) + 1;
      if (depth > MAX_PIPELINED || sock.destroyed) {
        if (!sock.destroyed) options.log.warn({ remote: sock.remoteAddress }, 'http connection dropped: too many pipelined requests');
        sock.destroy();
        return;
      }
      this.unanswered.set(sock, depth);
      res.once('close', () => this.unanswered.set(sock, (this.unanswered.get(sock) ?? 1) - 1));
      this.route(req, res).catch((err) => {
        options.log.error({ err }, 'http handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;

    const tls = options.tls?.enabled ? options.tls : null;
    this.tlsServer = tls
      ? new TlsServer(tls.serverOptions(), (secure: TLSSocket) => {
          this.handshaking.get(`${secure.remoteAddress}:${secure.remotePort}`)?.();
          this.server.emit('connection', secure);
        })
      : null;
    if (tls && this.tlsServer) {
      const server = this.tlsServer;
      server.on('tlsClientError', (err, socket) => options.log.debug({ remote: socket.remoteAddress, err: err.message }, 'tls handshake failed'));
      this.stopTlsUpdates = tls.onChange(() => server.setSecureContext(tls.defaultContextOptions()));
    }
    this.front = createNetServer((socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.front, host, port);
  }

  /**
   * Serves /metrics, /debug/state and /healthz on a port of their own to anyone who reaches it (--metrics-listen):
   * the operator chose who can reach that address.
   */
  async listenMetrics(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return plainAnswer(res, 405, 'method not allowed');
      if (path !== '/metrics' && path !== '/debug/state' && path !== '/healthz') return plainAnswer(res, 404, 'not found (this port serves /metrics, /debug/state and /healthz)');
      this.observe(path, res).catch((err) => {
        this.options.log.error({ err }, 'metrics handler failed');
        if (!res.headersSent) plainAnswer(res, 500, 'internal error');
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    this.metricsServer = server;
    return listenOn(server, host, port);
  }

  async close(): Promise<void> {
    this.stopTlsUpdates();
    for (const ws of this.clientWss.clients) ws.terminate();
    for (const ws of this.peerWss.clients) ws.terminate();
    const metrics = this.metricsServer;
    await Promise.all([
      new Promise<void>((resolve) => {
        this.front.close(() => resolve());
        this.server.closeAllConnections();
        for (const s of this.sockets) s.destroy();
      }),
      metrics ? new Promise<void>((resolve) => {
        metrics.close(() => resolve());
        metrics.closeAllConnections();
      }) : undefined,
    ]);
  }

  /** A new connection: counted per address, then handed to TLS or HTTP by its first byte. */
  private accept(socket: Socket): void {
    const a = socket.remoteAddress ?? 'unknown';
    const n = (this.socketsByAddress.get(a) ?? 0) + 1;
    if (n > MAX_SOCKETS_PER_ADDRESS) {
      socket.destroy();
      return;
    }
    this.socketsByAddress.set(a, n);
    this.sockets.add(socket);
    socket.once('close', () => this.forget(socket, a));
    this.sniff(socket, a);
  }

  private forget(socket: Socket, address: string): void {
    this.sockets.delete(socket);
    const left = (this.socketsByAddress.get(address) ?? 1) - 1;
    if (left > 0) this.socketsByAddress.set(address, left);
    else this.socketsByAddress.delete(address);
  }

  /**
   * Waits for a new connection's first byte, then hands it to TLS or HTTP. Its own function: what it sets up (a timer,
   * listeners, closures) is let go once the byte has come, instead of staying for the connection's life beside the
   * close listener above (~0.5 KB a connection).
   */
  private sniff(socket: Socket, a: string): void {
    const ignore = () => {};
    // A connection that says nothing holds a socket for free: give it as long as HTTP gives a request's headers.
    const silent = setTimeout(() => socket.destroy(), this.server.headersTimeout).unref();
    const closed = () => clearTimeout(silent);
    socket.on('error', ignore);
    socket.once('close', closed);
    const onReadable = () => {
      const first: Buffer | null = socket.read();
      if (first === null) {
        socket.once('readable', onReadable);
        return;
      }
      socket.unshift(first);
      clearTimeout(silent);
      socket.off('close', closed);
      socket.off('error', ignore);
      if (first[0] !== TLS_HANDSHAKE) this.server.emit('connection', socket);
      else if (this.tlsServer) {
        if (!this.admitHandshake(a, socket)) {
          socket.destroy();
          return;
        }
        this.tlsServer.emit('connection', socket);
      } else {
        this.options.log.debug({ remote: a }, 'tls connection refused: this replica has no certificate (no cluster secret, no --tls-cert)');
        socket.destroy();
      }
    };
    socket.once('readable', onReadable);
  }

  /** Counts a TLS handshake of `address` until it completes or fails; false when the address is over its limits. */
  private admitHandshake(address: string, socket: Socket): boolean {
    const now = Date.now();
    let h = this.handshakes.get(address);
    if (!h) {
      h = { pending: 0, tokens: HANDSHAKES_PER_SECOND * 2, at: now };
      this.handshakes.set(address, h);
      if (this.handshakes.size > 10_000) {
        for (const [k, v] of this.handshakes) if (v.pending === 0 && k !== address) this.handshakes.delete(k);
      }
    }
    h.tokens = Math.min(HANDSHAKES_PER_SECOND * 2, h.tokens + ((now - h.at) / 1000) * HANDSHAKES_PER_SECOND);
    h.at = now;
    if (h.pending >= MAX_HANDSHAKES_PER_ADDRESS || h.tokens < 1) {
      this.options.log.debug({ remote: address, pending: h.pending }, 'tls connection dropped: too many handshakes from this address');
      return false;
    }
    h.tokens -= 1;
    h.pending += 1;
    const entry = h;
    const key = `${address}:${socket.remotePort}`;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      entry.pending -= 1;
      this.handshaking.delete(key);
    };
    // Settled by the secure connection (see the TLS server's listener) or by the end of the socket (a failed handshake).
    socket.once('close', finish);
    this.handshaking.set(key, finish);
    return true;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    const remote = req.socket.remoteAddress ?? 'unknown';
    const transport = transportOf(req);
    if (path !== '/client' && path !== '/peer') return refuseUpgrade(socket, 404, 'not found');
    const originProblem = this.options.exposure.originProblem(req);
    if (originProblem) {
      this.options.log.warn({ remote, origin: req.headers.origin, path }, 'websocket refused: foreign origin');
      return refuseUpgrade(socket, 403, originProblem);
    }
    if (path === '/client') {
      if (!transport.encrypted && this.tlsServer && !this.options.exposure.plainAllowed(remote)) {
        // Accepted only to be closed with a reason a client can show (a refused upgrade's body never reaches it):
        // nothing is sent before the close, and nothing is read.
        this.options.log.warn({ remote }, 'client refused: plain text from another machine');
        this.clientWss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => ws.terminate());
          ws.close(CLOSE_CODES.tlsRequired, PLAIN_CLIENT_REFUSED);
        });
        return;
      }
      this.clientWss.handleUpgrade(req, socket, head, (ws) => this.options.client.accept(ws, remote, socket));
    } else {
      this.peerWss.handleUpgrade(req, socket, head, (ws) => this.options.peer.accept(ws, remote, transport));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // Nothing here changes state over HTTP; a foreign page is refused first all the same.
      const originProblem = this.options.exposure.originProblem(req);
      if (originProblem) return plainAnswer(res, 403, originProblem);
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    if (path === '/healthz') return this.observe(path, res);
    const remote = req.socket.remoteAddress ?? 'unknown';
    if (path === '/debug/state' || path === '/metrics') {
      const problem = this.options.exposure.metricsProblem(req, remote);
      if (problem) return plainAnswer(res, 403, problem);
      return this.observe(path, res);
    }
    if (!transportOf(req).encrypted && this.tlsServer && !this.options.exposure.plainAllowed(remote)) {
      // The web client over plain text would hand passwords to the network: send the browser to TLS on this port.
      const host = req.headers.host;
      if (!host || !this.options.exposure.isOurHost(host)) return plainAnswer(res, 421, 'this replica is not reached under that name');
      res.writeHead(308, { location: `https://${host}${req.url ?? '/'}`, 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(`use https://${host}/ (docs/security.md: how a browser trusts a replica)\n`);
      return;
    }
    await this.serveStatic(path, res);
  }

  /** /healthz, /metrics, /debug/state (who may read them is decided by the caller). */
  private async observe(path: string, res: ServerResponse): Promise<void> {
    if (path === '/healthz') {
      const h = this.options.health();
      res.writeHead(h.serving ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: h.serving ? 'serving' : 'not serving', ...h.detail }) + '\n');
      return;
    }
    if (path === '/debug/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(this.options.stateDigest()) + '\n');
      return;
    }
    const body = await this.options.metrics.metrics();
    res.writeHead(200, { 'content-type': this.options.metrics.contentType, 'cache-control': 'no-store' });
    res.end(body);
  }

  private async serveStatic(path: string, res: ServerResponse): Promise<void> {
    const security = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    const root = this.options.webRoot;
    if (!root) {
      res.writeHead(200, { ...security, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><title>Quorum</title><p>This replica is running, but the web client is not built. Run <code>npm run build:renderer</code> and restart it.</p>\n');
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad path\n');
      return;
    }
    const file = normalize(join(root, rel === '/' ? 'index.html' : rel));
    if (!file.startsWith(normalize(root) + sep) && file !== normalize(join(root, 'index.html'))) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    let target = file;
    const st = await stat(file).catch(() => null);
    if (!st || !st.isFile()) {
      // Client-side routes fall back to the app; missing assets are 404s.
      if (rel.startsWith('/assets/') || extname(rel)) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
      }
      target = join(root, 'index.html');
    }
    const body = await readFile(target);
    const hashed = target.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      ...security,
      'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(body);
  }
}

/** The close reason of a plain /client connection from another machine (at most 123 bytes). */
export const PLAIN_CLIENT_REFUSED = 'this replica serves other machines over TLS only: connect with wss:// (--ca-file cluster-ca.pem)';

/** First byte of a TLS record carrying a handshake (a ClientHello opens every TLS connection). */
const TLS_HANDSHAKE = 0x16;

function transportOf(req: IncomingMessage): Transport {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.encrypted) return { encrypted: false };
  const certificate = socket.getPeerX509Certificate?.();
  return certificate ? { encrypted: true, certificate } : { encrypted: true };
}

function refuseUpgrade(socket: Duplex, status: 403 | 404, reason: string): void {
  const text = status === 403 ? 'Forbidden' : 'Not Found';
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function plainAnswer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

function listenOn(server: NetServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
