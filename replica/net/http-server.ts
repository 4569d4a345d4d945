/**
 * The replica's single port: HTTP (web client at /, /healthz, /metrics) and WebSocket upgrades at /client and /peer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
}

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
  "font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const TYPES = CONTENT_TYPES;

/** Unanswered HTTP requests one connection may have (pipelining); beyond it the connection is dropped. */
export const MAX_PIPELINED = 16;
/** Open sockets (HTTP, /client, /peer) one remote address may hold; /client itself allows 512 per address. */
export const MAX_SOCKETS_PER_ADDRESS = 1024;

export class HttpServer {
  readonly server: Server;
  private readonly clientWss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxClientFrameBytes, perMessageDeflate: false });
  private readonly peerWss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.maxPeerFrameBytes, perMessageDeflate: false });

  /** Open sockets per remote address, and unanswered requests per socket (see the limits below). */
  private readonly socketsByAddress = new Map<string, number>();
  private readonly unanswered = new WeakMap<object, number>();

  constructor(private readonly o: HttpServerOptions) {
    this.server = createServer((req, res) => {
      // Browsers never pipeline; a socket with many requests in flight is a flood that would make us hold an
      // answer for each of them in memory. Drop it.
      const sock = req.socket;
      const depth = (this.unanswered.get(sock) ?? 0) + 1;
      if (depth > MAX_PIPELINED || sock.destroyed) {
        if (!sock.destroyed) o.log.warn({ remote: sock.remoteAddress }, 'http connection dropped: too many pipelined requests');
        sock.destroy();
        return;
      }
      this.unanswered.set(sock, depth);
      res.once('close', () => this.unanswered.set(sock, (this.unanswered.get(sock) ?? 1) - 1));
      this.route(req, res).catch((err) => {
        o.log.error({ err }, 'http handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server.on('connection', (socket: Socket) => {
      const a = socket.remoteAddress ?? 'unknown';
      const n = (this.socketsByAddress.get(a) ?? 0) + 1;
      if (n > MAX_SOCKETS_PER_ADDRESS) {
        socket.destroy();
        return;
      }
      this.socketsByAddress.set(a, n);
      socket.once('close', () => {
        const left = (this.socketsByAddress.get(a) ?? 1) - 1;
        if (left > 0) this.socketsByAddress.set(a, left);
        else this.socketsByAddress.delete(a);
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
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    for (const ws of this.clientWss.clients) ws.terminate();
    for (const ws of this.peerWss.clients) ws.terminate();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    const remote = req.socket.remoteAddress ?? 'unknown';
    if (path === '/client') {
      this.clientWss.handleUpgrade(req, socket, head, (ws) => this.o.client.accept(ws, remote, socket));
    } else if (path === '/peer') {
      this.peerWss.handleUpgrade(req, socket, head, (ws) => this.o.peer.accept(ws, remote));
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      const h = this.o.health();
      res.writeHead(h.serving ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: h.serving ? 'serving' : 'not serving', ...h.detail }) + '\n');
      return;
    }
    if (path === '/debug/state') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(this.o.stateDigest()) + '\n');
      return;
    }
    if (path === '/metrics') {
      const body = await this.o.metrics.metrics();
      res.writeHead(200, { 'content-type': this.o.metrics.contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    await this.serveStatic(path, res);
  }

  private async serveStatic(path: string, res: ServerResponse): Promise<void> {
    const security = {
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    const root = this.o.webRoot;
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
