/** Applying membership: `conf` entries (the Raft configuration and member addresses) and `member` commands. */
import type { ConfChange, ConfState, Entry } from '../../raft/types.js';
import { copyConf, EMPTY_CONF } from '../../raft/conf.js';
import type { CommandOf } from '../commands.js';
import { decodeConfChange } from '../commands.js';
import { applyConfChange } from '../conf.js';
import { refusal, type ApplyOutcome } from '../outcome.js';
import type { Statements } from '../statements.js';

/** Decides the configuration after a change; the driver passes the Raft core's, which is authoritative. */
export type ConfApply = (cc: ConfChange) => ConfState;

/**
 * Applies a `conf` entry: the configuration `confApply` (by default the single-server rules of conf.ts) gives, and
 * the address of an added member. Returns the outcome and the new configuration (unchanged when refused).
 */
export function applyConfEntry(
  statements: Statements,
  conf: ConfState | null,
  entry: Entry,
  confApply?: ConfApply,
): { outcome: ApplyOutcome; conf: ConfState | null } {
  const decoded = decodeConfChange(entry.data);
  if (!decoded.ok) return { outcome: { index: entry.index, response: refusal('INVALID', decoded.message), events: [] }, conf };
  const cc = decoded.value;
  let next: ConfState;
  try {
    next = copyConf(confApply ? confApply(cc) : applyConfChange(conf ?? EMPTY_CONF, cc));
  } catch (err) {
    return { outcome: { index: entry.index, response: refusal('CONFLICT', (err as Error).message), events: [] }, conf };
  }
  statements.setConf.run(JSON.stringify(next));
  if (cc.op === 'addLearner' || cc.op === 'addVoter') statements.memberUpsert.run(cc.id, cc.address);
  if (cc.op === 'remove') statements.memberDelete.run(cc.id);
  return { outcome: { index: entry.index, response: { ok: true, result: { conf: next } }, events: [] }, conf: next };
}

/** Records a replica's address (proposed by the driver when it starts). */
export function applyMember(statements: Statements, cmd: CommandOf<'member'>) {
  statements.memberUpsert.run(cmd.id, cmd.address);
  return { id: cmd.id, address: cmd.address };
}
