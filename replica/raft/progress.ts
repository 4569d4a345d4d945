/**
 * The leader's view of one follower (etcd-io/raft's tracker.Progress): how far its log matches ours, what to send
 * next, and the flow-control state:
 * - probe: we do not know where the logs match; send one append per heartbeat interval and wait for the answer.
 * - replicate: the follower is in step; append messages are pipelined (up to maxInflight unacknowledged, holding at
 *   most maxInflightBytes of entry data).
 * - snapshot: the follower needs a snapshot; nothing is sent until the transfer is reported (reportSnapshot) or
 *   the follower answers.
 */
import type { NodeId } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * A bounded FIFO of the in-flight append messages (last index and entry data bytes of each): full at `size` messages
 * or at `maxBytes` bytes (etcd-io/raft's MaxInflightBytes; 0: no byte limit). The byte limit keeps a follower far
 * behind from being sent more than its link can hold: maxInflight appends of up to maxMsgBytes each would be 256 MiB,
 * which the peer link drops above 32 MiB, and every answer then had the leader read and send the whole window again.
 */
export class Inflights {
  private buf: number[] = [];
  private sizes: number[] = [];
  private start = 0;
  private total = 0;
  constructor(
    readonly size: number,
    readonly maxBytes = 0,
  ) {}

  get count(): number {
    return this.buf.length - this.start;
  }

  /** Entry data bytes in flight. */
  get bytes(): number {
    return this.total;
  }

  full(): boolean {
    return this.count >= this.size || (this.maxBytes > 0 && this.total >= this.maxBytes);
  }

  add(last: number, bytes = 0): void {
    this.buf.push(last);
    this.sizes.push(bytes);
    this.total += bytes;
  }

  /** Frees every in-flight message whose last index is <= to. */
  freeLE(to: number): void {
    while (this.start < this.buf.length && this.buf[this.start] <= to) this.total -= this.sizes[this.start++];
    this.compact();
  }

  freeFirstOne(): void {
    if (this.start < this.buf.length) this.total -= this.sizes[this.start++];
    this.compact();
  }

  reset(): void {
    this.buf = [];
    this.sizes = [];
    this.start = 0;
    this.total = 0;
  }

  private compact(): void {
    if (this.start === this.buf.length) {
      this.reset();
    } else if (this.start > 64 && this.start * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.start);
      this.sizes = this.sizes.slice(this.start);
      this.start = 0;
    }
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot we asked the driver to send. */
  pendingSnapshot = 0;
  /** In probe state: an append is outstanding; wait for its answer (or the next heartbeat) before sending more. */
  probeSent = false;
  readonly inflights: Inflights;
  /** Tick count of the last message received from this peer in the current term. */
  lastHeard: number;
  isLearner: boolean;

  constructor(readonly id: NodeId, next: number, maxInflight: number, isLearner: boolean, now: number, maxInflightBytes = 0) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
    this.lastHeard = now;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An append was acknowledged up to n. Returns true if match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * An append with prevLogIndex `rejected` was refused; `matchHint` is where the logs may match. Returns false if
   * the rejection is stale (out of order or duplicated).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Called after sending an append carrying `count` entries (`bytes` of entry data) ending at `last`. */
  sentEntries(count: number, last: number, bytes = 0): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
