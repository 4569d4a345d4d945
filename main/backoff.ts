/** Restart delays for the hosted replica: exponential, capped. Pure. */
export interface RestartBackoff {
  /** Delay before the first restart. */
  baseMs: number;
  /** Largest delay. */
  maxMs: number;
  /** A run that lasts this long counts as stable and resets the crash count. */
  stableMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = { baseMs: 500, maxMs: 30_000, stableMs: 60_000 };

/** Delay before restart number `attempt` (1 = first restart after a crash). */
export function restartDelay(attempt: number, b: RestartBackoff = DEFAULT_RESTART_BACKOFF): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2 ** 30 is far past any cap; clamp the exponent so the number stays finite.
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(n - 1, 30));
}
