/**
 * Errors the core throws to its caller (the driver). Each carries a stable `code`; the driver maps them onto the
 * protocol's error codes (NOT_LEADER, NO_QUORUM, CONFLICT, INVALID). A refused call changes nothing.
 */
import type { NodeId } from './types.js';

export type RaftErrorCode =
  | 'NOT_LEADER'
  | 'NO_QUORUM'
  | 'TRANSFERRING'
  | 'CONF_CHANGE_PENDING'
  | 'INVALID_CONF_CHANGE'
  | 'INVALID_TRANSFER'
  | 'INVALID_MESSAGE';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  constructor(code: RaftErrorCode, message: string) {
    super(message);
    this.name = 'RaftError';
    this.code = code;
  }
}

/** This node is not the leader. `leader` is the leader this node knows of (null: none known, election in progress). */
export class NotLeaderError extends RaftError {
  readonly leader: NodeId | null;
  constructor(leader: NodeId | null) {
    super('NOT_LEADER', leader ? `not the leader; the leader is ${leader}` : 'not the leader, and no leader is known');
    this.name = 'NotLeaderError';
    this.leader = leader;
  }
}

/**
 * The leader has not heard from a majority of voters within an election timeout (check-quorum): it cannot commit
 * and will step down; writes are refused.
 */
export class NoQuorumError extends RaftError {
  constructor() {
    super('NO_QUORUM', 'no quorum: the leader has not heard from a majority of voters within an election timeout');
    this.name = 'NoQuorumError';
  }
}

/** The leader is handing leadership over to `transferee` and accepts no proposals meanwhile. */
export class TransferInProgressError extends RaftError {
  readonly transferee: NodeId;
  constructor(transferee: NodeId) {
    super('TRANSFERRING', `leadership transfer to ${transferee} in progress; proposals are refused until it ends`);
    this.name = 'TransferInProgressError';
    this.transferee = transferee;
  }
}

/**
 * A configuration change was refused: CONF_CHANGE_PENDING (an earlier change, or entries from before this leader's
 * term, are not applied yet: retry later) or INVALID_CONF_CHANGE (it does not fit the current configuration).
 */
export class ConfChangeError extends RaftError {
  constructor(code: 'CONF_CHANGE_PENDING' | 'INVALID_CONF_CHANGE', message: string) {
    super(code, message);
    this.name = 'ConfChangeError';
  }
}
