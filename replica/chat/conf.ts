/**
 * Pure application of a single-server configuration change to a ConfState. The Raft core owns the authoritative
 * version (the driver passes it to applyEntries as confApply); this one is the default for tests and tools.
 */
import type { ConfChange, ConfState } from '../raft/types.js';

export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((v) => v !== cc.id);
  const learners = conf.learners.filter((l) => l !== cc.id);
  const isVoter = conf.voters.includes(cc.id);
  const isLearner = conf.learners.includes(cc.id);
  switch (cc.op) {
    case 'addLearner':
      if (isVoter) throw new Error(`${cc.id} is already a voter`);
      return { voters, learners: [...learners, cc.id] };
    case 'addVoter':
      return { voters: [...voters, cc.id], learners };
    case 'promote':
      if (!isLearner) throw new Error(`${cc.id} is not a learner`);
      return { voters: [...voters, cc.id], learners };
    case 'demote':
      if (!isVoter) throw new Error(`${cc.id} is not a voter`);
      return { voters, learners: [...learners, cc.id] };
    case 'remove':
      if (!isVoter && !isLearner) throw new Error(`${cc.id} is not a member`);
      return { voters, learners };
  }
}
