/**
 * The core's view of the Raft log: the stable part lives in LogStorage (durable, written by the driver), the
 * unstable tail (and a snapshot received from the leader but not yet persisted) lives here in memory until the
 * driver acknowledges the Ready that carried it (advance). Modelled on etcd-io/raft's raftLog + unstable.
 *
 * Invariants:
 * - `offset - 1` is the last index of the stable prefix of the core's view; entries at index >= offset come from
 *   `entries` (storage may still hold older, conflicting entries there: the next Ready truncates them).
 * - `committed` never decreases and never exceeds lastIndex(); `applied <= applying <= committed`.
 */
import { CompactedError, UnavailableError, type Entry, type HardState, type LogStorage, type SaveBatch, type SnapshotMeta } from './types.js';

/** Size of an entry for batching limits: its data length (UTF-16 code units; close to UTF-8 bytes for text). */
export function entrySize(e: Entry): number {
  return e.data.length;
}

/** Keeps entries from the front while the total size stays within maxBytes (always at least one). */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let total = entrySize(ents[0]);
  let n = 1;
  for (; n < ents.length; n++) {
    total += entrySize(ents[n]);
    if (total > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * Why a LogStore may not save `batch` without waiting for the disk (saveUnsynced), or null: only a leader's new
 * entries in its saved term and vote (and a commit index) may; nothing that overwrites the log, no snapshot, no new
 * term or vote (a message may carry those only once they are on disk).
 */
export function unsyncedSaveProblem(batch: SaveBatch, saved: HardState, lastIndex: number): string | null {
  if (batch.snapshot) return 'a snapshot';
  if (!batch.entries.length) return 'no entries';
  if (batch.entries[0].index !== lastIndex + 1) return `entries from ${batch.entries[0].index}, not right after the last index ${lastIndex}`;
  const h = batch.hardState;
  if (h && (h.term !== saved.term || h.vote !== saved.vote)) return 'a new term or vote';
  return null;
}

export class RaftLogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftLogError';
  }
}

/**
 * The leader sent an entry that conflicts with one this replica already committed: the logs diverged, which Raft
 * rules out unless a disk lost or changed acknowledged data. Continuing would apply different histories.
 */
export class LogDivergenceError extends RaftLogError {
  constructor(
    readonly index: number,
    readonly committed: number,
  ) {
    super(`the leader's entry ${index} conflicts with committed entry ${index} (committed up to ${committed})`);
    this.name = 'LogDivergenceError';
  }
}

class Unstable {
  /** A snapshot from the leader not yet persisted (set only on followers restoring). */
  snapshot: SnapshotMeta | null = null;
  entries: Entry[] = [];
  offset: number;
  /** Entries below this index (and the snapshot if snapshotInProgress) were handed out in a Ready. */
  offsetInProgress: number;
  snapshotInProgress = false;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.index;
    return null;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot ? this.snapshot.index + 1 : null;
  }

  maybeTerm(i: number): number | null {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.index === i) return this.snapshot.term;
      return null;
    }
    const last = this.maybeLastIndex();
    if (last === null || i > last) return null;
    return this.entries[i - this.offset].term;
  }

  nextEntries(): Entry[] {
    const k = this.offsetInProgress - this.offset;
    if (k >= this.entries.length) return [];
    return this.entries.slice(k);
  }

  nextSnapshot(): SnapshotMeta | null {
    return this.snapshot && !this.snapshotInProgress ? this.snapshot : null;
  }

  acceptInProgress(): void {
    if (this.entries.length) this.offsetInProgress = this.offset + this.entries.length;
    if (this.snapshot) this.snapshotInProgress = true;
  }

  /** The driver persisted entries up to (index, term): drop them from memory if they are still ours. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === null || index < this.offset || t !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    if (this.offsetInProgress < this.offset) this.offsetInProgress = this.offset;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  restore(s: SnapshotMeta): void {
    this.offset = s.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  truncateAndAppend(ents: Entry[]): void {
    const from = ents[0].index;
    if (from === this.offset + this.entries.length) {
      this.entries.push(...ents);
    } else if (from <= this.offset) {
      // Replaces the whole unstable tail (and shadows storage from `from` on).
      this.offset = from;
      this.offsetInProgress = from;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, from - this.offset).concat(ents);
      if (this.offsetInProgress > from) this.offsetInProgress = from;
    }
  }
}

export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  committed: number;
  /** Highest index handed out for applying in a Ready. */
  applying: number;
  /** Highest index the driver acknowledged as applied (advance). */
  applied: number;
  /**
   * Entries above this index were saved without waiting for the disk (a leader's own appends: saved(..., false))
   * and are not known durable yet; null when every stable entry is durable. They are neither counted for the
   * leader itself nor applied until persisted() or a durable save covers them.
   */
  private durableUpTo: number | null = null;
  private readonly maxApplyBytes: number;

  constructor(storage: LogStorage, applied: number, commit: number, maxApplyBytes: number) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.maxApplyBytes = maxApplyBytes;
    const first = storage.firstIndex();
    if (applied < first - 1) {
      throw new RaftLogError(`applied index ${applied} is below the storage snapshot index ${first - 1}: load the snapshot into the state machine first`);
    }
    const last = storage.lastIndex();
    if (applied > last) throw new RaftLogError(`applied index ${applied} is beyond the last log index ${last}`);
    if (commit > last) throw new RaftLogError(`commit index ${commit} is beyond the last log index ${last}`);
    this.committed = Math.max(commit, applied, first - 1);
    this.applied = applied;
    this.applying = applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Last index of the persisted prefix of this log (what a leader may count for itself). */
  stableIndex(): number {
    if (this.unstable.snapshot) return 0;
    return this.unstable.offset - 1;
  }

  /** Last index of the durable prefix of this log: stableIndex() except after saves that did not wait for the disk. */
  durableIndex(): number {
    const stable = this.stableIndex();
    return this.durableUpTo === null ? stable : Math.min(this.durableUpTo, stable);
  }

  /**
   * The driver saved entries up to (index, term) (advance). `durable`: the save waited for the disk, which also makes
   * every earlier save durable. Otherwise the entries above the durable prefix wait for persisted().
   */
  saved(index: number, term: number, durable: boolean): void {
    if (!durable && this.durableUpTo === null) this.durableUpTo = this.stableIndex();
    this.unstable.stableTo(index, term);
    if (durable) this.durableUpTo = null;
  }

  /** A durable save without entries (a snapshot's) made every earlier save durable too. */
  allDurable(): void {
    this.durableUpTo = null;
  }

  /**
   * The disk has every save made before the driver asked it to sync, the last of them up to (index, term). Ignored
   * when the log no longer holds that entry (truncated since, as a follower: a durable save covered that already).
   */
  persisted(index: number, term: number): boolean {
    if (this.durableUpTo === null || index <= this.durableUpTo || this.termOrNull(index) !== term) return false;
    this.durableUpTo = index >= this.stableIndex() ? null : index;
    return true;
  }

  /** Term of entry i; throws CompactedError below firstIndex()-1, UnavailableError above lastIndex(). */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t !== null) return t;
    const dummy = this.firstIndex() - 1;
    if (i < dummy) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.storage.term(i);
  }

  /** Term of entry i, or null when it is compacted or not in the log (no exception: this sits on hot paths). */
  termOrNull(i: number): number | null {
    if (i < 0) return null;
    const t = this.unstable.maybeTerm(i);
    if (t !== null) return t;
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return null;
    return this.storage.term(i);
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  matchTerm(i: number, t: number): boolean {
    return this.termOrNull(i) === t;
  }

  /** A candidate's log (lastIndex, lastTerm) is at least as up to date as ours (Raft §5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi) limited to maxBytes (at least one). Throws CompactedError when lo was compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo);
    const last = this.lastIndex();
    if (hi > last + 1) throw new RaftLogError(`slice [${lo}, ${hi}) out of bound [${first}, ${last}]`);
    const off = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < off) {
      const sHi = Math.min(hi, off);
      ents = this.storage.entries(lo, sHi, maxBytes);
      if (ents.length < sHi - lo) return ents; // size limit reached inside the stable part
    }
    if (hi > off) {
      const u = this.unstable.entries.slice(Math.max(lo, off) - off, hi - off);
      ents = ents.length ? ents.concat(u) : u;
    }
    return limitSize(ents, maxBytes);
  }

  /** Entries from i to the end, limited to maxBytes. */
  entriesFrom(i: number, maxBytes: number): Entry[] {
    const last = this.lastIndex();
    if (i > last) return [];
    return this.slice(i, last + 1, maxBytes);
  }

  /** Leader append: entries must directly follow lastIndex(). Returns the new last index. */
  append(ents: Entry[]): number {
    if (!ents.length) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) throw new RaftLogError(`append after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * Follower append (AppendEntries receiver, Figure 2 steps 2-5): if the entry at `index` has `logTerm`, appends
   * `ents` (after `index`) truncating any conflicting suffix, advances commit to min(leaderCommit, last new index)
   * and returns the last new index; otherwise returns null.
   */
  maybeAppend(index: number, logTerm: number, leaderCommit: number, ents: Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) throw new LogDivergenceError(ci, this.committed);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /**
   * An append from the leader whose previous entry (index, logTerm) or entries reach into our committed prefix must
   * agree with it wherever we still hold the entry: throws LogDivergenceError otherwise.
   */
  checkCommittedPrefix(index: number, logTerm: number, ents: readonly Entry[]): void {
    const mine = this.termOrNull(index);
    if (mine !== null && mine !== logTerm && index <= this.committed) throw new LogDivergenceError(index, this.committed);
    for (const e of ents) {
      if (e.index > this.committed) return;
      const t = this.termOrNull(e.index);
      if (t !== null && t !== e.term) throw new LogDivergenceError(e.index, this.committed);
    }
  }

  /** Index of the first entry of ents that is not in our log with the same term, or 0 if all are present. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= `index` whose term is <= `term` (and that term). Returns the index with
   * term 0 when it hits the compacted part.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const t = this.termOrNull(index);
      if (t === null) return { index, term: 0 };
      if (t <= term) return { index, term: t };
    }
    return { index: 0, term: 0 };
  }

  commitTo(c: number): void {
    if (c <= this.committed) return;
    if (c > this.lastIndex()) throw new RaftLogError(`commit ${c} is out of range [last index ${this.lastIndex()}]`);
    this.committed = c;
  }

  /** Commit rule: only an entry of the current term is committed by counting replicas (Raft §5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.termOrNull(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /**
   * Committed entries not yet handed out for applying (none while a snapshot is pending). Not above the durable prefix
   * while saves wait for the disk: a state that applied entries its own log could lose in a power cut would be ahead
   * of that log at start-up. (Entries a durable save is about to write are handed out with it: the driver applies
   * after it saves.)
   */
  nextCommittedEntries(): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.applicable() + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxApplyBytes);
  }

  hasNextCommittedEntries(): boolean {
    return !this.hasPendingSnapshot() && this.applicable() > this.applying;
  }

  private applicable(): number {
    return this.durableUpTo === null ? this.committed : Math.min(this.committed, this.durableIndex());
  }

  acceptApplying(index: number): void {
    if (index > this.applying) this.applying = index;
  }

  appliedTo(index: number): void {
    if (index <= this.applied) return;
    if (index > this.committed) throw new RaftLogError(`applied ${index} is beyond committed ${this.committed}`);
    this.applied = index;
    if (this.applying < index) this.applying = index;
  }

  /** Replaces the whole log by a snapshot (follower InstallSnapshot). */
  restore(s: SnapshotMeta): void {
    this.committed = s.index;
    this.unstable.restore(s);
  }

  /** The snapshot (handed out earlier) was persisted and loaded into the state machine. */
  snapshotApplied(index: number): void {
    this.unstable.stableSnapTo(index);
    if (index > this.applied) this.applied = index;
    if (index > this.applying) this.applying = index;
  }

  /** Scans (lo, hi] for conf entries. */
  hasConfEntryIn(lo: number, hi: number): boolean {
    let i = Math.max(lo + 1, this.firstIndex());
    while (i <= hi) {
      const ents = this.slice(i, hi + 1, 1 << 20);
      for (const e of ents) if (e.type === 'conf') return true;
      i += ents.length;
    }
    return false;
  }
}
