/**
 * An in-memory LogStorage for the simulation and unit tests (etcd's MemoryStorage). It plays the role of the durable
 * store: whatever was written here survives a simulated crash, and nothing else does.
 *
 * initialState().conf is the configuration as of the state machine's applied index: the driver records it with
 * setConfState() whenever it applies a conf entry (the SQLite replica keeps it in the state machine instead).
 */
import { copyConf } from './conf.js';
import { limitSize } from './log.js';
import { CompactedError, UnavailableError, type ConfState, type Entry, type HardState, type LogStorage, type SnapshotMeta } from './types.js';

export class MemoryStorage implements LogStorage {
  private hard: HardState = { term: 0, vote: null, commit: 0 };
  private snap: SnapshotMeta;
  private snapData: string | null = null;
  private conf: ConfState;
  /** Entries snap.index+1 .. lastIndex. */
  private ents: Entry[] = [];

  /** A fresh store; `conf` is the bootstrap configuration (empty for a replica that will join a cluster). */
  constructor(conf: ConfState = { voters: [], learners: [] }) {
    this.snap = { index: 0, term: 0, conf: copyConf(conf) };
    this.conf = copyConf(conf);
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: copyConf(this.conf) };
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

  /** The state machine data stored with the snapshot (opaque; null for the bootstrap snapshot). */
  snapshotData(): string | null {
    return this.snapData;
  }

  // ---- writes (the driver's side) ----

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

  /**
   * Records a snapshot of the state machine at `index` (<= the applied index, so committed) and drops the entries
   * up to it. `conf` is the configuration as of `index`.
   */
  compact(index: number, conf: ConfState, data: string | null = null): void {
    if (index <= this.snap.index) return;
    if (index > this.lastIndex()) throw new UnavailableError(index);
    const term = this.term(index);
    this.ents = this.ents.slice(index - this.snap.index);
    this.snap = { index, term, conf: copyConf(conf) };
    this.snapData = data;
  }

  /** Replaces the whole log with a snapshot received from the leader. The commit index rises to it. */
  applySnapshot(meta: SnapshotMeta, data: string | null = null): void {
    this.snap = { index: meta.index, term: meta.term, conf: copyConf(meta.conf) };
    this.snapData = data;
    this.ents = [];
    this.conf = copyConf(meta.conf);
    if (this.hard.commit < meta.index) this.hard = { ...this.hard, commit: meta.index };
  }

  /** Persists a Ready's durable part (snapshot, entries, hard state) as one step. */
  save(rd: { snapshot?: SnapshotMeta; entries: Entry[]; hardState?: HardState }, snapshotData: string | null = null): void {
    if (rd.snapshot) this.applySnapshot(rd.snapshot, snapshotData);
    if (rd.entries.length) this.append(rd.entries);
    if (rd.hardState) this.setHardState(rd.hardState);
  }
}
