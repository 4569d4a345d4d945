// The client library's small modules: backoff with full jitter, session seqs, ids, the emitter, push dedup,
// coalesced delivered acks, and that both the `ws` and the DOM WebSocket constructors fit the injected type.
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import WebSocket from 'ws';
import { backoffCeiling, backoffDelay } from '../../replica/util/backoff.js';
import { DeliveryAcker } from '../../replica/client/delivery.js';
import { Emitter } from '../../replica/client/emitter.js';
import { RecentIds } from '../../replica/client/recent.js';
import { newClientId, newSecret, Session, SESSION_ROTATE_MS } from '../../replica/client/session.js';
import type { WebSocketConstructor } from '../../replica/client/index.js';
import { ClientSession, LoginRequest } from '../../replica/protocol/index.js';
import { until } from '../helpers/fake-replica.js';
import { seededRandom } from '../helpers/random.js';


describe('backoffCeiling', () => {
  it('doubles from initialMs per attempt and stops at maxMs, finite for any attempt', () => {
    const options = { initialMs: 500, maxMs: 8_000 };
    expect([0, 1, 2, 3, 4, 5, 50, 1e9].map((a) => backoffCeiling(a, options))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]);
    expect(backoffCeiling(-3, options)).toBe(500);
  });
});

describe('backoffDelay', () => {
  const options = { initialMs: 100, maxMs: 5_000 };
  it('grows exponentially up to the cap, with full jitter', () => {
    expect([0, 1, 2, 3, 10, 40].map((a) => backoffDelay(a, options, () => 0.999999))).toEqual([99, 199, 399, 799, 4999, 4999]);
    expect(backoffDelay(5, options, () => 0)).toBe(0);
    expect(backoffDelay(2, options, () => 0.5)).toBe(200);
  });
  it('stays within [0, ceiling] for any random source, even a broken one', () => {
    const random = seededRandom(1);
    for (let attempt = 0; attempt < 50; attempt++) {
      const d = backoffDelay(attempt, options, random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(5_000, 100 * 2 ** attempt));
    }
    expect(backoffDelay(3, options, () => Number.NaN)).toBe(0);
    expect(backoffDelay(3, options, () => 7)).toBe(800);
    expect(backoffDelay(-4, options, () => 0.5)).toBe(50);
  });
});

describe('session', () => {
  it('hands out seqs one by one from 1, stamped with the applied index the session began at', () => {
    const s = new Session('client-abc', () => 'client-new');
    expect(s.lastSeq).toBe(0);
    expect([s.next(40), s.next(41), s.next(undefined)]).toEqual([1, 2, 3].map((seq) => ({ clientId: 'client-abc', seq, startIndex: 40 })));
    expect(ClientSession.safeParse(s.next(50)).success).toBe(true);
    const unstamped = new Session('client-old', () => 'client-new');
    expect(unstamped.next(undefined)).toEqual({ clientId: 'client-old', seq: 1 });
  });

  it('begins a new session after an hour without writes, when the clock goes back, and when the cluster says it expired', () => {
    let now = 1_000_000;
    let made = 0;
    const s = new Session('client-first', () => `client-next${++made}`, () => now);
    expect(s.next(10)).toEqual({ clientId: 'client-first', seq: 1, startIndex: 10 });
    now += SESSION_ROTATE_MS;
    expect(s.next(20)).toEqual({ clientId: 'client-first', seq: 2, startIndex: 10 });
    now += SESSION_ROTATE_MS + 1;
    expect(s.next(30)).toEqual({ clientId: 'client-next1', seq: 1, startIndex: 30 });
    now -= 1;
    expect(s.next(31)).toEqual({ clientId: 'client-next2', seq: 1, startIndex: 31 });
    s.expired('client-first'); // an old session: nothing changes
    expect(s.next(32)).toEqual({ clientId: 'client-next2', seq: 2, startIndex: 31 });
    s.expired('client-next2');
    expect(s.clientId).toBe('client-next3');
    expect(s.next(33)).toEqual({ clientId: 'client-next3', seq: 1, startIndex: 33 });
  });
  it('makes protocol-valid client ids and login tokens', () => {
    const id = newClientId(Math.random);
    expect(ClientSession.safeParse({ clientId: id, seq: 1 }).success).toBe(true);
    expect(newClientId(Math.random)).not.toBe(id);
    const token = newSecret();
    expect(token).toHaveLength(43);
    const login = { id: 1, op: 'login', session: { clientId: id, seq: 1 }, username: 'a', password: 'password123', token };
    expect(LoginRequest.safeParse(login).success).toBe(true);
  });
});

describe('Emitter', () => {
  it('delivers to every listener even when one throws, and unsubscribes', () => {
    const errors: string[] = [];
    const e = new Emitter<{ ping: number }>({ error: (o) => errors.push(JSON.stringify(o)) });
    const got: number[] = [];
    e.on('ping', () => {
      throw new Error('boom');
    });
    const off = e.on('ping', (n) => got.push(n));
    e.emit('ping', 1);
    off();
    e.emit('ping', 2);
    expect(got).toEqual([1]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain('boom');
  });
});

describe('RecentIds', () => {
  it('reports duplicates and forgets the oldest past capacity', () => {
    const r = new RecentIds(3);
    expect([1, 2, 1, 3, 4].map((id) => r.add(id))).toEqual([true, true, false, true, true]);
    expect(r.add(1)).toBe(true); // evicted
    expect(r.add(4)).toBe(false);
  });
});

describe('DeliveryAcker', () => {
  it('coalesces a burst into one ack and sends a newer mark after it completes', async () => {
    const sent: number[] = [];
    let release: () => void = () => {};
    const acker = new DeliveryAcker(
      (upTo) => {
        sent.push(upTo);
        return new Promise<void>((resolve) => (release = resolve));
      },
      1,
    );
    for (const id of [3, 1, 5, 4]) acker.note(id);
    await until('first ack', () => sent.length === 1);
    acker.note(7);
    acker.note(6);
    expect(sent).toEqual([5]);
    release();
    await until('second ack', () => sent.length === 2);
    expect(sent).toEqual([5, 7]);
    release();
    acker.note(7); // nothing newer
    acker.stop();
    acker.note(9);
    expect(sent).toEqual([5, 7]);
  });
  it('gives up on a failed ack instead of looping', async () => {
    // Fake timers: each ack waits for its 1 ms timer, so "no second call" is checked after that timer could fire.
    vi.useFakeTimers();
    try {
      let calls = 0;
      const acker = new DeliveryAcker(() => {
        calls++;
        return Promise.reject(new Error('UNAUTHENTICATED'));
      }, 1);
      acker.note(2);
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toBe(1);
      acker.note(2); // the failed mark is not sent again
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toBe(1);
      acker.note(3); // a newer mark is
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('WebSocketConstructor', () => {
  it('accepts both the ws and the DOM WebSocket constructors (checked by tsc)', () => {
    expectTypeOf(WebSocket).toExtend<WebSocketConstructor>();
    expectTypeOf<typeof globalThis.WebSocket>().toExtend<WebSocketConstructor>();
  });
});
