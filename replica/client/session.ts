/** The client's exactly-once session: one client id and a write sequence number that increases by one per write. */
import type { ClientSession } from '../protocol/index.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

interface CryptoLike {
  getRandomValues(array: Uint8Array): Uint8Array;
}

function webCrypto(): CryptoLike | null {
  const c = (globalThis as { crypto?: Partial<CryptoLike> }).crypto;
  return c && typeof c.getRandomValues === 'function' ? (c as CryptoLike) : null;
}

function randomChars(count: number, fill: (bytes: Uint8Array) => void): string {
  const bytes = new Uint8Array(count);
  fill(bytes);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 63];
  return out;
}

/** A random client id (22 url-safe characters, 132 bits); Web Crypto when present, else `random` (tests). */
export function newClientId(random: () => number): string {
  const crypto = webCrypto();
  return randomChars(22, (bytes) => {
    if (crypto) crypto.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  });
}

/** A login token: 43 url-safe characters (258 bits) from Web Crypto. A secret, so never from an injected PRNG. */
export function newSecret(): string {
  const crypto = webCrypto();
  if (!crypto) throw new Error('no Web Crypto (globalThis.crypto.getRandomValues) to make a login token');
  return randomChars(43, (bytes) => crypto.getRandomValues(bytes));
}

export class Session {
  private seq = 0;
  constructor(readonly clientId: string) {}

  /** Takes the next sequence number; called once per write, at call time. */
  next(): ClientSession {
    this.seq += 1;
    return { clientId: this.clientId, seq: this.seq };
  }

  /** The last sequence number handed out (0 before any write). */
  get lastSeq(): number {
    return this.seq;
  }
}
