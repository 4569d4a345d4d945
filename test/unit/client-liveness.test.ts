// A replica that falls silent with the connection open (host frozen, asleep or cut off: no FIN, no RST): the client's
// liveness watch (replica/client/liveness.ts) asks it something, then leaves it. The watch's pace on a fake clock;
// the client against the fake cluster over real WebSockets, with a request timeout far beyond each test's length, so
// only the watch can end the wait.
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { QuorumClient, type QuorumClientOptions } from '../../replica/client/index.js';
import { LivenessWatch } from '../../replica/client/liveness.js';
import { FakeCluster, until } from '../helpers/fake-replica.js';

const clients: QuorumClient[] = [];
const clusters: FakeCluster[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of clients.splice(0)) c.close();
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(size: number): Promise<FakeCluster> {
  const c = await FakeCluster.start(size);
  clusters.push(c);
  c.addAccount('alice');
  c.addAccount('bob');
  return c;
}

function client(servers: string[], options: Partial<QuorumClientOptions> = {}): QuorumClient {
  const c = new QuorumClient({ servers, WebSocket, clientId: 'test', random: () => 0.5, backoff: { initialMs: 10, maxMs: 50 }, requestTimeoutMs: 600_000, connectTimeoutMs: 1_000, ...options });
  clients.push(c);
  return c;
}

describe('LivenessWatch', () => {
  function watch(waiting: boolean, idleTicks = 3) {
    const events: string[] = [];
    let heard = false;
    const w = new LivenessWatch({
      tickMs: 100,
      idleTicks,
      heard: () => {
        const h = heard;
        heard = false;
        return h;
      },
      waiting: () => waiting,
      probe: () => events.push('probe'),
      dead: (ms) => events.push(`dead after ${ms} ms`),
    });
    return { w, events, hear: () => (heard = true) };
  }

  it('with requests waiting: a probe after one silent tick, dead at the next; anything heard starts over', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { w, events, hear } = watch(true);
    hear(); // heard before the start: forgotten by start()
    w.start();
    vi.advanceTimersByTime(99);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['probe']);
    hear(); // the probe's answer
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['probe']);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['probe', 'probe']);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['probe', 'probe', 'dead after 200 ms']);
    vi.advanceTimersByTime(10_000);
    expect(events).toHaveLength(3); // stopped
  });

  it('with nothing waiting: a probe after idleTicks silent ticks, dead one tick later; stop() ends it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { w, events, hear } = watch(false, 3);
    w.start();
    vi.advanceTimersByTime(200);
    hear();
    vi.advanceTimersByTime(100); // heard: the count starts over
    vi.advanceTimersByTime(299);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['probe']);
    vi.advanceTimersByTime(100);
    expect(events).toEqual(['probe', 'dead after 400 ms']);

    const second = watch(false, 1);
    second.w.start();
    vi.advanceTimersByTime(100);
    expect(second.events).toEqual(['probe']);
    second.w.stop();
    vi.advanceTimersByTime(10_000);
    expect(second.events).toEqual(['probe']);
  });
});

describe('QuorumClient and a replica that falls silent', () => {
  it('with a write waiting: asks its status, then leaves it for the new leader, where the write is applied once', async () => {
    const c = await cluster(2);
    const [r1, r2] = [c.replica('r1'), c.replica('r2')];
    const q = client(c.addresses, { livenessMs: 50 });
    await q.login('alice', 'password123');
    expect(q.state.replica?.id).toBe('r1');
    // r1 freezes: it reads every frame and answers none; r2 leads now.
    r1.hook = () => ({ drop: true });
    c.leaderId = 'r2';
    const sentBefore = c.framesOf('status').length;
    const states: string[] = [];
    q.on('state', (s) => {
      if (s.lastError) states.push(s.lastError);
    });
    await expect(q.send('bob', 'through the silence')).resolves.toMatchObject({ id: expect.any(Number) });
    expect(q.state.replica?.id).toBe('r2');
    // The probe went to r1 (and was not answered) before the client left it.
    expect(r1.frames.slice(-2).map((f) => f.op)).toEqual(['send', 'status']);
    expect(c.framesOf('status').length).toBeGreaterThan(sentBefore);
    expect(states.some((e) => /^nothing from 127\.0\.0\.1:\d+ for 100 ms \(frozen or cut off\?\)$/.test(e))).toBe(true);
    expect(c.messages.filter((m) => m.text === 'through the silence')).toHaveLength(1);
    expect(r2.frames.filter((f) => f.op === 'send')).toHaveLength(1);
  });

  it('with nothing waiting: after idleLivenessMs of silence it asks, then leaves, so pushes come from a live replica again', async () => {
    const c = await cluster(2);
    const r1 = c.replica('r1');
    const q = client(c.addresses, { livenessMs: 20, idleLivenessMs: 100 });
    await q.login('alice', 'password123');
    const received: string[] = [];
    q.on('message', (m) => received.push(m.text));
    r1.hook = () => ({ drop: true });
    r1.silent = true;
    c.leaderId = 'r2';
    await until('connected to r2', () => q.state.replica?.id === 'r2' && q.state.status === 'connected');
    expect(r1.frames.at(-1)?.op).toBe('status');
    c.deliver('bob', 'alice', 'heard again');
    await until('the push from r2', () => received.includes('heard again'));
  });

  it('a replica slow to answer a write but quick to answer the probe is kept', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    const q = client(c.addresses, { livenessMs: 20 });
    await q.login('alice', 'password123');
    r1.hook = (req) => (req.op === 'send' ? { delayMs: 200 } : undefined);
    await expect(q.send('bob', 'slowly')).resolves.toMatchObject({ id: expect.any(Number) });
    expect(r1.connections).toBe(1);
    expect(r1.frames.filter((f) => f.op === 'status').length).toBeGreaterThan(1);
  });

  it('on a fake clock: a live idle connection is first asked after idleLivenessMs; a resume left unanswered, after one tick', async () => {
    const c = await cluster(1);
    const r1 = c.replica('r1');
    // What the client sends, recorded as it sends it (synchronously, inside the fake clock's advance).
    const sent: string[] = [];
    class RecordingWebSocket extends WebSocket {
      override send(data: string): void {
        sent.push((JSON.parse(data) as { op: string }).op);
        super.send(data);
      }
    }
    const statuses = () => sent.filter((op) => op === 'status').length;
    // The client's (and the fake replica's) timers run on the fake clock; until() polls on the real one.
    const settle = (what: () => boolean) => until('the condition', what);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const q = client(c.addresses, { WebSocket: RecordingWebSocket as never, livenessMs: 100, idleLivenessMs: 1_000 });
    let answers = 0; // status answers the client took in (each reports the members)
    q.on('members', () => answers++);
    // The status asked with the hello, answered within the first tick.
    await settle(() => q.state.status === 'connected' && answers === 1);
    // Idle and silent from the second tick on: the question at the tenth silent tick (1,100 ms), answered: it stays.
    vi.advanceTimersByTime(1_099);
    expect(statuses()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(statuses()).toBe(2);
    await settle(() => answers === 2);
    expect(r1.connections).toBe(1);

    // Logged in, then a new connection whose resume the replica never answers (it answers everything else): the
    // resume waits, so the question comes after one silent tick, not ten.
    vi.useRealTimers();
    await q.login('alice', 'password123');
    r1.hook = (req) => (req.op === 'resume' ? { drop: true } : undefined);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    r1.dropAll();
    await settle(() => q.state.status === 'reconnecting');
    vi.advanceTimersByTime(50); // the reconnect's backoff (at most 50 ms here)
    await settle(() => c.framesOf('resume').length === 1 && answers === 3);
    const before = statuses(); // the new connection's own question, with its hello
    vi.advanceTimersByTime(100); // the first tick: the status answer was heard
    expect(statuses()).toBe(before);
    vi.advanceTimersByTime(100); // a silent tick with the resume waiting: the question
    expect(statuses()).toBe(before + 1);
  });

  it('refuses a liveness option that is not a positive number of milliseconds', () => {
    for (const [name, value] of [
      ['livenessMs', 0],
      ['livenessMs', -5],
      ['idleLivenessMs', Number.NaN],
      ['idleLivenessMs', '1000'],
      ['livenessMs', Infinity],
    ] as const) {
      let error: unknown;
      try {
        new QuorumClient({ servers: ['127.0.0.1:1'], WebSocket, [name]: value as never }).close();
      } catch (err) {
        error = err;
      }
      expect(error, `${name} ${String(value)}`).toMatchObject({ code: 'INVALID', message: `${name} must be a positive number of milliseconds, not ${String(value)}` });
    }
  });
});
