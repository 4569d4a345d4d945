/**
 * The /client WebSocket endpoint: validates every frame against the protocol schema, hands valid requests to the
 * replica's request handler, sends exactly one response per request id, and routes pushes to the connections of
 * logged-in accounts. A malformed frame gets an error frame (or a close with a reason), never a crash.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import { ClientRequest, type HelloFrame, type PushFrame, type ServerFrame } from '../protocol/client.js';
import { QuorumError } from '../protocol/errors.js';

export interface ClientConn {
  readonly connId: number;
  readonly remote: string;
  /** Random per-connection challenge, sent in the hello frame, that an `admin` request signs. */
  readonly nonce: string;
  /** True once the socket is closed or dropped (nothing more is sent). */
  readonly closed: boolean;
  /** The one administration request this connection proved the cluster secret for (consumed when used). */
  adminScope: string | null;
  /** Set by the handler on login/resume; cleared on logout. */
  account: { id: number; username: string; tokenHash: string } | null;
  push(frame: PushFrame): void;
  /** Close with a reason (e.g. the replica stops serving). */
  close(code: number, reason: string): void;
}

export interface ClientHandler {
  hello(conn: ClientConn): HelloFrame;
  handle(conn: ClientConn, req: ClientRequest): Promise<unknown>;
  onClose(conn: ClientConn): void;
}

export interface ClientEndpointOptions {
  log: Logger;
  handler: ClientHandler;
  /** An account's first connection logged in (online) or its last one went (presence.ts). */
  onPresence?: (accountId: number, username: string, online: boolean) => void;
  /** Most requests one connection may have outstanding. */
  maxInFlight?: number;
  /** Most requests of one connection being worked on at once (the others wait, in order). */
  maxRunning?: number;
  /** Token bucket per remote address: sustained requests per second and burst. */
  ratePerSecond?: number;
  burst?: number;
  maxConnectionsPerAddress?: number;
}

interface Bucket {
  tokens: number;
  at: number;
  conns: number;
}

export class ClientEndpoint {
  private nextId = 1;
  private readonly conns = new Set<Conn>();
  /** Logged-in connections by account id (pushes go straight to them, not through every connection). */
  private readonly byAccount = new Map<number, Set<Conn>>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxInFlight: number;
  private readonly maxRunning: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxConns: number;

  /** What a connection tells its endpoint: one object for them all, not closures of each (memory per connection). */
  private readonly connEvents: ConnEvents = {
    account: (c, from, to) => this.reindex(c, from, to),
    slow: (c, unsent) => this.o.log.warn({ conn: c.connId, remote: c.remote, unsent }, 'client connection dropped: it does not read its answers'),
  };

  constructor(private readonly o: ClientEndpointOptions) {
    this.maxInFlight = o.maxInFlight ?? 4096;
    this.maxRunning = o.maxRunning ?? 64;
    this.rate = o.ratePerSecond ?? 20_000;
    this.burst = o.burst ?? 40_000;
    this.maxConns = o.maxConnectionsPerAddress ?? 512;
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /**
   * Serves one upgraded connection. `socket` is the connection's TCP socket (the one handed to handleUpgrade): when
   * given, the frames written to it in one turn of the event loop (a batch of answers, pushes) leave in one write.
   */
  accept(ws: WebSocket, remote: string, socket?: Duplex): void {
    const bucket = this.bucket(remote);
    if (bucket.conns >= this.maxConns) {
      ws.close(1013, 'too many connections from this address');
      return;
    }
    bucket.conns++;
    const conn = new Conn(this.nextId++, remote, ws, socket ?? null, this.connEvents);
    this.conns.add(conn);
    conn.send(this.o.handler.hello(conn));
    ws.on('message', (data, isBinary) => this.onFrame(conn, bucket, data as Buffer, isBinary));
    ws.on('close', () => {
      bucket.conns--;
      this.conns.delete(conn);
      conn.closed = true;
      this.reindex(conn, conn.account, null);
      this.o.handler.onClose(conn);
    });
    ws.on('error', (err) => {
      // A protocol error or an oversized frame ends the connection: drop it now rather than read (over TLS, decrypt)
      // what the sender still sends until the closing handshake times out.
      this.o.log.debug({ conn: conn.connId, err: err.message }, 'client socket error');
      ws.terminate();
    });
  }

  /** Pushes a frame to every live connection logged in as the account (only those of one login, given its token hash). */
  pushTo(accountId: number, frame: PushFrame, tokenHash?: string): number {
    const set = this.byAccount.get(accountId);
    if (!set) return 0;
    let n = 0;
    for (const c of set) {
      // The index holds exactly the connections logged in as the account (kept by the `account` setter).
      if (!tokenHash || c.account!.tokenHash === tokenHash) {
        c.push(frame);
        n++;
      }
    }
    return n;
  }

  /** Connections logged in as the account (optionally only those holding one token). */
  connectionsOf(accountId: number, tokenHash?: string): ClientConn[] {
    return [...(this.byAccount.get(accountId) ?? [])].filter((c) => !tokenHash || c.account!.tokenHash === tokenHash);
  }

  private reindex(c: Conn, fromAccount: ClientConn['account'], toAccount: ClientConn['account']): void {
    const from = fromAccount?.id ?? null;
    const to = toAccount?.id ?? null;
    if (from === to) return;
    if (from !== null) {
      const set = this.byAccount.get(from);
      set?.delete(c);
      if (set?.size === 0) {
        this.byAccount.delete(from);
        this.o.onPresence?.(from, fromAccount!.username, false);
      }
    }
    if (to !== null && !c.closed) {
      let set = this.byAccount.get(to);
      if (!set) {
        this.byAccount.set(to, (set = new Set()));
        this.o.onPresence?.(to, toAccount!.username, true);
      }
      set.add(c);
    }
  }

  closeAll(code: number, reason: string): void {
    for (const c of this.conns) c.close(code, reason);
  }

  /** Closes every connection that is logged in (the others keep theirs); returns how many. */
  closeLoggedIn(code: number, reason: string): number {
    let n = 0;
    for (const set of this.byAccount.values()) {
      for (const c of set) {
        c.close(code, reason);
        n++;
      }
    }
    return n;
  }

  private onFrame(conn: Conn, bucket: Bucket, data: Buffer, isBinary: boolean): void {
    if (conn.closed) return;
    if (isBinary) {
      conn.send({ type: 'error', error: { code: 'INVALID', message: 'binary frames are not accepted; send JSON text' } });
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      conn.send({ type: 'error', error: { code: 'INVALID', message: 'frame is not valid JSON' } });
      return;
    }
    const id = rawId(raw);
    const parsed = ClientRequest.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      const message = `invalid request${where}: ${issue?.message ?? 'does not match the protocol'}`;
      if (id === undefined) conn.send({ type: 'error', error: { code: 'INVALID', message } });
      else conn.send({ type: 'response', id, ok: false, error: { code: 'INVALID', message } });
      return;
    }
    const req = parsed.data;
    if (!this.take(bucket)) {
      conn.send({ type: 'response', id: req.id, ok: false, error: { code: 'RATE_LIMITED', message: 'too many requests from this address; slow down and retry' } });
      return;
    }
    if (conn.inFlight >= this.maxInFlight) {
      conn.send({ type: 'response', id: req.id, ok: false, error: { code: 'RATE_LIMITED', message: `more than ${this.maxInFlight} requests outstanding on this connection` } });
      return;
    }
    conn.inFlight++;
    // At most maxRunning requests of a connection are being worked on at once (each may hold a page of messages in
    // memory); the rest wait their turn in arrival order.
    if (conn.running < this.maxRunning) this.run(conn, req);
    else conn.waiting.push(req);
  }

  private run(conn: Conn, req: ClientRequest): void {
    conn.running++;
    const done = () => {
      conn.running--;
      conn.inFlight--;
      if (conn.closed) {
        conn.inFlight -= conn.waiting.length;
        conn.waiting.length = 0;
        return;
      }
      const next = conn.waiting.shift();
      if (next) this.run(conn, next);
    };
    this.o.handler.handle(conn, req).then(
      (result) => {
        conn.send({ type: 'response', id: req.id, ok: true, result });
        done();
      },
      (err: unknown) => {
        if (err instanceof QuorumError) {
          conn.send({ type: 'response', id: req.id, ok: false, error: err.toWire() });
        } else {
          this.o.log.error({ err, op: req.op }, 'request failed unexpectedly');
          conn.send({ type: 'response', id: req.id, ok: false, error: { code: 'INTERNAL', message: 'internal error; the request may be retried' } });
        }
        done();
      },
    );
  }

  private bucket(remote: string): Bucket {
    let b = this.buckets.get(remote);
    if (!b) {
      b = { tokens: this.burst, at: Date.now(), conns: 0 };
      this.buckets.set(remote, b);
    }
    if (this.buckets.size > 10_000) {
      for (const [k, v] of this.buckets) if (v.conns === 0 && k !== remote) this.buckets.delete(k);
    }
    return b;
  }

  private take(b: Bucket): boolean {
    const now = Date.now();
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function rawId(raw: unknown): string | number | undefined {
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const id = (raw as Record<string, unknown>).id;
    if ((typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) || (typeof id === 'string' && id.length > 0 && id.length <= 64)) return id;
  }
  return undefined;
}

/** Answers and pushes a connection may have queued unsent before it is dropped as too slow a reader. */
export const MAX_UNSENT_BYTES = 32 * 1024 * 1024;

interface ConnEvents {
  /** The connection logged in, switched account or logged out. */
  account(c: Conn, from: ClientConn['account'], to: ClientConn['account']): void;
  /** The connection is dropped: it left this many bytes of answers unread. */
  slow(c: Conn, unsent: number): void;
}

class Conn implements ClientConn {
  private acct: ClientConn['account'] = null;
  adminScope: string | null = null;
  readonly nonce = randomBytes(32).toString('hex');
  inFlight = 0;
  running = 0;
  readonly waiting: ClientRequest[] = [];
  closed = false;
  private corked = false;
  constructor(
    readonly connId: number,
    readonly remote: string,
    private readonly ws: WebSocket,
    private readonly socket: Duplex | null,
    private readonly events: ConnEvents,
  ) {}
  get account(): ClientConn['account'] {
    return this.acct;
  }
  set account(next: ClientConn['account']) {
    const from = this.acct;
    this.acct = next;
    this.events.account(this, from, next);
  }
  send(frame: ServerFrame): void {
    if (this.closed || this.ws.readyState !== 1) return;
    if (this.socket && !this.corked) {
      // Answers resolved in one apply batch, and pushes, go out in one write at the end of this tick (not one each).
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket!.uncork();
      });
    }
    this.ws.send(JSON.stringify(frame));
    if (this.ws.bufferedAmount > MAX_UNSENT_BYTES) {
      // A client that asks but does not read would make us buffer answers without bound: drop it (it reconnects).
      this.closed = true;
      this.events.slow(this, this.ws.bufferedAmount);
      this.ws.terminate();
    }
  }
  push(frame: PushFrame): void {
    this.send(frame);
  }
  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}
