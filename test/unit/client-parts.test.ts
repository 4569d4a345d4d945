// The client library's small modules: backoff with full jitter, session seqs, ids, the emitter, push dedup,
// coalesced delivered acks, and that both the `ws` and the DOM WebSocket constructors fit the injected type.
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import WebSocket from 'ws';
import { backoffCeiling, backoffDelay } from '../../replica/util/backoff.js';
import { DeliveryAcker } from '../../replica/client/delivery.js';
import { Emitter } from '../../replica/client/emitter.js';
import { clientLog } from '../../replica/client/log.js';
import { PendingRequests, type PendingRequest } from '../../replica/client/pending.js';
import { RecentIds } from '../../replica/client/recent.js';
import { newClientId, newSecret, Session } from '../../replica/client/session.js';
import { checkLogin, checkStatus } from '../../replica/client/results.js';
import { QuorumError } from '../../replica/protocol/errors.js';
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
    // An hour, written out: the test must not take the library's own constant (a wrong one would pass).
    now += 60 * 60 * 1000;
    expect(s.next(20)).toEqual({ clientId: 'client-first', seq: 2, startIndex: 10 });
    now += 60 * 60 * 1000 + 1;
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
    // Random, not merely the right length: 43 characters from zero bytes would be 'AAA…'.
    expect(newSecret()).not.toBe(token);
    expect(new Set(token).size).toBeGreaterThan(10);
    const login = { id: 1, op: 'login', session: { clientId: id, seq: 1 }, username: 'a', password: 'password123', token };
    expect(LoginRequest.safeParse(login).success).toBe(true);
  });
});

describe('ids and secrets without Web Crypto', () => {
  it('client ids come from the injected random source; a login token is refused rather than made from it', () => {
    vi.stubGlobal('crypto', undefined);
    try {
      expect(newClientId(seededRandom(3))).toBe(newClientId(seededRandom(3)));
      expect(newClientId(seededRandom(3))).not.toBe(newClientId(seededRandom(4)));
      expect(() => newSecret()).toThrow(/no Web Crypto/);
    } finally {
      vi.unstubAllGlobals();
    }
    // With Web Crypto, the injected source is not used for ids.
    expect(newClientId(seededRandom(3))).not.toBe(newClientId(seededRandom(3)));
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
  it('remembers exactly `capacity` ids', () => {
    const r = new RecentIds(3);
    for (const id of [1, 2, 3]) r.add(id);
    expect([3, 2, 1].map((id) => r.add(id))).toEqual([false, false, false]);
    r.add(4);
    expect(r.add(2)).toBe(false);
    expect(r.add(1)).toBe(true);
    r.clear();
    expect(r.add(4)).toBe(true);
  });
});

describe('Emitter without a logger', () => {
  it('a throwing listener does not stop the others; off() of an event never listened to is harmless; removeAll() silences all', () => {
    const e = new Emitter<{ ping: number; pong: number }>();
    const got: number[] = [];
    e.on('ping', () => {
      throw new Error('boom');
    });
    e.on('ping', (n) => got.push(n));
    expect(() => e.emit('ping', 1)).not.toThrow();
    expect(got).toEqual([1]);
    expect(() => e.off('pong', () => {})).not.toThrow();
    e.removeAll();
    e.emit('ping', 2);
    expect(got).toEqual([1]);
  });
});

describe('result checks', () => {
  const status = {
    id: 'r1',
    address: '127.0.0.1:7001',
    role: 'follower',
    term: 2,
    leader: null,
    commitIndex: 1,
    appliedIndex: 1,
    lastIndex: 1,
    voter: true,
    members: [],
    quorum: false,
  };
  it('a malformed status or login result is an INTERNAL error naming what was wrong, not a crash later', () => {
    for (const bad of [{}, { ...status, term: 'two' }, { ...status, role: 'king' }, { ...status, clusterId: 'ABCDEF0123456789' }]) {
      expect(() => checkStatus(bad)).toThrow(QuorumError);
      try {
        checkStatus(bad);
      } catch (err) {
        expect((err as QuorumError).code).toBe('INTERNAL');
        expect((err as QuorumError).message).toMatch(/^malformed status result: \S/);
      }
    }
    expect(() => checkLogin({ user: 'ann', token: '', unread: 0 })).toThrow(/^malformed login result: \S/);
    expect(checkLogin({ user: 'ann', token: 't', unread: 2, lastMessageId: 9 })).toEqual({ user: 'ann', token: 't', unread: 2, lastMessageId: 9 });
  });
  it('takes every role a replica reports, a 16-hex-digit cluster id only, and keeps the storage figures', () => {
    for (const role of ['follower', 'preCandidate', 'candidate', 'leader', 'learner', 'removed', 'stopped']) {
      expect(checkStatus({ ...status, role }).role).toBe(role);
    }
    expect(checkStatus({ ...status, clusterId: '0123456789abcdef' }).clusterId).toBe('0123456789abcdef');
    for (const clusterId of ['0123456789abcde', '0123456789abcdef0', 'x0123456789abcdef', '0123456789abcdefx', '0123456789abcdeg']) {
      expect(() => checkStatus({ ...status, clusterId }), clusterId).toThrow(/malformed status result/);
    }
    const storage = { freeBytes: 10, totalBytes: 100, warnBelowBytes: 5, lowSpace: false };
    expect(checkStatus({ ...status, storage }).storage).toEqual(storage);
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
  it('(fake timers) one ack in flight at a time, an acknowledged mark is not sent again, a reset forgets the marks, nothing after stop', async () => {
    vi.useFakeTimers();
    try {
      const sent: number[] = [];
      const releases: (() => void)[] = [];
      const acker = new DeliveryAcker((upTo) => {
        sent.push(upTo);
        return new Promise<void>((resolve) => releases.push(resolve));
      }, 50);
      acker.note(5);
      await vi.advanceTimersByTimeAsync(49);
      expect(sent).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent).toEqual([5]);
      acker.note(7);
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([5]); // 7 waits for 5's answer
      releases.shift()!();
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([5, 7]);
      releases.shift()!();
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([5, 7]); // acknowledged: not sent again
      acker.note(6);
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([5, 7]);
      // Another account (reset): its lower ids are acknowledged from scratch.
      acker.reset();
      acker.note(3);
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([5, 7, 3]);
      releases.shift()!();
      acker.stop();
      acker.note(9);
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([5, 7, 3]);
    } finally {
      vi.useRealTimers();
    }
  });
  it("(fake timers) an ack of the previous account that completes after a reset does not count for the next one", async () => {
    vi.useFakeTimers();
    try {
      const sent: number[] = [];
      const releases: (() => void)[] = [];
      const acker = new DeliveryAcker((upTo) => {
        sent.push(upTo);
        return new Promise<void>((resolve) => releases.push(resolve));
      }, 50);
      acker.note(10);
      await vi.advanceTimersByTimeAsync(50);
      expect(sent).toEqual([10]);
      // Logged out and in as someone else while 10 is in flight; their messages have lower ids.
      acker.reset();
      acker.note(3);
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([10]); // one ack in flight at a time
      releases.shift()!();
      await vi.advanceTimersByTimeAsync(500);
      expect(sent).toEqual([10, 3]);
    } finally {
      vi.useRealTimers();
    }
  });
  it('a failed ack with no logger, or one without debug, is not an error of its own', async () => {
    // Fake timers: each ack waits for its 1 ms timer. A throw in the failure path would surface as an unhandled
    // rejection, which fails the run.
    vi.useFakeTimers();
    try {
      for (const log of [undefined, {}]) {
        let calls = 0;
        const acker = new DeliveryAcker(
          () => {
            calls++;
            return Promise.reject(new Error('UNAUTHENTICATED'));
          },
          1,
          log,
        );
        acker.note(2);
        await vi.advanceTimersByTimeAsync(10);
        acker.note(3);
        await vi.advanceTimersByTimeAsync(10);
        expect(calls).toBe(2);
      }
    } finally {
      vi.useRealTimers();
    }
  });
  it('gives up on a failed ack instead of looping', async () => {
    // Fake timers: each ack waits for its 1 ms timer, so "no second call" is checked after that timer could fire.
    vi.useFakeTimers();
    try {
      let calls = 0;
      const logged: unknown[][] = [];
      const acker = new DeliveryAcker(
        () => {
          calls++;
          return Promise.reject(new Error('UNAUTHENTICATED'));
        },
        1,
        { debug: (obj: object, msg?: string) => logged.push([obj, msg]) },
      );
      acker.note(2);
      await vi.advanceTimersByTimeAsync(10);
      expect(calls).toBe(1);
      expect(logged).toEqual([[{ upTo: 2, err: 'UNAUTHENTICATED' }, 'delivered ack failed']]);
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

describe('PendingRequests', () => {
  const entry = (id: number, timers: { timer?: ReturnType<typeof setTimeout>; giveUpTimer?: ReturnType<typeof setTimeout> } = {}) => {
    const request = {
      id,
      op: 'send',
      frame: { id, op: 'send' },
      createdAt: 0,
      sentOn: null,
      attempts: 0,
      transmissions: 0,
      inDoubt: false,
      giveUpAt: null,
      keepSession: null,
      keptSession: null,
      keeping: false,
      lastError: null,
      timer: timers.timer ?? null,
      giveUpTimer: timers.giveUpTimer ?? null,
      resolve: () => {},
      reject: () => {},
    } as PendingRequest;
    return { request };
  };

  it('allocates increasing ids; finds by numeric id only; lists in id order whatever the order added', () => {
    const pending = new PendingRequests();
    expect([pending.allocateId(), pending.allocateId(), pending.allocateId()]).toEqual([1, 2, 3]);
    for (const id of [3, 1, 2]) pending.add(entry(id).request);
    expect(pending.list().map((e) => e.id)).toEqual([1, 2, 3]);
    expect(pending.size).toBe(3);
    expect(pending.get(2)?.id).toBe(2);
    expect(pending.get('2')).toBeUndefined();
    expect(pending.get(9)).toBeUndefined();
  });

  it('take removes an entry and clears its timers, once', () => {
    vi.useFakeTimers();
    try {
      const fired: string[] = [];
      const pending = new PendingRequests();
      const { request } = entry(1, { timer: setTimeout(() => fired.push('retry'), 10), giveUpTimer: setTimeout(() => fired.push('give up'), 20) });
      pending.add(request);
      expect(pending.take(1)).toBe(request);
      expect([request.timer, request.giveUpTimer]).toEqual([null, null]);
      vi.advanceTimersByTime(100);
      expect(fired).toEqual([]);
      expect(pending.take(1)).toBeUndefined();
      expect(pending.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejectAll rejects every entry, oldest first, and leaves none', () => {
    const pending = new PendingRequests();
    const order: number[] = [];
    for (const id of [2, 1]) {
      const { request } = entry(id);
      request.reject = () => order.push(id);
      pending.add(request);
    }
    pending.rejectAll(new QuorumError('UNAVAILABLE', 'closed'));
    expect(order).toEqual([1, 2]);
    expect(pending.size).toBe(0);
  });
});

describe('WebSocketConstructor', () => {
  it('accepts both the ws and the DOM WebSocket constructors (checked by tsc)', () => {
    expectTypeOf(WebSocket).toExtend<WebSocketConstructor>();
    expectTypeOf<typeof globalThis.WebSocket>().toExtend<WebSocketConstructor>();
  });
});

describe('clientLog', () => {
  it("calls the app's logger as itself for the levels it has; the levels it lacks, or every level without one, say nothing", () => {
    const lines: string[] = [];
    // A logger whose method needs its own `this` (as pino's do).
    const app = {
      prefix: 'app',
      warn(this: { prefix: string }, obj: object, msg?: string) {
        lines.push(`${this.prefix} warn ${JSON.stringify(obj)} ${msg}`);
      },
    };
    const log = clientLog(app);
    log.warn({ code: 'X' }, 'said');
    log.debug({}, 'not said');
    log.info({}, 'not said');
    log.error({}, 'not said');
    expect(lines).toEqual(['app warn {"code":"X"} said']);
    const none = clientLog(undefined);
    for (const level of ['debug', 'info', 'warn', 'error'] as const) expect(() => none[level]({}, 'nothing')).not.toThrow();
  });
});
