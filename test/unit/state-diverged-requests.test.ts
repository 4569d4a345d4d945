// A replica whose state diverged (issue 11) stops serving: RequestHandler refuses every client request, reads and
// writes, with STATE_DIVERGED before login or leadership is looked at, and still answers status and cluster
// administration. The cluster test (test/cluster/state-check.test.ts) shows it on real replicas, with resync.
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientConn } from '../../replica/net/client-endpoint.js';
import { RequestHandler } from '../../replica/node/requests.js';
import type { ClientRequest } from '../../replica/protocol/client.js';
import { QuorumError } from '../../replica/protocol/errors.js';
import { Harness } from '../helpers/chat-harness.js';
import { harnessRequestContext } from '../helpers/harness-requests.js';

const harnesses: Harness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.dispose();
});

function setup() {
  const h = new Harness();
  harnesses.push(h);
  const state = { diverged: false };
  const conn: ClientConn = { connId: 1, remote: '127.0.0.1', nonce: 'n'.repeat(64), closed: false, adminScope: null, account: null, push: () => {}, close: () => {} };
  const context = harnessRequestContext(h, {
    id: 'r3',
    status: () => ({ id: 'r3', stateCheck: { diverged: state.diverged ? ['r3'] : [] } }),
    diverged: () => state.diverged,
  });
  const handler = new RequestHandler(context);
  let id = 1;
  let seq = 0;
  const request = (op: string, fields: Record<string, unknown> = {}, write = true) =>
    handler.handle(conn, { id: id++, op, ...fields, ...(write ? { session: { clientId: 'c-diverged', seq: ++seq } } : {}) } as unknown as ClientRequest);
  return { state, request };
}

async function refusal(p: Promise<unknown>): Promise<QuorumError> {
  try {
    await p;
  } catch (err) {
    return err as QuorumError;
  }
  throw new Error('expected a refusal');
}

describe('a diverged replica stops serving', () => {
  it('refuses reads and writes with STATE_DIVERGED naming the resync, answers status, and serves again once it agrees', async () => {
    const { state, request } = setup();
    await request('signup', { username: 'ann', password: 'password-ann' });
    await request('login', { username: 'ann', password: 'password-ann', token: 't'.repeat(43) });
    state.diverged = true;
    for (const [op, fields, write] of [
      ['send', { to: 'ann', text: 'hello' }, true],
      ['login', { username: 'ann', password: 'password-ann', token: 'u'.repeat(43) }, true],
      ['conversations', {}, false],
      ['history', { with: 'ann' }, false],
    ] as const) {
      const err = await refusal(request(op, fields, write));
      expect(err).toBeInstanceOf(QuorumError);
      expect(err.code).toBe('STATE_DIVERGED');
      expect(err.message).toBe("this replica's state differs from the cluster's; use another replica (an operator runs `npm run cluster -- resync r3`)");
    }
    expect(await request('status', {}, false)).toMatchObject({ stateCheck: { diverged: ['r3'] } });
    // Resynced (its own check cleared): it serves again.
    state.diverged = false;
    await expect(request('send', { to: 'ann', text: 'hello again' })).resolves.toBeDefined();
    await expect(request('conversations', {}, false)).resolves.toMatchObject({ conversations: [expect.objectContaining({ with: 'ann' })] });
  });
});
