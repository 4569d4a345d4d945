/**
 * Whether this replica belongs to the applied configuration, and the moment a configuration change removes it: a
 * removed replica serves no clients (it still answers its former peers' Raft messages: replica.ts, REMOVED_NOTICE).
 */
import type { ConfState, NodeId } from '../raft/types.js';
import { isMember } from '../raft/conf.js';

export class Membership {
  private wasMember: boolean;
  private removedFlag: boolean;

  /**
   * `joining`: this start joins a running cluster, so not being a member yet is expected, not a removal.
   */
  constructor(
    private readonly selfId: NodeId,
    private readonly conf: () => ConfState | null,
    joining: boolean,
  ) {
    this.wasMember = this.member;
    this.removedFlag = this.conf() !== null && !joining && !this.wasMember;
  }

  /** In the applied configuration, as a voter or a learner. */
  get member(): boolean {
    const conf = this.conf();
    return conf !== null && isMember(conf, this.selfId);
  }

  get voter(): boolean {
    return this.conf()?.voters.includes(this.selfId) ?? false;
  }

  /** Removed from the configuration (at start-up, or by a change applied since). */
  get removed(): boolean {
    return this.removedFlag;
  }

  /** After a configuration change was applied: true exactly once, when that change removed this replica. */
  confApplied(): boolean {
    const member = this.member;
    const removedNow = this.wasMember && !member && !this.removedFlag;
    if (removedNow) this.removedFlag = true;
    this.wasMember = member;
    return removedNow;
  }
}
