/**
 * Retry delays, one formula for every retry loop (client library, admin client, peer links, the desktop's replica
 * restarts): the ceiling doubles from `initialMs` per attempt up to `maxMs`; with full jitter (AWS architecture blog,
 * "Exponential Backoff and Jitter") the delay is uniform below the ceiling, so many clients retrying at once spread out.
 * Isomorphic: no imports.
 */

/** How retry delays grow. */
export interface BackoffOptions {
  /** Ceiling of the first retry's delay (attempt 0). */
  initialMs: number;
  /** Largest ceiling. */
  maxMs: number;
}

/** The ceiling for retry number `attempt` (0 = first retry): initialMs · 2^attempt, at most maxMs. */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  // 2 ** 30 is far past any cap; clamping the exponent keeps the number finite.
  const exponent = Math.min(Math.max(Math.floor(attempt), 0), 30);
  return Math.min(options.maxMs, options.initialMs * 2 ** exponent);
}

/** Full jitter: a whole number of milliseconds uniform in [0, ceiling). `random` returns a value in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * backoffCeiling(attempt, options));
}
