// ClientEndpoint.closeLoggedIn (a replica that stopped leading sends its logged-in clients on, leader-moved.ts): it
// closes exactly the connections logged in, with the code and reason given, says how many, and each account goes
// offline; a connection that is not logged in (a status probe, an admin session, a client before login) stays open.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ClientEndpoint, type ClientConn, type ClientHandler } from '../../replica/net/client-endpoint.js';
import { CLOSE_CODES, type ClientRequest, type HelloFrame } from '../../replica/protocol/client.js';
import { FakeWs } from '../helpers/fake-ws.js';

/** Binds a connection to the account its resume names (`token` "account-N-…"), as the real handler does after checks. */
class BindingHandler implements ClientHandler {
  hello(): HelloFrame {
    return { type: 'hello', protocol: 1, replica: { id: 'r1', address: '127.0.0.1:1' }, leader: null };
  }
  async handle(conn: ClientConn, req: ClientRequest): Promise<unknown> {
    if (req.op === 'resume') {
      const id = Number(/^account-(\d+)-/.exec(req.token)![1]);
      conn.account = { id, username: `user${id}`, tokenHash: req.token };
    }
    return { ok: true };
  }
  onClose(): void {}
}

describe('ClientEndpoint.closeLoggedIn', () => {
  it('closes the logged-in connections only, and their accounts go offline', async () => {
    const presence: [number, boolean][] = [];
    const ep = new ClientEndpoint({ log: pino({ level: 'silent' }), handler: new BindingHandler(), onPresence: (id, _u, online) => presence.push([id, online]) });
    const sockets = Array.from({ length: 4 }, () => new FakeWs());
    for (const ws of sockets) ep.accept(ws as never, '127.0.0.1');
    // Two connections of account 1, one of account 2, one not logged in.
    sockets[0].frame(JSON.stringify({ id: 1, op: 'resume', token: 'account-1-aaaaaaaaaaaaaaaaaaaa' }));
    sockets[1].frame(JSON.stringify({ id: 1, op: 'resume', token: 'account-1-bbbbbbbbbbbbbbbbbbbb' }));
    sockets[2].frame(JSON.stringify({ id: 1, op: 'resume', token: 'account-2-cccccccccccccccccccc' }));
    sockets[3].frame(JSON.stringify({ id: 1, op: 'status' }));
    await new Promise((r) => setImmediate(r));
    expect(presence).toEqual([[1, true], [2, true]]);

    expect(ep.closeLoggedIn(CLOSE_CODES.leaderMoved, 'r2 leads now')).toBe(3);
    expect(sockets.map((ws) => ws.closed)).toEqual([
      { code: 4409, reason: 'r2 leads now' },
      { code: 4409, reason: 'r2 leads now' },
      { code: 4409, reason: 'r2 leads now' },
      null,
    ]);
    expect(presence).toEqual([[1, true], [2, true], [1, false], [2, false]]);
    expect(ep.connectionCount).toBe(1);
    expect(ep.closeLoggedIn(CLOSE_CODES.leaderMoved, 'again')).toBe(0);
  });
});
