/**
 * Password hashing (scrypt from node:crypto) and login tokens.
 *
 * Stored form: `scrypt$N$r$p$<salt base64url>$<hash base64url>` — self-describing, so parameters can be raised
 * later without breaking existing hashes. Verification uses timingSafeEqual. Tokens are 32 random bytes,
 * base64url; the replicated state keeps only tokenHash = sha256(token) base64url.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';

export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LEN = 32;
const SALT_LEN = 16;
// Bounds on parameters read from a stored hash, so a corrupt or hostile hash cannot make a replica burn memory.
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

/**
 * Most password hashes computed at once. scrypt runs on libuv's thread pool (4 threads), never on the event loop; but
 * four hashes at once take four cores, and on a 2-core machine a login storm would leave the event loop (which
 * answers every other request) and the other replicas on the machine little CPU. So hashes wait their turn (in
 * arrival order) and at most this many run: all cores but one, at least one. QUORUM_PASSWORD_HASHES overrides it.
 * Figures (send p99 in a login storm): test/bench/README.md, "Login storm".
 */
export const HASH_CONCURRENCY = hashConcurrency(process.env.QUORUM_PASSWORD_HASHES, availableParallelism());

/** QUORUM_PASSWORD_HASHES when it is a whole number from 1 to 64, else all `cores` but one (at least one). */
export function hashConcurrency(setting: string | undefined, cores: number): number {
  const n = Number(setting);
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : Math.max(1, cores - 1);
}

let running = 0;
const queued: (() => void)[] = [];

function scryptAsync(password: string, salt: Buffer, keyLen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const run = () => {
      running++;
      const done = () => {
        running--;
        queued.shift()?.();
      };
      try {
        scrypt(password.normalize('NFC'), salt, keyLen, opts, (err, key) => {
          done();
          if (err) reject(err);
          else resolve(key);
        });
      } catch (err) {
        // Parameters scrypt refuses at once (it throws rather than calling back).
        done();
        reject(err as Error);
      }
    };
    if (running < HASH_CONCURRENCY) run();
    else queued.push(run);
  });
}

/** Password hashes computing now and waiting their turn (the `quorum_password_hashes` metric). */
export function passwordHashLoad(): { running: number; waiting: number } {
  return { running, waiting: queued.length };
}

function maxmem(N: number, r: number, p: number): number {
  return 128 * N * r * (p + 2) + 1024 * 1024;
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const { N, r, p } = params;
  const key = await scryptAsync(password, salt, KEY_LEN, { N, r, p, maxmem: maxmem(N, r, p) });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** True when `password` matches `stored`. A malformed stored hash verifies as false, never throws. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map((s) => (/^[0-9]{1,8}$/.test(s) ? Number(s) : NaN));
  if (!(N > 1 && N <= MAX_N && (N & (N - 1)) === 0 && r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P)) return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (salt.length < 8 || expected.length < 16 || expected.length > 128) return false;
  let actual: Buffer;
  try {
    actual = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: maxmem(N, r, p) });
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}

/** A fresh login token: 32 random bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the replicated state stores for a token: sha256, base64url. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}
