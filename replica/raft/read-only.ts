/**
 * ReadIndex bookkeeping on the leader (Raft dissertation §6.4, etcd's readOnly): each request records the commit
 * index at the time it arrived; a heartbeat round carrying the request's context confirms leadership once a
 * majority of voters echoes it, which releases that request and every earlier one.
 */
import type { NodeId } from './types.js';

export interface ReadRequest {
  context: string;
  index: number;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  from: NodeId;
  acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadRequest>();
  private queue: string[] = [];

  add(index: number, context: string, from: NodeId, self: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { context, index, from, acks: new Set([self]) });
    this.queue.push(context);
  }

  /** Records an ack; returns the acks for `context` (null if unknown). */
  recvAck(id: NodeId, context: string): Set<NodeId> | null {
    const rs = this.pending.get(context);
    if (!rs) return null;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Releases every request up to and including `context`, in arrival order. */
  advance(context: string): ReadRequest[] {
    const k = this.queue.indexOf(context);
    if (k < 0) return [];
    const done = this.queue.slice(0, k + 1).map((c) => this.pending.get(c)!);
    this.queue = this.queue.slice(k + 1);
    for (const r of done) this.pending.delete(r.context);
    return done;
  }

  lastPendingContext(): string | undefined {
    return this.queue.length ? this.queue[this.queue.length - 1] : undefined;
  }

  get size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
