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
 *
 * Every row carries a CRC-32 of its index, term, type and data (`crc`), as etcd's WAL records do, checked whenever a
 * row is read: a damaged row throws DamagedLogError instead of reaching the core. Tables of schema versions 1 and 2
 * (no `crc` column) get the column, filled from their rows, when opened.
 */
import { crc32 } from 'node:zlib';
import type { Statement } from 'better-sqlite3';
import type { Db } from './sqlite.js';

export const SEGMENT_ENTRIES = 4096;

export interface EntryRow {
  idx: number;
  term: number;
  type: number;
  data: string;
}

interface StoredRow extends EntryRow {
  /** null only in a row a migration did not reach (never, once opened): damaged. */
  crc: number | null;
}

/** CRC-32 of an entry as stored (index, term, type and data). */
export function entryChecksum(idx: number, term: number, type: number, data: string): number {
  return crc32(data, crc32(`${idx}/${term}/${type}/`));
}

/** A row of raft.db whose checksum does not match: the file was damaged (disk, or edited). */
export class DamagedLogError extends Error {
  constructor(
    readonly file: string,
    readonly index: number,
  ) {
    super(
      `${file}: log entry ${index} is damaged (its checksum does not match), so this replica's log cannot be trusted; ` +
        'rebuild the replica as "A damaged replica" in docs/operations.md says',
    );
    this.name = 'DamagedLogError';
  }
}

interface Segment {
  name: string;
  /** Number in the name (0 for the legacy `entries` table). */
  n: number;
  first: number;
  last: number;
  st?: {
    insert: Statement<[number, number, number, string, number]>;
    range: Statement<[number, number], StoredRow>;
    rowAt: Statement<[number], StoredRow>;
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

  /** Opens the segment tables of `file` (run it inside a transaction: tables without checksums are migrated). */
  constructor(
    private readonly db: Db,
    private readonly file: string,
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
      if (r.last - r.first + 1 !== r.rows) throw new Error(`${file}: segment ${name} holds ${r.rows} rows for indices ${r.first}..${r.last}`);
      this.addChecksums(name);
      this.segs.push({ name, n, first: r.first, last: r.last });
    }
    this.segs.sort((a, b) => a.first - b.first);
    for (let k = 1; k < this.segs.length; k++) {
      if (this.segs[k].first !== this.segs[k - 1].last + 1) {
        throw new Error(`${file}: segments ${this.segs[k - 1].name} (..${this.segs[k - 1].last}) and ${this.segs[k].name} (${this.segs[k].first}..) are not contiguous`);
      }
    }
  }

  /** A table of schema version 1 or 2 has no checksums: add the column and fill it from the rows as they are. */
  private addChecksums(name: string): void {
    const columns = this.db.prepare(`SELECT name FROM pragma_table_info('${name}')`).all() as { name: string }[];
    if (columns.some((c) => c.name === 'crc')) return;
    this.db.function('quorum_entry_crc', { deterministic: true }, (idx, term, type, data) =>
      entryChecksum(Number(idx), Number(term), Number(type), String(data)),
    );
    this.db.exec(`ALTER TABLE "${name}" ADD COLUMN crc INTEGER`);
    this.db.exec(`UPDATE "${name}" SET crc = quorum_entry_crc(idx, term, type, data)`);
  }

  /** Lowest stored index (possibly below the store's first index), or null when empty. */
  firstStored(): number | null {
    return this.segs.length ? this.segs[0].first : null;
  }

  /** The newest stored entry's index and term, or null when empty. */
  lastEntry(): { index: number; term: number } | null {
    const s = this.segs[this.segs.length - 1];
    if (!s) return null;
    return { index: s.last, term: this.checked(this.stmts(s).rowAt.get(s.last)!).term };
  }

  term(i: number): number | null {
    const s = this.find(i);
    const row = s ? this.stmts(s).rowAt.get(i) : undefined;
    return row ? this.checked(row).term : null;
  }

  /** Rows with lo <= idx < hi, in order, across segments, each checked against its checksum. */
  *range(lo: number, hi: number): Generator<EntryRow> {
    for (const s of this.segs) {
      if (s.last < lo) continue;
      if (s.first >= hi) return;
      for (const row of this.stmts(s).range.iterate(Math.max(lo, s.first), Math.min(hi, s.last + 1))) yield this.checked(row);
    }
  }

  /** Checks every row with lo <= idx < hi against its checksum (throws DamagedLogError at the first bad one). */
  verify(lo: number, hi: number): void {
    const rows = this.range(lo, hi);
    while (!rows.next().done);
  }

  private checked(row: StoredRow): StoredRow {
    if (row.crc !== entryChecksum(row.idx, row.term, row.type, row.data)) throw new DamagedLogError(this.file, row.idx);
    return row;
  }

  /** Appends rows that continue the stored ones (the caller truncated first when they overlap). */
  append(rows: EntryRow[]): void {
    for (const r of rows) {
      let s = this.segs[this.segs.length - 1];
      if (s && r.idx !== s.last + 1) throw new Error(`${this.file}: appending ${r.idx} after ${s.last}`);
      if (!s || s.last - s.first + 1 >= this.segmentEntries) {
        const n = this.nextN++;
        const name = `entries_${n}`;
        this.db.exec(`CREATE TABLE "${name}" (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data TEXT NOT NULL, crc INTEGER NOT NULL)`);
        s = { name, n, first: r.idx, last: r.idx - 1 };
        this.segs.push(s);
      }
      this.stmts(s).insert.run(r.idx, r.term, r.type, r.data, entryChecksum(r.idx, r.term, r.type, r.data));
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
      insert: this.db.prepare(`INSERT INTO "${s.name}" (idx, term, type, data, crc) VALUES (?, ?, ?, ?, ?)`),
      range: this.db.prepare(`SELECT idx, term, type, data, crc FROM "${s.name}" WHERE idx >= ? AND idx < ? ORDER BY idx`),
      rowAt: this.db.prepare(`SELECT idx, term, type, data, crc FROM "${s.name}" WHERE idx = ?`),
      deleteFrom: this.db.prepare(`DELETE FROM "${s.name}" WHERE idx >= ?`),
    };
    return s.st;
  }
}
