/**
 * Property tests (fast-check, seeded): determinism of apply across replicas and batchings, derived counters
 * consistent with the messages, wildcard matching against a reference regex, and index use of every hot statement.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { patternToGlob } from '../../replica/chat/state-machine.js';
import { prepareStatements } from '../../replica/chat/statements.js';
import type { Entry } from '../../replica/raft/types.js';
import { Harness, pw, tok } from '../helpers/chat-harness.js';

const SEED = 20241126;
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});
function harness(): Harness {
  const h = new Harness();
  cleanup.push(() => h.dispose());
  return h;
}

// ---------------------------------------------------------------- random command sequences

const USERS = ['ann', 'bob', 'Cat'];
const user = fc.constantFrom(...USERS);
const login = fc.record({ u: user, k: fc.integer({ min: 0, max: 1 }) });

type Op =
  | { op: 'signup'; u: string }
  | { op: 'login'; u: string; k: number; wrong: boolean }
  | { op: 'logout'; u: string; k: number }
  | { op: 'send'; u: string; k: number; to: string; text: string }
  | { op: 'read'; u: string; k: number; limit: number }
  | { op: 'markRead'; u: string; k: number; with: string; upTo: number }
  | { op: 'delivered'; u: string; k: number; upTo: number }
  | { op: 'delete'; u: string; k: number; ids: number[] }
  | { op: 'deleteAccount'; u: string; k: number; wrong: boolean }
  | { op: 'retry'; back: number }
  | { op: 'noop' }
  | { op: 'garbage' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('signup' as const), u: user }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('login' as const), u: user, k: fc.integer({ min: 0, max: 1 }), wrong: fc.boolean() }), weight: 3 },
  { arbitrary: login.map((l) => ({ op: 'logout' as const, ...l })), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('send' as const),
      u: user,
      k: fc.integer({ min: 0, max: 1 }),
      to: fc.constantFrom(...USERS, 'CAT', 'ghost'),
      text: fc.string({ minLength: 1, maxLength: 8 }),
    }),
    weight: 8,
  },
  { arbitrary: fc.record({ op: fc.constant('read' as const), u: user, k: fc.integer({ min: 0, max: 1 }), limit: fc.integer({ min: 1, max: 3 }) }), weight: 3 },
  {
    arbitrary: fc.record({
      op: fc.constant('markRead' as const),
      u: user,
      k: fc.integer({ min: 0, max: 1 }),
      with: fc.constantFrom(...USERS, 'ghost'),
      upTo: fc.integer({ min: 1, max: 70 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ op: fc.constant('delivered' as const), u: user, k: fc.integer({ min: 0, max: 1 }), upTo: fc.integer({ min: 1, max: 70 }) }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('delete' as const),
      u: user,
      k: fc.integer({ min: 0, max: 1 }),
      // Each id: the n-th most recent send entry (a message if the send succeeded), or (-1) an id never used.
      ids: fc.array(fc.oneof({ arbitrary: fc.integer({ min: 1, max: 6 }), weight: 9 }, { arbitrary: fc.constant(-1), weight: 1 }), {
        minLength: 1,
        maxLength: 2,
      }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('deleteAccount' as const), u: user, k: fc.integer({ min: 0, max: 1 }), wrong: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('retry' as const), back: fc.integer({ min: 1, max: 10 }) }), weight: 2 },
  { arbitrary: fc.constant({ op: 'noop' as const }), weight: 1 },
  { arbitrary: fc.constant({ op: 'garbage' as const }), weight: 1 },
);

/** Turns ops into the entries a leader would have committed (clocks occasionally step back, as after failover). */
const PRELUDE: Op[] = USERS.flatMap((u) => [
  { op: 'signup' as const, u },
  { op: 'login' as const, u, k: 0, wrong: false },
  { op: 'login' as const, u, k: 1, wrong: false },
]);

function toEntries(body: Op[], clockSteps: number[]): Entry[] {
  const ops = [...PRELUDE, ...body];
  const entries: Entry[] = [];
  const seqs = new Map<string, number>();
  const sends: number[] = [];
  const written: { body: Record<string, unknown>; session: { clientId: string; seq: number } }[] = [];
  let at = 1_700_000_000_000;
  ops.forEach((o, i) => {
    const index = i + 1;
    at += clockSteps[i % clockSteps.length];
    if (o.op === 'noop') return entries.push({ index, term: 1, type: 'normal', data: '' });
    if (o.op === 'garbage') return entries.push({ index, term: 1, type: 'normal', data: `{"kind":"send","at":${at}}` });
    let body: Record<string, unknown>;
    let session: { clientId: string; seq: number };
    if (o.op === 'retry') {
      const prev = written[written.length - Math.min(o.back, written.length)];
      if (!prev) return entries.push({ index, term: 1, type: 'normal', data: '' });
      ({ body, session } = prev);
    } else {
      const clientId = 'k' in o ? `client-${o.u}-${o.k}` : `client-${o.u}-signup`;
      const seq = (seqs.get(clientId) ?? 0) + 1;
      seqs.set(clientId, seq);
      session = { clientId, seq };
      const t = 'k' in o ? tok(`${o.u.toLowerCase()}-${o.k}`) : '';
      switch (o.op) {
        case 'signup':
          body = { kind: 'signup', username: o.u, passwordHash: pw(o.u.toLowerCase()) };
          break;
        case 'login':
          body = { kind: 'login', username: o.u, passwordHash: o.wrong ? pw('wrong') : pw(o.u.toLowerCase()), tokenHash: t };
          break;
        case 'logout':
          body = { kind: 'logout', tokenHash: t };
          break;
        case 'send':
          body = { kind: 'send', tokenHash: t, to: o.to, text: o.text };
          sends.push(index);
          break;
        case 'read':
          body = { kind: 'read', tokenHash: t, limit: o.limit };
          break;
        case 'markRead':
          body = { kind: 'markRead', tokenHash: t, with: o.with, upTo: o.upTo };
          break;
        case 'delivered':
          body = { kind: 'delivered', tokenHash: t, upTo: o.upTo };
          break;
        case 'delete':
          body = {
            kind: 'delete',
            tokenHash: t,
            ids: o.ids.map((back) => (back < 0 ? 999_999 : (sends[sends.length - Math.min(back, sends.length)] ?? 1))),
          };
          break;
        case 'deleteAccount':
          body = { kind: 'deleteAccount', tokenHash: t, passwordHash: o.wrong ? pw('wrong') : pw(o.u.toLowerCase()) };
          break;
      }
      written.push({ body, session });
    }
    entries.push({ index, term: 1, type: 'normal', data: JSON.stringify({ ...body, at, session }) });
  });
  return entries;
}

describe('determinism', () => {
  it('the same entries give the same state and outcomes, however they are batched, across restarts', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 10, maxLength: 60 }),
        fc.array(fc.integer({ min: -3000, max: 5000 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 5 }),
        (ops, clock, chunks) => {
          const entries = toEntries(ops, clock);
          const a = harness();
          const b = harness();
          const outA = entries.flatMap((e) => a.sm.applyEntries([e]));
          const outB = [];
          for (let i = 0, c = 0; i < entries.length; c++) {
            const n = chunks[c % chunks.length];
            outB.push(...b.sm.applyEntries(entries.slice(i, i + n)));
            i += n;
            if (c % 3 === 2) b.reopen();
          }
          expect(JSON.stringify(outB)).toBe(JSON.stringify(outA));
          expect(b.sm.stateHash()).toBe(a.sm.stateHash());
          expect(a.sm.audit()).toEqual([]);
          // Reads agree too.
          for (const u of USERS) {
            const acc = a.sm.account(u);
            if (!acc) continue;
            expect(b.sm.conversations(acc.id, 50)).toEqual(a.sm.conversations(acc.id, 50));
            expect(b.sm.messagesAfter(acc.id, 0, 500)).toEqual(a.sm.messagesAfter(acc.id, 0, 500));
            expect(a.sm.unreadCount(acc.id)).toBe(
              a.sm.messagesAfter(acc.id, 0, 500).filter((m) => m.to.toLowerCase() === acc.username.toLowerCase() && m.readAt === null).length,
            );
          }
          // The watermarks answer like the per-message state: delivered marks exactly the undelivered messages to
          // the account, and read returns exactly its unread messages, oldest first.
          const session = { clientId: 'client-check', seq: 0 };
          for (const u of USERS) {
            const acc = a.sm.account(u);
            if (!acc) continue;
            const inbox = () => a.sm.messagesAfter(acc.id, 0, 500).filter((m) => m.to.toLowerCase() === acc.username.toLowerCase());
            const undelivered = inbox().filter((m) => m.deliveredAt === null).map((m) => m.id);
            const unread = inbox().filter((m) => m.readAt === null).map((m) => m.id);
            const login = { kind: 'login', username: u, passwordHash: pw(u.toLowerCase()), tokenHash: tok(`check-${u}`) };
            const last = a.sm.applied().index;
            const entries: Entry[] = [login, { kind: 'delivered', tokenHash: tok(`check-${u}`), upTo: last }, { kind: 'read', tokenHash: tok(`check-${u}`), limit: 500 }].map(
              (body, i) => ({ index: last + 1 + i, term: 1, type: 'normal', data: JSON.stringify({ ...body, at: 1_800_000_000_000, session: { ...session, seq: ++session.seq } }) }),
            );
            const [, delivered, read] = a.sm.applyEntries(entries);
            expect(delivered.response).toEqual({ ok: true, result: { marked: undelivered.length } });
            expect(((read.response as { result: { messages: { id: number }[] } }).result.messages ?? []).map((m) => m.id)).toEqual(unread);
            expect(a.sm.audit()).toEqual([]);
          }
          a.dispose();
          b.dispose();
          cleanup.length = 0;
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it('every refusal leaves the user-visible state unchanged', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10, maxLength: 50 }), (ops) => {
        const h = harness();
        for (const e of toEntries(ops, [1000])) {
          const before = h.sm.stateHash('chat');
          const [o] = h.sm.applyEntries([e]);
          if (!o.response.ok) expect(h.sm.stateHash('chat')).toBe(before);
        }
        h.dispose();
        cleanup.length = 0;
      }),
      { seed: SEED + 1, numRuns: 20 },
    );
  });
});

// ---------------------------------------------------------------- read and delivered against a model

describe('unread and undelivered watermarks', () => {
  it('read, markRead, delivered and delete answer like a model that keeps per-message flags', () => {
    const NAMES = ['ann', 'bob', 'cat', 'dan', 'eve'];
    type M = { from: string; to: string; read: boolean; delivered: boolean; deleted: boolean };
    const step = fc.oneof(
      { arbitrary: fc.record({ op: fc.constant('send' as const), from: fc.nat(4), to: fc.nat(4) }), weight: 10 },
      { arbitrary: fc.record({ op: fc.constant('read' as const), who: fc.nat(4), limit: fc.integer({ min: 1, max: 4 }) }), weight: 3 },
      { arbitrary: fc.record({ op: fc.constant('markRead' as const), who: fc.nat(4), peer: fc.nat(4), back: fc.nat(12) }), weight: 3 },
      { arbitrary: fc.record({ op: fc.constant('delivered' as const), who: fc.nat(4), back: fc.nat(12) }), weight: 3 },
      { arbitrary: fc.record({ op: fc.constant('delete' as const), who: fc.nat(4), back: fc.nat(12) }), weight: 2 },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 120 }), (steps) => {
        const h = harness();
        for (const n of NAMES) h.user(n);
        const model = new Map<number, M>();
        const ids: number[] = [];
        const recent = (back: number) => ids[ids.length - 1 - Math.min(back, ids.length - 1)] ?? 1;
        for (const st of steps) {
          if (st.op === 'send') {
            const [from, to] = [NAMES[st.from], NAMES[st.to]];
            const id = h.send(from, to, 'x');
            ids.push(id);
            model.set(id, { from, to, read: from === to, delivered: from === to, deleted: false });
          } else if (st.op === 'read') {
            const who = NAMES[st.who];
            const want = [...model].filter(([, m]) => m.to === who && !m.read && !m.deleted).map(([id]) => id).sort((a, b) => a - b).slice(0, st.limit);
            const got = h.ok<{ messages: { id: number }[] }>({ kind: 'read', tokenHash: tok(who), limit: st.limit }).messages.map((m) => m.id);
            expect(got).toEqual(want);
            for (const id of want) Object.assign(model.get(id)!, { read: true, delivered: true });
          } else if (st.op === 'markRead') {
            const [who, peer, upTo] = [NAMES[st.who], NAMES[st.peer], recent(st.back)];
            const want = [...model].filter(([id, m]) => m.to === who && m.from === peer && !m.read && !m.deleted && id <= upTo).map(([id]) => id);
            expect(h.ok({ kind: 'markRead', tokenHash: tok(who), with: peer, upTo })).toEqual({ marked: want.length });
            for (const id of want) Object.assign(model.get(id)!, { read: true, delivered: true });
          } else if (st.op === 'delivered') {
            const [who, upTo] = [NAMES[st.who], recent(st.back)];
            const want = [...model].filter(([id, m]) => m.to === who && !m.delivered && !m.deleted && id <= upTo).map(([id]) => id);
            expect(h.ok({ kind: 'delivered', tokenHash: tok(who), upTo })).toEqual({ marked: want.length });
            for (const id of want) model.get(id)!.delivered = true;
          } else {
            const [who, id] = [NAMES[st.who], recent(st.back)];
            const m = model.get(id);
            if (!m || (m.from !== who && m.to !== who)) continue;
            expect(h.ok({ kind: 'delete', tokenHash: tok(who), ids: [id] })).toEqual({ deleted: m.deleted ? 0 : 1 });
            m.deleted = true;
          }
        }
        for (const n of NAMES) {
          const id = h.sm.account(n)!.id;
          expect(h.sm.unreadCount(id)).toBe([...model.values()].filter((m) => m.to === n && !m.read && !m.deleted).length);
        }
        expect(h.sm.audit()).toEqual([]);
        h.dispose();
        cleanup.length = 0;
      }),
      { seed: SEED + 3, numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------- wildcard matching

function referenceMatch(pattern: string, name: string): boolean {
  const re = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re || '.*'}$`, 'i').test(name);
}

describe('account patterns', () => {
  it('match like the reference regex, in username_lower order, across pages', () => {
    const nameArb = fc.string({ unit: fc.constantFrom('a', 'B', 'b', '.', '_', '-', '1'), minLength: 1, maxLength: 4 });
    const patArb = fc.string({ unit: fc.constantFrom('a', 'A', 'b', '.', '_', '-', '1', '*', '?'), minLength: 0, maxLength: 5 });
    fc.assert(
      fc.property(fc.uniqueArray(nameArb, { minLength: 1, maxLength: 25, selector: (n) => n.toLowerCase() }), patArb, fc.integer({ min: 1, max: 4 }), (names, pattern, pageSize) => {
        const h = harness();
        for (const n of names) h.signup(n);
        const got: string[] = [];
        let token: string | null = null;
        let pages = 0;
        do {
          const page = h.sm.accounts(pattern, pageSize, token);
          got.push(...page.accounts.map((a) => a.username));
          token = page.nextPageToken;
          expect(++pages).toBeLessThan(100);
        } while (token);
        const want = names
          .filter((n) => referenceMatch(pattern, n))
          .sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : x.toLowerCase() > y.toLowerCase() ? 1 : 0));
        expect(got).toEqual(want);
        h.dispose();
        cleanup.length = 0;
      }),
      { seed: SEED + 2, numRuns: 60 },
    );
  });

  it('escapes GLOB metacharacters', () => {
    expect(patternToGlob('a[b]*?')).toEqual({ glob: 'a[[]b[]]*?', prefix: 'a[b]' });
    expect(patternToGlob('')).toEqual({ glob: '*', prefix: '' });
    expect(patternToGlob('AB?c')).toEqual({ glob: 'ab?c', prefix: 'ab' });
  });

  it('bounds the work per page: a sparse pattern returns short pages with a token until done', () => {
    const h = harness();
    const entries = [];
    for (let i = 0; i < 2500; i++) entries.push(h.entry({ kind: 'signup', username: `user${String(i).padStart(4, '0')}`, passwordHash: 'h' }));
    entries.push(h.entry({ kind: 'signup', username: 'zz-needle', passwordHash: 'h' }));
    h.sm.applyEntries(entries);
    const first = h.sm.accounts('*needle', 10, null);
    expect(first.accounts).toEqual([]);
    expect(first.nextPageToken).not.toBeNull();
    let token = first.nextPageToken;
    const found: string[] = [];
    while (token) {
      const p = h.sm.accounts('*needle', 10, token);
      found.push(...p.accounts.map((a) => a.username));
      token = p.nextPageToken;
    }
    expect(found).toEqual(['zz-needle']);
  });
});

// ---------------------------------------------------------------- index use

describe('query plans', () => {
  it('no hot statement scans a whole table or sorts (costs independent of the data size)', () => {
    const h = harness();
    h.user('ann');
    h.user('bob');
    h.send('ann', 'bob', 'x');
    const db = new Database(path.join(h.dir, 'state.db'), { readonly: true });
    const statements = prepareStatements(db);
    const bad: string[] = [];
    for (const [name, stmt] of Object.entries(statements)) {
      if (name === 'members') continue; // the member list is a handful of rows, read whole by design
      const params = (stmt.source.match(/\?/g) ?? []).map(() => 1);
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${stmt.source}`).all(...params) as { detail: string }[]).map((r) => r.detail);
      for (const step of plan) {
        // "SCAN <fts table> VIRTUAL TABLE INDEX n:M..." is an FTS5 MATCH: a lookup in the full-text index, not a scan.
        // fts5vocab's index number has bits 0x200 (term >=) and 0x400 (term <=) when it reads a range of terms.
        const vocabRange = /^SCAN temp\.message_search_terms VIRTUAL TABLE INDEX (\d+):/.exec(step);
        if (vocabRange && (Number(vocabRange[1]) & 0x600) === 0x600) continue;
        if (/^SCAN (?!CONSTANT)(?!\w+ VIRTUAL TABLE INDEX \d+:M)/.test(step) || /TEMP B-TREE/.test(step)) bad.push(`${name}: ${step}`);
      }
    }
    db.close();
    expect(bad).toEqual([]);
  });
});
