/**
 * Load clients for Quorum: a few bare protocol connections (test/helpers/raw-client.ts) to the leader, each logged in
 * as its own account, every request a `send` of a 256-byte message to a "sink" account that has no live connection
 * (so no push traffic). Requests are pipelined on the connections; the closed loop decides how many are in flight.
 * Each connection comes from its own loopback source address (127.0.0.2, 127.0.0.3, ...): 8 client machines, each
 * within the replica's per-address request-rate limit (20,000/s), which one address would otherwise hit above that.
 */
import type { ClientOptions } from 'ws';
import { RawConn } from '../helpers/raw-client.js';
import { PAYLOAD_256 } from './load.js';

export const BENCH_PASSWORD = 'bench-password-1';
export const SINK = 'bench-sink';
export const MAX_CONNS = 8;

export function senderName(i: number): string {
  return `bench-${i}`;
}

export class QuorumLoad {
  private constructor(readonly conns: RawConn[]) {}

  /**
   * Opens `connections` connections to `address` (the leader) and logs each in as bench-<i>, signing the accounts
   * (and the sink) up first unless they exist already (a preloaded data folder has them). `tls`: wss:// with these
   * options.
   */
  static async open(address: string, connections = MAX_CONNS, tls?: ClientOptions): Promise<QuorumLoad> {
    const local = address.startsWith('127.') ? (i: number) => `127.0.0.${2 + i}` : () => undefined;
    const conns = await Promise.all(Array.from({ length: connections }, (_, i) => RawConn.open(address, 5000, local(i), tls)));
    const names = [SINK, ...conns.map((_, i) => senderName(i))];
    await Promise.all(
      names.map(async (name, i) => {
        const c = conns[i % conns.length];
        const r = await c.request({ op: 'signup', username: name, password: BENCH_PASSWORD, session: c.session() });
        if (!r.ok && r.error?.code !== 'USERNAME_TAKEN') throw new Error(`signup ${name}: ${r.error?.code} ${r.error?.message}`);
      }),
    );
    await Promise.all(conns.map((c, i) => c.login(senderName(i), BENCH_PASSWORD)));
    return new QuorumLoad(conns);
  }

  /** One send on the connection for this worker (workers are spread over the first min(inFlight, n) connections). */
  async send(worker: number, inFlight: number, to = SINK): Promise<true | string> {
    const c = this.conns[worker % Math.min(inFlight, this.conns.length)];
    const r = await c.request({ op: 'send', to, text: PAYLOAD_256, session: c.session() });
    return r.ok ? true : `${r.error?.code}: ${r.error?.message}`;
  }

  /** A history page (newest 50 messages with the sink), answered after a ReadIndex barrier. */
  async history(worker: number): Promise<true | string> {
    const c = this.conns[worker % this.conns.length];
    const r = await c.request({ op: 'history', with: SINK, limit: 50 });
    return r.ok ? true : `${r.error?.code}: ${r.error?.message}`;
  }

  close(): void {
    for (const c of this.conns) c.close();
  }
}
