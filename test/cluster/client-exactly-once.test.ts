// The client library's failover and exactly-once paths against real replica processes (issue 18; until now only
// against the fake cluster): writes the leader committed but whose answers never reached the client are resent after
// the leader is SIGKILLed, to the new leader, in the same session, and each is stored once, with the id the client
// is finally given. A TCP relay between the client and the leader passes the client's frames on and, once told,
// swallows the leader's answers, so "committed but unanswered" is certain rather than a race. And a leader that
// freezes (SIGSTOP: its sockets stay open, no error reaches the client) is left once the client's liveness watch
// hears nothing from it, with the writes waiting on it applied once at the new leader.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import { conversationTexts } from '../helpers/clients.js';
import { Cluster, waitFor } from '../helpers/cluster.js';

const PW = 'password-123';

/** A TCP relay to `target`; with `answers` false it drops whatever the target sends back. */
class Relay {
  answers = true;
  swallowedBytes = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(target: string): Promise<Relay> {
    const [host, port] = target.split(':');
    const server = createServer();
    const relay = new Relay(server);
    server.on('connection', (down) => {
      const up = connect(Number(port), host);
      relay.sockets.add(down).add(up);
      const end = () => {
        down.destroy();
        up.destroy();
      };
      down.on('data', (d) => up.write(d));
      up.on('data', (d) => {
        if (relay.answers) down.write(d);
        else relay.swallowedBytes += d.length;
      });
      for (const s of [down, up]) {
        s.on('close', end);
        s.on('error', end);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

describe('client library on real replicas', () => {
  let cluster: Cluster | null = null;
  let relay: Relay | null = null;
  const clients: QuorumClient[] = [];
  const client = (servers: string[]) => {
    const c = new QuorumClient({ servers, WebSocket: WebSocket as never, backoff: { initialMs: 20, maxMs: 500 }, requestTimeoutMs: 5_000, giveUpAfterMs: 30_000 });
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    for (const c of clients) c.close();
    relay?.close();
    await cluster?.destroy();
  });

  it('writes committed but unanswered when the leader is SIGKILLed are resent to the new leader and each stored once', async () => {
    cluster = await Cluster.start({ size: 3 });
    const leader = await cluster.leader();
    relay = await Relay.start(leader.address);
    const bob = client(cluster.addresses);
    await bob.signup('bob', PW);
    await bob.signup('alice', PW);
    await bob.login('bob', PW);

    // alice reaches the leader only through the relay (and learns the other members from its status).
    const alice = client([relay.address]);
    await alice.login('alice', PW);
    await waitFor('alice knows every member', () => cluster!.addresses.every((a) => alice.servers.includes(a)));
    expect(alice.state.replica?.id).toBe(leader.id);

    // Five writes in flight at once; the leader commits them all, and none of its answers gets through.
    relay.answers = false;
    const texts = [0, 1, 2, 3, 4].map((i) => `in flight ${i}`);
    const answered: string[] = [];
    const sends = texts.map((t) => alice.send('bob', t).then((r) => (answered.push(t), r)));
    for (const s of sends) s.catch(() => {}); // awaited below; a failed test closes the client under them
    await waitFor('all five committed', async () => (await conversationTexts(bob, 'alice')).length === 5);
    await waitFor('the answers swallowed', () => relay!.swallowedBytes > 0);
    expect(answered).toEqual([]);

    await leader.kill();
    const acks = await Promise.all(sends);
    const next = await cluster.leader();
    expect(next.id).not.toBe(leader.id);
    // A write after the failover, through the same client: normal service.
    const after = await alice.send('bob', 'after the failover');

    const history = (await bob.history('alice', { limit: 500 })).messages;
    console.log(`exactly-once on real replicas: ${history.length} stored for ${texts.length + 1} sends; ids ${history.map((m) => m.id).join(',')}`);
    expect(history.map((m) => m.text)).toEqual([...texts, 'after the failover']);
    // The resent writes were answered from the session table: the ids the client got are the ids stored.
    expect(history.map((m) => m.id)).toEqual([...acks.map((a) => a.id), after.id]);
  }, 60_000);

  it('a leader that freezes (SIGSTOP) with writes waiting is left by the client; the writes are applied once at the new leader', async () => {
    const frozen = await Cluster.start({ size: 3 });
    try {
      const leader = await frozen.leader();
      // A request timeout far beyond the test's: only the client's liveness watch can end the wait.
      const c = new QuorumClient({ servers: [leader.address, ...frozen.addresses.filter((a) => a !== leader.address)], WebSocket: WebSocket as never, backoff: { initialMs: 20, maxMs: 500 }, requestTimeoutMs: 600_000, giveUpAfterMs: 60_000 });
      clients.push(c);
      await c.signup('carol', PW);
      await c.signup('dave', PW);
      await c.login('carol', PW);
      expect(c.state.replica?.id).toBe(leader.id);
      const lastErrors: string[] = [];
      c.on('state', (s) => {
        if (s.lastError) lastErrors.push(s.lastError);
      });
      // The leader's host freezes: its sockets stay open, nothing comes back.
      leader.signal('SIGSTOP');
      const texts = ['while frozen 1', 'while frozen 2'];
      const acks = await Promise.all(texts.map((t) => c.send('dave', t)));
      expect(c.state.replica?.id).not.toBe(leader.id);
      expect(lastErrors.some((e) => e.startsWith(`nothing from ${leader.address} for `))).toBe(true);
      const history = (await c.history('dave', { limit: 50 })).messages;
      expect(history.map((m) => m.text)).toEqual(texts);
      expect(history.map((m) => m.id)).toEqual(acks.map((a) => a.id));
    } finally {
      await frozen.destroy(); // SIGKILL ends a stopped process too
    }
  }, 90_000);
});
