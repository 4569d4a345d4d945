// How long QuorumClient keeps trying a call before it gives up, and how the error words that time (fake timers and
// clock: minutes and hours pass at once). The client dials a port nothing listens on (127.0.0.1:1, refused), so no
// leader ever takes the call; after a sleep (only the clock faked), a fake replica over a real WebSocket.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient, type QuorumClientOptions } from '../../replica/client/index.js';
import { FakeCluster, until } from '../helpers/fake-replica.js';

const HOUR = 3_600_000;
const clients: QuorumClient[] = [];
const clusters: FakeCluster[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  vi.useRealTimers();
  for (const c of clusters.splice(0)) await c.close();
});

function client(options: Partial<QuorumClientOptions> = {}): QuorumClient {
  // One refused connection, then a backoff longer than any test here: hours pass without thousands of reconnects.
  const c = new QuorumClient({ servers: ['127.0.0.1:1'], WebSocket, clientId: 'test', random: () => 0.5, backoff: { initialMs: 100 * HOUR, maxMs: 100 * HOUR }, ...options });
  clients.push(c);
  return c;
}

/** The error a send gives up with after exactly `ms` (and not a millisecond before). */
async function givenUpAfter(q: QuorumClient, ms: number): Promise<Error> {
  let settled: unknown = undefined;
  const call = q.send('bob', 'hello').then(
    () => new Error('resolved'),
    (err: Error) => err,
  );
  void call.then((e) => (settled = e));
  await vi.advanceTimersByTimeAsync(ms - 1);
  expect(settled, `settled before ${ms} ms`).toBeUndefined();
  await vi.advanceTimersByTimeAsync(1);
  return call;
}

describe('QuorumClient gives up', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });

  it('on a write after writeGiveUpMs (ten minutes by default), and says so in the unit a person reads', async () => {
    const cases: [number | undefined, number, string][] = [
      [undefined, 10 * 60_000, '10 min'],
      [9_999, 9_999, '9999 ms'],
      [10_000, 10_000, '10 s'],
      [119_000, 119_000, '119 s'],
      [120_000, 120_000, '2 min'],
      [7_140_000, 7_140_000, '119 min'],
      [7_200_000, 7_200_000, '2 h'],
      // At most twelve hours: well inside the day after which the cluster forgets a session.
      [48 * 3_600_000, 12 * 3_600_000, '12 h'],
    ];
    for (const [writeGiveUpMs, after, words] of cases) {
      const q = client(writeGiveUpMs === undefined ? {} : { writeGiveUpMs });
      const err = await givenUpAfter(q, after);
      expect(err).toMatchObject({ code: 'UNAVAILABLE' });
      expect(err.message).toMatch(new RegExp(`^not sent: send: no leader took it within ${words}; nothing was changed \\(.+\\)$`));
      q.close();
    }
  });

  it('on a write after giveUpAfterMs when that is sooner; a read has no limit of its own but giveUpAfterMs', async () => {
    const q = client({ giveUpAfterMs: 3_000, writeGiveUpMs: 60_000 });
    const err = await givenUpAfter(q, 3_000);
    expect(err.message).toMatch(/^not sent: send: no leader took it within 3000 ms/);
    let read: unknown = undefined;
    void q.conversations().catch((e: unknown) => (read = e));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(read).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(read).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^conversations: no leader answered within 3000 ms \(.+\)$/) });
  });

  it('never on a read without giveUpAfterMs: it waits for a leader however long that takes', async () => {
    const q = client({ writeGiveUpMs: 1_000 });
    let read: unknown = undefined;
    void q.conversations().catch((e: unknown) => (read = e));
    await vi.advanceTimersByTimeAsync(13 * 3_600_000);
    expect(read).toBeUndefined();
    q.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(read).toMatchObject({ code: 'UNAVAILABLE', message: 'the client was closed' });
  });
});

describe('QuorumClient after the machine slept', () => {
  it('a call whose time ran out meanwhile is given up when a connection is ready, not sent late', async () => {
    // Only the clock is faked: timers stop while a machine sleeps, so the give-up timer has not fired on waking.
    vi.useFakeTimers({ toFake: ['Date'] });
    const c = await FakeCluster.start(1);
    clusters.push(c);
    const r1 = c.replica('r1');
    r1.silent = true;
    const q = client({ servers: c.addresses, backoff: { initialMs: 10, maxMs: 20 }, connectTimeoutMs: 200, writeGiveUpMs: 60_000 });
    let settled: unknown = undefined;
    void q.signup('carol', 'password123').catch((e: unknown) => (settled = e));
    await until('a connection waiting for its hello', () => r1.connections >= 1);
    vi.setSystemTime(Date.now() + 61_000);
    r1.silent = false;
    await until('given up', () => settled);
    expect(settled).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/^not sent: signup: no leader took it within 60 s; nothing was changed/) });
    expect(c.framesOf('signup')).toHaveLength(0);
    // A call made now is sent as usual.
    await expect(q.signup('dave', 'password123')).resolves.toEqual({ user: 'dave' });
  });
});
