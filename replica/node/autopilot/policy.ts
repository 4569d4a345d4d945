/**
 * Autopilot's decision, as a pure function: from the configuration as the leader sees it (who votes, who is reachable,
 * who has been healthy since when) and the settings, the one configuration change to make next and why, or why none.
 * The leader applies one change at a time through the log and asks again once it is applied.
 *
 * The rules (after Consul's autopilot, with an odd voter target and a majority check on every change):
 * - Desired voters: the largest odd number that is at most the target and at most the members that can vote (voters
 *   not dead, learners stable). Two members keep one voter; four keep three: an even count tolerates no more
 *   failures than the odd count below it, and needs a larger majority.
 * - A voter unreachable for longer than dead-after is demoted first: it can no longer help form a majority, and while
 *   it votes the cluster tolerates one failure less. A healthy learner then takes its place.
 * - A learner that has been reachable and caught up for the stabilization time is promoted while there are fewer
 *   voters than desired (the most up-to-date one first).
 * - A voter beyond the desired count is demoted (never the leader; an unreachable one first, then the least
 *   up-to-date), but only once the configuration has been unchanged for the stabilization time and no learner is in
 *   between states (catching up, or unreachable for less than dead-after): a member removed to be replaced, or a
 *   laptop waking up, would otherwise cost a demotion and a promotion right after.
 * - No change at all without a reachable majority of voters, and none after which the reachable voters would not be
 *   a majority of the new voters.
 */
import { quorumSize } from '../../raft/conf.js';
import type { NodeId } from '../../raft/types.js';
import { formatDuration, type AutopilotReason } from '../../protocol/autopilot.js';

export interface AutopilotSettings {
  /** Most voters wanted; odd, at least 1. */
  targetVoters: number;
  /** How long a learner must stay healthy (reachable and caught up) before it is promoted. */
  stabilizeMs: number;
  /** How long a voter may stay unreachable before it is demoted. */
  deadAfterMs: number;
}

export const AUTOPILOT_DEFAULTS: Readonly<AutopilotSettings> = { targetVoters: 5, stabilizeMs: 10_000, deadAfterMs: 300_000 };

/** What the leader knows about one member at the moment of the decision. */
export interface MemberObservation {
  id: NodeId;
  voter: boolean;
  /** Heard from within an election timeout over an open link (the leader itself always is). */
  reachable: boolean;
  /** ms since epoch of the last contact: now when reachable. */
  lastContactAt: number;
  /** ms since epoch since which it has been reachable and caught up without a break; null when it is not now. */
  healthySince: number | null;
  /** Highest log index known to be on it: prefers the most up-to-date learner, the least up-to-date voter. */
  match: number;
}

export interface PolicyInput {
  /** ms since epoch. */
  now: number;
  leaderId: NodeId;
  /** Every member of the applied configuration, the leader included. */
  members: readonly MemberObservation[];
  /** ms since epoch of the last configuration change applied, or of this leader's start when later. */
  confChangedAt: number;
  settings: AutopilotSettings;
}

export interface ConfChangeDecision {
  kind: 'change';
  op: 'promote' | 'demote';
  id: NodeId;
  reason: AutopilotReason;
  explanation: string;
  desiredVoters: number;
}

/** Why a change that is due is held back. */
export type HoldReason =
  /** Fewer than a majority of voters reachable: no change could commit, and none should be tried. */
  | 'no-quorum'
  /** The change would leave the reachable voters short of a majority of the new voters. */
  | 'unsafe'
  /** Surplus voters wait until no learner is between states (catching up, or briefly unreachable). */
  | 'settling';

export interface NoChangeDecision {
  kind: 'none';
  desiredVoters: number;
  /** Set when a change is due but held back. */
  hold: HoldReason | null;
  /** What autopilot waits for or why it holds back (one sentence); null when the voters are as wanted. */
  waiting: string | null;
}

export type PolicyDecision = ConfChangeDecision | NoChangeDecision;

/** The largest odd number that is at most `limit` and at most `usable` (at least 1). */
export function desiredVoterCount(limit: number, usable: number): number {
  const n = Math.max(1, Math.min(limit, usable));
  return n % 2 === 1 ? n : n - 1;
}

export function nextChange(input: PolicyInput): PolicyDecision {
  const { now, leaderId, members, settings, confChangedAt } = input;
  const dead = (m: MemberObservation) => m.id !== leaderId && !m.reachable && now - m.lastContactAt >= settings.deadAfterMs;
  const stable = (m: MemberObservation) => m.healthySince !== null && now - m.healthySince >= settings.stabilizeMs;
  const voters = members.filter((m) => m.voter);
  const learners = members.filter((m) => !m.voter);
  const reachableVoters = voters.filter((m) => m.reachable).length;
  const usable = voters.filter((m) => !dead(m)).length + learners.filter(stable).length;
  const desiredVoters = desiredVoterCount(settings.targetVoters, usable);
  const none = (waiting: string | null, hold: HoldReason | null = null): NoChangeDecision => ({ kind: 'none', desiredVoters, hold, waiting });
  const change = (op: 'promote' | 'demote', m: MemberObservation, reason: AutopilotReason, explanation: string): PolicyDecision => {
    const after = voters.length + (op === 'promote' ? 1 : -1);
    const reachableAfter = reachableVoters + (m.reachable ? (op === 'promote' ? 1 : -1) : 0);
    if (reachableAfter < quorumSize(after)) {
      return none(`holding: ${op === 'promote' ? 'promoting' : 'demoting'} ${m.id} would leave ${reachableAfter} reachable of ${after} voters, not a majority`, 'unsafe');
    }
    return { kind: 'change', op, id: m.id, reason, explanation, desiredVoters };
  };

  if (reachableVoters < quorumSize(voters.length)) {
    return none(`holding: only ${reachableVoters} of ${voters.length} voters are reachable, not a majority; no change until one is back`, 'no-quorum');
  }

  const deadVoters = voters.filter(dead).sort((a, b) => a.lastContactAt - b.lastContactAt || a.id.localeCompare(b.id));
  if (deadVoters.length) {
    const m = deadVoters[0];
    const away = formatDuration(now - m.lastContactAt);
    return change('demote', m, 'dead-voter', `${m.id} has been unreachable for ${away} (dead after ${formatDuration(settings.deadAfterMs)}): it no longer counts toward the majority`);
  }

  if (voters.length < desiredVoters) {
    const candidate = learners.filter(stable).sort((a, b) => b.match - a.match || a.id.localeCompare(b.id))[0];
    // desiredVoters counts stable learners, so there is one.
    const healthyFor = formatDuration(now - (candidate.healthySince ?? now));
    return change('promote', candidate, 'stable-learner', `${candidate.id} has been caught up and reachable for ${healthyFor} (stabilization ${formatDuration(settings.stabilizeMs)}); voters ${voters.length} → ${voters.length + 1} of ${desiredVoters} wanted`);
  }

  if (voters.length > desiredVoters) {
    const settling = learners.find((m) => !stable(m) && !dead(m));
    if (settling) {
      return none(`holding: ${voters.length} voters where ${desiredVoters === 1 ? 'one is' : `${desiredVoters} are`} wanted, until learner ${settling.id} is stable or gone (dead after ${formatDuration(settings.deadAfterMs)})`, 'settling');
    }
    const unchangedFor = now - confChangedAt;
    if (unchangedFor < settings.stabilizeMs) {
      return none(`holding: ${voters.length} voters where ${desiredVoters === 1 ? 'one is' : `${desiredVoters} are`} wanted, until the configuration has been unchanged for ${formatDuration(settings.stabilizeMs)} (${formatDuration(settings.stabilizeMs - unchangedFor)} to go)`, 'settling');
    }
    const candidate = voters
      .filter((m) => m.id !== leaderId)
      .sort((a, b) => Number(a.reachable) - Number(b.reachable) || a.match - b.match || b.id.localeCompare(a.id))[0];
    const why = voters.length % 2 === 0 && voters.length - 1 === desiredVoters
      ? `${voters.length} voters is an even count: ${desiredVoters} tolerate as many failures with a smaller majority`
      : `${voters.length} voters where ${desiredVoters === 1 ? 'one is' : `${desiredVoters} are`} wanted (target ${settings.targetVoters}, ${usable} members can vote)`;
    return change('demote', candidate, 'over-target', `${why}; ${candidate.id} ${candidate.reachable ? 'is the least up to date' : 'is unreachable'}`);
  }

  return none(promotionWait(learners, voters.length, usable, now, settings));
}

/** When a learner is on its way to a vote (catching up, or not yet stable), what it waits for. */
function promotionWait(learners: MemberObservation[], voters: number, usable: number, now: number, settings: AutopilotSettings): string | null {
  // A learner that would change the desired count once it counts as usable.
  if (desiredVoterCount(settings.targetVoters, usable + 1) <= voters) return null;
  const healthy = learners.find((m) => m.healthySince !== null && now - m.healthySince < settings.stabilizeMs);
  if (healthy) {
    const left = settings.stabilizeMs - (now - (healthy.healthySince ?? now));
    return `${healthy.id} is caught up; promoted once it has stayed healthy for ${formatDuration(settings.stabilizeMs)} (${formatDuration(left)} to go)`;
  }
  const behind = learners.find((m) => m.reachable && m.healthySince === null);
  if (behind) return `${behind.id} is catching up`;
  return null;
}
