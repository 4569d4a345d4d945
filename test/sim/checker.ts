/**
 * Raft's safety properties (Figure 3 of the paper), checked by the simulator after every step:
 * - Election Safety: at most one leader per term, over the whole history, counting each incarnation of a replica
 *   (a process restarted with a forgotten term or vote could otherwise lead one term twice, unnoticed).
 * - Log Matching: an (index, term) pair identifies one entry and the entry before it, in every log, ever
 *   (checked on every entry persisted or sent, and periodically on whole logs).
 * - Leader Completeness: an entry committed in term T is in the log of every leader of a term > T.
 * - State Machine Safety: no two nodes apply different entries at one index (and snapshots carry the same state).
 * Plus: committed entries never change, ReadIndex answers are linearizable (cover every write applied anywhere
 * before the read was asked).
 */
import type { Entry, LogStorage, NodeId } from '../../replica/raft/types.js';
import type { RaftLog } from '../../replica/raft/log.js';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

function fail(msg: string): never {
  throw new SafetyViolation(msg);
}

/** FNV-1a over the previous hash and the entry. */
export function chainHash(prev: number, e: { index: number; term: number; data: string }): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  const s = `${e.index}|${e.term}|${e.data}`;
  for (let k = 0; k < s.length; k++) {
    h ^= s.charCodeAt(k);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

interface Committed {
  term: number;
  /** Upper bound of the term in which it was committed (the observer's term). */
  commitTerm: number;
}

interface Applied {
  term: number;
  data: string;
  hash: number;
}

export class Checker {
  /** Term → the leader ("id#incarnation"). */
  readonly leaders = new Map<number, string>();
  private readonly entries = new Map<string, { data: string; type: string; prevTerm: number | null }>();
  private readonly committed: Committed[] = [];
  private readonly applied: Applied[] = [];
  maxCommitted = 0;
  /** Highest index any node applied (state a client may have seen). */
  maxApplied = 0;
  readonly acked: { index: number; data: string }[] = [];
  private readonly reads = new Map<string, { node: NodeId; minIndex: number }>();
  stats = { leaders: 0, commits: 0, applies: 0, snapshotsLoaded: 0, reads: 0, acked: 0 };

  /** The initial state of a cluster bootstrapped with a snapshot at `index` (as if applied there). */
  bootstrap(index: number, term: number, hash: number): void {
    this.applied[index] = { term, data: '<bootstrap>', hash };
    this.committed[index] = { term, commitTerm: 0 };
    this.maxCommitted = Math.max(this.maxCommitted, index);
    this.maxApplied = Math.max(this.maxApplied, index);
  }

  /** Election Safety, per incarnation of a replica. */
  leader(term: number, id: NodeId, incarnation: number): void {
    const who = `${id}#${incarnation}`;
    const prev = this.leaders.get(term);
    if (prev === undefined) {
      this.leaders.set(term, who);
      this.stats.leaders++;
    } else if (prev !== who) fail(`Election Safety: two leaders in term ${term}: ${prev} and ${who} (replica#incarnation)`);
  }

  /** Log Matching on a run of consecutive entries; prevTerm is the term of the entry before the first (null: unknown). */
  entriesSeen(where: string, ents: readonly Entry[], prevTerm: number | null): void {
    let pt = prevTerm;
    for (const e of ents) {
      const key = `${e.index}:${e.term}`;
      const seen = this.entries.get(key);
      if (!seen) this.entries.set(key, { data: e.data, type: e.type, prevTerm: pt });
      else {
        if (seen.data !== e.data || seen.type !== e.type) fail(`Log Matching: ${where}: entry ${key} has data ${JSON.stringify(e.data)}, elsewhere ${JSON.stringify(seen.data)}`);
        if (pt !== null) {
          if (seen.prevTerm === null) seen.prevTerm = pt;
          else if (seen.prevTerm !== pt) fail(`Log Matching: ${where}: entry ${key} follows term ${pt}, elsewhere term ${seen.prevTerm}`);
        }
      }
      pt = e.term;
    }
  }

  /**
   * Log Matching over a whole durable log (not the core's unstable tail: a leader whose term a crash forgets may
   * have appended there, and nobody else ever sees it).
   */
  wholeLog(where: string, log: LogStorage): void {
    const first = log.firstIndex();
    const last = log.lastIndex();
    if (last < first) return;
    this.entriesSeen(where, log.entries(first, last + 1, Number.MAX_SAFE_INTEGER), log.term(first - 1));
  }

  /** Committed entries never change; records when each index was first seen committed. */
  commit(node: NodeId, log: RaftLog, from: number, to: number, observerTerm: number): void {
    for (let i = from + 1; i <= to; i++) {
      const t = log.termOrNull(i);
      if (t === null) continue;
      const c = this.committed[i];
      if (!c) {
        this.committed[i] = { term: t, commitTerm: observerTerm };
        this.stats.commits++;
      } else if (c.term !== t) fail(`committed entry ${i} changed on ${node}: term ${t}, committed with term ${c.term}`);
    }
    if (to > this.maxCommitted) this.maxCommitted = to;
  }

  /** Leader Completeness for a node that just became leader of `term`. */
  newLeader(node: NodeId, term: number, log: RaftLog): void {
    const first = log.firstIndex();
    for (let i = Math.max(1, first - 1); i <= this.maxCommitted; i++) {
      const c = this.committed[i];
      if (!c || c.commitTerm >= term) continue;
      const t = log.termOrNull(i);
      if (t !== c.term) fail(`Leader Completeness: ${node} leads term ${term} without committed entry ${i} (term ${c.term}, has ${t})`);
    }
  }

  /** State Machine Safety at apply time; returns the new hash. */
  apply(node: NodeId, prevHash: number, e: Entry): number {
    const hash = chainHash(prevHash, e);
    const a = this.applied[e.index];
    if (!a) this.applied[e.index] = { term: e.term, data: e.data, hash };
    else if (a.term !== e.term || a.data !== e.data) {
      fail(`State Machine Safety: ${node} applies ${e.index}:${e.term} ${JSON.stringify(e.data)}, another node applied ${e.index}:${a.term} ${JSON.stringify(a.data)}`);
    } else if (a.hash !== hash) fail(`State Machine Safety: ${node} state after ${e.index} differs from another node's`);
    if (e.index > this.maxApplied) this.maxApplied = e.index;
    this.stats.applies++;
    return hash;
  }

  /** State Machine Safety for a snapshot load. */
  snapshotLoaded(node: NodeId, index: number, hash: number): void {
    const a = this.applied[index];
    if (index > 0 && !a) fail(`${node} loaded a snapshot at ${index} that no node applied`);
    if (a && a.hash !== hash) fail(`State Machine Safety: ${node} loaded a snapshot at ${index} whose state differs`);
    if (index > this.maxApplied) this.maxApplied = index;
    this.stats.snapshotsLoaded++;
  }

  appliedAt(index: number): Applied | undefined {
    return this.applied[index];
  }

  ack(index: number, data: string): void {
    this.acked.push({ index, data });
    this.stats.acked++;
  }

  /**
   * A read must reflect every write visible before it was asked: the highest index any node had applied. (An entry
   * committed in a leader's memory but lost in a crash before its commit index was persisted or sent was never
   * visible; a restarted single-voter leader may legitimately answer below it.)
   */
  readRequested(node: NodeId, context: string): void {
    this.reads.set(context, { node, minIndex: this.maxApplied });
  }

  /** A read served at `index` (the state it saw) must cover every write visible before the read was requested. */
  readAnswered(node: NodeId, context: string, index: number): void {
    const r = this.reads.get(context);
    if (!r) fail(`${node} got a read state for unknown context ${context}`);
    if (r.node !== node) fail(`read ${context} asked on ${r.node} answered on ${node}`);
    if (index < r.minIndex) fail(`ReadIndex not linearizable: ${context} answered with index ${index} but ${r.minIndex} was applied before it was asked`);
    if (index > this.maxApplied) fail(`read ${context} served at applied index ${index}, beyond anything applied (${this.maxApplied})`);
    // Kept: a duplicated message may answer the same read twice; each answer must be linearizable.
    this.stats.reads++;
  }
}
