/**
 * Durable Raft state in SQLite (`<dataDir>/raft.db`): the hard state (term, vote, commit), the log entries
 * after the last snapshot, and the snapshot's metadata. Implements the core's LogStorage contract.
 *
 * Invariant: the segment tables (log-segments.ts) hold every index in [snapshot.index + 1, lastIndex], contiguous
 * (plus, at most, older rows of the one segment that straddles the snapshot index, never read).
 * Every save() is one transaction, so one fsync (synchronous=FULL under WAL) covers the whole batch of
 * hard state + entries + snapshot (group commit). Costs never depend on the log's size: appends and term
 * lookups go through the INTEGER PRIMARY KEY, truncation deletes a key range, compaction drops whole segment
 * tables, and the last index/term, the hard state, the snapshot metadata and the newest entries are in memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Statement } from 'better-sqlite3';
import { VersionStopError } from '../util/replica-stop-error.js';
import {
  CompactedError,
  UnavailableError,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type LogStore,
  type SaveBatch,
  type SnapshotMeta,
} from '../raft/types.js';
import { copyConf, EMPTY_CONF } from '../raft/conf.js';
import { entrySize, unsyncedSaveProblem } from '../raft/log.js';
import { openSqlite, type Db } from './sqlite.js';
import { LogSegments } from './log-segments.js';

/**
 * 1: one `entries` table. 2: segment tables `entries_<n>` (log-segments.ts); a version-1 file opens unchanged.
 * 3: every entry row carries a checksum (`crc`); a version-1 or -2 file gets them, computed from its rows, at open.
 */
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hard_state (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  term INTEGER NOT NULL,
  vote TEXT,
  commit_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_meta (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  idx INTEGER NOT NULL,
  term INTEGER NOT NULL,
  conf TEXT NOT NULL
);
`;


/**
 * The newest entries are also kept in memory (at most this many, and this many bytes of data): the core reads
 * entries back right after writing them (to apply them once committed, to send them to followers), and those reads
 * then cost no query. Older ranges (a lagging follower) come from SQLite.
 */
const TAIL_MAX_ENTRIES = 16_384;
const TAIL_MAX_BYTES = 16 * 1024 * 1024;

/**
 * raft.db's page cache (KiB). Entries are written once and read back from the tail above, so SQLite needs little
 * more than the B-tree's path to its newest leaf; better-sqlite3's default of 16 MB filled with pages of entries
 * nobody reads (test/bench/README.md "Figures behind constants").
 */
const PAGE_CACHE_KIB = 2048;

/**
 * Page size of a new raft.db (an existing file keeps its own). Every save() is one commit, and a commit writes whole
 * pages to the WAL: the last, partly filled leaf of the segment table again, its parent, the hard state, page 1. At
 * 4 KiB (SQLite's default) those cost ~16 KiB per batch on top of the entries; at 1 KiB ~4 KiB. An entry of a 256-byte
 * send (~460 bytes) still fits a 1 KiB page twice; a bigger one takes overflow pages. The figures (disk written per
 * write, 3 replicas, 1 and 64 in flight) are in test/bench/README.md.
 */
const PAGE_SIZE = 1024;

function typeCode(t: EntryType): number {
  return t === 'conf' ? 1 : 0;
}

function assertIndex(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${n}`);
}

export class SqliteLogStore implements LogStore {
  readonly file: string;
  private readonly db: Db;
  private hard: HardState;
  private snap: SnapshotMeta;
  private last: { index: number; term: number };
  private closed = false;
  /** The in-memory hard state has a newer commit index than the one on disk (commit-only saves are not written). */
  private hardDirty = false;
  /** In-memory copy of entries [tailStart, last.index] (contiguous; empty when tail.length is 0). */
  private tail: Entry[] = [];
  private tailSizes: number[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  private tailMaxEntries = TAIL_MAX_ENTRIES;
  private tailMaxBytes = TAIL_MAX_BYTES;

  private readonly segments: LogSegments;
  private readonly st: {
    putHard: Statement<[number, string | null, number]>;
    putSnap: Statement<[number, number, string]>;
    syncNormal: Statement<[]>;
    syncFull: Statement<[]>;
  };
  /** The WAL file, opened on the first sync() (fsync through any descriptor flushes the file). */
  private walFd: number | null = null;
  /** sync() calls on the thread pool: the descriptor is closed only once none is. */
  private syncing = 0;

  private constructor(file: string, db: Db, segmentEntries?: number) {
    this.file = file;
    this.db = db;
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new VersionStopError(`${file}: raft.db schema version ${version} is newer than this Quorum understands (${SCHEMA_VERSION}); upgrade this replica`);
    }
    if (version < 0) {
      db.close();
      throw new Error(`${file}: unknown raft.db schema version ${version}`);
    }
    let segments: LogSegments | undefined;
    try {
      // One transaction: a migration (checksums added to an older file) happens whole or not at all.
      db.transaction(() => {
        db.exec(SCHEMA);
        segments = new LogSegments(db, file, segmentEntries);
        if (version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    } catch (err) {
      db.close();
      throw new Error(`${file}: corrupt log: ${(err as Error).message}`, { cause: err });
    }
    this.segments = segments!;

    this.st = {
      putHard: db.prepare(
        'INSERT INTO hard_state (id, term, vote, commit_index) VALUES (0, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_index = excluded.commit_index',
      ),
      putSnap: db.prepare(
        'INSERT INTO snapshot_meta (id, idx, term, conf) VALUES (0, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET idx = excluded.idx, term = excluded.term, conf = excluded.conf',
      ),
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
    };

    const h = db.prepare('SELECT term, vote, commit_index FROM hard_state WHERE id = 0').get() as
      | { term: number; vote: string | null; commit_index: number }
      | undefined;
    this.hard = h ? { term: h.term, vote: h.vote, commit: h.commit_index } : { term: 0, vote: null, commit: 0 };

    const s = db.prepare('SELECT idx, term, conf FROM snapshot_meta WHERE id = 0').get() as
      | { idx: number; term: number; conf: string }
      | undefined;
    this.snap = s ? { index: s.idx, term: s.term, conf: JSON.parse(s.conf) as ConfState } : { index: 0, term: 0, conf: copyConf(EMPTY_CONF) };

    try {
      const l = this.segments.lastEntry();
      this.last = l && l.index > this.snap.index ? l : { index: this.snap.index, term: this.snap.term };
      // Rows below the snapshot index may remain in a segment that straddles it (dropped with that segment later);
      // but nothing may be missing between the snapshot and the last entry.
      const f = this.segments.firstStored();
      if (l && l.index > this.snap.index && f !== null && f > this.snap.index + 1) {
        throw new Error(`${file}: corrupt log: first entry ${f} does not follow snapshot index ${this.snap.index}`);
      }
      // Every entry the replica may still read is checked now (as etcd reads its whole WAL at start): a damaged file
      // is refused at start rather than when a follower happens to need the entry. The log is bounded by compaction.
      this.segments.verify(this.snap.index + 1, this.last.index + 1);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Opens (creating if needed) `<dir>/raft.db`. `tail` bounds the in-memory copy of the newest entries;
   * `segmentEntries` the rows per segment table (tests use small ones).
   */
  static open(dir: string, tail: { maxEntries?: number; maxBytes?: number } = {}, segmentEntries?: number): SqliteLogStore {
    const file = path.join(dir, 'raft.db');
    const store = new SqliteLogStore(file, openSqlite(file, { pageSize: PAGE_SIZE, cacheKiB: PAGE_CACHE_KIB }), segmentEntries);
    store.tailMaxEntries = tail.maxEntries ?? TAIL_MAX_ENTRIES;
    store.tailMaxBytes = tail.maxBytes ?? TAIL_MAX_BYTES;
    return store;
  }

  // ---- LogStorage ----

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: copyConf(this.snap.conf) };
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.last.index;
  }

  term(i: number): number {
    if (i < this.snap.index) throw new CompactedError(i);
    if (i > this.last.index) throw new UnavailableError(i);
    if (i === this.snap.index) return this.snap.term;
    if (i === this.last.index) return this.last.term;
    if (this.tail.length && i >= this.tailStart) return this.tail[i - this.tailStart].term;
    const term = this.segments.term(i);
    if (term === null) throw new Error(`${this.file}: log entry ${i} missing`);
    return term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    if (hi > this.last.index + 1) throw new UnavailableError(hi - 1);
    const out: Entry[] = [];
    if (lo >= hi) return out;
    let total = 0;
    if (this.tail.length && lo >= this.tailStart) {
      for (let i = lo; i < hi; i++) {
        const k = i - this.tailStart;
        const size = this.tailSizes[k];
        if (out.length > 0 && total + size > maxBytes) break;
        total += size;
        out.push(this.tail[k]);
      }
      return out;
    }
    for (const row of this.segments.range(lo, hi)) {
      const size = row.data.length; // the contract's measure (LogStorage.entries, limitSize in raft/log.ts)
      if (out.length > 0 && total + size > maxBytes) break;
      total += size;
      out.push({ index: row.idx, term: row.term, type: row.type === 1 ? 'conf' : 'normal', data: row.data });
    }
    return out;
  }

  snapshotMeta(): SnapshotMeta {
    return { index: this.snap.index, term: this.snap.term, conf: copyConf(this.snap.conf) };
  }

  // ---- writes ----

  /**
   * Persists a Ready batch in one transaction (one fsync): first the snapshot (drops the whole log, as the core
   * only hands one over when its log does not contain the snapshot's last entry), then the entries (any existing
   * suffix from the first new index on is deleted first: it conflicts), then the hard state.
   * Entries at or below the snapshot index are skipped (already covered by the snapshot).
   */
  save(batch: SaveBatch): void {
    this.assertOpen();
    const entries = batch.entries ?? [];
    for (let k = 1; k < entries.length; k++) {
      if (entries[k].index !== entries[k - 1].index + 1) {
        throw new Error(`save: entries not contiguous (${entries[k - 1].index} then ${entries[k].index})`);
      }
    }
    const hard = this.hard;
    // Only the commit index changed: it need not be durable (a replica re-learns it from the leader, and the core
    // takes max(commit, applied) at start-up), so it is kept in memory and written with the next durable batch.
    // No transaction at all: this sits on the leader's path from a majority's acknowledgement to its answer.
    const onlyCommit =
      entries.length === 0 && !batch.snapshot && !!batch.hardState && batch.hardState.term === hard.term && batch.hardState.vote === hard.vote;
    if (onlyCommit) {
      this.hard = { ...hard, commit: batch.hardState!.commit };
      this.hardDirty = true;
      return;
    }
    this.saveInTx(batch, entries);
  }

  /**
   * save() that returns before the disk has it: the commit goes to the WAL (synchronous=NORMAL: no fsync, unless it
   * checkpoints, and a checkpoint syncs as it must), so the process dying loses nothing and a power cut loses it
   * until sync() or a later save() (FULL: its fsync of the WAL covers every frame before its own). For a leader's own
   * appends, which the core counts only once sync() resolves (Raft.advance 'pending').
   */
  saveUnsynced(batch: SaveBatch): void {
    this.assertOpen();
    const problem = unsyncedSaveProblem(batch, this.hard, this.last.index);
    if (problem) throw new Error(`${this.file}: saveUnsynced: ${problem} may not skip the disk`);
    this.st.syncNormal.run();
    try {
      this.save(batch);
    } finally {
      this.st.syncFull.run();
    }
  }

  /** fsync of the WAL on libuv's thread pool: resolves once every save made before the call is on the disk. */
  sync(): Promise<void> {
    this.assertOpen();
    this.walFd ??= fs.openSync(`${this.file}-wal`, 'r');
    const fd = this.walFd;
    this.syncing++;
    return new Promise((resolve, reject) => {
      fs.fsync(fd, (err) => {
        this.syncing--;
        if (this.closed) this.closeWal();
        if (err) reject(new Error(`${this.file}-wal: fsync failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }

  private closeWal(): void {
    if (this.walFd === null || this.syncing > 0) return;
    fs.closeSync(this.walFd);
    this.walFd = null;
  }

  private saveInTx(batch: SaveBatch, entries: Entry[]): void {
    let snap = this.snap;
    let last = this.last;
    let hard = this.hard;
    let fresh: Entry[] = [];
    this.inTx(() => {
      if (batch.snapshot) {
        ({ snap, last, hard } = this.resetInTx(batch.snapshot, hard));
      }
      fresh = entries.filter((e) => e.index > snap.index);
      if (fresh.length > 0) {
        const first = fresh[0].index;
        if (first > last.index + 1) throw new Error(`save: gap in log (last index ${last.index}, appending ${first})`);
        if (first <= last.index) this.segments.truncateFrom(first);
        for (const e of fresh) assertIndex('entry.term', e.term);
        this.segments.append(fresh.map((e) => ({ idx: e.index, term: e.term, type: typeCode(e.type), data: e.data })));
        const tail = fresh[fresh.length - 1];
        last = { index: tail.index, term: tail.term };
      }
      if (batch.hardState) {
        hard = { term: batch.hardState.term, vote: batch.hardState.vote, commit: batch.hardState.commit };
        this.st.putHard.run(hard.term, hard.vote, hard.commit);
      } else if (this.hardDirty) {
        this.st.putHard.run(hard.term, hard.vote, hard.commit);
      }
    });
    if (batch.snapshot) this.clearTail();
    if (fresh.length) this.addToTail(fresh);
    this.snap = snap;
    this.last = last;
    this.hard = hard;
    this.hardDirty = false;
  }

  /** Log compaction after a state machine snapshot at `index`: drops entries <= index and records the snapshot. */
  compact(index: number, term: number, conf: ConfState): void {
    this.assertOpen();
    assertIndex('index', index);
    if (index <= this.snap.index) return; // already compacted that far
    if (index > this.last.index) throw new UnavailableError(index);
    const actual = this.term(index);
    if (actual !== term) throw new Error(`compact: entry ${index} has term ${actual}, not ${term}`);
    const snap: SnapshotMeta = { index, term, conf: copyConf(conf) };
    this.inTx(() => {
      this.segments.dropThrough(index);
      this.st.putSnap.run(snap.index, snap.term, JSON.stringify(snap.conf));
    });
    this.snap = snap;
    if (this.last.index === index) this.last = { index, term };
    if (this.tail.length && index >= this.tailStart) this.dropTailThrough(index);
  }

  /**
   * The in-memory copy of the newest entries, which answers `term` and `entries` without SQLite: how many entries,
   * their total size (entrySize) and the first one's index (0 when empty). Bounded by `open`'s `tail` option.
   */
  cacheStats(): { entries: number; bytes: number; first: number } {
    return { entries: this.tail.length, bytes: this.tailBytes, first: this.tail.length ? this.tailStart : 0 };
  }

  private clearTail(): void {
    this.tail = [];
    this.tailSizes = [];
    this.tailBytes = 0;
    this.tailStart = 0;
  }

  /** Entries just written (contiguous, after any truncation they caused): appended to the in-memory tail. */
  private addToTail(fresh: Entry[]): void {
    const first = fresh[0].index;
    if (this.tail.length) {
      const end = this.tailStart + this.tail.length; // one past the tail's last index
      if (first < this.tailStart || first > end) this.clearTail();
      else if (first < end) {
        // A conflicting suffix was replaced: cut the tail where the new entries start.
        const keep = first - this.tailStart;
        for (let k = keep; k < this.tailSizes.length; k++) this.tailBytes -= this.tailSizes[k];
        this.tail.length = keep;
        this.tailSizes.length = keep;
      }
    }
    if (!this.tail.length) this.tailStart = first;
    for (const e of fresh) {
      const size = entrySize(e);
      this.tail.push(e);
      this.tailSizes.push(size);
      this.tailBytes += size;
    }
    // Trimmed in steps (a splice moves the whole array), not by a few entries on every save.
    const slack = Math.ceil(this.tailMaxEntries / 16);
    if (this.tail.length <= this.tailMaxEntries + slack && this.tailBytes <= this.tailMaxBytes) return;
    const excess = Math.max(this.tail.length - this.tailMaxEntries, 0);
    let drop = excess;
    let bytes = this.tailBytes;
    for (let k = 0; k < excess; k++) bytes -= this.tailSizes[k];
    while (bytes > this.tailMaxBytes && drop < this.tail.length - 1) bytes -= this.tailSizes[drop++];
    if (drop) this.dropTailThrough(this.tailStart + drop - 1);
  }

  private dropTailThrough(index: number): void {
    const n = Math.min(index - this.tailStart + 1, this.tail.length);
    if (n <= 0) return;
    for (let k = 0; k < n; k++) this.tailBytes -= this.tailSizes[k];
    this.tail.splice(0, n);
    this.tailSizes.splice(0, n);
    this.tailStart += n;
    if (!this.tail.length) this.clearTail();
  }

  /**
   * Replaces the whole log by a snapshot received from the leader (InstallSnapshot): drops every entry and
   * records the snapshot metadata. The commit index is raised to the snapshot index (a snapshot is committed).
   */
  resetToSnapshot(meta: SnapshotMeta): void {
    this.assertOpen();
    let out!: { snap: SnapshotMeta; last: { index: number; term: number }; hard: HardState };
    this.inTx(() => {
      out = this.resetInTx(meta, this.hard);
    });
    this.clearTail();
    this.snap = out.snap;
    this.last = out.last;
    this.hard = out.hard;
  }

  /**
   * Addition: records the initial configuration of a brand-new store (snapshot meta at index 0, term 0), so
   * initialState().conf returns it. Refuses if the store already holds any state.
   */
  bootstrap(conf: ConfState): void {
    this.assertOpen();
    if (this.snap.index !== 0 || this.last.index !== 0 || this.hard.term !== 0) {
      throw new Error('bootstrap: the log store is not empty');
    }
    // The initial configuration is a snapshot at index 1, term 1 (the state machine holds the same), so the log
    // starts at 2 and a replica that joins later catches up by snapshot.
    const snap: SnapshotMeta = { index: 1, term: 1, conf: copyConf(conf) };
    this.db.transaction(() => {
      this.st.putSnap.run(1, 1, JSON.stringify(snap.conf));
      this.st.putHard.run(1, null, 1);
    })();
    this.snap = snap;
    this.last = { index: 1, term: 1 };
    this.hard = { term: 1, vote: null, commit: 1 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A clean shutdown keeps the latest commit index (not required for safety; it spares a re-learn). The file is
    // closed even when that write fails (a full disk).
    try {
      if (this.hardDirty) this.st.putHard.run(this.hard.term, this.hard.vote, this.hard.commit);
    } finally {
      this.db.close();
      this.closeWal();
    }
  }

  private resetInTx(meta: SnapshotMeta, hard: HardState) {
    assertIndex('snapshot.index', meta.index);
    assertIndex('snapshot.term', meta.term);
    const snap: SnapshotMeta = { index: meta.index, term: meta.term, conf: copyConf(meta.conf) };
    this.segments.clear();
    this.st.putSnap.run(snap.index, snap.term, JSON.stringify(snap.conf));
    let nextHard = hard;
    if (hard.commit < snap.index) {
      nextHard = { ...hard, commit: snap.index };
      this.st.putHard.run(nextHard.term, nextHard.vote, nextHard.commit);
    }
    return { snap, last: { index: snap.index, term: snap.term }, hard: nextHard };
  }

  /** One transaction; if it rolls back, so does the in-memory view of the segment tables. */
  private inTx(fn: () => void): void {
    const saved = this.segments.save();
    try {
      this.db.transaction(fn)();
    } catch (err) {
      this.segments.restore(saved);
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.file}: log store is closed`);
  }
}
