/**
 * The Raft log's entries in `raft.db`, split into segment tables (`entries_<n>`, at most SEGMENT_ENTRIES rows each;
 * `entries` is the single table of schema version 1, read as the oldest segment). Compaction drops whole segments:
 * SQLite clears a table by freeing its pages, while deleting a range of rows rebalances the b-tree row by row, which
 * costs several times the time and two orders of magnitude more WAL (figures in test/bench/README.md).
 *
 * Rows of a segment are contiguous indices. A segment that straddles the compaction point keeps its older rows
 * until it can go whole; they lie below the store's first index and are never read. Every method runs inside the
 * caller's transaction (table creation and drops included: SQLite's DDL is transactional); after a rollback the
 * caller restores the in-memory view with `restore(saved)`.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './sqlite.js';

export const SEGMENT_ENTRIES = 4096;

export interface EntryRow {
  idx: number;
  term: number;
  type: number;
  data: string;
}

interface Segment {
  name: string;
  /** Number in the name (0 for the legacy `entries` table). */
  n: number;
  first: number;
  last: number;
  st?: {
    insert: Statement<[number, number, number, string]>;
    range: Statement<[number, number], EntryRow>;
    termOf: Statement<[number], { term: number }>;
    deleteFrom: Statement<[number]>;
  };
}

export interface SegmentsState {
  segs: { name: string; n: number; first: number; last: number }[];
  nextN: number;
}

const NAME = /^entries(?:_([0-9]+))?$/;

export class LogSegments {
  /** Non-empty segments in index order. */
  private segs: Segment[] = [];
  private nextN = 1;

  constructor(
    private readonly db: Db,
    private readonly segmentEntries = SEGMENT_ENTRIES,
  ) {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND (name = 'entries' OR name GLOB 'entries_[0-9]*')").all() as { name: string }[];
    for (const { name } of tables) {
      const m = NAME.exec(name);
      if (!m) continue;
      const n = m[1] ? Number(m[1]) : 0;
      this.nextN = Math.max(this.nextN, n + 1);
      const r = db.prepare(`SELECT min(idx) AS first, max(idx) AS last, count(*) AS rows FROM "${name}"`).get() as { first: number | null; last: number | null; rows: number };
      if (r.first === null || r.last === null) {
        db.exec(`DROP TABLE "${name}"`);
        continue;
      }
      if (r.last - r.first + 1 !== r.rows) throw new Error(`raft.db: segment ${name} holds ${r.rows} rows for indices ${r.first}..${r.last}`);
      this.segs.push({ name, n, first: r.first, last: r.last });
    }
    this.segs.sort((a, b) => a.first - b.first);
    for (let k = 1; k < this.segs.length; k++) {
      if (this.segs[k].first !== this.segs[k - 1].last + 1) {
        throw new Error(`raft.db: segments ${this.segs[k - 1].name} (..${this.segs[k - 1].last}) and ${this.segs[k].name} (${this.segs[k].first}..) are not contiguous`);
      }
    }
  }

  /** Lowest stored index (possibly below the store's first index), or null when empty. */
  firstStored(): number | null {
    return this.segs.length ? this.segs[0].first : null;
  }

  /** The newest stored entry's index and term, or null when empty. */
  lastEntry(): { index: number; term: number } | null {
    const s = this.segs[this.segs.length - 1];
    if (!s) return null;
    return { index: s.last, term: this.stmts(s).termOf.get(s.last)!.term };
  }

  term(i: number): number | null {
    const s = this.find(i);
    return s ? (this.stmts(s).termOf.get(i)?.term ?? null) : null;
  }

  /** Rows with lo <= idx < hi, in order, across segments. */
  *range(lo: number, hi: number): Generator<EntryRow> {
    for (const s of this.segs) {
      if (s.last < lo) continue;
      if (s.first >= hi) return;
      yield* this.stmts(s).range.iterate(Math.max(lo, s.first), Math.min(hi, s.last + 1));
    }
  }

  /** Appends rows that continue the stored ones (the caller truncated first when they overlap). */
  append(rows: EntryRow[]): void {
    for (const r of rows) {
      let s = this.segs[this.segs.length - 1];
      if (s && r.idx !== s.last + 1) throw new Error(`raft.db: appending ${r.idx} after ${s.last}`);
      if (!s || s.last - s.first + 1 >= this.segmentEntries) {
        const n = this.nextN++;
        const name = `entries_${n}`;
        this.db.exec(`CREATE TABLE "${name}" (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL)`);
        s = { name, n, first: r.idx, last: r.idx - 1 };
        this.segs.push(s);
      }
      this.stmts(s).insert.run(r.idx, r.term, r.type, r.data);
      s.last = r.idx;
    }
  }

  /** Deletes every row with idx >= from (a conflicting suffix). */
  truncateFrom(from: number): void {
    while (this.segs.length) {
      const s = this.segs[this.segs.length - 1];
      if (s.last < from) return;
      if (s.first >= from) {
        this.drop(s);
        this.segs.pop();
      } else {
        this.stmts(s).deleteFrom.run(from);
        s.last = from - 1;
        return;
      }
    }
  }

  /** Drops the segments whose rows all lie at or below `index`. */
  dropThrough(index: number): void {
    while (this.segs.length && this.segs[0].last <= index) this.drop(this.segs.shift()!);
  }

  clear(): void {
    for (const s of this.segs) this.drop(s);
    this.segs = [];
  }

  /** The in-memory view, to put back with restore() if the surrounding transaction rolls back. */
  save(): SegmentsState {
    return { segs: this.segs.map((s) => ({ name: s.name, n: s.n, first: s.first, last: s.last })), nextN: this.nextN };
  }

  restore(saved: SegmentsState): void {
    const byName = new Map(this.segs.map((s) => [s.name, s]));
    this.segs = saved.segs.map((s) => ({ ...s, st: byName.get(s.name)?.st }));
    this.nextN = saved.nextN;
  }

  private drop(s: Segment): void {
    this.db.exec(`DROP TABLE "${s.name}"`);
    s.st = undefined;
  }

  private find(i: number): Segment | null {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (i < s.first) hi = mid - 1;
      else if (i > s.last) lo = mid + 1;
      else return s;
    }
    return null;
  }

  private stmts(s: Segment): NonNullable<Segment['st']> {
    s.st ??= {
      insert: this.db.prepare(`INSERT INTO "${s.name}" (idx, term, type, data) VALUES (?, ?, ?, ?)`),
      range: this.db.prepare(`SELECT idx, term, type, data FROM "${s.name}" WHERE idx >= ? AND idx < ? ORDER BY idx`),
      termOf: this.db.prepare(`SELECT term FROM "${s.name}" WHERE idx = ?`),
      deleteFrom: this.db.prepare(`DELETE FROM "${s.name}" WHERE idx >= ?`),
    };
    return s.st;
  }
}
