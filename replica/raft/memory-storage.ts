/**
 * An in-memory LogStore for the simulation and unit tests (etcd's MemoryStorage). It plays the role of the durable
 * store, with the durability of the SQLite store that ships (replica/storage/log-store.ts): whatever save(),
 * compact() and resetToSnapshot() wrote survives a simulated crash, except a change of the commit index alone, which
 * is kept in memory until the next durable write (crash() drops it), and entries saveUnsynced() wrote, which a power
 * cut (crash(true)) drops until a durable write or the sync point taken after them (syncPoint()) covers them.
 *
 * initialState().conf is the bootstrap configuration, or whatever setConfState() recorded (unit tests of the core;
 * the replica and the simulation take the configuration from the state machine instead: replica/node/open-core.ts).
 */
import { copyConf } from './conf.js';
import { limitSize, unsyncedSaveProblem } from './log.js';
import {
  CompactedError,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type LogStore,
  type SaveBatch,
  type SnapshotMeta,
} from './types.js';

export class MemoryStorage implements LogStore {
  private hard: HardState = { term: 0, vote: null, commit: 0 };
  /** The commit index on "disk" when `hard.commit` is newer (a commit-only save), else null. */
  private durableCommit: number | null = null;
  /** The commit index saveUnsynced() last wrote (kept through a process crash, not a power cut, until synced). */
  private walCommit: number | null = null;
  private snap: SnapshotMeta;
  private conf: ConfState;
  /** Entries snap.index+1 .. lastIndex. */
  private ents: Entry[] = [];
  /** Entries from this index on were written by saveUnsynced() and are not on "disk" yet (null: none). */
  private unsyncedFrom: number | null = null;
  /** Counts durable writes: a sync point taken before one has nothing left to cover. */
  private durableWrites = 0;

  /** A fresh store; `conf` is the bootstrap configuration (empty for a replica that will join a cluster). */
  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.snap = { index: 0, term: 0, conf: copyConf(conf) };
    this.conf = copyConf(conf);
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: copyConf(this.conf) };
  }

  /** The term on "disk" (a term is never kept in memory only). */
  savedTerm(): number {
    return this.hard.term;
  }

  /** The hard state a crash now would leave. */
  durableHardState(): HardState {
    return { ...this.hard, commit: this.durableCommit ?? this.hard.commit };
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.snap.index + this.ents.length;
  }

  term(i: number): number {
    if (i < this.snap.index) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    if (i === this.snap.index) return this.snap.term;
    return this.ents[i - this.snap.index - 1].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (lo >= hi) return [];
    const base = this.snap.index + 1;
    return limitSize(this.ents.slice(lo - base, hi - base), maxBytes);
  }

  snapshotMeta(): SnapshotMeta {
    return { index: this.snap.index, term: this.snap.term, conf: copyConf(this.snap.conf) };
  }

  // ---- LogStore: the driver's writes ----

  save(batch: SaveBatch): void {
    const h = batch.hardState;
    if (!batch.snapshot && !batch.entries.length && h && h.term === this.hard.term && h.vote === this.hard.vote) {
      // Commit-only: kept in memory, as the SQLite store does.
      this.durableCommit ??= this.hard.commit;
      this.hard = { ...this.hard, commit: h.commit };
      return;
    }
    if (batch.snapshot) this.applySnapshot(batch.snapshot);
    if (batch.entries.length) this.append(batch.entries);
    if (h) this.setHardState(h);
    this.durableCommit = null;
    this.walCommit = null;
    this.allSynced();
  }

  /** save() of a leader's own appends that does not wait for the disk: a power cut loses them until synced. */
  saveUnsynced(batch: SaveBatch): void {
    const h = batch.hardState;
    const problem = unsyncedSaveProblem(batch, this.hard, this.lastIndex());
    if (problem) throw new Error(`saveUnsynced: ${problem} may not skip the disk`);
    this.append(batch.entries);
    this.unsyncedFrom ??= batch.entries[0].index;
    // The SQLite store writes the hard state with the entries (its commit index too, if changed since it last did).
    this.durableCommit ??= this.hard.commit;
    if (h) this.hard = { ...this.hard, commit: h.commit };
    this.walCommit = this.hard.commit;
  }

  sync(): Promise<void> {
    this.syncPoint()();
    return Promise.resolve();
  }

  /**
   * Where a sync starts: every entry written so far. The returned function marks them durable when the sync completes
   * (the simulation completes it later); a durable write in between already did.
   */
  syncPoint(): () => void {
    const upTo = this.lastIndex();
    const commit = this.walCommit;
    const writes = this.durableWrites;
    return () => {
      if (writes !== this.durableWrites) return;
      if (commit !== null && commit >= (this.durableCommit ?? this.hard.commit)) {
        this.durableCommit = commit >= this.hard.commit ? null : commit;
        if (commit === this.walCommit) this.walCommit = null;
      }
      if (this.unsyncedFrom === null || upTo < this.unsyncedFrom) return;
      this.unsyncedFrom = upTo >= this.lastIndex() ? null : upTo + 1;
    };
  }

  private allSynced(): void {
    this.unsyncedFrom = null;
    this.durableWrites++;
  }

  compact(index: number, term: number, conf: ConfState): void {
    if (index <= this.snap.index) return;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    const actual = this.term(index);
    if (actual !== term) throw new Error(`compact: entry ${index} has term ${actual}, not ${term}`);
    if (this.unsyncedFrom !== null && index >= this.unsyncedFrom) throw new Error(`compact: entry ${index} is not on disk yet`);
    this.ents = this.ents.slice(index - this.snap.index);
    this.snap = { index, term, conf: copyConf(conf) };
  }

  resetToSnapshot(meta: SnapshotMeta): void {
    this.applySnapshot(meta);
    this.durableCommit = null;
    this.allSynced();
  }

  /**
   * A simulated crash: what was only in memory (a commit-only change) is gone; with `powerLoss`, also the entries not
   * synced yet (the operating system had them; the disk did not).
   */
  crash(powerLoss = false): void {
    const commit = (powerLoss ? null : this.walCommit) ?? this.durableCommit;
    if (commit !== null) this.hard = { ...this.hard, commit };
    this.durableCommit = null;
    this.walCommit = null;
    if (powerLoss && this.unsyncedFrom !== null) this.ents = this.ents.slice(0, this.unsyncedFrom - this.snap.index - 1);
    this.unsyncedFrom = null;
  }

  // ---- direct writes (unit tests of the core) ----

  setHardState(hs: HardState): void {
    this.hard = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  setConfState(conf: ConfState): void {
    this.conf = copyConf(conf);
  }

  /** Appends entries, first dropping any existing suffix from entries[0].index on (it conflicts). */
  append(entries: Entry[]): void {
    const fresh = entries.filter((e) => e.index > this.snap.index);
    if (!fresh.length) return;
    const first = fresh[0].index;
    if (first > this.lastIndex() + 1) throw new Error(`append: gap (last index ${this.lastIndex()}, appending ${first})`);
    for (let k = 1; k < fresh.length; k++) {
      if (fresh[k].index !== fresh[k - 1].index + 1) throw new Error('append: entries are not contiguous');
    }
    this.ents.length = first - this.snap.index - 1;
    for (const e of fresh) this.ents.push({ index: e.index, term: e.term, type: e.type, data: e.data });
  }

  /** Drops entries from index `from` on. */
  truncate(from: number): void {
    if (from <= this.snap.index) throw new CompactedError(from);
    if (from > this.lastIndex()) return;
    this.ents.length = from - this.snap.index - 1;
  }

  /** Replaces the whole log with a snapshot received from the leader. The commit index rises to it. */
  applySnapshot(meta: SnapshotMeta): void {
    this.snap = { index: meta.index, term: meta.term, conf: copyConf(meta.conf) };
    this.ents = [];
    this.conf = copyConf(meta.conf);
    if (this.hard.commit < meta.index) this.hard = { ...this.hard, commit: meta.index };
  }
}
