/**
 * Throttles password guessing (login, and the password check of deleteAccount) without letting an attacker lock a
 * person out. Three counters of attempts, each with growing delays once past a few free ones:
 * - per (account, address): one machine guessing one account (the common case);
 * - per address, over all accounts: one machine spraying common passwords over many accounts;
 * - per account, over all addresses: many machines guessing one account. Addresses that logged in to the account
 *   before (within `trustedForMs`) are exempt from this one, so a person at their usual machines is never held up by
 *   someone else's guessing (OWASP's "device cookie" idea, keyed by address).
 * An attempt counts when it starts (so parallel guesses are throttled as they arrive) and is refunded when the
 * password was right. A refused attempt is answered RATE_LIMITED with the wait, before the password is looked at.
 * The state lives on the leader, in memory: a new leader starts with clean counters (docs/security.md).
 */
import type { Registry } from 'prom-client';
import { Counter, Histogram } from 'prom-client';
import { QuorumError } from '../protocol/errors.js';

export interface DelayRule {
  /** Attempts without any wait. */
  free: number;
  /** The wait after the first attempt past the free ones; it doubles with each further attempt. */
  baseMs: number;
  /** The wait never exceeds this. */
  maxMs: number;
}

export interface ThrottleSettings {
  pair: DelayRule;
  address: DelayRule;
  account: DelayRule;
  /** A counter with no failed attempt for this long starts again from zero. */
  forgetAfterMs: number;
  /** An address that logged in to an account is exempt from that account's counter this long. */
  trustedForMs: number;
  /** Most counters kept per kind (the oldest are forgotten first), so a flood of names cannot exhaust memory. */
  maxEntries: number;
}

const MINUTE = 60_000;
export const DEFAULT_THROTTLE: ThrottleSettings = {
  pair: { free: 3, baseMs: 1000, maxMs: 5 * MINUTE },
  address: { free: 20, baseMs: 1000, maxMs: 5 * MINUTE },
  account: { free: 10, baseMs: 1000, maxMs: 5 * MINUTE },
  forgetAfterMs: 24 * 60 * MINUTE,
  trustedForMs: 30 * 24 * 60 * MINUTE,
  maxEntries: 100_000,
};

export type ThrottleScope = 'pair' | 'address' | 'account';

export interface Refusal {
  scope: ThrottleScope;
  /** Milliseconds until an attempt may be made again. */
  retryAfterMs: number;
}

/** An admitted attempt: tell the throttle how it ended. */
export interface Attempt {
  succeeded(): void;
  /** The attempt already counted; this only records it in the metrics. */
  failed(): void;
  /** No password was checked after all (e.g. this replica stopped leading): refunded, nothing learned. */
  abandoned(): void;
}

interface AttemptCount {
  attempts: number;
  lastAt: number;
}

export interface ThrottleMetrics {
  refused(scope: ThrottleScope, retryAfterMs: number): void;
  failed(): void;
}

export class LoginThrottle {
  private readonly pairs = new Map<string, AttemptCount>();
  private readonly addresses = new Map<string, AttemptCount>();
  private readonly accounts = new Map<string, AttemptCount>();
  /** account → address → last successful login. */
  private readonly trusted = new Map<string, Map<string, number>>();

  constructor(
    private readonly settings: ThrottleSettings = DEFAULT_THROTTLE,
    private readonly now: () => number = Date.now,
    private readonly metrics: ThrottleMetrics | null = null,
  ) {}

  /** Admits an attempt to check `account`'s password from `remote`, or says which limit refuses it and for how long. */
  begin(account: string, remote: string): Attempt | Refusal {
    const now = this.now();
    const name = account.toLowerCase();
    const address = addressKey(remote);
    const pairKey = `${name}\u0000${address}`;
    const exempt = this.isTrusted(name, address, now);
    const checks: [ThrottleScope, Map<string, AttemptCount>, string, DelayRule][] = [
      ['pair', this.pairs, pairKey, this.settings.pair],
      ['address', this.addresses, address, this.settings.address],
      ...(exempt ? [] : [['account', this.accounts, name, this.settings.account] as [ThrottleScope, Map<string, AttemptCount>, string, DelayRule]]),
    ];
    let refusal: Refusal | null = null;
    for (const [scope, map, key, rule] of checks) {
      const wait = this.waitFor(map.get(key), rule, now);
      if (wait > 0 && (!refusal || wait > refusal.retryAfterMs)) refusal = { scope, retryAfterMs: wait };
    }
    if (refusal) {
      this.metrics?.refused(refusal.scope, refusal.retryAfterMs);
      return refusal;
    }
    for (const [, map, key] of checks) this.count(map, key, now);
    // The account counter also counts attempts from trusted addresses (a person mistyping at home still counts
    // toward the account's total), but never holds them up.
    if (exempt) this.count(this.accounts, name, now);
    let settled = false;
    return {
      succeeded: () => {
        if (settled) return;
        settled = true;
        this.pairs.delete(pairKey);
        this.refund(this.addresses, address);
        this.refund(this.accounts, name);
        this.trust(name, address, this.now());
      },
      failed: () => {
        if (settled) return;
        settled = true;
        this.metrics?.failed();
      },
      abandoned: () => {
        if (settled) return;
        settled = true;
        this.refund(this.pairs, pairKey);
        this.refund(this.addresses, address);
        this.refund(this.accounts, name);
      },
    };
  }

  private waitFor(counter: AttemptCount | undefined, rule: DelayRule, now: number): number {
    if (!counter || now - counter.lastAt > this.settings.forgetAfterMs) return 0;
    // After `free` attempts the next one waits baseMs, and each attempt beyond doubles the wait.
    const beyond = counter.attempts - rule.free;
    if (beyond < 0) return 0;
    const delay = Math.min(rule.maxMs, rule.baseMs * 2 ** Math.min(beyond, 40));
    return Math.max(0, counter.lastAt + delay - now);
  }

  private count(map: Map<string, AttemptCount>, key: string, now: number): void {
    const old = map.get(key);
    const attempts = old && now - old.lastAt <= this.settings.forgetAfterMs ? old.attempts + 1 : 1;
    // Re-inserted so the map's order is least recently used first.
    map.delete(key);
    map.set(key, { attempts, lastAt: now });
    this.bound(map);
  }

  private refund(map: Map<string, AttemptCount>, key: string): void {
    const c = map.get(key);
    if (!c) return;
    if (c.attempts <= 1) map.delete(key);
    else c.attempts -= 1;
  }

  private isTrusted(name: string, address: string, now: number): boolean {
    const at = this.trusted.get(name)?.get(address);
    return at !== undefined && now - at <= this.settings.trustedForMs;
  }

  private trust(name: string, address: string, now: number): void {
    let byAddress = this.trusted.get(name);
    this.trusted.delete(name);
    if (!byAddress) byAddress = new Map();
    byAddress.delete(address);
    byAddress.set(address, now);
    // A person uses a handful of machines: keep the 16 most recent addresses per account.
    while (byAddress.size > 16) byAddress.delete(byAddress.keys().next().value!);
    this.trusted.set(name, byAddress);
    this.bound(this.trusted);
  }

  private bound(map: Map<string, unknown>): void {
    while (map.size > this.settings.maxEntries) map.delete(map.keys().next().value!);
  }
}

/**
 * One password check under the throttle: refused at once with RATE_LIMITED (nothing checked) when a limit holds;
 * else `check` runs and its result counts: null is a wrong password, anything else the right one. A check that throws
 * checked nothing (NOT_LEADER, NO_QUORUM) and is refunded.
 */
export async function throttledPasswordCheck<T>(throttle: LoginThrottle, account: string, remote: string, check: () => Promise<T | null>): Promise<T | null> {
  const attempt = throttle.begin(account, remote);
  if (isRefusal(attempt)) throw throttledError(attempt);
  let result: T | null;
  try {
    result = await check();
  } catch (err) {
    attempt.abandoned();
    throw err;
  }
  if (result === null) attempt.failed();
  else attempt.succeeded();
  return result;
}

const SCOPE_TEXT: Record<ThrottleScope, string> = {
  pair: 'for this account from your address',
  address: 'from your address',
  account: 'for this account',
};

/** RATE_LIMITED with the wait (the client shows it; the CLI prints it). */
export function throttledError(refusal: Refusal): QuorumError {
  const seconds = Math.ceil(refusal.retryAfterMs / 1000);
  return new QuorumError('RATE_LIMITED', `too many failed logins ${SCOPE_TEXT[refusal.scope]}; try again in ${seconds} s`, null, refusal.retryAfterMs);
}

/** True for a refusal (not an admitted attempt). */
export function isRefusal(x: Attempt | Refusal): x is Refusal {
  return 'retryAfterMs' in x;
}

/**
 * The address a counter is kept for: IPv4 as is (also when mapped into IPv6), IPv6 by its /64, since one machine is
 * usually given a whole /64 and could otherwise rotate through its addresses.
 */
export function addressKey(remote: string): string {
  if (remote.startsWith('::ffff:') && remote.includes('.')) return remote.slice(7);
  if (!remote.includes(':')) return remote;
  const [head, tail = ''] = remote.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = remote.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/%.*$/, '').toLowerCase() || '0').join(':')}::/64`;
}

/** Prometheus counters of the throttle (quorum_login_refused_total{scope}, quorum_login_failures_total, the waits). */
export function loginThrottleMetrics(registry: Registry): ThrottleMetrics {
  const registers = [registry];
  const refused = new Counter({
    name: 'quorum_login_refused_total',
    help: 'Password attempts refused by the login throttle before checking, by the limit that refused them',
    labelNames: ['scope'],
    registers,
  });
  const failures = new Counter({ name: 'quorum_login_failures_total', help: 'Password attempts that gave a wrong password', registers });
  const waits = new Histogram({
    name: 'quorum_login_retry_after_seconds',
    help: 'The wait a refused password attempt was told (retry-after)',
    buckets: [1, 2, 5, 10, 30, 60, 120, 300],
    registers,
  });
  return {
    refused: (scope, retryAfterMs) => {
      refused.inc({ scope });
      waits.observe(retryAfterMs / 1000);
    },
    failed: () => failures.inc(),
  };
}
