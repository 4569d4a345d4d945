/** Small statistics helpers for the benchmark: percentiles over recorded latencies, rounding for the report. */

/** Nearest-rank percentile (p in [0, 100]) of an unsorted sample; NaN for an empty sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  return percentileSorted(sorted, p);
}

export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Summary {
  n: number;
  minms: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
}

export function summarize(sample: readonly number[]): Summary {
  const sorted = [...sample].sort((a, b) => a - b);
  return {
    n: sorted.length,
    minms: round(sorted[0] ?? NaN, 2),
    p50ms: round(percentileSorted(sorted, 50), 2),
    p99ms: round(percentileSorted(sorted, 99), 2),
    maxms: round(sorted[sorted.length - 1] ?? NaN, 2),
  };
}

export function median(sample: readonly number[]): number {
  return percentile(sample, 50);
}

/** Rounds to `digits` decimals; keeps NaN/null as null so JSON stays valid. */
export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return null as unknown as number;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** a / b rounded, or null when either side is missing. */
export function ratio(a: number | null | undefined, b: number | null | undefined, digits = 2): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return round(a / b, digits);
}

/** Milliseconds since the epoch with sub-millisecond resolution, comparable between processes of one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A message text that carries the time it was sent (`@<ms>|`), padded to `length` characters. */
export function stampText(sentAtMs: number, pad: string, length = 256): string {
  return `@${sentAtMs.toFixed(3)}|${pad}`.slice(0, length);
}

/** The send time a stampText carries, or null for any other text. */
export function sentAtOf(text: unknown): number | null {
  if (typeof text !== 'string' || text[0] !== '@') return null;
  const bar = text.indexOf('|');
  if (bar < 2) return null;
  const v = Number(text.slice(1, bar));
  return Number.isFinite(v) ? v : null;
}

/** The 127.0.0.0/8 source address of client `i` when `perAddress` clients share one, inside 127.<net>.0.0/16. */
export function loopbackAddress(net: number, i: number, perAddress: number): string {
  const a = Math.floor(i / perAddress);
  if (a >= 254 * 256) throw new Error(`client ${i}: more than ${254 * 256} addresses`);
  return `127.${net}.${Math.floor(a / 254)}.${(a % 254) + 1}`;
}
