/**
 * Configuration changes (single-server, Raft dissertation §4.1) applied to a ConfState, and the quorum arithmetic
 * over a configuration. Voters count toward quorums; learners only receive the log.
 */
import type { ConfChange, ConfState, NodeId } from './types.js';

/**
 * The configuration of a replica that has none yet (before bootstrap or its first snapshot). Frozen, so a change
 * to it throws instead of changing every user's copy: copy it (copyConf) to build on it.
 */
export const EMPTY_CONF: ConfState = Object.freeze({ voters: Object.freeze([]) as unknown as NodeId[], learners: Object.freeze([]) as unknown as NodeId[] });

export function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

export function isMember(c: ConfState, id: NodeId): boolean {
  return c.voters.includes(id) || c.learners.includes(id);
}

/** The data of a `conf` entry: exactly the ConfChange as JSON (the state machine decodes it with its own schema). */
export function encodeConfChange(cc: ConfChange): string {
  switch (cc.op) {
    case 'addLearner':
    case 'addVoter':
      return JSON.stringify({ op: cc.op, id: cc.id, address: cc.address });
    default:
      return JSON.stringify({ op: cc.op, id: cc.id });
  }
}

/** Decodes a `conf` entry's data (throws on malformed data). */
export function decodeConfChange(data: string): ConfChange {
  const v = JSON.parse(data) as ConfChange;
  if (!v || typeof v !== 'object' || typeof v.id !== 'string' || !['addLearner', 'addVoter', 'promote', 'demote', 'remove'].includes(v.op)) {
    throw new Error(`malformed conf change: ${data.slice(0, 100)}`);
  }
  return v;
}

/** Why `cc` does not fit `conf`, or null if it does. */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | null {
  const voter = conf.voters.includes(cc.id);
  const learner = conf.learners.includes(cc.id);
  switch (cc.op) {
    case 'addLearner':
      return voter || learner ? `${cc.id} is already a member` : null;
    case 'addVoter':
      return voter ? `${cc.id} is already a voter` : null;
    case 'promote':
      return learner ? null : `${cc.id} is not a learner`;
    case 'demote':
      if (!voter) return `${cc.id} is not a voter`;
      return conf.voters.length <= 1 ? 'cannot demote the last voter' : null;
    case 'remove':
      if (!voter && !learner) return `${cc.id} is not a member`;
      return voter && conf.voters.length <= 1 ? 'cannot remove the last voter' : null;
    default:
      return `unknown conf change op ${(cc as { op: string }).op}`;
  }
}

/**
 * The configuration after `cc`. Tolerant: a change that does not fit (already applied, or made stale by a
 * snapshot) leaves the configuration as it is, so re-applying entries after a restart is harmless.
 */
export function applyToConf(conf: ConfState, cc: ConfChange): ConfState {
  if (confChangeProblem(conf, cc) !== null) return copyConf(conf);
  const voters = conf.voters.filter((v) => v !== cc.id);
  const learners = conf.learners.filter((l) => l !== cc.id);
  switch (cc.op) {
    case 'addLearner':
    case 'demote':
      learners.push(cc.id);
      break;
    case 'addVoter':
    case 'promote':
      voters.push(cc.id);
      break;
    case 'remove':
      break;
  }
  return { voters, learners };
}

export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** The largest index that a majority of voters has reached (match per voter; missing voters count as 0). */
export function committedIndex(voters: readonly NodeId[], match: (id: NodeId) => number): number {
  if (!voters.length) return 0;
  const ms = voters.map(match).sort((a, b) => b - a);
  return ms[quorumSize(voters.length) - 1];
}

export type VoteResult = 'won' | 'lost' | 'pending';

export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const r = votes.get(v);
    if (r === true) granted++;
    else if (r === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}
