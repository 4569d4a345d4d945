/**
 * Brute force against one account on a real replica process (docs/security.md, "Passwords under attack"): guesses
 * from one address get 3 free attempts, then waits of 1 s, 2 s, 4 s, refused with RATE_LIMITED and the wait before
 * the password is looked at; the person keeps logging in with the right password from their own machine, also while
 * many addresses guess at once and a stranger with the right password is asked to wait; the CLI shows the wait; the
 * refusals are metrics. Loopback source addresses (127.0.0.x) stand for machines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { RawConn, type Resp } from '../helpers/raw-client.js';
import { REPLICA_CLI, ROOT, singleReplica, type ReplicaProc } from '../helpers/cluster.js';

const RIGHT = 'the-right-password';

describe('login throttle against a real replica', () => {
  let replica: ReplicaProc;
  let destroy: () => Promise<void>;
  const conns: RawConn[] = [];

  async function from(address: string): Promise<RawConn> {
    const c = await RawConn.open(replica.address, 5000, address);
    conns.push(c);
    return c;
  }

  beforeAll(async () => {
    ({ replica, destroy } = await singleReplica('quorum-throttle-'));
    const alice = await from('127.0.0.2');
    await alice.signup('alice', RIGHT);
    await alice.login('alice', RIGHT);
  }, 60_000);
  afterAll(async () => {
    for (const c of conns) c.close();
    await destroy();
  });

  const attempt = (c: RawConn, password: string, username = 'alice'): Promise<Resp> =>
    c.request({ op: 'login', username, password, token: randomBytes(32).toString('base64url'), session: c.session() });

  /** Guesses from `c`, sitting out each wait, until the wait it is told is at least `ms`; returns that refusal. */
  async function guessUntilWait(c: RawConn, username: string, ms: number): Promise<Resp> {
    for (;;) {
      const r = await attempt(c, 'a-wrong-guess', username);
      const wait = (r.error as { retryAfterMs?: number } | undefined)?.retryAfterMs;
      if (wait !== undefined && wait >= ms) return r;
      if (wait !== undefined) await new Promise((res) => setTimeout(res, 25));
    }
  }

  it('one address guessing: 3 free attempts, then doubling waits it must sit out, while the right password logs in elsewhere', async () => {
    const mallory = await from('127.0.0.66');
    const alice = await from('127.0.0.2');
    let countedSentAt = 0;
    for (let i = 0; i < 3; i++) {
      countedSentAt = Date.now();
      expect((await attempt(mallory, `wrong-guess-${i}`)).error?.code).toBe('BAD_CREDENTIALS');
    }
    let checked = 0;
    for (const expected of [1000, 2000, 4000]) {
      const sentAt = Date.now();
      const refused = await attempt(mallory, 'guess-again');
      const receivedAt = Date.now();
      if (refused.error?.code === 'BAD_CREDENTIALS') {
        // Only a machine too slow to send the next attempt within the wait gets here: the wait had run out, so the
        // attempt was looked at (and counted, so the next wait is the next one).
        expect(receivedAt - countedSentAt).toBeGreaterThanOrEqual(expected);
        countedSentAt = sentAt;
        continue;
      }
      expect(refused.error?.code).toBe('RATE_LIMITED');
      const wait = (refused.error as { retryAfterMs?: number }).retryAfterMs!;
      // The wait runs from when the replica counted the last attempt (after it was sent) to `expected` later, and
      // is asked for before the refusal arrived: at least `expected` minus the time between the two, at most `expected`.
      expect(wait).toBeGreaterThanOrEqual(expected - (receivedAt - countedSentAt));
      expect(wait).toBeLessThanOrEqual(expected);
      expect(refused.error?.message).toMatch(/too many failed logins for this account from your address; try again in \d s/);
      // Meanwhile the person logs in from their own machine with the right password.
      expect((await attempt(alice, RIGHT)).ok).toBe(true);
      // The wait holds: every attempt before it is over is refused without being counted; the first after it is
      // looked at (and, wrong, lengthens the next wait).
      let answer: Resp;
      for (;;) {
        countedSentAt = Date.now();
        answer = await attempt(mallory, 'guess-again');
        if (answer.error?.code !== 'RATE_LIMITED') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(answer.error?.code).toBe('BAD_CREDENTIALS');
      // Looked at no earlier than the wait's end, which is `wait` after the refusal was decided (after it was sent).
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(wait);
      checked++;
    }
    expect(checked, 'at least one wait was seen and sat out').toBeGreaterThan(0);
  }, 60_000);

  it('many addresses guessing hold up a stranger, not the person at a machine that logged in before', async () => {
    for (let i = 0; i < 12; i++) {
      const bot = await from(`127.0.1.${10 + i}`);
      expect((await attempt(bot, `bot-guess-${i}`)).error?.code).toMatch(/BAD_CREDENTIALS|RATE_LIMITED/);
      bot.close();
    }
    // The right password from an address never seen is asked to wait (the account is under attack)...
    const stranger = await from('127.0.2.1');
    const refused = await attempt(stranger, RIGHT);
    expect(refused.error?.code).toBe('RATE_LIMITED');
    expect(refused.error?.message).toMatch(/for this account; try again in \d+ s/);
    expect((refused.error as { retryAfterMs?: number }).retryAfterMs).toBeLessThanOrEqual(5 * 60_000);
    // ...while the person's own machine is not held up.
    const alice = await from('127.0.0.2');
    expect((await attempt(alice, RIGHT)).ok).toBe(true);
  }, 60_000);

  it('the CLI shows the wait, and the refusals are metrics', async () => {
    // (Refused before the password is looked at: the CLI's right password would not pass either.)
    const local = await from('127.0.0.1');
    await local.signup('carol', RIGHT);
    // Long enough a wait that the CLI process (it starts in a second or two) meets it.
    await guessUntilWait(local, 'carol', 8000);
    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [REPLICA_CLI, 'chat', '--servers', replica.address, '--user', 'carol', '--password-stdin', 'login'], { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.once('close', (code) => resolve({ code, stderr }));
      child.stdin.end(`${RIGHT}\n`);
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^RATE_LIMITED: too many failed logins .*; try again in \d+ s\n$/);
    const metrics = await (await fetch(`http://${replica.address}/metrics`)).text();
    /** The value of the sample whose name and labels start as `prefix` (prom-client adds the replica label). */
    const value = (prefix: string) => Number(metrics.split('\n').find((line) => line.startsWith(prefix))?.split(' ').pop() ?? 0);
    expect(value('quorum_login_refused_total{scope="pair"')).toBeGreaterThan(0);
    expect(value('quorum_login_refused_total{scope="account"')).toBeGreaterThan(0);
    expect(value('quorum_login_failures_total')).toBeGreaterThanOrEqual(8);
    expect(metrics).toMatch(/^quorum_login_retry_after_seconds_count\{[^}]*\} [1-9]/m);
  }, 60_000);
});
