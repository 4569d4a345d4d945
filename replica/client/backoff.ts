/** Exponential backoff with full jitter (AWS architecture blog): delay = random() * min(max, initial * 2^attempt). */
import type { BackoffOptions } from './types.js';

/** Sized for failover on a LAN: elections take a few hundred milliseconds; an unreachable cluster is retried every ≤2 s. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2000 };

/** The delay before retry number `attempt` (0 = first retry). `random` returns a value in [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const exp = Math.min(Math.max(attempt, 0), 30);
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** exp);
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}
