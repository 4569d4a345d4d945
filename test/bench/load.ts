/**
 * Closed-loop load: `inFlight` workers, each issuing its next request as soon as the previous one is answered, so
 * exactly `inFlight` requests are outstanding at every moment. A warm-up period runs first and is not recorded;
 * then a measured window records every request that completes inside it (latency = issue → answer).
 */
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  inFlight: number;
  /** Requests answered successfully inside the measured window. */
  completed: number;
  /** Requests answered with an error inside the measured window. */
  errors: number;
  /** First error seen (for the report), if any. */
  firstError: string | null;
  seconds: number;
  latenciesMs: number[];
}

export interface LoadOptions {
  inFlight: number;
  warmupMs: number;
  measureMs: number;
  /** One request; resolves true when it succeeded, or a string describing the failure. */
  op: (worker: number) => Promise<true | string>;
  /** Called when the measured window opens and closes (resource snapshots). */
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}

export async function closedLoop(o: LoadOptions): Promise<LoadResult> {
  const t0 = performance.now();
  const measureStart = t0 + o.warmupMs;
  const measureEnd = measureStart + o.measureMs;
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  let firstError: string | null = null;
  let started = false;
  let ended = false;
  const startTimer = setTimeout(() => {
    started = true;
    o.onMeasureStart?.();
  }, o.warmupMs);
  const endTimer = setTimeout(() => {
    ended = true;
    o.onMeasureEnd?.();
  }, o.warmupMs + o.measureMs);

  const worker = async (w: number) => {
    while (performance.now() < measureEnd) {
      const a = performance.now();
      let outcome: true | string;
      try {
        outcome = await o.op(w);
      } catch (err) {
        outcome = (err as Error).message;
      }
      const b = performance.now();
      if (b >= measureStart && b <= measureEnd && a >= measureStart - 60_000) {
        if (outcome === true) {
          completed++;
          latencies.push(b - a);
        } else {
          errors++;
          firstError ??= outcome;
        }
      }
      if (outcome !== true) await new Promise((r) => setTimeout(r, 5)); // never spin on a refusing server
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, (_, w) => worker(w)));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  if (!started) o.onMeasureStart?.();
  if (!ended) o.onMeasureEnd?.();
  return { inFlight: o.inFlight, completed, errors, firstError, seconds: o.measureMs / 1000, latenciesMs: latencies };
}

/** 256 bytes of printable ASCII (the payload of every measured write, chat message or etcd value). */
export const PAYLOAD_256 = (() => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,;';
  let s = '';
  for (let i = 0; s.length < 256; i++) s += alphabet[(i * 7 + 3) % alphabet.length];
  return s;
})();
