/**
 * The login throttle with a hand-driven clock: growing waits per (account, address), per address and per account;
 * parallel guesses counted as they start; the right password refunded; an address that logged in before is not held
 * up by others guessing the account; IPv6 addresses counted by their /64.
 */
import { describe, expect, it } from 'vitest';
import { addressKey, DEFAULT_THROTTLE, isRefusal, LoginThrottle, type Attempt, type Refusal } from '../../replica/security/login-throttle.js';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function attempt(throttle: LoginThrottle, account: string, address: string): Attempt | Refusal {
  return throttle.begin(account, address);
}

function fail(throttle: LoginThrottle, account: string, address: string): Refusal | null {
  const a = attempt(throttle, account, address);
  if (isRefusal(a)) return a;
  a.failed();
  return null;
}

describe('LoginThrottle', () => {
  it('gives a few free attempts per account and address, then waits that double up to the cap', () => {
    const c = clock();
    const t = new LoginThrottle(DEFAULT_THROTTLE, c.now);
    for (let i = 0; i < DEFAULT_THROTTLE.pair.free; i++) expect(fail(t, 'ann', '10.0.0.1')).toBeNull();
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const refusal = attempt(t, 'ann', '10.0.0.1');
      expect(isRefusal(refusal)).toBe(true);
      const wait = (refusal as Refusal).retryAfterMs;
      waits.push(wait);
      c.advance(wait);
      expect(fail(t, 'ann', '10.0.0.1')).toBeNull();
    }
    expect(waits.slice(0, 9)).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000]);
    expect(waits.slice(9)).toEqual([300000, 300000, 300000]);
  });

  it('refuses before counting: a refused guess does not lengthen the wait, and guesses in parallel are throttled as they start', () => {
    const c = clock();
    const t = new LoginThrottle(DEFAULT_THROTTLE, c.now);
    const started = [1, 2, 3, 4, 5].map(() => attempt(t, 'ann', '10.0.0.1'));
    expect(started.filter((a) => !isRefusal(a))).toHaveLength(3);
    const first = started[3] as Refusal;
    expect(first).toEqual({ scope: 'pair', retryAfterMs: 1000 });
    expect((attempt(t, 'ann', '10.0.0.1') as Refusal).retryAfterMs).toBe(1000);
  });

  it('the right password clears the pair and another address is not affected by one guessing', () => {
    const c = clock();
    const t = new LoginThrottle(DEFAULT_THROTTLE, c.now);
    for (let i = 0; i < 5; i++) {
      const r = fail(t, 'ann', '10.0.0.66');
      if (r) c.advance(r.retryAfterMs);
    }
    expect(isRefusal(attempt(t, 'ann', '10.0.0.66'))).toBe(true);
    const own = attempt(t, 'ann', '10.0.0.2');
    expect(isRefusal(own)).toBe(false);
    (own as Attempt).succeeded();
    c.advance(60_000);
    const again = attempt(t, 'ann', '10.0.0.66');
    expect(isRefusal(again)).toBe(false);
    (again as Attempt).succeeded();
    for (let i = 0; i < 3; i++) expect(fail(t, 'ann', '10.0.0.66')).toBeNull();
  });

  it('many addresses guessing one account hold up new addresses, never one that logged in before', () => {
    const c = clock();
    const t = new LoginThrottle(DEFAULT_THROTTLE, c.now);
    const home = attempt(t, 'ann', '192.168.1.20') as Attempt;
    home.succeeded();
    for (let i = 0; i < 30; i++) fail(t, 'ann', `10.0.1.${i}`);
    const stranger = attempt(t, 'ann', '10.0.2.1') as Refusal;
    expect(stranger.scope).toBe('account');
    expect(stranger.retryAfterMs).toBeGreaterThan(0);
    expect(stranger.retryAfterMs).toBeLessThanOrEqual(DEFAULT_THROTTLE.account.maxMs);
    const trusted = attempt(t, 'ann', '192.168.1.20');
    expect(isRefusal(trusted)).toBe(false);
    (trusted as Attempt).succeeded();
    // The wait a stranger is told is bounded: after it, the stranger may try.
    c.advance(stranger.retryAfterMs);
    expect(isRefusal(attempt(t, 'ann', '10.0.2.1'))).toBe(false);
  });

  it('one address spraying many accounts is slowed across them', () => {
    const c = clock();
    const t = new LoginThrottle(DEFAULT_THROTTLE, c.now);
    for (let i = 0; i < DEFAULT_THROTTLE.address.free; i++) expect(fail(t, `user${i}`, '10.0.0.9')).toBeNull();
    const refusal = attempt(t, 'someone-else', '10.0.0.9') as Refusal;
    expect(refusal).toEqual({ scope: 'address', retryAfterMs: 1000 });
  });

  it('forgets a counter after a quiet day', () => {
    const c = clock();
    const t = new LoginThrottle(DEFAULT_THROTTLE, c.now);
    for (let i = 0; i < 3; i++) fail(t, 'ann', '10.0.0.1');
    expect(isRefusal(attempt(t, 'ann', '10.0.0.1'))).toBe(true);
    c.advance(DEFAULT_THROTTLE.forgetAfterMs + 1);
    for (let i = 0; i < 3; i++) expect(fail(t, 'ann', '10.0.0.1')).toBeNull();
  });

  it('keeps at most maxEntries counters', () => {
    const c = clock();
    const t = new LoginThrottle({ ...DEFAULT_THROTTLE, maxEntries: 50 }, c.now);
    for (let i = 0; i < 500; i++) fail(t, `u${i}`, `10.1.${i >> 8}.${i & 255}`);
    const sizes = ['pairs', 'addresses', 'accounts'].map((k) => (t as unknown as Record<string, Map<string, unknown>>)[k].size);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
  });

  it('counts IPv6 addresses by their /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(addressKey('10.0.0.1')).toBe('10.0.0.1');
  });
});
