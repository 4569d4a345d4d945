// What QuorumClient makes of each push a replica sends: one event per push with exactly the push's fields, a message
// pushed twice (a backlog overlapping live delivery) reported once, and only messages to this account acknowledged as
// delivered. Against the fake cluster over real WebSockets; the pushes are written on the wire as a replica writes them.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient } from '../../replica/client/index.js';
import type { ClientEvents } from '../../replica/client/types.js';
import type { ChatMessage } from '../../replica/protocol/index.js';
import { FakeCluster, until, type FakeConn } from '../helpers/fake-replica.js';

let cluster: FakeCluster;
let client: QuorumClient;
let conn: FakeConn;
const events: [keyof ClientEvents, unknown][] = [];

beforeEach(async () => {
  cluster = await FakeCluster.start(1);
  cluster.addAccount('alice');
  cluster.addAccount('bob');
  client = new QuorumClient({ servers: cluster.addresses, WebSocket, clientId: 'test', random: () => 0.5, backoff: { initialMs: 10, maxMs: 50 } });
  await client.login('alice', 'password123');
  for (const name of ['message', 'deleted', 'edited', 'presence', 'typing', 'receipt', 'groupRead', 'sessionEnded'] as const) {
    client.on(name, (payload: unknown) => events.push([name, payload]));
  }
  conn = [...cluster.replica('r1').conns].at(-1)!;
});
afterEach(async () => {
  vi.useRealTimers();
  events.length = 0;
  client.close();
  await cluster.close();
});

const message = (id: number, from: string, to: string, text = `m${id}`): ChatMessage => ({ id, from, to, text, sentAt: 1_000 + id, deliveredAt: null, readAt: null });

describe('QuorumClient pushes', () => {
  it('become one event each, with exactly the fields the push carried', async () => {
    const edited = { ...message(4, 'bob', 'alice', 'fixed'), editedAt: 2_000 };
    const pushes: [Record<string, unknown>, keyof ClientEvents, unknown][] = [
      [{ event: 'deleted', ids: [3, 4] }, 'deleted', [3, 4]],
      [{ event: 'edited', message: edited }, 'edited', edited],
      [{ event: 'presence', user: 'bob', online: false, lastSeenAt: 1_234 }, 'presence', { user: 'bob', online: false, lastSeenAt: 1_234 }],
      [{ event: 'typing', from: 'bob' }, 'typing', { from: 'bob' }],
      [{ event: 'typing', from: 'bob', group: 'crew' }, 'typing', { from: 'bob', group: 'crew' }],
      [{ event: 'receipt', ids: [7], kind: 'read', at: 5_000 }, 'receipt', { ids: [7], kind: 'read', at: 5_000 }],
      [{ event: 'groupRead', group: 'crew', messages: [{ id: 9, readBy: 2 }] }, 'groupRead', { group: 'crew', messages: [{ id: 9, readBy: 2 }] }],
    ];
    for (const [push] of pushes) conn.send({ type: 'push', ...push });
    await until('every event', () => events.length === pushes.length);
    expect(events).toEqual(pushes.map(([, name, payload]) => [name, payload]));
    // A direct typing push has no group key at all (the UI tells the two apart by it).
    expect(Object.keys(events[3]![1] as object)).toEqual(['from']);
  });

  it('a message pushed twice is reported once; only messages to this account are acknowledged as delivered', async () => {
    cluster.messages.push(message(1, 'bob', 'alice'), message(2, 'alice', 'bob'));
    conn.push(message(1, 'bob', 'alice'));
    conn.push(message(1, 'bob', 'alice'));
    // Alice's own message, pushed to her other devices: shown, not acknowledged (it is bob's to acknowledge).
    conn.push(message(2, 'alice', 'bob'));
    await until('the delivered ack', () => cluster.framesOf('delivered').length === 1);
    expect(events.filter(([name]) => name === 'message').map(([, m]) => (m as ChatMessage).id)).toEqual([1, 2]);
    expect(cluster.framesOf('delivered')[0]).toMatchObject({ upTo: 1 });
    // The newest id seen is where a reconnect resumes, the own message included.
    cluster.replica('r1').dropAll();
    await until('the resume', () => cluster.framesOf('resume').length === 1);
    expect(cluster.framesOf('resume')[0]).toMatchObject({ after: 2 });
  });

  it('sessionEnded ends the login: the event, no resume after a reconnect, and no acknowledgement of later pushes', async () => {
    conn.send({ type: 'push', event: 'sessionEnded', reason: 'logged out on another device' });
    await until('the event', () => events.length === 1);
    expect(events).toEqual([['sessionEnded', { reason: 'logged out on another device' }]]);
    expect(client.replaying).toBe(false);
    // The acknowledgement timer is faked so the check below comes after it would have fired, not after a guess.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    cluster.messages.push(message(5, 'bob', 'alice'));
    conn.push(message(5, 'bob', 'alice'));
    while (events.length < 2) await new Promise((resolve) => setImmediate(resolve));
    vi.advanceTimersByTime(1_000);
    // A request on the same connection: an acknowledgement sent before it would have arrived first.
    await client.status();
    expect(cluster.framesOf('delivered')).toHaveLength(0);
    vi.useRealTimers();
    cluster.replica('r1').dropAll();
    await until('reconnected', () => cluster.replica('r1').connections === 2 && client.state.status === 'connected');
    await expect(client.status()).resolves.toMatchObject({ id: 'r1' });
    expect(cluster.framesOf('resume')).toHaveLength(0);
    expect(cluster.framesOf('delivered')).toHaveLength(0);
  });
});
