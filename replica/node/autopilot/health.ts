/**
 * The leader's running record of each member's health, sampled from the core's replication progress and the peer
 * links: reachable (heard from within an election timeout over an open link), caught up (replicating in step, within
 * a few entries of the commit index), since when, and when it was last heard from. A new leader starts with no
 * history: it counts unreachable time from the moment it took over.
 */
import type { RaftStatus } from '../../raft/raft.js';
import type { NodeId } from '../../raft/types.js';
import type { MemberHealth } from '../../protocol/autopilot.js';
import type { MemberObservation } from './policy.js';

/** A member this many entries or fewer behind the commit index counts as caught up (when replicating in step). */
export const MAX_TRAILING_ENTRIES = 1000;

interface HealthRecord {
  health: MemberHealth;
  /** Since when `health` holds (for 'unreachable': the last contact). */
  since: number;
  lastContactAt: number;
  /** Since when it has been healthy without a break; null when it is not healthy now. */
  healthySince: number | null;
}

export class MemberHealthTracker {
  private readonly records = new Map<NodeId, HealthRecord>();
  private leading: number | null = null;

  /** When this replica's current term as leader began to be observed (null when not leading). */
  get leadingSince(): number | null {
    return this.leading;
  }

  /** This replica does not lead (any more): what it saw goes stale, and the next term starts from nothing. */
  forget(): void {
    this.records.clear();
    this.leading = null;
  }

  /**
   * Samples every member of `status.conf` (a leader's status, with progress) at `now`; returns what the policy needs.
   * `linkConnected(id)` says whether the outbound link to `id` is open.
   */
  observe(now: number, status: RaftStatus, linkConnected: (id: NodeId) => boolean): MemberObservation[] {
    const leadingSince = (this.leading ??= now);
    const members = [...status.conf.voters.map((id) => [id, true] as const), ...status.conf.learners.map((id) => [id, false] as const)];
    const present = new Set(members.map(([id]) => id));
    for (const id of this.records.keys()) if (!present.has(id)) this.records.delete(id);
    return members.map(([id, voter]) => {
      const progress = status.progress?.[id];
      const self = id === status.id;
      const reachable = self || ((progress?.recentActive ?? false) && linkConnected(id));
      const caughtUp = self || (progress !== undefined && progress.state === 'replicate' && progress.match + MAX_TRAILING_ENTRIES >= status.commit);
      const health: MemberHealth = !reachable ? 'unreachable' : caughtUp ? 'healthy' : 'catchingUp';
      const previous = this.records.get(id);
      const lastContactAt = reachable ? now : (previous?.lastContactAt ?? leadingSince);
      const record: HealthRecord = {
        health,
        since: previous?.health === health ? previous.since : health === 'unreachable' ? lastContactAt : now,
        lastContactAt,
        healthySince: health === 'healthy' ? (previous?.healthySince ?? now) : null,
      };
      this.records.set(id, record);
      return { id, voter, reachable, lastContactAt, healthySince: record.healthySince, match: self ? status.lastIndex : (progress?.match ?? 0) };
    });
  }

  /** The member's health and since when, as last observed; undefined when not observed (not leading). */
  healthOf(id: NodeId): { health: MemberHealth; since: number } | undefined {
    const record = this.records.get(id);
    return record && { health: record.health, since: record.since };
  }
}
