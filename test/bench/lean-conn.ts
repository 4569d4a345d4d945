/**
 * A lean protocol connection for the connections scenario, where one process holds thousands of them: it keeps no
 * frame history (test/helpers/raw-client.ts's RawConn keeps every frame), answers requests by id and hands pushes to
 * one callback.
 */
import WebSocket from 'ws';
import { randomBytes } from 'node:crypto';

export interface LeanResp {
  ok: boolean;
  result?: any;
  error?: { code: string; message: string };
}

export class LeanConn {
  private nextId = 1;
  private seq = 0;
  private readonly pending = new Map<number, (r: LeanResp) => void>();
  private readonly clientId = 'bench' + randomBytes(8).toString('hex');
  /** Called with every push frame (parsed). */
  onPush: ((frame: any) => void) | null = null;
  closed = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'response') {
        const cb = this.pending.get(f.id);
        this.pending.delete(f.id);
        cb?.({ ok: f.ok, result: f.result, error: f.error });
      } else if (f.type === 'push') this.onPush?.(f);
    });
    ws.on('close', () => {
      this.closed = true;
      for (const [, cb] of this.pending) cb({ ok: false, error: { code: 'CLOSED', message: 'connection closed' } });
      this.pending.clear();
    });
    ws.on('error', () => {});
  }

  /** Connects to ws://address/client from `localAddress` (another 127.0.0.0/8 address: another client machine). */
  static open(address: string, localAddress?: string, timeoutMs = 20_000): Promise<LeanConn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://${address}/client`, { ...(localAddress ? { localAddress } : {}), perMessageDeflate: false });
      const t = setTimeout(() => {
        ws.terminate();
        reject(new Error(`connect to ${address} from ${localAddress ?? 'default'} timed out`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(t);
        resolve(new LeanConn(ws));
      });
      ws.once('error', (err) => {
        clearTimeout(t);
        reject(err);
      });
    });
  }

  session(): { clientId: string; seq: number } {
    return { clientId: this.clientId, seq: ++this.seq };
  }

  request(req: Record<string, unknown>): Promise<LeanResp> {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return Promise.resolve({ ok: false, error: { code: 'CLOSED', message: 'connection closed' } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, ...req }));
    });
  }

  close(): void {
    this.ws.close();
  }
}
