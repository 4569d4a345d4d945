/**
 * A bare protocol connection for tests that must control every frame (pipelining, kills mid-write, hostile input).
 * Product code uses replica/client instead.
 */
import WebSocket, { type ClientOptions } from 'ws';
import { randomBytes } from 'node:crypto';

export interface Resp {
  ok: boolean;
  result?: any;
  error?: { code: string; message: string; leader?: { id: string; address: string } | null };
}

export class RawConn {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Resp) => void>();
  readonly pushes: any[] = [];
  readonly frames: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private seq = 0;
  readonly clientId = 'test' + randomBytes(8).toString('hex');

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      this.frames.push(f);
      if (f.type === 'response') {
        const cb = this.pending.get(f.id);
        this.pending.delete(f.id);
        cb?.({ ok: f.ok, result: f.result, error: f.error });
      } else if (f.type === 'push') this.pushes.push(f);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const [, cb] of this.pending) cb({ ok: false, error: { code: 'CLOSED', message: 'connection closed' } });
      this.pending.clear();
    });
    ws.on('error', () => {});
  }

  /**
   * `localAddress`: the source address to connect from (e.g. another 127.0.0.0/8 address: another client host).
   * `tls`: connect with wss:// and these TLS options (replica/security/client-tls.ts: tlsClientOptions).
   */
  static open(address: string, timeoutMs = 5000, localAddress?: string, tls?: ClientOptions): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${tls ? 'wss' : 'ws'}://${address}/client`, { ...(localAddress ? { localAddress } : {}), ...tls });
      const t = setTimeout(() => {
        ws.terminate();
        reject(new Error(`connect to ${address} timed out`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(t);
        resolve(new RawConn(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(t);
        reject(err);
      });
    });
  }

  /** Next session for a write. */
  session(): { clientId: string; seq: number } {
    return { clientId: this.clientId, seq: ++this.seq };
  }

  request(req: Record<string, unknown>): Promise<Resp> {
    const id = this.nextId++;
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return Promise.resolve({ ok: false, error: { code: 'CLOSED', message: 'connection closed' } });
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, ...req }));
    });
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  async ok(req: Record<string, unknown>): Promise<any> {
    const r = await this.request(req);
    if (!r.ok) throw new Error(`${String(req.op)} failed: ${r.error?.code} ${r.error?.message}`);
    return r.result;
  }

  async signup(username: string, password = 'password-123'): Promise<void> {
    await this.ok({ op: 'signup', username, password, session: this.session() });
  }

  async login(username: string, password = 'password-123', after?: number): Promise<{ user: string; token: string; unread: number }> {
    return this.ok({ op: 'login', username, password, token: randomBytes(32).toString('base64url'), session: this.session(), ...(after !== undefined ? { after } : {}) });
  }

  close(): void {
    this.ws.close();
  }
}
