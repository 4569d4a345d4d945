/**
 * Applies a single-server configuration change to a ConfState with the Raft core's rules (raft/conf.ts), but strict:
 * a change that does not fit throws with the reason, where the core leaves the configuration as it is. The core's
 * version is authoritative (the driver passes it to applyEntries as confApply); this one is the default for tests
 * and tools that apply entries without a core.
 */
import { applyToConf, confChangeProblem } from '../raft/conf.js';
import type { ConfChange, ConfState } from '../raft/types.js';

export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  const problem = confChangeProblem(conf, cc);
  if (problem !== null) throw new Error(problem);
  return applyToConf(conf, cc);
}
