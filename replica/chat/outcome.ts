/** What applying one log entry produces: the response to its proposer and the pushes to live connections. */
import type { ErrorCode } from '../protocol/errors.js';
import type { ClientSession, PushFrame } from '../protocol/client.js';

/** The answer to a command, as stored for exactly-once and sent to the client. */
export type CommandResponse = { ok: true; result: unknown } | { ok: false; error: { code: ErrorCode; message: string } };

/**
 * A push to the live connections of one account. `toAccount` (the account id) is the reliable key: usernames are
 * freed on account deletion and may be reused. `toUser` is the username lowercased, for logs and simple routing.
 * Events addressed to the sender's own account include the connection that made the request; the driver may skip it.
 * `tokenHash`, when present, limits the event to connections logged in with that token (logout ends one login).
 */
export interface PushEvent {
  toAccount: number;
  toUser: string;
  frame: PushFrame;
  tokenHash?: string;
}

export interface ApplyOutcome {
  /** The log index of the entry. */
  index: number;
  /** The client session of the command, when it had one (also for refusals and malformed commands if readable). */
  session?: ClientSession;
  /** The answer for the proposer (the stored one when the entry or its session was applied before). */
  response: CommandResponse;
  /** Pushes to live connections, in a deterministic order; empty for refusals and replays. */
  events: PushEvent[];
}

/** An answer that refuses, with a stable error code. */
export function refusal(code: ErrorCode, message: string): CommandResponse {
  return { ok: false, error: { code, message } };
}
