/**
 * Logged-in clients follow the leader. Only the leader serves, and presence and typing live on its connections
 * (presence.ts). A replica that stops leading but keeps running (a transfer, a newer term elsewhere) closes nothing
 * by itself, so a client with nothing to send stays with it: the new leader shows that person offline and has no
 * connection to tell of typing. So once a replica that led learns of another leader, it closes its logged-in
 * connections (CLOSE_CODES.leaderMoved, naming the leader); each client reconnects, is sent on to the leader by the
 * hello, and resumes there. A replica that is elected again before it hears of another leader closes nothing.
 */
import type { SoftState } from '../raft/types.js';

export interface LeaderMovedOptions {
  selfId: string;
  /** Closes the logged-in connections with `reason`; returns how many it closed. */
  closeLoggedIn(reason: string): number;
  /** Told once per hand-over, after the connections are closed. */
  onClosed(leader: string, closed: number): void;
}

export class LeaderMoved {
  private led = false;

  constructor(private readonly o: LeaderMovedOptions) {}

  /** Each soft state the core reports (role and known leader). */
  softState(soft: SoftState): void {
    if (soft.role === 'leader') {
      this.led = true;
      return;
    }
    if (!this.led || soft.lead === null || soft.lead === this.o.selfId) return;
    this.led = false;
    // A close reason is at most 123 bytes: replica ids are short (ReplicaIdSchema).
    const closed = this.o.closeLoggedIn(`${soft.lead} leads now`);
    this.o.onClosed(soft.lead, closed);
  }
}
