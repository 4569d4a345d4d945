/**
 * The chaos checker: pure functions over a recorded history (no I/O), so it can be unit-tested with hand-made
 * histories that contain each kind of violation.
 *
 * What it checks (every send's text is unique, so a message is identified by its text):
 * - lost: an acknowledged send is missing from the final state (and no delete named it), or it survives but its
 *   recipient never got it from a read (it is marked read, yet no read that succeeded returned it and no read with an
 *   unknown outcome could have taken it).
 * - duplicated: one send stored (or seen) under two ids, or one message returned by two successful reads.
 * - orderViolations: one worker's sends (it sends one at a time) acknowledged with ids that do not increase, or
 *   stored in an order other than the order they were sent.
 * - staleReads: a history that began after a send between the two was acknowledged and does not include it (unless
 *   deleted or beyond the page), or a read that drained the inbox and missed a message acknowledged before it began.
 * - phantoms: a message no send produced, a send that failed (a definite refusal) but was applied, or a read that
 *   returned a message whose send began only after the read ended.
 * - unknown sends: counted as applied once or not at all; applied twice shows up as duplicated.
 * - clockViolations: message times that are not sensible (a replica whose clock is off, the clockSkew fault, must
 *   not stamp them): an acknowledged send stamped more than CLOCK_TOLERANCE_MS before the send was made or after it
 *   was acknowledged, by the run's own clock; or a message stamped earlier than a message before it (message ids
 *   are log indices, and the cluster's clock never goes back along the log), so times rise in every conversation.
 * - leadersPerTermMax: distinct leaders that anyone reported for one term.
 */
import type { CheckResult, Digest, LeaderObservation, OpRecord, SeenMessage, Violation } from './types.js';

export interface CheckInput {
  ops: OpRecord[];
  /** Every live message between the run's accounts after healing (history of every pair, all pages). */
  finalMessages: SeenMessage[];
  observations: LeaderObservation[];
  /** Digests after healing; converged means every replica reported the same applied index and hash. */
  digests: Digest[];
  converged: boolean;
  /** The final read drain completed (every account read until its inbox was empty). */
  drainComplete: boolean;
  /** Wall-clock time (ms since the epoch) at which the history's times are 0; without it sends' times are not checked. */
  runStartedAt?: number;
}

/** How far a message time may be from the real time of its send (delays between clocks, a busy machine). */
export const CLOCK_TOLERANCE_MS = 60_000;

const MAX_VIOLATIONS = 200;

/** `w<worker>-<n>`: the prefix every chaos text starts with. */
export function parseText(text: string): { worker: number; n: number } | null {
  const m = /^w(\d+)-(\d+)(?:-|$)/.exec(text);
  return m ? { worker: Number(m[1]), n: Number(m[2]) } : null;
}

export function check(input: CheckInput): CheckResult {
  const { ops } = input;
  const violations: Violation[] = [];
  const note = (v: Violation) => {
    if (violations.length < MAX_VIOLATIONS) violations.push(v);
  };

  const sends = ops.filter((o) => o.op === 'send');
  const sendByText = new Map<string, OpRecord>();
  for (const s of sends) if (s.args.text !== undefined) sendByText.set(s.args.text, s);
  const ackedSends = sends.filter((s) => s.outcome === 'ok' && s.id !== undefined);
  const reads = ops.filter((o) => o.op === 'read');
  const histories = ops.filter((o) => o.op === 'history');
  const deletes = ops.filter((o) => o.op === 'delete' && o.outcome !== 'fail');

  // Which delete operations (that may have changed something) named each id, and when they began.
  const deletedBy = new Map<number, OpRecord[]>();
  for (const d of deletes) for (const id of d.args.ids ?? []) {
    let l = deletedBy.get(id);
    if (!l) deletedBy.set(id, (l = []));
    l.push(d);
  }
  const deletedBefore = (id: number, t: number) => (deletedBy.get(id) ?? []).some((d) => d.start <= t);

  let lost = 0;
  let duplicated = 0;
  let orderViolations = 0;
  let staleReads = 0;
  let phantoms = 0;

  // ---- every message anyone saw: text → ids
  const idsByText = new Map<string, Set<number>>();
  const see = (m: SeenMessage) => {
    let s = idsByText.get(m.text);
    if (!s) idsByText.set(m.text, (s = new Set()));
    s.add(m.id);
  };
  const finalByText = new Map<string, SeenMessage[]>();
  for (const m of input.finalMessages) {
    see(m);
    let l = finalByText.get(m.text);
    if (!l) finalByText.set(m.text, (l = []));
    l.push(m);
  }
  for (const o of [...reads, ...histories]) if (o.outcome === 'ok') for (const m of o.messages ?? []) see(m);

  // ---- phantoms and duplicates over everything seen
  for (const [text, ids] of idsByText) {
    const s = sendByText.get(text);
    if (!s) {
      phantoms++;
      note({ kind: 'phantom', detail: `message "${short(text)}" (ids ${[...ids].join(',')}) was produced by no send` });
      continue;
    }
    if (s.outcome === 'fail') {
      phantoms++;
      note({ kind: 'phantom', detail: `send "${short(text)}" was refused (${s.error}) but is stored as ${[...ids].join(',')}`, ops: [s.n] });
    }
    if (ids.size > 1) {
      duplicated += ids.size - 1;
      note({ kind: 'duplicated', detail: `send "${short(text)}" is stored under ${ids.size} ids: ${[...ids].join(', ')}`, ops: [s.n] });
    }
    if (s.outcome === 'ok' && s.id !== undefined && !ids.has(s.id)) {
      lost++;
      note({ kind: 'lost', detail: `send "${short(text)}" was acknowledged as id ${s.id} but is stored as ${[...ids].join(',')}`, ops: [s.n] });
    }
  }
  for (const o of [...reads, ...histories]) {
    if (o.outcome !== 'ok') continue;
    for (const m of o.messages ?? []) {
      const s = sendByText.get(m.text);
      if (s && s.start > o.end) {
        phantoms++;
        note({ kind: 'phantom', detail: `${o.op} #${o.n} (ended ${o.end} ms) returned "${short(m.text)}" whose send began at ${s.start} ms`, ops: [o.n, s.n] });
      }
      if (s && (s.args.to !== m.to || s.user !== m.from)) {
        phantoms++;
        note({ kind: 'phantom', detail: `"${short(m.text)}" sent ${s.user}→${s.args.to} but seen as ${m.from}→${m.to}`, ops: [o.n, s.n] });
      }
    }
  }

  // ---- acknowledged sends survive (unless deleted)
  for (const s of ackedSends) {
    if (finalByText.has(s.args.text!)) continue;
    if (deletedBy.has(s.id!)) continue;
    lost++;
    note({ kind: 'lost', detail: `acknowledged send #${s.n} ${s.user}→${s.args.to} "${short(s.args.text!)}" (id ${s.id}) is not in the final state`, ops: [s.n] });
  }

  // ---- read exactly once by the recipient
  const okReads = reads.filter((r) => r.outcome === 'ok');
  const readCount = new Map<number, number[]>();
  for (const r of okReads) for (const m of r.messages ?? []) {
    let l = readCount.get(m.id);
    if (!l) readCount.set(m.id, (l = []));
    l.push(r.n);
  }
  for (const [id, by] of readCount) {
    if (by.length > 1) {
      duplicated += by.length - 1;
      note({ kind: 'duplicated', detail: `message ${id} was returned by ${by.length} successful reads`, ops: by });
    }
  }
  const unknownReadsOf = new Map<string, OpRecord[]>();
  for (const r of reads) if (r.outcome === 'unknown') {
    let l = unknownReadsOf.get(r.user);
    if (!l) unknownReadsOf.set(r.user, (l = []));
    l.push(r);
  }
  let readByUnknown = 0;
  for (const s of ackedSends) {
    const stored = finalByText.get(s.args.text!)?.[0];
    if (!stored || stored.id !== s.id) continue;
    if (readCount.has(s.id!)) continue;
    if (stored.readAt === null) {
      if (input.drainComplete) {
        staleReads++;
        note({ kind: 'stale', detail: `acknowledged message ${s.id} to ${s.args.to} is still unread after the final read drain`, ops: [s.n] });
      }
      continue;
    }
    if ((unknownReadsOf.get(s.args.to!) ?? []).some((r) => r.end >= s.start)) {
      readByUnknown++;
      continue;
    }
    lost++;
    note({ kind: 'lost', detail: `message ${s.id} to ${s.args.to} is marked read but no read returned it`, ops: [s.n] });
  }

  // ---- per-sender order
  const byWorker = new Map<number, OpRecord[]>();
  for (const s of ackedSends) {
    let l = byWorker.get(s.worker);
    if (!l) byWorker.set(s.worker, (l = []));
    l.push(s);
  }
  for (const list of byWorker.values()) {
    list.sort((a, b) => a.end - b.end);
    for (let i = 1; i < list.length; i++) {
      if (list[i].id! <= list[i - 1].id!) {
        orderViolations++;
        note({ kind: 'order', detail: `${list[i].user}: send #${list[i].n} acknowledged as id ${list[i].id} after send #${list[i - 1].n} got id ${list[i - 1].id}`, ops: [list[i - 1].n, list[i].n] });
      }
    }
  }
  const storedBySender = new Map<string, SeenMessage[]>();
  for (const m of input.finalMessages) {
    let l = storedBySender.get(m.from);
    if (!l) storedBySender.set(m.from, (l = []));
    l.push(m);
  }
  for (const [from, list] of storedBySender) {
    list.sort((a, b) => a.id - b.id);
    let prev: { n: number; id: number } | null = null;
    for (const m of list) {
      const p = parseText(m.text);
      if (!p) continue;
      if (prev && p.n <= prev.n) {
        orderViolations++;
        note({ kind: 'order', detail: `${from}: stored message ${m.id} ("${short(m.text)}") comes after ${prev.id} but was sent before it` });
      }
      prev = { n: p.n, id: m.id };
    }
  }

  // ---- stale reads: history
  const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  const ackedByPair = new Map<string, OpRecord[]>();
  const ackedTo = new Map<string, OpRecord[]>();
  for (const s of ackedSends) {
    const k = pairKey(s.user, s.args.to!);
    let l = ackedByPair.get(k);
    if (!l) ackedByPair.set(k, (l = []));
    l.push(s);
    let t = ackedTo.get(s.args.to!);
    if (!t) ackedTo.set(s.args.to!, (t = []));
    t.push(s);
  }
  for (const h of histories) {
    if (h.outcome !== 'ok' || h.args.before !== undefined) continue;
    const got = new Set((h.messages ?? []).map((m) => m.id));
    const limit = h.args.limit ?? 50;
    const full = (h.messages?.length ?? 0) >= limit;
    const oldest = full ? Math.min(...got) : 0;
    for (const s of ackedByPair.get(pairKey(h.user, h.args.with!)) ?? []) {
      if (s.end >= h.start || got.has(s.id!)) continue;
      if (full && s.id! < oldest) continue;
      if (deletedBefore(s.id!, h.end)) continue;
      staleReads++;
      note({ kind: 'stale', detail: `history #${h.n} (${h.user} with ${h.args.with}, began ${h.start} ms) misses message ${s.id} acknowledged at ${s.end} ms`, ops: [s.n, h.n] });
    }
  }

  // ---- stale reads: a read that drained the inbox
  // id → when the first successful read that returned it began
  const firstReadStart = new Map<number, number>();
  for (const r of okReads) for (const m of r.messages ?? []) {
    const t = firstReadStart.get(m.id);
    if (t === undefined || r.start < t) firstReadStart.set(m.id, r.start);
  }
  for (const r of okReads) {
    const limit = r.args.limit ?? 50;
    if ((r.messages?.length ?? 0) >= limit) continue;
    const unknownMine = (unknownReadsOf.get(r.user) ?? []).filter((x) => x.start <= r.end);
    for (const s of ackedTo.get(r.user) ?? []) {
      if (s.end >= r.start) continue;
      const readAt = firstReadStart.get(s.id!);
      if (readAt !== undefined && readAt <= r.end) continue;
      if (unknownMine.some((x) => x.end >= s.start)) continue;
      if (deletedBefore(s.id!, r.end)) continue;
      staleReads++;
      note({ kind: 'stale', detail: `read #${r.n} by ${r.user} (began ${r.start} ms) emptied the inbox but never returned message ${s.id} acknowledged at ${s.end} ms`, ops: [s.n, r.n] });
    }
  }

  // ---- unknown sends: once or not at all
  let unknownApplied = 0;
  let unknownNotApplied = 0;
  for (const s of sends) {
    if (s.outcome !== 'unknown') continue;
    if (idsByText.has(s.args.text!)) unknownApplied++;
    else unknownNotApplied++;
  }

  // ---- message times
  let clockViolations = 0;
  const at = (ms: number) => new Date(ms).toISOString();
  if (input.runStartedAt !== undefined) {
    for (const s of ackedSends) {
      if (s.sentAt === undefined) continue;
      const made = input.runStartedAt + s.start;
      const acked = input.runStartedAt + s.end;
      if (s.sentAt >= made - CLOCK_TOLERANCE_MS && s.sentAt <= acked + CLOCK_TOLERANCE_MS) continue;
      clockViolations++;
      const off = s.sentAt > acked ? `${Math.round((s.sentAt - acked) / 1000)} s after it was acknowledged` : `${Math.round((made - s.sentAt) / 1000)} s before it was made`;
      note({ kind: 'clock', detail: `send #${s.n} (id ${s.id}) was stamped ${at(s.sentAt)}, ${off}`, ops: [s.n] });
    }
  }
  const stamped = input.finalMessages.filter((m) => m.sentAt !== undefined).sort((a, b) => a.id - b.id);
  for (let i = 1; i < stamped.length; i++) {
    const [prev, m] = [stamped[i - 1], stamped[i]];
    if (m.sentAt! >= prev.sentAt!) continue;
    clockViolations++;
    note({ kind: 'clock', detail: `message ${m.id} was stamped ${at(m.sentAt!)}, earlier than message ${prev.id} before it (${at(prev.sentAt!)})` });
  }

  // ---- leaders per term
  const leadersByTerm = new Map<number, Set<string>>();
  for (const o of input.observations) {
    const who = o.role === 'leader' ? o.replica : o.leader;
    if (!who) continue;
    let s = leadersByTerm.get(o.term);
    if (!s) leadersByTerm.set(o.term, (s = new Set()));
    s.add(who);
  }
  let leadersPerTermMax = 0;
  const splitTerms: Record<number, string[]> = {};
  for (const [term, s] of leadersByTerm) {
    leadersPerTermMax = Math.max(leadersPerTermMax, s.size);
    if (s.size > 1) {
      splitTerms[term] = [...s].sort();
      note({ kind: 'leaders', detail: `term ${term} had ${s.size} leaders: ${[...s].sort().join(', ')}` });
    }
  }

  const count = (o: OpRecord['outcome']) => ops.filter((x) => x.outcome === o).length;
  return {
    operations: ops.length,
    acknowledged: count('ok'),
    acknowledgedSends: ackedSends.length,
    failed: count('fail'),
    unknown: count('unknown'),
    unknownApplied,
    unknownNotApplied,
    lost,
    duplicated,
    orderViolations,
    staleReads,
    phantoms,
    clockViolations,
    leadersPerTermMax,
    splitTerms,
    readByUnknown,
    violations,
  };
}

function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
