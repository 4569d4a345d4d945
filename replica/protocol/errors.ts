/** Stable error codes. A refusal always carries one of these and changes nothing. */
export const ERROR_CODES = [
  'INVALID', // the request (or frame) does not match the schema or breaks a limit
  'TOO_LARGE', // the frame is over the size limit
  'USERNAME_TAKEN',
  'BAD_CREDENTIALS',
  'UNAUTHENTICATED', // the request needs a logged-in connection
  'NOT_FOUND', // no such account or message
  'FORBIDDEN', // the account may not do this (e.g. delete someone else's message)
  'NOT_LEADER', // this replica does not lead; error.leader says where to go when known
  'NO_QUORUM', // the cluster cannot reach a majority: read-only
  'TIMEOUT', // the request was not committed in time; its outcome is unknown (retry with the same session seq)
  'RATE_LIMITED',
  'UNAVAILABLE', // the replica is starting, stopping or was removed from the cluster
  'CONFLICT', // a cluster change is already in progress, or the change does not fit the configuration
  'UNSUPPORTED_BY_CLUSTER', // the cluster runs an older Quorum version than this needs: upgrade the replicas the message names
  'SESSION_EXPIRED', // the client's session expired (idle too long): this write's outcome is unknown; start a new session
  'STATE_DIVERGED', // this replica's state differs from the majority's (state check): it serves no clients until resynced; use another replica
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface LeaderHint {
  id: string;
  address: string;
}

export interface WireError {
  code: ErrorCode;
  message: string;
  /** With NOT_LEADER: the current leader if this replica knows it. */
  leader?: LeaderHint | null;
  /** With RATE_LIMITED from the login throttle: milliseconds until another attempt will be looked at. */
  retryAfterMs?: number;
}

/** An error as thrown inside the client library and the server; `code` is one of ERROR_CODES. */
export class QuorumError extends Error {
  readonly code: ErrorCode;
  readonly leader: LeaderHint | null;
  /** See WireError.retryAfterMs. */
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string, leader: LeaderHint | null = null, retryAfterMs?: number) {
    super(message);
    this.name = 'QuorumError';
    this.code = code;
    this.leader = leader;
    this.retryAfterMs = retryAfterMs;
  }
  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (this.leader) wire.leader = this.leader;
    if (this.retryAfterMs !== undefined) wire.retryAfterMs = this.retryAfterMs;
    return wire;
  }
}
