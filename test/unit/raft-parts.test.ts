// The Raft core's parts on their own (issue 18, "measure test strength"): the log and its unstable tail, the
// leader's per-follower progress and in-flight window, the configuration arithmetic, ReadIndex bookkeeping, the
// errors' codes and wording, and the in-memory LogStore. The whole-core tests (raft-*.test.ts) reach these only
// through elections and replication, where many a wrong boundary is hidden by a retry; Stryker's survivors over
// replica/raft (README.md "Testing") were the list of what to pin here.
import { describe, expect, it } from 'vitest';
import { LogDivergenceError, RaftLog, RaftLogError, entrySize, limitSize } from '../../replica/raft/log.js';
import { Inflights, Progress } from '../../replica/raft/progress.js';
import {
  EMPTY_CONF,
  applyToConf,
  committedIndex,
  confChangeProblem,
  copyConf,
  decodeConfChange,
  encodeConfChange,
  isMember,
  quorumSize,
  voteResult,
} from '../../replica/raft/conf.js';
import { ReadOnly } from '../../replica/raft/read-only.js';
import { ConfChangeError, NoQuorumError, NotLeaderError, RaftError, TransferInProgressError } from '../../replica/raft/errors.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import { CompactedError, UnavailableError, type ConfState, type Entry } from '../../replica/raft/types.js';

const ent = (index: number, term: number, data = `d${index}`, type: Entry['type'] = 'normal'): Entry => ({ index, term, type, data });
const ents = (from: number, terms: number[], data?: (i: number) => string): Entry[] =>
  terms.map((t, k) => ent(from + k, t, data ? data(from + k) : `d${from + k}`));
const CONF3: ConfState = { voters: ['a', 'b', 'c'], learners: [] };

/** A storage holding entries 1..terms.length (and optionally compacted up to `compactTo`). */
function storageWith(terms: number[], compactTo = 0): MemoryStorage {
  const s = new MemoryStorage(CONF3);
  s.append(ents(1, terms));
  if (compactTo) s.compact(compactTo, terms[compactTo - 1], CONF3);
  return s;
}

const idx = (es: Entry[]) => es.map((e) => e.index);

describe('raft log: sizes', () => {
  it('entrySize is the data length; limitSize keeps entries while the total fits, and always one', () => {
    expect(entrySize(ent(1, 1, 'abc'))).toBe(3);
    const es = ents(1, [1, 1, 1, 1], () => 'xx'); // 2 bytes each
    expect(limitSize([], 0)).toEqual([]);
    expect(limitSize(es.slice(0, 1), 0)).toHaveLength(1);
    expect(idx(limitSize(es, 0))).toEqual([1]);
    expect(idx(limitSize(es, 3))).toEqual([1]);
    expect(idx(limitSize(es, 4))).toEqual([1, 2]); // exactly at the limit: kept
    expect(idx(limitSize(es, 5))).toEqual([1, 2]);
    expect(idx(limitSize(es, 8))).toEqual([1, 2, 3, 4]);
    expect(limitSize(es, 8)).toBe(es); // nothing dropped: the same array
    // The first entry counts toward the total even when it alone exceeds it.
    const big = [ent(1, 1, 'xxxxx'), ent(2, 1, 'x')];
    expect(idx(limitSize(big, 5))).toEqual([1]);
    expect(idx(limitSize(big, 6))).toEqual([1, 2]);
  });

  it('errors carry their names and figures', () => {
    const d = new LogDivergenceError(7, 9);
    expect(d).toBeInstanceOf(RaftLogError);
    expect(d.name).toBe('LogDivergenceError');
    expect(d.message).toBe("the leader's entry 7 conflicts with committed entry 7 (committed up to 9)");
    expect([d.index, d.committed]).toEqual([7, 9]);
    expect(new RaftLogError('x').name).toBe('RaftLogError');
    expect(new CompactedError(3).message).toBe('log index 3 is compacted');
    expect(new UnavailableError(4).message).toBe('log index 4 is not available yet');
  });
});

describe('raft log: construction and bounds', () => {
  it('refuses an applied index below the snapshot or beyond the log, and a commit beyond the log', () => {
    const s = storageWith([1, 1, 1, 1], 2);
    expect(() => new RaftLog(s, 1, 2, 100)).toThrow('applied index 1 is below the storage snapshot index 2: load the snapshot into the state machine first');
    expect(() => new RaftLog(s, 5, 4, 100)).toThrow('applied index 5 is beyond the last log index 4');
    expect(() => new RaftLog(s, 2, 5, 100)).toThrow('commit index 5 is beyond the last log index 4');
    expect(() => new RaftLog(s, 1, 2, 100)).toThrow(RaftLogError);
    // Boundaries are allowed.
    expect(new RaftLog(s, 2, 4, 100).committed).toBe(4);
    expect(new RaftLog(s, 4, 0, 100).committed).toBe(4);
  });

  it('starts committed at max(commit, applied, snapshot index), with applying = applied', () => {
    const s = storageWith([1, 1, 1, 1, 1], 2);
    const a = new RaftLog(s, 3, 1, 100);
    expect([a.committed, a.applied, a.applying]).toEqual([3, 3, 3]);
    const b = new RaftLog(s, 2, 0, 100);
    expect(b.committed).toBe(2);
    const c = new RaftLog(s, 2, 4, 100);
    expect([c.committed, c.applied]).toEqual([4, 2]);
    expect([c.firstIndex(), c.lastIndex(), c.stableIndex()]).toEqual([3, 5, 5]);
  });

  it('term: from the unstable tail, the snapshot, storage; CompactedError below, UnavailableError above', () => {
    const log = new RaftLog(storageWith([1, 1, 2, 2], 2), 2, 2, 100);
    log.append([ent(5, 3), ent(6, 3)]);
    expect([2, 3, 4, 5, 6].map((i) => log.term(i))).toEqual([1, 2, 2, 3, 3]);
    expect(() => log.term(1)).toThrow(CompactedError);
    expect(() => log.term(7)).toThrow(UnavailableError);
    expect(log.termOrNull(1)).toBeNull();
    expect(log.termOrNull(7)).toBeNull();
    expect(log.termOrNull(-1)).toBeNull();
    expect(log.termOrNull(2)).toBe(1);
    expect(log.termOrNull(6)).toBe(3);
    expect(log.lastTerm()).toBe(3);
    expect(log.matchTerm(4, 2)).toBe(true);
    expect(log.matchTerm(4, 3)).toBe(false);
  });

  it('termOrNull(0) on a fresh log is the dummy term 0', () => {
    const log = new RaftLog(new MemoryStorage(CONF3), 0, 0, 100);
    expect(log.termOrNull(0)).toBe(0);
    expect(log.lastTerm()).toBe(0);
    expect(log.termOrNull(1)).toBeNull();
  });

  it('isUpToDate: a higher last term wins; with equal terms the longer (or equal) log', () => {
    const log = new RaftLog(storageWith([1, 2, 2]), 0, 0, 100);
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(4, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });
});

describe('raft log: slices', () => {
  // Storage holds 1..4 (2 bytes each), the unstable tail 5..6.
  const make = () => {
    const log = new RaftLog(storageWith([1, 1, 1, 1].map(() => 1)), 0, 0, 100);
    log.append([ent(5, 2, 'xx'), ent(6, 2, 'xx')]);
    return log;
  };

  it('spans storage and the unstable tail; empty when lo >= hi; throws outside the log', () => {
    const log = make();
    expect(idx(log.slice(1, 7, 1000))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(idx(log.slice(3, 6, 1000))).toEqual([3, 4, 5]);
    expect(idx(log.slice(5, 7, 1000))).toEqual([5, 6]);
    expect(idx(log.slice(4, 5, 1000))).toEqual([4]);
    expect(idx(log.slice(6, 7, 1000))).toEqual([6]);
    expect(log.slice(3, 3, 1000)).toEqual([]);
    expect(log.slice(4, 3, 1000)).toEqual([]);
    expect(() => log.slice(2, 8, 1000)).toThrow('slice [2, 8) out of bound [1, 6]');
    expect(idx(log.entriesFrom(6, 1000))).toEqual([6]);
    expect(log.entriesFrom(7, 1000)).toEqual([]);
    expect(idx(log.entriesFrom(1, 1000))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('size limit: stops inside the stable part, or across both parts', () => {
    const log = make();
    expect(idx(log.slice(1, 7, 4))).toEqual([1, 2]); // limit reached inside storage
    expect(idx(log.slice(3, 7, 6))).toEqual([3, 4, 5]); // limit reached in the unstable tail
    expect(idx(log.slice(4, 7, 4))).toEqual([4, 5]);
    expect(idx(log.slice(5, 7, 2))).toEqual([5]);
  });

  it('throws CompactedError below the first index', () => {
    const log = new RaftLog(storageWith([1, 1, 1, 1], 2), 2, 2, 100);
    expect(() => log.slice(2, 4, 100)).toThrow(CompactedError);
    expect(idx(log.slice(3, 5, 100))).toEqual([3, 4]);
  });

  it('hasConfEntryIn scans (lo, hi] across storage and the tail, from the first index on', () => {
    const s = new MemoryStorage(CONF3);
    s.append([ent(1, 1), ent(2, 1, '{}', 'conf'), ent(3, 1), ent(4, 1)]);
    const log = new RaftLog(s, 0, 0, 100);
    log.append([ent(5, 1), ent(6, 1, '{}', 'conf')]);
    expect(log.hasConfEntryIn(0, 1)).toBe(false);
    expect(log.hasConfEntryIn(0, 2)).toBe(true);
    expect(log.hasConfEntryIn(1, 2)).toBe(true);
    expect(log.hasConfEntryIn(2, 5)).toBe(false); // lo is excluded
    expect(log.hasConfEntryIn(2, 6)).toBe(true);
    expect(log.hasConfEntryIn(5, 5)).toBe(false);
    // Many entries larger than the scan's 1 MiB batch: the scan continues over the batches.
    const big = new MemoryStorage(CONF3);
    const mb = 'x'.repeat(1 << 20);
    big.append([ent(1, 1, mb), ent(2, 1, mb), ent(3, 1, '{}', 'conf')]);
    expect(new RaftLog(big, 0, 0, 100).hasConfEntryIn(0, 3)).toBe(true);
    // After compaction, the scan starts at the first index.
    const c = new MemoryStorage(CONF3);
    c.append([ent(1, 1, '{}', 'conf'), ent(2, 1), ent(3, 1, '{}', 'conf')]);
    c.compact(2, 1, CONF3);
    const cl = new RaftLog(c, 2, 2, 100);
    expect(cl.hasConfEntryIn(0, 2)).toBe(false);
    expect(cl.hasConfEntryIn(0, 3)).toBe(true);
  });
});

describe('raft log: appends, commits and the unstable tail', () => {
  it('append refuses to rewrite committed entries; an empty append returns the last index', () => {
    const log = new RaftLog(storageWith([1, 1, 1]), 0, 2, 100);
    expect(log.append([])).toBe(3);
    expect(() => log.append([ent(2, 2)])).toThrow('append after 1 is below committed 2');
    expect(log.append([ent(3, 2)])).toBe(3); // replaces the uncommitted entry 3
    expect(log.term(3)).toBe(2);
    expect(log.append([ent(4, 2), ent(5, 2)])).toBe(5);
  });

  it('maybeAppend: null on a mismatch; truncates a conflicting suffix; commit = min(leaderCommit, last new)', () => {
    const log = new RaftLog(storageWith([1, 1, 1, 1]), 0, 1, 100);
    expect(log.maybeAppend(4, 2, 4, [])).toBeNull();
    expect(log.maybeAppend(5, 1, 4, [])).toBeNull();
    // Entries already present: nothing changes, commit follows the leader up to the last new index.
    expect(log.maybeAppend(1, 1, 9, [ent(2, 1)])).toBe(2);
    expect(log.committed).toBe(2);
    expect(log.lastIndex()).toBe(4);
    // A conflict at 3: 3 and 4 are replaced.
    expect(log.maybeAppend(2, 1, 3, [ent(3, 2)])).toBe(3);
    expect(log.lastIndex()).toBe(3);
    expect(log.term(3)).toBe(2);
    expect(log.committed).toBe(3);
    // Appending after the end, commit behind the leader's last index.
    expect(log.maybeAppend(3, 2, 3, [ent(4, 2), ent(5, 2)])).toBe(5);
    expect(log.committed).toBe(3);
    // A conflict at a committed index is a divergence.
    expect(() => log.maybeAppend(2, 1, 3, [ent(3, 3)])).toThrow(LogDivergenceError);
  });

  it('maybeAppend only appends the entries from the first conflict on', () => {
    const log = new RaftLog(storageWith([1, 1]), 0, 0, 100);
    expect(log.maybeAppend(0, 0, 0, [ent(1, 1), ent(2, 1), ent(3, 1)])).toBe(3);
    expect(log.unstable.entries.map((e) => e.index)).toEqual([3]);
  });

  it('checkCommittedPrefix: throws only where a committed entry we hold disagrees', () => {
    const log = new RaftLog(storageWith([1, 1, 2, 2]), 0, 3, 100);
    expect(() => log.checkCommittedPrefix(2, 1, [ent(3, 2), ent(4, 9)])).not.toThrow(); // 4 is not committed
    expect(() => log.checkCommittedPrefix(4, 9, [])).not.toThrow(); // index 4 is not committed
    expect(() => log.checkCommittedPrefix(3, 9, [])).toThrow('entry 3 conflicts');
    expect(() => log.checkCommittedPrefix(1, 1, [ent(2, 1), ent(3, 3)])).toThrow('entry 3 conflicts');
    expect(() => log.checkCommittedPrefix(9, 5, [])).not.toThrow(); // not held
    expect(() => log.checkCommittedPrefix(1, 1, [ent(2, 1), ent(3, 2)])).not.toThrow();
    const e = (() => {
      try {
        log.checkCommittedPrefix(2, 5, []);
      } catch (err) {
        return err as LogDivergenceError;
      }
      return null;
    })();
    expect(e).toMatchObject({ index: 2, committed: 3 });
  });

  it('findConflict and findConflictByTerm (fast backtracking)', () => {
    const log = new RaftLog(storageWith([1, 1, 2, 2, 4], 1), 1, 1, 100);
    expect(log.findConflict([ent(2, 1), ent(3, 2)])).toBe(0);
    expect(log.findConflict([ent(2, 1), ent(3, 3)])).toBe(3);
    expect(log.findConflict([ent(6, 4)])).toBe(6);
    expect(log.findConflictByTerm(5, 4)).toEqual({ index: 5, term: 4 });
    expect(log.findConflictByTerm(5, 3)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(4, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(5, 0)).toEqual({ index: 0, term: 0 }); // down through the snapshot's index (term 1 > 0)
    expect(log.findConflictByTerm(0, 5)).toEqual({ index: 0, term: 0 });
    const compacted = new RaftLog(storageWith([3, 3, 3], 2), 2, 2, 100);
    expect(compacted.findConflictByTerm(3, 1)).toEqual({ index: 1, term: 0 }); // hits the compacted part
  });

  it('commitTo never decreases and refuses beyond the last index; maybeCommit needs the given term', () => {
    const log = new RaftLog(storageWith([1, 1, 2]), 0, 1, 100);
    log.commitTo(0);
    expect(log.committed).toBe(1);
    expect(() => log.commitTo(4)).toThrow('commit 4 is out of range [last index 3]');
    log.commitTo(3);
    expect(log.committed).toBe(3);
    const m = new RaftLog(storageWith([1, 1, 2]), 0, 1, 100);
    expect(m.maybeCommit(2, 2)).toBe(false);
    expect(m.maybeCommit(1, 1)).toBe(false); // not above committed
    expect(m.maybeCommit(3, 2)).toBe(true);
    expect(m.committed).toBe(3);
    expect(m.maybeCommit(3, 2)).toBe(false);
  });

  it('committed entries for applying: limited by size, none while a snapshot is pending, applied never above committed', () => {
    const log = new RaftLog(storageWith([1, 1, 1, 1]), 0, 3, 4);
    expect(log.hasNextCommittedEntries()).toBe(true);
    expect(idx(log.nextCommittedEntries())).toEqual([1, 2]); // 2 bytes each, limit 4
    log.acceptApplying(2);
    expect(log.applying).toBe(2);
    log.acceptApplying(1);
    expect(log.applying).toBe(2);
    expect(idx(log.nextCommittedEntries())).toEqual([3]);
    log.acceptApplying(3);
    expect(log.hasNextCommittedEntries()).toBe(false);
    expect(log.nextCommittedEntries()).toEqual([]);
    log.appliedTo(2);
    expect([log.applied, log.applying]).toEqual([2, 3]);
    log.appliedTo(1);
    expect(log.applied).toBe(2);
    expect(() => log.appliedTo(4)).toThrow('applied 4 is beyond committed 3');
    log.appliedTo(3);
    expect(log.applied).toBe(3);
    // appliedTo also raises applying when the driver applied more than it was handed.
    const l2 = new RaftLog(storageWith([1, 1, 1]), 0, 3, 100);
    l2.appliedTo(2);
    expect(l2.applying).toBe(2);
    expect(idx(l2.nextCommittedEntries())).toEqual([3]);
    // A pending snapshot hides committed entries.
    l2.restore({ index: 9, term: 2, conf: CONF3 });
    expect(l2.hasNextCommittedEntries()).toBe(false);
    expect(l2.nextCommittedEntries()).toEqual([]);
  });

  it('restore: the snapshot replaces the log until it is persisted and applied', () => {
    const storage = storageWith([1, 1, 1]);
    const log = new RaftLog(storage, 0, 1, 100);
    log.append([ent(4, 1)]);
    log.restore({ index: 9, term: 3, conf: CONF3 });
    expect(log.committed).toBe(9);
    expect(log.hasPendingSnapshot()).toBe(true);
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm(), log.stableIndex()]).toEqual([10, 9, 3, 0]);
    expect(log.term(9)).toBe(3);
    expect(log.termOrNull(8)).toBeNull();
    expect(log.unstable.nextSnapshot()).toMatchObject({ index: 9 });
    log.unstable.acceptInProgress();
    expect(log.unstable.nextSnapshot()).toBeNull();
    // Persisted and applied.
    storage.applySnapshot({ index: 9, term: 3, conf: CONF3 });
    log.snapshotApplied(8); // not this snapshot: stays
    expect(log.hasPendingSnapshot()).toBe(true);
    log.snapshotApplied(9);
    expect(log.hasPendingSnapshot()).toBe(false);
    expect(log.unstable.snapshotInProgress).toBe(false);
    expect([log.applied, log.applying, log.firstIndex(), log.lastIndex()]).toEqual([9, 9, 10, 9]);
    log.snapshotApplied(5);
    expect([log.applied, log.applying]).toEqual([9, 9]);
  });

  it('unstable tail: handed-out entries are not handed out again; stableTo drops them only if still ours', () => {
    const log = new RaftLog(storageWith([1, 1]), 0, 0, 100);
    const u = log.unstable;
    expect(u.nextEntries()).toEqual([]);
    log.append([ent(3, 1), ent(4, 1)]);
    expect(idx(u.nextEntries())).toEqual([3, 4]);
    u.acceptInProgress();
    expect(u.nextEntries()).toEqual([]);
    log.append([ent(5, 1)]);
    expect(idx(u.nextEntries())).toEqual([5]);
    // The driver persisted 3..4 in term 1.
    u.stableTo(4, 2); // wrong term: kept
    expect(u.offset).toBe(3);
    u.stableTo(2, 1); // below the tail: ignored
    expect(u.offset).toBe(3);
    u.stableTo(9, 1); // not held: ignored
    expect(u.offset).toBe(3);
    u.stableTo(3, 1);
    expect([u.offset, idx(u.entries)]).toEqual([4, [4, 5]]);
    expect(u.offsetInProgress).toBe(5);
    u.stableTo(4, 1);
    expect([u.offset, idx(u.entries), u.offsetInProgress]).toEqual([5, [5], 5]);
    expect(log.stableIndex()).toBe(4);
    // A stableTo past what was handed out raises offsetInProgress with the offset.
    u.stableTo(5, 1);
    expect([u.offset, u.entries.length, u.offsetInProgress]).toEqual([6, 0, 6]);
    expect(u.maybeLastIndex()).toBeNull();
  });

  it('unstable tail: a conflicting append rewinds what was handed out', () => {
    const log = new RaftLog(storageWith([1]), 0, 0, 100);
    const u = log.unstable;
    log.append([ent(2, 1), ent(3, 1), ent(4, 1)]);
    u.acceptInProgress();
    expect(u.offsetInProgress).toBe(5);
    log.append([ent(3, 2)]); // inside the tail
    expect(idx(u.entries)).toEqual([2, 3]);
    expect(u.entries[1].term).toBe(2);
    expect(u.offsetInProgress).toBe(3);
    expect(idx(u.nextEntries())).toEqual([3]);
    u.acceptInProgress();
    log.append([ent(4, 2)]); // right after the tail: nothing handed out is rewound
    expect(u.offsetInProgress).toBe(4);
    // From before the tail: replaces it and shadows storage.
    log.append([ent(2, 3)]);
    expect([u.offset, u.offsetInProgress, idx(u.entries)]).toEqual([2, 2, [2]]);
    expect(log.lastIndex()).toBe(2);
    expect(log.term(2)).toBe(3);
    // Handed out 2, then a conflict at 2 again (from == offset).
    u.acceptInProgress();
    log.append([ent(2, 4), ent(3, 4)]);
    expect([u.offset, u.offsetInProgress, idx(u.entries)]).toEqual([2, 2, [2, 3]]);
    // A conflict above offsetInProgress does not move it.
    const l2 = new RaftLog(storageWith([1]), 0, 0, 100);
    l2.append([ent(2, 1), ent(3, 1), ent(4, 1)]);
    l2.unstable.offsetInProgress = 3; // only 2 handed out
    l2.append([ent(4, 2)]);
    expect(l2.unstable.offsetInProgress).toBe(3);
    expect(l2.unstable.entries.map((e) => e.term)).toEqual([1, 1, 2]);
  });

  it('unstable tail: terms below its offset come from the pending snapshot only at its index', () => {
    const log = new RaftLog(storageWith([1, 1]), 0, 0, 100);
    log.restore({ index: 5, term: 2, conf: CONF3 });
    const u = log.unstable;
    expect(u.maybeTerm(5)).toBe(2);
    expect(u.maybeTerm(4)).toBeNull();
    expect(u.maybeTerm(6)).toBeNull();
    expect(u.maybeFirstIndex()).toBe(6);
    expect(u.maybeLastIndex()).toBe(5);
    log.append([ent(6, 2)]);
    expect(u.maybeLastIndex()).toBe(6);
    expect(u.maybeTerm(6)).toBe(2);
    u.stableSnapTo(4);
    expect(u.snapshot).not.toBeNull();
    u.acceptInProgress();
    expect(u.snapshotInProgress).toBe(true);
    u.stableSnapTo(5);
    expect(u.snapshot).toBeNull();
    expect(u.snapshotInProgress).toBe(false);
    expect(u.maybeFirstIndex()).toBeNull();
  });
});

describe('raft progress', () => {
  it('Inflights: a bounded FIFO freed up to an index, or one at a time', () => {
    const f = new Inflights(3);
    expect([f.count, f.full()]).toEqual([0, false]);
    f.add(2);
    f.add(4);
    expect(f.full()).toBe(false);
    f.add(6);
    expect([f.count, f.full()]).toEqual([3, true]);
    f.freeLE(3);
    expect(f.count).toBe(2);
    f.freeLE(4); // equal frees too
    expect(f.count).toBe(1);
    f.freeFirstOne();
    expect(f.count).toBe(0);
    f.freeFirstOne(); // empty: no underflow
    f.freeLE(100);
    expect(f.count).toBe(0);
    f.add(7);
    expect(f.count).toBe(1);
    f.reset();
    expect(f.count).toBe(0);
  });

  it('Inflights: long runs compact their buffer without losing entries', () => {
    const f = new Inflights(1000);
    for (let i = 1; i <= 300; i++) f.add(i);
    f.freeLE(100);
    expect(f.count).toBe(200);
    f.freeLE(200);
    expect(f.count).toBe(100);
    for (let i = 301; i <= 310; i++) f.add(i);
    expect(f.count).toBe(110);
    f.freeLE(250);
    expect(f.count).toBe(60);
    f.freeFirstOne();
    expect(f.count).toBe(59);
    f.freeLE(309);
    expect(f.count).toBe(1);
    f.freeLE(310);
    expect(f.count).toBe(0);
  });

  it('Inflights: freeing one at a time past the compaction threshold keeps the order', () => {
    const f = new Inflights(1000);
    for (let i = 1; i <= 200; i++) f.add(i);
    for (let k = 0; k < 150; k++) f.freeFirstOne();
    expect(f.count).toBe(50);
    f.freeLE(160);
    expect(f.count).toBe(40);
    f.freeLE(199);
    expect(f.count).toBe(1);
  });

  it('Inflights: full at its byte limit too, and bytes freed with their messages', () => {
    const f = new Inflights(100, 10);
    f.add(1, 4);
    f.add(2, 5);
    expect([f.count, f.bytes, f.full()]).toEqual([2, 9, false]);
    f.add(3, 1);
    expect([f.bytes, f.full()]).toEqual([10, true]); // at the limit
    f.freeLE(1);
    expect([f.count, f.bytes, f.full()]).toEqual([2, 6, false]);
    f.add(4, 20); // one message may go over: it was sent while under
    expect([f.bytes, f.full()]).toEqual([26, true]);
    f.freeFirstOne();
    expect([f.count, f.bytes]).toEqual([2, 21]);
    f.reset();
    expect([f.count, f.bytes, f.full()]).toEqual([0, 0, false]);
    const unlimited = new Inflights(2);
    unlimited.add(1, 1 << 30);
    expect(unlimited.full()).toBe(false);
    // Compaction keeps each message's bytes with it.
    const long = new Inflights(1000, 1 << 20);
    for (let i = 1; i <= 200; i++) long.add(i, i);
    for (let k = 0; k < 150; k++) long.freeFirstOne();
    expect(long.bytes).toBe((151 + 200) * 25);
    long.freeLE(199);
    expect([long.count, long.bytes]).toEqual([1, 200]);
    long.freeLE(200);
    expect(long.bytes).toBe(0);
  });

  it('Progress state changes: probe, replicate, snapshot', () => {
    const p = new Progress('b', 5, 2, false, 7);
    expect([p.id, p.next, p.match, p.state, p.pendingSnapshot, p.probeSent, p.isLearner, p.lastHeard]).toEqual(['b', 5, 0, 'probe', 0, false, false, 7]);
    expect(new Progress('c', 1, 2, true, 0).isLearner).toBe(true);
    p.match = 3;
    p.becomeReplicate();
    expect([p.state, p.next]).toEqual(['replicate', 4]);
    p.sentEntries(2, 6);
    expect([p.next, p.inflights.count]).toEqual([7, 1]);
    p.sentEntries(0, 9); // a heartbeat-like empty append: nothing in flight
    expect([p.next, p.inflights.count]).toEqual([7, 1]);
    p.sentEntries(1, 7);
    expect(p.isPaused()).toBe(true); // window of 2 is full
    p.becomeSnapshot(20);
    expect([p.state, p.pendingSnapshot, p.inflights.count, p.isPaused()]).toEqual(['snapshot', 20, 0, true]);
    p.sentEntries(1, 30); // nothing changes in snapshot state
    expect([p.next, p.probeSent, p.inflights.count]).toEqual([8, false, 0]);
    p.becomeProbe(); // from snapshot: resume after the snapshot
    expect([p.state, p.next, p.pendingSnapshot]).toEqual(['probe', 21, 0]);
    p.match = 25;
    p.becomeSnapshot(20);
    p.becomeProbe(); // ...or after match, whichever is later
    expect(p.next).toBe(26);
    p.probeSent = true;
    p.becomeProbe(); // from probe: next = match + 1, probe flag cleared
    expect([p.next, p.probeSent]).toEqual([26, false]);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(0, 0);
    expect([p.probeSent, p.isPaused()]).toEqual([true, true]);
  });

  it('maybeUpdate: advances match and next, clears the probe flag', () => {
    const p = new Progress('b', 5, 4, false, 0);
    p.probeSent = true;
    expect(p.maybeUpdate(3)).toBe(true);
    expect([p.match, p.next, p.probeSent]).toEqual([3, 5, false]);
    p.probeSent = true;
    expect(p.maybeUpdate(3)).toBe(false);
    expect(p.probeSent).toBe(true);
    expect(p.maybeUpdate(6)).toBe(true);
    expect([p.match, p.next]).toEqual([6, 7]);
    expect(p.maybeUpdate(2)).toBe(false);
    expect([p.match, p.next]).toEqual([6, 7]);
  });

  it('maybeDecrTo: stale rejections are ignored; probe moves next back to the hint', () => {
    const r = new Progress('b', 1, 4, false, 0);
    r.match = 5;
    r.becomeReplicate();
    r.sentEntries(3, 9);
    expect(r.maybeDecrTo(5, 0)).toBe(false); // at or below match: stale
    expect(r.maybeDecrTo(4, 0)).toBe(false);
    expect(r.next).toBe(10);
    expect(r.maybeDecrTo(7, 0)).toBe(true);
    expect(r.next).toBe(6);

    const p = new Progress('b', 10, 4, false, 0);
    p.probeSent = true;
    expect(p.maybeDecrTo(8, 3)).toBe(false); // not the last one sent (next - 1 = 9)
    expect(p.probeSent).toBe(true);
    expect(p.maybeDecrTo(9, 3)).toBe(true);
    expect([p.next, p.probeSent]).toEqual([4, false]);
    p.next = 10;
    expect(p.maybeDecrTo(9, 20)).toBe(true); // the hint is past the rejected index: next = rejected
    expect(p.next).toBe(9);
    p.match = 6;
    p.next = 10;
    expect(p.maybeDecrTo(9, 1)).toBe(true); // never below match + 1
    expect(p.next).toBe(7);
  });
});

describe('raft configuration', () => {
  it('EMPTY_CONF is frozen; copyConf copies; isMember covers voters and learners', () => {
    expect(EMPTY_CONF).toEqual({ voters: [], learners: [] });
    expect(Object.isFrozen(EMPTY_CONF) && Object.isFrozen(EMPTY_CONF.voters) && Object.isFrozen(EMPTY_CONF.learners)).toBe(true);
    const c = { voters: ['a'], learners: ['l'] };
    const d = copyConf(c);
    expect(d).toEqual(c);
    d.voters.push('x');
    d.learners.push('y');
    expect(c).toEqual({ voters: ['a'], learners: ['l'] });
    expect([isMember(c, 'a'), isMember(c, 'l'), isMember(c, 'z')]).toEqual([true, true, false]);
  });

  it('conf change encoding: addresses for additions only; decoding rejects malformed data', () => {
    expect(encodeConfChange({ op: 'addVoter', id: 'a', address: 'h:1' })).toBe('{"op":"addVoter","id":"a","address":"h:1"}');
    expect(encodeConfChange({ op: 'addLearner', id: 'a', address: 'h:1' })).toBe('{"op":"addLearner","id":"a","address":"h:1"}');
    expect(encodeConfChange({ op: 'promote', id: 'a', address: 'x' } as never)).toBe('{"op":"promote","id":"a"}');
    for (const op of ['addLearner', 'addVoter', 'promote', 'demote', 'remove']) {
      expect(decodeConfChange(JSON.stringify({ op, id: 'a' }))).toEqual({ op, id: 'a' });
    }
    expect(() => decodeConfChange('null')).toThrow('malformed conf change: null');
    expect(() => decodeConfChange('5')).toThrow('malformed conf change');
    expect(() => decodeConfChange('{"op":"remove","id":5}')).toThrow('malformed conf change');
    expect(() => decodeConfChange('{"op":"drop","id":"a"}')).toThrow('malformed conf change');
    expect(() => decodeConfChange('{"op":"","id":"a"}')).toThrow('malformed conf change');
    const long = JSON.stringify({ op: 'x', id: 'a', pad: 'p'.repeat(200) });
    expect(() => decodeConfChange(long)).toThrow(`malformed conf change: ${long.slice(0, 100)}`);
    try {
      decodeConfChange(long);
    } catch (e) {
      expect((e as Error).message).toHaveLength('malformed conf change: '.length + 100);
    }
  });

  it('confChangeProblem: why each change does not fit, or null', () => {
    const c = { voters: ['a', 'b'], learners: ['l'] };
    const one = { voters: ['a'], learners: ['l'] };
    expect(confChangeProblem(c, { op: 'addLearner', id: 'a', address: '' })).toBe('a is already a member');
    expect(confChangeProblem(c, { op: 'addLearner', id: 'l', address: '' })).toBe('l is already a member');
    expect(confChangeProblem(c, { op: 'addLearner', id: 'n', address: '' })).toBeNull();
    expect(confChangeProblem(c, { op: 'addVoter', id: 'a', address: '' })).toBe('a is already a voter');
    expect(confChangeProblem(c, { op: 'addVoter', id: 'l', address: '' })).toBeNull();
    expect(confChangeProblem(c, { op: 'addVoter', id: 'n', address: '' })).toBeNull();
    expect(confChangeProblem(c, { op: 'promote', id: 'l' })).toBeNull();
    expect(confChangeProblem(c, { op: 'promote', id: 'a' })).toBe('a is not a learner');
    expect(confChangeProblem(c, { op: 'demote', id: 'l' })).toBe('l is not a voter');
    expect(confChangeProblem(c, { op: 'demote', id: 'a' })).toBeNull();
    expect(confChangeProblem(one, { op: 'demote', id: 'a' })).toBe('cannot demote the last voter');
    expect(confChangeProblem(c, { op: 'remove', id: 'n' })).toBe('n is not a member');
    expect(confChangeProblem(c, { op: 'remove', id: 'a' })).toBeNull();
    expect(confChangeProblem(c, { op: 'remove', id: 'l' })).toBeNull();
    expect(confChangeProblem(one, { op: 'remove', id: 'a' })).toBe('cannot remove the last voter');
    expect(confChangeProblem(one, { op: 'remove', id: 'l' })).toBeNull();
    expect(confChangeProblem(c, { op: 'rename', id: 'a' } as never)).toBe('unknown conf change op rename');
  });

  it('applyToConf: each change, and a change that does not fit leaves a copy unchanged', () => {
    const c = { voters: ['a', 'b'], learners: ['l'] };
    expect(applyToConf(c, { op: 'addLearner', id: 'n', address: '' })).toEqual({ voters: ['a', 'b'], learners: ['l', 'n'] });
    expect(applyToConf(c, { op: 'addVoter', id: 'n', address: '' })).toEqual({ voters: ['a', 'b', 'n'], learners: ['l'] });
    expect(applyToConf(c, { op: 'addVoter', id: 'l', address: '' })).toEqual({ voters: ['a', 'b', 'l'], learners: [] });
    expect(applyToConf(c, { op: 'promote', id: 'l' })).toEqual({ voters: ['a', 'b', 'l'], learners: [] });
    expect(applyToConf(c, { op: 'demote', id: 'a' })).toEqual({ voters: ['b'], learners: ['l', 'a'] });
    expect(applyToConf(c, { op: 'remove', id: 'b' })).toEqual({ voters: ['a'], learners: ['l'] });
    expect(applyToConf(c, { op: 'remove', id: 'l' })).toEqual({ voters: ['a', 'b'], learners: [] });
    const same = applyToConf(c, { op: 'promote', id: 'a' });
    expect(same).toEqual(c);
    expect(same).not.toBe(c);
    expect(same.voters).not.toBe(c.voters);
    expect(c).toEqual({ voters: ['a', 'b'], learners: ['l'] });
  });

  it('quorum arithmetic: sizes, the committed index, vote results', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
    const match: Record<string, number> = { a: 5, b: 3, c: 9, d: 1 };
    const m = (id: string) => match[id] ?? 0;
    expect(committedIndex([], m)).toBe(0);
    expect(committedIndex(['a'], m)).toBe(5);
    expect(committedIndex(['a', 'b', 'c'], m)).toBe(5);
    expect(committedIndex(['a', 'b', 'c', 'd'], m)).toBe(3);
    expect(committedIndex(['a', 'c', 'x'], m)).toBe(5);
    expect(committedIndex(['d', 'a', 'b', 'c', 'x'], m)).toBe(3);
    const votes = (o: Record<string, boolean>) => new Map(Object.entries(o));
    const v3 = ['a', 'b', 'c'];
    expect(voteResult(v3, votes({}))).toBe('pending');
    expect(voteResult(v3, votes({ a: true }))).toBe('pending');
    expect(voteResult(v3, votes({ a: true, b: true }))).toBe('won');
    expect(voteResult(v3, votes({ a: true, b: false }))).toBe('pending');
    expect(voteResult(v3, votes({ a: true, b: false, c: false }))).toBe('lost');
    expect(voteResult(v3, votes({ b: false, c: false }))).toBe('lost');
    expect(voteResult(v3, votes({ x: true, y: true }))).toBe('pending'); // non-voters do not count
    expect(voteResult(['a', 'b', 'c', 'd'], votes({ a: true, b: true, c: false }))).toBe('pending');
    expect(voteResult(['a', 'b', 'c', 'd'], votes({ a: false, b: false }))).toBe('lost');
    expect(voteResult(['a'], votes({ a: true }))).toBe('won');
  });
});

describe('raft read-only (ReadIndex) bookkeeping', () => {
  it('records requests once, counts acks, releases in arrival order up to a context', () => {
    const ro = new ReadOnly();
    expect(ro.size).toBe(0);
    expect(ro.lastPendingContext()).toBeUndefined();
    expect(ro.advance('x')).toEqual([]);
    expect(ro.recvAck('b', 'x')).toBeNull();
    ro.add(5, 'r1', 'a', 'a');
    ro.add(6, 'r2', 'c', 'a');
    ro.add(9, 'r1', 'z', 'a'); // duplicate context: ignored
    ro.add(7, 'r3', 'a', 'a');
    expect(ro.size).toBe(3);
    expect(ro.lastPendingContext()).toBe('r3');
    expect([...ro.recvAck('b', 'r2')!].sort()).toEqual(['a', 'b']);
    expect([...ro.recvAck('b', 'r2')!].sort()).toEqual(['a', 'b']);
    const done = ro.advance('r2');
    expect(done.map((r) => [r.context, r.index, r.from])).toEqual([
      ['r1', 5, 'a'],
      ['r2', 6, 'c'],
    ]);
    expect(ro.size).toBe(1);
    expect(ro.recvAck('b', 'r1')).toBeNull(); // released
    expect(ro.advance('r1')).toEqual([]);
    ro.add(8, 'r1', 'a', 'a'); // a released context can be used again
    expect(ro.size).toBe(2);
    expect(ro.lastPendingContext()).toBe('r1');
    expect(ro.advance('r1').map((r) => r.context)).toEqual(['r3', 'r1']);
    ro.add(1, 'q', 'a', 'a');
    ro.reset();
    expect([ro.size, ro.lastPendingContext(), ro.recvAck('b', 'q')]).toEqual([0, undefined, null]);
    ro.add(2, 'q', 'a', 'a'); // reset forgot it: recorded again
    expect(ro.size).toBe(1);
  });
});

describe('raft errors', () => {
  it('codes, names and messages', () => {
    const e = new RaftError('INVALID_MESSAGE', 'bad');
    expect([e.code, e.name, e.message]).toEqual(['INVALID_MESSAGE', 'RaftError', 'bad']);
    const n = new NotLeaderError('b');
    expect([n.code, n.name, n.message, n.leader]).toEqual(['NOT_LEADER', 'NotLeaderError', 'not the leader; the leader is b', 'b']);
    const u = new NotLeaderError(null);
    expect([u.message, u.leader]).toEqual(['not the leader, and no leader is known', null]);
    const q = new NoQuorumError();
    expect([q.code, q.name, q.message]).toEqual(['NO_QUORUM', 'NoQuorumError', 'no quorum: the leader has not heard from a majority of voters within an election timeout']);
    const t = new TransferInProgressError('c');
    expect([t.code, t.name, t.message, t.transferee]).toEqual([
      'TRANSFERRING',
      'TransferInProgressError',
      'leadership transfer to c in progress; proposals are refused until it ends',
      'c',
    ]);
    const c = new ConfChangeError('CONF_CHANGE_PENDING', 'later');
    expect([c.code, c.name, c.message, c instanceof RaftError]).toEqual(['CONF_CHANGE_PENDING', 'ConfChangeError', 'later', true]);
  });
});

describe('raft MemoryStorage', () => {
  it('a fresh store: the bootstrap configuration, copies out, empty log', () => {
    const conf = { voters: ['a'], learners: ['l'] };
    const s = new MemoryStorage(conf);
    conf.voters.push('x');
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, conf: { voters: ['a'], learners: ['l'] } });
    s.initialState().conf.voters.push('y');
    s.initialState().hardState.term = 9;
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: null, commit: 0 }, conf: { voters: ['a'], learners: ['l'] } });
    expect(s.snapshotMeta()).toEqual({ index: 0, term: 0, conf: { voters: ['a'], learners: ['l'] } });
    s.snapshotMeta().conf.voters.push('z');
    expect(s.snapshotMeta().conf.voters).toEqual(['a']);
    expect([s.firstIndex(), s.lastIndex(), s.term(0)]).toEqual([1, 0, 0]);
    expect(new MemoryStorage().initialState().conf).toEqual({ voters: [], learners: [] });
    const c2 = { voters: ['q'], learners: [] };
    const s2 = new MemoryStorage(c2);
    s2.setConfState(c2);
    c2.voters.push('r');
    expect(s2.initialState().conf.voters).toEqual(['q']);
  });

  it('term and entries: bounds, size limit, copies', () => {
    const s = storageWith([1, 1, 2, 2, 3], 2);
    expect([s.firstIndex(), s.lastIndex(), s.term(2), s.term(3), s.term(5)]).toEqual([3, 5, 1, 2, 3]);
    expect(() => s.term(1)).toThrow(CompactedError);
    expect(() => s.term(6)).toThrow(UnavailableError);
    expect(idx(s.entries(3, 6, 1000))).toEqual([3, 4, 5]);
    expect(idx(s.entries(3, 6, 4))).toEqual([3, 4]);
    expect(s.entries(4, 4, 1000)).toEqual([]);
    expect(() => s.entries(2, 4, 1000)).toThrow(CompactedError);
    expect(() => s.entries(3, 7, 1000)).toThrow('log index 6 is not available yet');
    expect(idx(s.entries(5, 6, 1000))).toEqual([5]);
  });

  it('append: drops a conflicting suffix, skips compacted entries, refuses gaps and holes; copies entries', () => {
    const s = storageWith([1, 1, 1]);
    s.append([]);
    const e = ent(3, 2);
    s.append([e]);
    e.term = 9;
    expect([s.lastIndex(), s.term(3)]).toEqual([3, 2]);
    expect(() => s.append([ent(5, 2)])).toThrow('append: gap (last index 3, appending 5)');
    expect(() => s.append([ent(4, 2), ent(6, 2)])).toThrow('append: entries are not contiguous');
    s.append([ent(4, 2), ent(5, 2)]);
    expect(s.lastIndex()).toBe(5);
    s.compact(2, 1, CONF3);
    s.append([ent(1, 1), ent(2, 1), ent(3, 2)]); // 1..2 compacted: skipped; 3 rewrites and drops 4..5
    expect([s.firstIndex(), s.lastIndex()]).toEqual([3, 3]);
    s.append([ent(1, 1)]); // only compacted entries: nothing
    expect(s.lastIndex()).toBe(3);
  });

  it('truncate drops from an index on; refuses the compacted part', () => {
    const s = storageWith([1, 1, 1, 1], 1);
    s.truncate(9);
    expect(s.lastIndex()).toBe(4);
    s.truncate(5);
    expect(s.lastIndex()).toBe(4);
    s.truncate(3);
    expect(s.lastIndex()).toBe(2);
    expect(() => s.truncate(1)).toThrow(CompactedError);
    s.truncate(2);
    expect(s.lastIndex()).toBe(1);
  });

  it('compact: keeps later entries, records the snapshot, checks the term and the range', () => {
    const s = storageWith([1, 1, 2, 2]);
    const conf = { voters: ['a'], learners: [] as string[] };
    s.compact(3, 2, conf);
    conf.voters.push('b');
    expect(s.snapshotMeta()).toEqual({ index: 3, term: 2, conf: { voters: ['a'], learners: [] } });
    expect([s.firstIndex(), s.lastIndex(), s.term(4)]).toEqual([4, 4, 2]);
    s.compact(3, 99, conf); // not above the snapshot: ignored
    s.compact(2, 99, conf);
    expect(s.snapshotMeta().index).toBe(3);
    expect(() => s.compact(5, 2, conf)).toThrow(UnavailableError);
    expect(() => s.compact(4, 1, conf)).toThrow('compact: entry 4 has term 2, not 1');
    s.compact(4, 2, conf);
    expect([s.firstIndex(), s.lastIndex(), s.term(4)]).toEqual([5, 4, 2]);
  });

  it('save: snapshot, entries, hard state; a commit-only change is lost in a crash, anything else is durable', () => {
    const s = new MemoryStorage(CONF3);
    s.save({ entries: [ent(1, 1), ent(2, 1)], hardState: { term: 1, vote: 'a', commit: 0 } });
    expect([s.lastIndex(), s.savedTerm()]).toEqual([2, 1]);
    expect(s.durableHardState()).toEqual({ term: 1, vote: 'a', commit: 0 });
    // Commit-only.
    s.save({ entries: [], hardState: { term: 1, vote: 'a', commit: 1 } });
    s.save({ entries: [], hardState: { term: 1, vote: 'a', commit: 2 } });
    expect(s.initialState().hardState.commit).toBe(2);
    expect(s.durableHardState()).toEqual({ term: 1, vote: 'a', commit: 0 });
    s.crash();
    expect(s.initialState().hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    s.crash(); // nothing pending: no change
    expect(s.initialState().hardState.commit).toBe(0);
    // A vote change is durable at once.
    s.save({ entries: [], hardState: { term: 1, vote: 'b', commit: 2 } });
    s.crash();
    expect(s.initialState().hardState).toEqual({ term: 1, vote: 'b', commit: 2 });
    // A term change is durable at once.
    s.save({ entries: [], hardState: { term: 2, vote: 'b', commit: 2 } });
    s.crash();
    expect(s.initialState().hardState).toEqual({ term: 2, vote: 'b', commit: 2 });
    // Entries make a commit change durable too.
    s.save({ entries: [], hardState: { term: 2, vote: 'b', commit: 1 } });
    s.save({ entries: [ent(3, 2)], hardState: { term: 2, vote: 'b', commit: 3 } });
    s.crash();
    expect(s.initialState().hardState.commit).toBe(3);
    // Entries alone (no hard state).
    s.save({ entries: [ent(4, 2)] });
    expect([s.lastIndex(), s.initialState().hardState.commit]).toEqual([4, 3]);
    // A commit-only save followed by a durable one: the durable write carries it.
    s.save({ entries: [], hardState: { term: 2, vote: 'b', commit: 4 } });
    s.save({ entries: [ent(5, 2)] });
    s.crash();
    expect(s.initialState().hardState.commit).toBe(4);
    // A snapshot replaces the log and raises the commit index.
    const conf = { voters: ['x'], learners: [] as string[] };
    s.save({ entries: [], snapshot: { index: 9, term: 3, conf } });
    conf.voters.push('y');
    expect([s.firstIndex(), s.lastIndex(), s.term(9)]).toEqual([10, 9, 3]);
    expect(s.initialState()).toEqual({ hardState: { term: 2, vote: 'b', commit: 9 }, conf: { voters: ['x'], learners: [] } });
    expect(s.snapshotMeta().conf.voters).toEqual(['x']);
    // A snapshot and entries after it in one batch.
    s.save({ entries: [ent(11, 4)], snapshot: { index: 10, term: 4, conf: CONF3 }, hardState: { term: 4, vote: null, commit: 10 } });
    expect([s.firstIndex(), s.lastIndex(), s.term(11)]).toEqual([11, 11, 4]);
    expect(s.initialState().hardState).toEqual({ term: 4, vote: null, commit: 10 });
  });

  it('resetToSnapshot: replaces the log, raises (never lowers) the commit index, drops a pending commit', () => {
    const s = storageWith([1, 1, 1]);
    s.setHardState({ term: 1, vote: null, commit: 3 });
    s.save({ entries: [], hardState: { term: 1, vote: null, commit: 3 } }); // same: commit-only path
    s.resetToSnapshot({ index: 2, term: 1, conf: CONF3 });
    expect([s.firstIndex(), s.lastIndex(), s.initialState().hardState.commit]).toEqual([3, 2, 3]);
    s.save({ entries: [], hardState: { term: 1, vote: null, commit: 5 } });
    s.resetToSnapshot({ index: 7, term: 2, conf: CONF3 });
    s.crash();
    expect(s.initialState().hardState.commit).toBe(7);
  });

  it('setHardState copies the fields it is given', () => {
    const s = new MemoryStorage(CONF3);
    const hs = { term: 3, vote: 'a', commit: 0, extra: 1 } as never as { term: number; vote: string; commit: number };
    s.setHardState(hs);
    hs.term = 8;
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 'a', commit: 0 });
  });
});
