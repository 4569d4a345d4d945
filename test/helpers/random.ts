/**
 * The seeded random generator of the tests, simulation, chaos runs and benchmark (mulberry32 over a
 * splitmix32-scrambled seed): deterministic, fast, good enough for schedules and data. A seed replays a run.
 */
export class Rng {
  private s: number;
  constructor(seed: number) {
    let z = (seed >>> 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.s = (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /** A derived, independent generator. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }

  /** A `() => number` for RaftOptions.random. */
  fn(): () => number {
    return () => this.next();
  }
}

/** A seeded uniform [0, 1) function, for options that take `random: () => number`. */
export function seededRandom(seed: number): () => number {
  return new Rng(seed).fn();
}
