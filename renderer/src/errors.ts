/** Readable text for every refusal code of replica/protocol/errors.ts. */
import type { ErrorCode } from '../../replica/protocol/errors.js';

const TEXT: Record<ErrorCode, string> = {
  INVALID: 'That was not accepted',
  TOO_LARGE: 'That is too large to send.',
  USERNAME_TAKEN: 'That username is already taken. Try another one.',
  BAD_CREDENTIALS: 'Wrong username or password.',
  UNAUTHENTICATED: 'You are not logged in any more. Please log in again.',
  NOT_FOUND: 'There is no such account or message.',
  FORBIDDEN: 'You are not allowed to do that.',
  NOT_LEADER: 'That replica does not lead the cluster; trying the leader.',
  NO_QUORUM: 'The cluster cannot reach a majority of its replicas, so it is read-only for now. Nothing was changed.',
  TIMEOUT: 'The cluster did not confirm in time. It may or may not have been done.',
  RATE_LIMITED: 'Too many requests at once. Wait a moment and try again.',
  UNAVAILABLE: 'The replica is starting, stopping or was removed from the cluster. Try again shortly.',
  CONFLICT: 'Another cluster change is in progress, or this change does not fit the cluster.',
  UNSUPPORTED_BY_CLUSTER: 'The cluster runs an older Quorum on some replicas, which cannot do this yet. Upgrade them first.',
  SESSION_EXPIRED: 'This was not confirmed before your session with the cluster expired, so it may or may not have been done. Check before trying again.',
  STATE_DIVERGED: 'That replica’s data differs from the rest of the cluster, so it is not used until an operator repairs it. Trying another replica.',
  INTERNAL: 'Something went wrong on the replica. Try again.',
};

export function errorCode(err: unknown): string | null {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : null;
}

/** "40 s", "3 min": how long to wait, rounded up (never "0 s"). */
function waitText(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.ceil(seconds / 60)} min`;
}

/**
 * A sentence for the user. INVALID keeps the server's detail, which says what was wrong; RATE_LIMITED with a
 * `retryAfterMs` (the login throttle after failed attempts) says how long to wait.
 */
export function readableError(err: unknown): string {
  const code = errorCode(err);
  const detail = typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as Error).message : '';
  if (code && code in TEXT) {
    const text = TEXT[code as ErrorCode];
    if (code === 'INVALID') return detail ? `${text}: ${detail}` : `${text}.`;
    const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
    if (code === 'RATE_LIMITED' && typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs)) {
      return `Too many attempts. Try again in ${waitText(retryAfterMs)}.`;
    }
    return text;
  }
  return detail || 'Something went wrong.';
}

/** Refusals that changed nothing and mean "not now": the outbox tries again when the cluster is writable. */
export function isRetryableRefusal(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'NO_QUORUM' || code === 'UNAVAILABLE' || code === 'NOT_LEADER' || code === 'RATE_LIMITED' || code === 'STATE_DIVERGED';
}

/** Codes after which a write's outcome is unknown: it may or may not have been applied. */
export function outcomeUnknown(code: string | null | undefined): boolean {
  return code === 'TIMEOUT' || code === 'SESSION_EXPIRED' || code === 'INTERNAL';
}

/**
 * What a failed or waiting outbox entry says: the client library's own account of what happened ("not sent: ...,
 * nothing was changed" or "not confirmed: ..., it may or may not have been applied"), not only the code's sentence.
 */
export function sendError(err: unknown): string {
  const code = errorCode(err);
  const detail = typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as Error).message : '';
  if (code === 'TIMEOUT') {
    return `${sentence(detail || TEXT.TIMEOUT)} Check the conversation before sending it again: Retry sends the same write, which the cluster applies at most once.`;
  }
  if (code === 'SESSION_EXPIRED') return TEXT.SESSION_EXPIRED;
  if (detail.startsWith('not sent:')) return sentence(detail);
  return readableError(err);
}

/** Capitalised, ending with a full stop. */
function sentence(text: string): string {
  const t = text.trim();
  const capital = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * A sentence for a refused group, edit or search request: the cluster's own words where they name what was wrong
 * (an unknown account, a taken name, who may do it), else the code's sentence.
 */
export function teamError(err: unknown): string {
  const code = errorCode(err);
  const detail = typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as Error).message : '';
  if (detail && (code === 'NOT_FOUND' || code === 'CONFLICT' || code === 'FORBIDDEN' || code === 'INVALID')) return sentence(detail);
  return readableError(err);
}
