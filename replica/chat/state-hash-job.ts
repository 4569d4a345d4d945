/**
 * The state check's hash of a large state without stalling the replica. stateHash reads every replicated row (a
 * million messages take seconds), and every replica hashes at the same log index: done at once on the event loop,
 * it froze the whole cluster together, long enough for elections. The job pins the state as applied now (a read
 * transaction on a connection of its own: WAL keeps that snapshot while the state machine goes on applying) and hashes
 * it in slices of a few milliseconds between event-loop turns. Cancelling it ends the read transaction at once (a
 * checkpoint before log compaction needs the WAL free of old readers; a restore or close replaces or closes the file).
 */
import { performance } from 'node:perf_hooks';
import { openSqlite, type Db } from '../storage/sqlite.js';
import { stateHashSteps, type HashScope } from './audit.js';

/** Rows between looks at the clock. */
const ROWS_PER_STEP = 256;
/** Event-loop time one slice may take. */
const SLICE_MS = 4;
/** KiB of pages the hash job's own connection keeps (it reads each page once). */
const HASH_PAGE_CACHE_KIB = 1024;

export class StateHashJob {
  /** The digest, or null when the job was cancelled first. */
  readonly result: Promise<string | null>;
  private readonly db: Db;
  private readonly steps: Generator<void, string>;
  private done = false;
  private settle!: (value: string | null) => void;
  private fail!: (err: unknown) => void;

  /**
   * Pins the state of `file` as committed now; the caller commits what it applied first. `sliceMs`: event-loop time
   * one slice may take (0: a pause after every ROWS_PER_STEP rows). `after`: hashing starts once it settles (a job
   * queued behind another keeps its own snapshot meanwhile).
   */
  constructor(
    file: string,
    scope: HashScope,
    clusterVersion: number,
    private readonly sliceMs = SLICE_MS,
    after: Promise<unknown> = Promise.resolve(),
  ) {
    // One pass over every row: a page cache would not be read twice (better-sqlite3's default would fill 16 MB).
    this.db = openSqlite(file, { readonly: true, cacheKiB: HASH_PAGE_CACHE_KIB });
    try {
      this.db.exec('BEGIN');
      // A read transaction takes its snapshot at its first read: now, not at the first slice.
      this.db.prepare('SELECT count(*) FROM sqlite_master').get();
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.steps = stateHashSteps(this.db, scope, clusterVersion, ROWS_PER_STEP);
    this.result = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    const start = () => setImmediate(() => this.slice());
    after.then(start, start);
  }

  /** Stops the job and releases its snapshot now; its result is null. */
  cancel(): void {
    this.finish(() => this.settle(null));
  }

  private slice(): void {
    if (this.done) return;
    const until = performance.now() + this.sliceMs;
    try {
      for (;;) {
        const step = this.steps.next();
        if (step.done) {
          this.finish(() => this.settle(step.value));
          return;
        }
        if (performance.now() >= until) break;
      }
    } catch (err) {
      this.finish(() => this.fail(err));
      return;
    }
    setImmediate(() => this.slice());
  }

  private finish(report: () => void): void {
    if (this.done) return;
    this.done = true;
    try {
      this.steps.return('');
      this.db.close();
    } finally {
      report();
    }
  }
}
