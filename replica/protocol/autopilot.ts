/**
 * Autopilot as the status request reports it: how the leader sees each member (health, role, the last change it
 * made to it) and what it aims at, plus the one-line description the CLI and the Cluster view show per member
 * ("voter since 10:42", "learner: catching up", "demoted: unreachable for 6 min"). Isomorphic: no Node or DOM imports.
 */
import * as z from 'zod';

/** Why autopilot changed a member. */
export type AutopilotReason =
  /** A learner stayed caught up and reachable for the stabilization time, and the cluster wants another voter. */
  | 'stable-learner'
  /** A voter stayed unreachable longer than the dead-after time: it no longer counts toward the majority. */
  | 'dead-voter'
  /** More voters than the odd target allows (an even count, or more than --autopilot-voters). */
  | 'over-target';

/** One configuration change autopilot made. */
export interface AutopilotChange {
  op: 'promote' | 'demote';
  /** The member changed. */
  id: string;
  /** ms since epoch when the change was applied. */
  at: number;
  reason: AutopilotReason;
  /** The same in one sentence, with the figures that decided it. */
  explanation: string;
}

export type MemberHealth =
  /** Heard from within an election timeout and its log within a few entries of the commit index. */
  | 'healthy'
  /** Heard from, but behind (receiving entries or a snapshot). */
  | 'catchingUp'
  /** Not heard from within an election timeout, or no open link to it. */
  | 'unreachable';

/** How the leader sees one member (only a leader reports it). */
export interface AutopilotMemberView {
  health: MemberHealth;
  /**
   * ms since epoch since which `health` holds. For 'unreachable' that is the last contact, or the moment this replica
   * became leader when it never heard from the member (it cannot know about earlier).
   */
  since: number;
  /** ms since epoch when this member's current role (voter or learner) was applied here; null: before this replica started. */
  roleSince: number | null;
  /** The last change autopilot made to this member while this replica led; null when none. */
  lastChange: AutopilotChange | null;
}

/** What the leader's autopilot is configured to do and is doing (only a leader reports it). */
export interface AutopilotSummary {
  /** False when the leader runs with --no-autopilot: health is still reported, voters are changed by hand only. */
  enabled: boolean;
  /** Most voters wanted (--autopilot-voters; odd). */
  targetVoters: number;
  /** How long a learner must stay healthy before it is promoted (--autopilot-stabilize, in ms). */
  stabilizeMs: number;
  /** How long a voter may stay unreachable before it is demoted (--autopilot-dead-after, in ms). */
  deadAfterMs: number;
  /** The voter count aimed at now: odd, at most targetVoters, at most the members that can vote. */
  desiredVoters: number;
  /** What it waits for, or why it holds back, in one sentence; null when the voters are as wanted. */
  waiting: string | null;
  /** The most recent changes it made while this replica led, oldest first (at most 10). */
  recent: AutopilotChange[];
}

const AutopilotChangeSchema = z.object({
  op: z.enum(['promote', 'demote']),
  id: z.string(),
  at: z.number(),
  reason: z.enum(['stable-learner', 'dead-voter', 'over-target']),
  explanation: z.string(),
});

/** Checks a member view in a status result (the client library validates what it relies on). */
export const AutopilotMemberViewSchema: z.ZodType<AutopilotMemberView> = z.object({
  health: z.enum(['healthy', 'catchingUp', 'unreachable']),
  since: z.number(),
  roleSince: z.number().nullable(),
  lastChange: AutopilotChangeSchema.nullable(),
});

/** Checks the autopilot summary in a status result. */
export const AutopilotSummarySchema: z.ZodType<AutopilotSummary> = z.object({
  enabled: z.boolean(),
  targetVoters: z.number(),
  stabilizeMs: z.number(),
  deadAfterMs: z.number(),
  desiredVoters: z.number(),
  waiting: z.string().nullable(),
  recent: z.array(AutopilotChangeSchema),
});

/** "42 s", "6 min", "3 h", "2 d": a whole number of the largest unit that fits. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** "10:42" (local time) within the day of `now`, else "3 Dec 10:42". */
export function formatClock(at: number, now: number): string {
  const d = new Date(at);
  const clock = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  if (new Date(now).toDateString() === d.toDateString()) return clock;
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return `${d.getDate()} ${months[d.getMonth()]} ${clock}`;
}

/**
 * One line about a member as a person reads it, from the leader's view: "voter since 10:42", "voter: unreachable for
 * 2 min", "learner: catching up", "learner: caught up for 4 s", "demoted: unreachable for 6 min". Null without a view
 * (the status did not come from a leader).
 */
export function describeMember(member: { voter: boolean; autopilot?: AutopilotMemberView }, now: number): string | null {
  const view = member.autopilot;
  if (!view) return null;
  const role = member.voter ? 'voter' : 'learner';
  const lasted = formatDuration(now - view.since);
  switch (view.health) {
    case 'unreachable':
      if (!member.voter && view.lastChange?.op === 'demote') return `demoted: unreachable for ${lasted}`;
      return `${role}: unreachable for ${lasted}`;
    case 'catchingUp':
      return `${role}: catching up`;
    case 'healthy':
      if (view.roleSince !== null) return `${role} since ${formatClock(view.roleSince, now)}`;
      return member.voter ? 'voter' : `learner: caught up for ${lasted}`;
  }
}
