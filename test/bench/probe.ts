/**
 * Availability probe used by the failover scenarios (Quorum and etcd alike): every `everyMs` it fires one write at
 * each target without waiting for earlier ones (at most `maxOutstanding` unanswered per target, so a server that
 * holds requests cannot hide a later success), and resolves with the time the first write succeeded.
 */
import { performance } from 'node:perf_hooks';

export interface ProbeTarget {
  /** One write; resolves true when it was acknowledged (committed). Must not throw. */
  write: () => Promise<boolean>;
}

export function firstSuccess(targets: ProbeTarget[], o: { everyMs?: number; maxOutstanding?: number; timeoutMs?: number } = {}): Promise<{ at: number; target: number } | null> {
  const everyMs = o.everyMs ?? 5;
  const maxOutstanding = o.maxOutstanding ?? 16;
  const timeoutMs = o.timeoutMs ?? 30_000;
  return new Promise((resolve) => {
    let done = false;
    const outstanding = targets.map(() => 0);
    const finish = (v: { at: number; target: number } | null) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(deadline);
      resolve(v);
    };
    const fire = () => {
      targets.forEach((t, i) => {
        if (done || outstanding[i] >= maxOutstanding) return;
        outstanding[i]++;
        t.write().then(
          (ok) => {
            outstanding[i]--;
            if (ok) finish({ at: performance.now(), target: i });
          },
          () => {
            outstanding[i]--;
          },
        );
      });
    };
    const timer = setInterval(fire, everyMs);
    const deadline = setTimeout(() => finish(null), timeoutMs);
    fire();
  });
}
