import { describe, expect, it } from 'vitest';
import { scryptSync } from 'node:crypto';
import { HASH_CONCURRENCY, hashConcurrency, hashPassword, hashToken, newToken, passwordHashLoad, verifyPassword } from '../../replica/chat/passwords.js';
import { createMetrics } from '../../replica/node/metrics.js';

describe('passwords', () => {
  it('hashes with scrypt in a self-describing format, salted, and verifies', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b); // random salt
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('verifies hashes made with other parameters (self-describing) and rejects malformed ones without throwing', async () => {
    const cheap = await hashPassword('pw-12345678', { N: 1024, r: 8, p: 1 });
    expect(cheap.startsWith('scrypt$1024$8$1$')).toBe(true);
    expect(await verifyPassword('pw-12345678', cheap)).toBe(true);
    for (const bad of ['', 'plain', 'scrypt$x$8$1$c2FsdHNhbHQ$aGFzaA', 'scrypt$1000$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', 'scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA', 'bcrypt$1$2$3$4$5']) {
      expect(await verifyPassword('pw-12345678', bad)).toBe(false);
    }
  });

  it('hashes beyond the concurrency limit wait their turn, and parameters scrypt refuses at once do not hold a turn', async () => {
    const cheap = await hashPassword('pw-12345678', { N: 1024, r: 8, p: 1 });
    // N = 2^17 with r = 1 is refused by scrypt synchronously; a leaked turn would make the checks after it wait forever.
    const refused = 'scrypt$131072$1$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA';
    const checks = Array.from({ length: 3 * HASH_CONCURRENCY + 2 }, (_, i) => (i % 3 === 0 ? verifyPassword('pw-12345678', refused) : verifyPassword(i % 3 === 1 ? 'pw-12345678' : 'wrong-1234', cheap)));
    expect(await Promise.all(checks)).toEqual(checks.map((_, i) => i % 3 === 1));
  });

  it('runs at most HASH_CONCURRENCY hashes at once, the rest waiting in turn; the load is a metric', async () => {
    const cheap = await hashPassword('pw-12345678', { N: 1024, r: 8, p: 1 });
    expect(passwordHashLoad()).toEqual({ running: 0, waiting: 0 });
    const checks = Array.from({ length: HASH_CONCURRENCY + 2 }, () => verifyPassword('pw-12345678', cheap));
    expect(passwordHashLoad()).toEqual({ running: HASH_CONCURRENCY, waiting: 2 });
    const scrape = await createMetrics('r1', false).registry.metrics();
    expect(scrape).toContain(`quorum_password_hashes{state="running",replica="r1"} ${HASH_CONCURRENCY}`);
    expect(scrape).toContain('quorum_password_hashes{state="waiting",replica="r1"} 2');
    expect(await Promise.all(checks)).toEqual(checks.map(() => true));
    expect(passwordHashLoad()).toEqual({ running: 0, waiting: 0 });
  });

  it('QUORUM_PASSWORD_HASHES: a whole number from 1 to 64, else all cores but one, at least one', () => {
    const cases: [string | undefined, number, number][] = [
      ['3', 2, 3],
      ['1', 8, 1],
      ['64', 2, 64],
      ['65', 8, 7],
      ['0', 8, 7],
      ['-2', 8, 7],
      ['2.5', 8, 7],
      ['', 4, 3],
      ['many', 4, 3],
      [undefined, 8, 7],
      [undefined, 2, 1],
      [undefined, 1, 1],
    ];
    for (const [setting, cores, expected] of cases) expect(hashConcurrency(setting, cores), `${setting} on ${cores} cores`).toBe(expected);
  });

  it('tokens are 32 random bytes base64url; the stored form is sha256 base64url', () => {
    const t = newToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newToken()).not.toBe(t);
    expect(hashToken('abc')).toBe('ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
    expect(hashToken(t)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a real scrypt hash whose parameters or sizes are outside the policy, and accepts the limits themselves', async () => {
    const make = (o: { N?: string; r?: number; p?: number; salt?: number; key?: number; prefix?: string; extra?: string } = {}) => {
      const N = Number(o.N ?? '2');
      const r = o.r ?? 1;
      const p = o.p ?? 1;
      const salt = Buffer.alloc(o.salt ?? 16, 7);
      const key = scryptSync('pw', salt, o.key ?? 32, { N: Number.isFinite(N) ? N : 2, r, p, maxmem: 256 * 1024 * 1024 });
      return [o.prefix ?? 'scrypt', o.N ?? '2', r, p, salt.toString('base64url'), key.toString('base64url')].join('$') + (o.extra ?? '');
    };
    const accepted = [make(), make({ r: 32 }), make({ p: 16 }), make({ salt: 8 }), make({ key: 16 }), make({ key: 128 })];
    for (const stored of accepted) expect(await verifyPassword('pw', stored)).toBe(true);
    const refused = [
      make({ r: 33 }),
      make({ p: 17 }),
      make({ salt: 7 }),
      make({ key: 15 }),
      make({ key: 129 }),
      make({ prefix: 'scrypx' }),
      make({ extra: '$more' }),
      make({ N: ' 2' }),
      make({ N: '2 ' }),
    ];
    for (const stored of refused) expect(await verifyPassword('pw', stored)).toBe(false);
  });
});
