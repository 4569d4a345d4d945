/** The client's exactly-once session (Session) and the random ids and secrets it needs. */
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

/**
 * How long a session may go without writes before the client begins a new one. The cluster forgets a session after a
 * day without writes and then refuses its writes (SESSION_EXPIRED); beginning anew after an hour keeps every write
 * far from that. A write is never resent after WRITE_GIVE_UP_MS, so no write outlives its session either.
 */
export const SESSION_ROTATE_MS = 60 * 60 * 1000;

/**
 * The client's exactly-once session: a client id, a write sequence number that increases by one per write, and the
 * applied index the session began at (ClientSession.startIndex), by which the cluster tells an expired session from a
 * new one. A new session (new id, seq from 1) begins after SESSION_ROTATE_MS without writes, when the clock went back,
 * and when the cluster said this one expired.
 */
export class Session {
  private id: string;
  private seq = 0;
  private startIndex: number | undefined;
  /** When the last write of this session was handed out (clock()); null before the first. */
  private lastWriteAt: number | null = null;

  constructor(
    firstId: string,
    /** Makes the id of the next session. */
    private readonly newId: () => string,
    private readonly clock: () => number = Date.now,
  ) {
    this.id = firstId;
  }

  get clientId(): string {
    return this.id;
  }

  /** The last sequence number handed out in this session (0 before any write). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * The session of the next write, going out on a connection whose hello said `appliedIndex` (undefined: the
   * replica did not say; the session is then unstamped). Called once per write, when it is first sent.
   */
  next(appliedIndex: number | undefined): ClientSession {
    const now = this.clock();
    if (this.lastWriteAt !== null && (now - this.lastWriteAt > SESSION_ROTATE_MS || now < this.lastWriteAt)) this.begin();
    if (this.seq === 0) this.startIndex = appliedIndex;
    this.seq += 1;
    this.lastWriteAt = now;
    return this.startIndex === undefined ? { clientId: this.id, seq: this.seq } : { clientId: this.id, seq: this.seq, startIndex: this.startIndex };
  }

  /** The cluster refused a write of session `clientId` as expired: if it is the current one, the next write begins anew. */
  expired(clientId: string): void {
    if (clientId === this.id) this.begin();
  }

  private begin(): void {
    this.id = this.newId();
    this.seq = 0;
    this.startIndex = undefined;
    this.lastWriteAt = null;
  }
}
