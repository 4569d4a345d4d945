/**
 * Requests awaiting a response. Each entry keeps its complete frame (request id and session seq included),
 * so a resend after a reconnect is byte-for-byte the same request and the server can deduplicate it.
 */
import type { ClientSession, Op } from '../protocol/index.js';
import { QuorumError } from '../protocol/index.js';

export interface PendingRequest {
  id: number;
  op: Op;
  /** The exact frame sent (and resent). */
  frame: Record<string, unknown> & { id: number; op: Op };
  createdAt: number;
  /** Epoch of the connection this was last sent on; null while waiting to be (re)sent. */
  sentOn: number | null;
  /** Retries after retryable error responses (TIMEOUT, NO_QUORUM, ...), for the backoff. */
  attempts: number;
  /** How many times the frame was handed to a connection. */
  transmissions: number;
  /**
   * A transmission ended without an answer that says it changed nothing (the connection dropped first, or TIMEOUT or
   * INTERNAL came back): the write may have been applied.
   */
  inDoubt: boolean;
  /** Wall-clock time (Date.now) after which the call is given up, or null for never. */
  giveUpAt: number | null;
  /** Stores the write's session before it is first transmitted in it (KeptWrite.keepSession). */
  keepSession: ((session: ClientSession) => Promise<void>) | null;
  /** The session last handed to keepSession. */
  keptSession: ClientSession | null;
  /** keepSession's promise has not settled: the write waits. */
  keeping: boolean;
  lastError: QuorumError | null;
  /** Timer for a scheduled retry or for the response timeout. */
  timer: ReturnType<typeof setTimeout> | null;
  /** Timer that rejects the call when giveUpAfterMs has passed. */
  giveUpTimer: ReturnType<typeof setTimeout> | null;
  resolve(result: unknown): void;
  reject(err: QuorumError): void;
}

export class PendingRequests {
  private readonly byId = new Map<number, PendingRequest>();
  private nextId = 1;

  allocateId(): number {
    return this.nextId++;
  }

  add(entry: PendingRequest): void {
    this.byId.set(entry.id, entry);
  }

  get(id: unknown): PendingRequest | undefined {
    return typeof id === 'number' ? this.byId.get(id) : undefined;
  }

  /** Removes the entry and clears its timers; returns it if it was still pending. */
  take(id: number): PendingRequest | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    this.byId.delete(id);
    clearTimers(entry);
    return entry;
  }

  /** Pending entries in the order they were made (ids increase), so writes are resent in seq order. */
  list(): PendingRequest[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Rejects and removes every entry. */
  rejectAll(err: QuorumError): void {
    for (const entry of this.list()) {
      this.take(entry.id);
      entry.reject(err);
    }
  }
}

export function clearTimers(entry: PendingRequest): void {
  if (entry.timer) clearTimeout(entry.timer);
  if (entry.giveUpTimer) clearTimeout(entry.giveUpTimer);
  entry.timer = null;
  entry.giveUpTimer = null;
}
