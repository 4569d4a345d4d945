/**
 * Autopilot on a running replica: while it leads, it samples every member's health a few times a second, asks the
 * policy (policy.ts) for the next change, and proposes it through the log, one at a time: the next decision waits
 * until the change is applied. Every change and every hold is logged with its reason and counted in metrics; the
 * status request reports its view of each member. On a replica that does not lead it only records when each
 * member's role changed, so a new leader can say "voter since 10:42".
 */
import type { Logger } from 'pino';
import type { RaftStatus } from '../../raft/raft.js';
import type { ConfState, NodeId } from '../../raft/types.js';
import type { AutopilotChange, AutopilotMemberView, AutopilotSummary } from '../../protocol/autopilot.js';
import type { NodeMetrics } from '../metrics.js';
import { MemberHealthTracker } from './health.js';
import { nextChange, type AutopilotSettings, type PolicyDecision } from './policy.js';

/** What a leader's autopilot reports in the status request. */
export interface AutopilotReport {
  summary: AutopilotSummary;
  /** How it sees a member; undefined for an id it does not know. */
  memberView(id: NodeId): AutopilotMemberView | undefined;
}

export interface AutopilotOptions {
  selfId: NodeId;
  settings: AutopilotSettings;
  /** False (--no-autopilot): health is still observed and reported, but no change is made. */
  enabled: boolean;
  raftStatus: () => RaftStatus;
  /** Whether the outbound link to a member is open. */
  linkConnected: (id: NodeId) => boolean;
  /** Proposes a configuration change; resolves once it is applied here (rejects when it fails or times out). */
  proposeConfChange: (change: { op: 'promote' | 'demote'; id: NodeId }) => Promise<unknown>;
  log: Logger;
  metrics: NodeMetrics;
  /** ms since epoch, never going back (default: the process's monotonic clock, anchored at its start). */
  now?: () => number;
}

/** Changes kept for the status report. */
const RECENT_CHANGES = 10;

/** The monotonic clock as ms since epoch: a wall-clock step (NTP, a skewed clock corrected) does not age anyone. */
function monotonicEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export class Autopilot {
  private readonly health = new MemberHealthTracker();
  private readonly now: () => number;
  /** When each member's current role was applied here (members whose change predates this process are absent). */
  private readonly roleSince = new Map<NodeId, number>();
  private appliedConf: ConfState | null = null;
  /** When the last configuration change was applied here (0: none since this process started). */
  private confChangedAt = 0;
  private readonly lastChange = new Map<NodeId, AutopilotChange>();
  private readonly recent: AutopilotChange[] = [];
  private proposing = false;
  /** The hold last logged (reason and member), so a hold is logged when it begins, not on every sample. */
  private loggedHold: string | null = null;

  constructor(private readonly options: AutopilotOptions) {
    this.now = options.now ?? monotonicEpochMs;
  }

  /** A configuration was applied (call once at start with the current one): records whose role changed, and when. */
  confApplied(conf: ConfState): void {
    const before = this.appliedConf;
    this.appliedConf = { voters: [...conf.voters], learners: [...conf.learners] };
    if (!before) return;
    const at = this.now();
    this.confChangedAt = at;
    for (const id of conf.voters) if (!before.voters.includes(id)) this.roleSince.set(id, at);
    for (const id of conf.learners) if (!before.learners.includes(id)) this.roleSince.set(id, at);
    for (const id of this.roleSince.keys()) if (!conf.voters.includes(id) && !conf.learners.includes(id)) this.roleSince.delete(id);
  }

  /** One sample: observes members when leading and, when enabled and nothing is in flight, makes the next change. */
  tick(): void {
    const status = this.options.raftStatus();
    const decision = this.observe(status);
    // A transfer in progress is about to make another replica the one that decides.
    if (!decision || !this.options.enabled || this.proposing || status.leadTransferee !== null) return;
    if (decision.kind === 'none') {
      this.noteHold(decision.hold, decision.waiting);
      return;
    }
    this.loggedHold = null;
    this.apply(decision.op, decision.id, decision.reason, decision.explanation);
  }

  /** The leader's view for a status request, observed now; undefined when this replica does not lead. */
  report(): AutopilotReport | undefined {
    const decision = this.observe(this.options.raftStatus());
    if (!decision) return undefined;
    const { targetVoters, stabilizeMs, deadAfterMs } = this.options.settings;
    return {
      summary: {
        enabled: this.options.enabled,
        targetVoters,
        stabilizeMs,
        deadAfterMs,
        desiredVoters: decision.desiredVoters,
        waiting: this.options.enabled && decision.kind === 'none' ? decision.waiting : null,
        recent: [...this.recent],
      },
      memberView: (id) => {
        const health = this.health.healthOf(id);
        if (!health) return undefined;
        return { health: health.health, since: health.since, roleSince: this.roleSince.get(id) ?? null, lastChange: this.lastChange.get(id) ?? null };
      },
    };
  }

  /** Samples the members and asks the policy; null (and the record forgotten) when this replica does not lead. */
  private observe(status: RaftStatus): PolicyDecision | null {
    const { metrics } = this.options;
    if (status.role !== 'leader') {
      this.health.forget();
      metrics.autopilotDesiredVoters.set(0);
      metrics.autopilotHealthyMembers.set(0);
      return null;
    }
    const now = this.now();
    const members = this.health.observe(now, status, this.options.linkConnected);
    const confChangedAt = Math.max(this.confChangedAt, this.health.leadingSince ?? now);
    const decision = nextChange({ now, leaderId: this.options.selfId, members, settings: this.options.settings, confChangedAt });
    metrics.autopilotHealthyMembers.set(members.filter((m) => m.healthySince !== null).length);
    metrics.autopilotDesiredVoters.set(decision.desiredVoters);
    return decision;
  }

  private apply(op: 'promote' | 'demote', id: NodeId, reason: AutopilotChange['reason'], explanation: string): void {
    const { log, metrics } = this.options;
    this.proposing = true;
    log.info({ autopilot: { op, id, reason }, explanation }, `autopilot: ${op === 'promote' ? 'promoting' : 'demoting'} ${id}`);
    this.options.proposeConfChange({ op, id }).then(
      () => {
        const change: AutopilotChange = { op, id, at: this.now(), reason, explanation };
        this.lastChange.set(id, change);
        this.recent.push(change);
        if (this.recent.length > RECENT_CHANGES) this.recent.shift();
        metrics.autopilotChanges.inc({ op, reason });
        log.info({ autopilot: { op, id, reason } }, `autopilot: ${op === 'promote' ? 'promoted' : 'demoted'} ${id}`);
        this.proposing = false;
      },
      (err: unknown) => {
        metrics.autopilotFailures.inc({ op });
        log.warn({ autopilot: { op, id, reason }, err: (err as Error).message }, `autopilot: ${op} of ${id} failed; deciding again on the next sample`);
        this.proposing = false;
      },
    );
  }

  private noteHold(hold: string | null, waiting: string | null): void {
    const key = hold && `${hold}|${waiting?.replace(/\d+(\.\d+)? (s|min|h|d)\b/g, '')}`;
    if (key === this.loggedHold) return;
    this.loggedHold = key;
    if (!hold) return;
    this.options.metrics.autopilotHolds.inc({ reason: hold });
    this.options.log.info({ autopilot: { hold } }, `autopilot: ${waiting}`);
  }
}
