/**
 * The clock a leader stamps commands with (Command.at): its own wall clock, corrected by the median of the offsets
 * between its clock and the clocks of the replicas it hears from. Every batch of Raft messages carries its sender's
 * wall clock (MessagesFrame.clock, replica/net/peer-link.ts), so a leader learns each follower's offset from the
 * responses it gets every heartbeat.
 *
 * Why: a command's clock becomes message times and every client's idle time (sessions expire after a day without
 * writes). One replica whose clock is hours off, as leader, would stamp messages hours in the future and could
 * expire every client's session at once. With three or more replicas one skewed clock, the leader's included, does
 * not move the median. The state machine bounds what one command can do anyway (clampClock in
 * replica/chat/state-machine.ts); this keeps a skewed leader from walking the clock away one step at a time.
 *
 * An offset is one-way (the sender's clock when it sent, against ours when the frame arrived), so it is low by the
 * network delay: milliseconds on a LAN. Offsets not refreshed within FRESH_MS (a peer that is down or cut off) are
 * left out. With an even number of clocks the lower middle one is taken: a fast clock is outvoted by a slower one,
 * and time that is late is clamped to never go backwards, where time that is early cannot be taken back.
 */

/** Offsets older than this are left out of the median. */
export const FRESH_MS = 10_000;

interface PeerOffset {
  /** The peer's clock minus ours, in ms, as last heard. */
  offset: number;
  /** When we heard it, on the monotonic clock. */
  heardAt: number;
}

export class PeerClocks {
  private readonly offsets = new Map<string, PeerOffset>();
  private last = 0;

  constructor(
    /** Wall clock, ms since the epoch (Date.now; tests inject one). */
    private readonly wallClock: () => number = Date.now,
    /** Monotonic clock in ms, for freshness only (performance.now; tests inject one). */
    private readonly monotonicClock: () => number = () => performance.now(),
  ) {}

  /** A frame from `peer` carried its wall clock `peerClock`. */
  observe(peer: string, peerClock: number): void {
    this.offsets.set(peer, { offset: peerClock - this.wallClock(), heardAt: this.monotonicClock() });
  }

  /** The median offset of this replica's clock (0) and the fresh peer offsets. */
  offset(): number {
    const now = this.monotonicClock();
    const all = [0];
    for (const [peer, heard] of this.offsets) {
      if (now - heard.heardAt <= FRESH_MS) all.push(heard.offset);
      else this.offsets.delete(peer);
    }
    all.sort((a, b) => a - b);
    return all[Math.floor((all.length - 1) / 2)];
  }

  /** The clock for the next command: the corrected wall clock, never below what it returned before. */
  now(): number {
    this.last = Math.max(this.last, Math.round(this.wallClock() + this.offset()));
    return this.last;
  }
}
