/**
 * The chaos checker: pure functions over a recorded history (no I/O), so it can be unit-tested with hand-made
 * histories that contain each kind of violation.
 *
 * What it checks (every send's text is unique, so a message is identified by its text's key `w<worker>-<n>`, which
 * every edit of it keeps; group sends count as sends, read by every member but the sender):
 * - lost: an acknowledged send is missing from the final state (and no delete named it), or it survives but its
 *   recipient never got it from a read (it is marked read, yet no read that succeeded returned it and no read with an
 *   unknown outcome could have taken it).
 * - duplicated: one send stored (or seen) under two ids, or one message returned by two successful reads of one
 *   account.
 * - groups: every acknowledged group message is read exactly once by every member but its sender (a member whose
 *   reads never returned it lost it, unless a read of that member with an unknown outcome could have taken it), and
 *   each member reads a group's messages in the order they were stored; a group exists with the members its creation
 *   asked for (the creator and them), exists if its creation was acknowledged, and does not if it was refused.
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
 * - editViolations: a message's versions (its send's text, then each edit's) form one register per message. A text
 *   that an acknowledged edit replaced before an operation began must not be what that operation (or the final state
 *   on every replica) returns; a text must not come back after another replaced it (an edit applied twice); a text no
 *   send or edit of that message wrote, a refused edit's text, or one returned before its edit began is a phantom.
 * - leadersPerTermMax: distinct leaders that anyone reported for one term.
 */
import type { CheckResult, Digest, GroupRecord, LeaderObservation, OpRecord, SeenMessage, Violation } from './types.js';

export interface CheckInput {
  ops: OpRecord[];
  /** Every live message between the run's accounts after healing (history of every pair, all pages). */
  finalMessages: SeenMessage[];
  /** Every group after healing with its members (absent: no groups were listed, as in histories without groups). */
  finalGroups?: GroupRecord[];
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

/** The key of a chaos text (`w<worker>-<n>`, kept by every edit of the message), or the whole text for any other. */
export function keyOf(text: string): string {
  return /^w\d+-\d+(?=-|$)/.exec(text)?.[0] ?? text;
}

export function check(input: CheckInput): CheckResult {
  const { ops } = input;
  const violations: Violation[] = [];
  const note = (v: Violation) => {
    if (violations.length < MAX_VIOLATIONS) violations.push(v);
  };
  const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(v);
  };

  // One-to-one sends and group sends: every message a send made, identified by the key of its text.
  const sends = ops.filter((o) => o.op === 'send' || o.op === 'groupSend');
  const sendByKey = new Map<string, OpRecord>();
  for (const s of sends) if (s.args.text !== undefined) sendByKey.set(keyOf(s.args.text), s);
  const ackedSends = sends.filter((s) => s.outcome === 'ok' && s.id !== undefined);
  const ackedDirect = ackedSends.filter((s) => s.op === 'send');
  const ackedGroup = ackedSends.filter((s) => s.op === 'groupSend');
  const reads = ops.filter((o) => o.op === 'read');
  const histories = ops.filter((o) => o.op === 'history');
  const groupHistories = ops.filter((o) => o.op === 'groupHistory');
  const deletes = ops.filter((o) => o.op === 'delete' && o.outcome !== 'fail');
  const edits = ops.filter((o) => o.op === 'edit');
  /** The operation that wrote each text: a send (its original text) or an edit. */
  const writerOf = new Map<string, OpRecord>();
  for (const s of sends) if (s.args.text !== undefined) writerOf.set(s.args.text, s);
  for (const e of edits) if (e.args.text !== undefined) writerOf.set(e.args.text, e);

  // Which delete operations (that may have changed something) named each id, and when they began.
  const deletedBy = new Map<number, OpRecord[]>();
  for (const d of deletes) for (const id of d.args.ids ?? []) push(deletedBy, id, d);
  const deletedBefore = (id: number, t: number) => (deletedBy.get(id) ?? []).some((d) => d.start <= t);

  let lost = 0;
  let duplicated = 0;
  let orderViolations = 0;
  let staleReads = 0;
  let phantoms = 0;
  let editViolations = 0;

  // ---- every message anyone saw: key → ids
  const idsByKey = new Map<string, Set<number>>();
  const see = (m: SeenMessage) => {
    const k = keyOf(m.text);
    let s = idsByKey.get(k);
    if (!s) idsByKey.set(k, (s = new Set()));
    s.add(m.id);
  };
  const finalByKey = new Map<string, SeenMessage[]>();
  for (const m of input.finalMessages) {
    see(m);
    push(finalByKey, keyOf(m.text), m);
  }
  const observing = [...reads, ...histories, ...groupHistories].filter((o) => o.outcome === 'ok');
  for (const o of observing) for (const m of o.messages ?? []) see(m);

  // ---- phantoms and duplicates over everything seen
  for (const [key, ids] of idsByKey) {
    const s = sendByKey.get(key);
    if (!s) {
      phantoms++;
      note({ kind: 'phantom', detail: `message "${short(key)}" (ids ${[...ids].join(',')}) was produced by no send` });
      continue;
    }
    if (s.outcome === 'fail') {
      phantoms++;
      note({ kind: 'phantom', detail: `send "${short(key)}" was refused (${s.error}) but is stored as ${[...ids].join(',')}`, ops: [s.n] });
    }
    if (ids.size > 1) {
      duplicated += ids.size - 1;
      note({ kind: 'duplicated', detail: `send "${short(key)}" is stored under ${ids.size} ids: ${[...ids].join(', ')}`, ops: [s.n] });
    }
    if (s.outcome === 'ok' && s.id !== undefined && !ids.has(s.id)) {
      lost++;
      note({ kind: 'lost', detail: `send "${short(key)}" was acknowledged as id ${s.id} but is stored as ${[...ids].join(',')}`, ops: [s.n] });
    }
  }
  for (const o of observing) {
    for (const m of o.messages ?? []) {
      const s = sendByKey.get(keyOf(m.text));
      if (s && s.start > o.end) {
        phantoms++;
        note({ kind: 'phantom', detail: `${o.op} #${o.n} (ended ${o.end} ms) returned "${short(m.text)}" whose send began at ${s.start} ms`, ops: [o.n, s.n] });
      }
      const whereSent = s ? (s.op === 'groupSend' ? `#${s.args.group}` : s.args.to) : undefined;
      const whereSeen = m.group !== undefined ? `#${m.group}` : m.to;
      if (s && (whereSent !== whereSeen || s.user !== m.from)) {
        phantoms++;
        note({ kind: 'phantom', detail: `"${short(m.text)}" sent ${s.user}→${whereSent} but seen as ${m.from}→${whereSeen}`, ops: [o.n, s.n] });
      }
    }
  }

  // ---- acknowledged sends survive (unless deleted)
  for (const s of ackedSends) {
    if (finalByKey.has(keyOf(s.args.text!))) continue;
    if (deletedBy.has(s.id!)) continue;
    lost++;
    const to = s.op === 'groupSend' ? `#${s.args.group}` : s.args.to;
    note({ kind: 'lost', detail: `acknowledged send #${s.n} ${s.user}→${to} "${short(s.args.text!)}" (id ${s.id}) is not in the final state`, ops: [s.n] });
  }

  // ---- groups: who is in each (as created), and that the final state agrees
  const createOf = new Map<string, OpRecord>();
  for (const c of ops) if (c.op === 'createGroup' && c.args.group !== undefined) createOf.set(c.args.group, c);
  const membersOf = new Map<string, string[]>();
  for (const c of createOf.values()) if (c.outcome !== 'fail') membersOf.set(c.args.group!, [c.user, ...(c.args.members ?? [])].sort());
  if (input.finalGroups) {
    const finalNames = new Set(input.finalGroups.map((g) => g.name));
    for (const g of input.finalGroups) {
      const c = createOf.get(g.name);
      if (!c || c.outcome === 'fail') {
        phantoms++;
        note({ kind: 'phantom', detail: `group ${g.name} exists but ${c ? `its creation was refused (${c.error})` : 'no operation created it'}`, ops: c ? [c.n] : undefined });
        continue;
      }
      const asked = membersOf.get(g.name)!;
      if (asked.join(',') !== [...g.members].sort().join(',')) {
        phantoms++;
        note({ kind: 'phantom', detail: `group ${g.name} has members ${g.members.join(', ')}; its creation asked for ${asked.join(', ')}`, ops: [c.n] });
      }
    }
    for (const c of createOf.values()) {
      if (c.outcome === 'ok' && !finalNames.has(c.args.group!)) {
        lost++;
        note({ kind: 'lost', detail: `group ${c.args.group} was created (acknowledged) but is not in the final state`, ops: [c.n] });
      }
    }
  }
  /** The accounts that must read a group send (every member but its sender). */
  const readersOf = (s: OpRecord) => (membersOf.get(s.args.group!) ?? []).filter((u) => u !== s.user);

  // ---- read exactly once by each recipient (the addressee; every other member of a group)
  const okReads = reads.filter((r) => r.outcome === 'ok');
  const readCount = new Map<string, number[]>();
  const readKey = (user: string, id: number) => `${user}|${id}`;
  for (const r of okReads) for (const m of r.messages ?? []) push(readCount, readKey(r.user, m.id), r.n);
  for (const [k, by] of readCount) {
    if (by.length > 1) {
      duplicated += by.length - 1;
      const [user, id] = k.split('|');
      note({ kind: 'duplicated', detail: `message ${id} was returned to ${user} by ${by.length} successful reads`, ops: by });
    }
  }
  const unknownReadsOf = new Map<string, OpRecord[]>();
  for (const r of reads) if (r.outcome === 'unknown') push(unknownReadsOf, r.user, r);
  let readByUnknown = 0;
  for (const s of ackedDirect) {
    const stored = finalByKey.get(keyOf(s.args.text!))?.[0];
    if (!stored || stored.id !== s.id) continue;
    if (readCount.has(readKey(s.args.to!, s.id!))) continue;
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
  for (const s of ackedGroup) {
    const stored = finalByKey.get(keyOf(s.args.text!))?.[0];
    if (!stored || stored.id !== s.id) continue;
    for (const member of readersOf(s)) {
      if (readCount.has(readKey(member, s.id!))) continue;
      if ((unknownReadsOf.get(member) ?? []).some((r) => r.end >= s.start)) {
        readByUnknown++;
        continue;
      }
      // After the final drain every member's watermark is past it: some read took it, and none returned it.
      if (!input.drainComplete) continue;
      lost++;
      note({ kind: 'lost', detail: `group message ${s.id} to #${s.args.group} was never read by member ${member}`, ops: [s.n] });
    }
  }
  // Each member reads a group's messages in stored order: across its reads (one at a time), their ids rise.
  const lastGroupRead = new Map<string, { id: number; n: number }>();
  for (const r of [...okReads].sort((a, b) => a.start - b.start)) {
    for (const m of r.messages ?? []) {
      if (m.group === undefined) continue;
      const k = `${r.user}|${m.group}`;
      const prev = lastGroupRead.get(k);
      if (prev && m.id <= prev.id) {
        orderViolations++;
        note({ kind: 'order', detail: `${r.user} read #${m.group} message ${m.id} (read #${r.n}) after message ${prev.id} (read #${prev.n})`, ops: [prev.n, r.n] });
      }
      if (!prev || m.id > prev.id) lastGroupRead.set(k, { id: m.id, n: r.n });
    }
  }

  // ---- per-sender order
  const byWorker = new Map<number, OpRecord[]>();
  for (const s of ackedSends) push(byWorker, s.worker, s);
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
  for (const m of input.finalMessages) push(storedBySender, m.from, m);
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

  // ---- stale reads: history (a conversation's, a group's)
  const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
  const ackedByPair = new Map<string, OpRecord[]>();
  const ackedByGroup = new Map<string, OpRecord[]>();
  const ackedTo = new Map<string, OpRecord[]>();
  for (const s of ackedDirect) {
    push(ackedByPair, pairKey(s.user, s.args.to!), s);
    push(ackedTo, s.args.to!, s);
  }
  for (const s of ackedGroup) {
    push(ackedByGroup, s.args.group!, s);
    for (const member of readersOf(s)) push(ackedTo, member, s);
  }
  for (const h of [...histories, ...groupHistories]) {
    if (h.outcome !== 'ok' || h.args.before !== undefined) continue;
    const got = new Set((h.messages ?? []).map((m) => m.id));
    const limit = h.args.limit ?? 50;
    // A group page also holds membership events (not recorded): a page of fewer messages than asked may be full.
    const full = h.op === 'groupHistory' ? true : (h.messages?.length ?? 0) >= limit;
    const oldest = got.size ? Math.min(...got) : Number.MAX_SAFE_INTEGER;
    const candidates = h.op === 'groupHistory' ? (ackedByGroup.get(h.args.group!) ?? []) : (ackedByPair.get(pairKey(h.user, h.args.with!)) ?? []);
    for (const s of candidates) {
      if (s.end >= h.start || got.has(s.id!)) continue;
      if (full && s.id! < oldest) continue;
      if (deletedBefore(s.id!, h.end)) continue;
      staleReads++;
      const what = h.op === 'groupHistory' ? `#${h.args.group}` : `with ${h.args.with}`;
      note({ kind: 'stale', detail: `${h.op} #${h.n} (${h.user} ${what}, began ${h.start} ms) misses message ${s.id} acknowledged at ${s.end} ms`, ops: [s.n, h.n] });
    }
  }

  // ---- stale reads: a read that drained the inbox
  // (reader, id) → when the first successful read of that reader that returned it began
  const firstReadStart = new Map<string, number>();
  for (const r of okReads) for (const m of r.messages ?? []) {
    const k = readKey(r.user, m.id);
    const t = firstReadStart.get(k);
    if (t === undefined || r.start < t) firstReadStart.set(k, r.start);
  }
  for (const r of okReads) {
    const limit = r.args.limit ?? 50;
    if ((r.messages?.length ?? 0) >= limit) continue;
    const unknownMine = (unknownReadsOf.get(r.user) ?? []).filter((x) => x.start <= r.end);
    for (const s of ackedTo.get(r.user) ?? []) {
      if (s.end >= r.start) continue;
      const readAt = firstReadStart.get(readKey(r.user, s.id!));
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
    if (idsByKey.has(keyOf(s.args.text!))) unknownApplied++;
    else unknownNotApplied++;
  }

  // ---- edits: each message's text is a register written by its send, then by each edit of it
  const ackedEditsOf = new Map<string, OpRecord[]>();
  for (const e of edits) if (e.outcome === 'ok' && e.args.text !== undefined) push(ackedEditsOf, keyOf(e.args.text), e);
  /** Observations of a message's text, by key: what an operation (or the final state, at +∞) returned. */
  const seenTexts = new Map<string, { text: string; start: number; end: number; n: number | null }[]>();
  for (const o of observing) for (const m of o.messages ?? []) push(seenTexts, keyOf(m.text), { text: m.text, start: o.start, end: o.end, n: o.n });
  for (const m of input.finalMessages) push(seenTexts, keyOf(m.text), { text: m.text, start: Infinity, end: Infinity, n: null });
  for (const [key, seenList] of seenTexts) {
    const s = sendByKey.get(key);
    if (!s) continue; // a phantom, counted above
    for (const v of seenList) {
      const w = writerOf.get(v.text);
      const by = v.n === null ? 'the final state' : `operation #${v.n}`;
      if (!w || keyOf(w.args.text!) !== key) {
        phantoms++;
        note({ kind: 'phantom', detail: `${by} shows message "${short(key)}" with text "${short(v.text)}", which no send or edit of it wrote`, ops: v.n === null ? undefined : [v.n] });
        continue;
      }
      if (w.op === 'edit' && w.outcome === 'fail') {
        phantoms++;
        note({ kind: 'phantom', detail: `${by} shows the text of edit #${w.n}, which was refused (${w.error})`, ops: v.n === null ? [w.n] : [w.n, v.n] });
        continue;
      }
      if (w.op === 'edit' && w.start > v.end) {
        phantoms++;
        note({ kind: 'phantom', detail: `${by} (ended ${v.end} ms) shows the text of edit #${w.n}, which began at ${w.start} ms`, ops: [w.n, ...(v.n === null ? [] : [v.n])] });
        continue;
      }
      // An acknowledged (or unknown: it may complete any time) write's text stays until a later write replaces it:
      // one acknowledged after this write was acknowledged, and before the observation began, has.
      if (w.outcome !== 'ok') continue;
      const replaced = (ackedEditsOf.get(key) ?? []).find((e) => e !== w && e.start > w.end && e.end < v.start);
      if (replaced) {
        editViolations++;
        note({ kind: 'edit', detail: `${by} shows "${short(v.text)}" (written by #${w.n}), though acknowledged edit #${replaced.n} replaced it with "${short(replaced.args.text!)}" at ${replaced.end} ms`, ops: [w.n, replaced.n, ...(v.n === null ? [] : [v.n])] });
      }
    }
    // A text must not come back after another replaced it: observed, then another seen strictly later, then again.
    const firstEnd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    for (const v of seenList) {
      firstEnd.set(v.text, Math.min(firstEnd.get(v.text) ?? Infinity, v.end));
      lastStart.set(v.text, Math.max(lastStart.get(v.text) ?? -Infinity, v.start));
    }
    const reported = new Set<string>();
    for (const v of seenList) {
      for (const [text, fe] of firstEnd) {
        if (text === v.text || reported.has(text)) continue;
        if (fe < v.start && lastStart.get(text)! > v.end) {
          reported.add(text);
          editViolations++;
          note({ kind: 'edit', detail: `message "${short(key)}": "${short(text)}" was seen, then "${short(v.text)}"${v.n === null ? '' : ` (operation #${v.n})`}, then "${short(text)}" again (applied twice?)` });
        }
      }
    }
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
    groupMessages: ackedGroup.length,
    edits: edits.filter((e) => e.outcome === 'ok').length,
    editViolations,
    leadersPerTermMax,
    splitTerms,
    readByUnknown,
    violations,
  };
}

function short(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
