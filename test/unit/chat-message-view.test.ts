// Stored rows as clients see them (replica/chat/message-view.ts): who an `@name` mentions, page sizes, and a message
// row turned into a ChatMessage over a real state.db, each account and group read once per answer.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { accountLookup, chatMessageOf, clampLimit, mentionsIn } from '../../replica/chat/message-view.js';
import { prepareStatements, type MessageRow, type Statements } from '../../replica/chat/statements.js';
import { LIMITS } from '../../replica/protocol/limits.js';
import { openSqlite, type Db } from '../../replica/storage/sqlite.js';
import { Harness, pw, tok } from '../helpers/chat-harness.js';

describe('mentionsIn', () => {
  const members = new Map(['Bob', 'a.b', 'zed-', 'Cy'].map((name) => [name.toLowerCase(), name]));
  const cases: [string, string[]][] = [
    ['@bob at the start', ['Bob']],
    ['hi @BOB and @cy', ['Bob', 'Cy']],
    ['in order of first mention, once: @cy @bob @CY', ['Cy', 'Bob']],
    ['at the end of a sentence: thanks @bob.', ['Bob']],
    ['trailing dots and dashes: @bob.-', ['Bob']],
    ['a name with a dot, then a full stop: @a.b.', ['a.b']],
    ['a name that ends with a dash: @zed-', ['zed-']],
    ['not a member: @dora', []],
    ['an address is no mention: mail bob@bob or x.@bob', []],
    ['more after the name is another name: @bobby @bob_', []],
    ['(@cy), "@bob"', ['Cy', 'Bob']],
  ];
  for (const [text, expected] of cases) {
    it(text, () => expect(mentionsIn(text, members)).toEqual(expected));
  }
});

describe('clampLimit', () => {
  it('keeps a page size within 1 and the maximum, whole; the default for what is not a number', () => {
    expect([0, -5, 1, 2.9, LIMITS.pageMax, LIMITS.pageMax + 1].map(clampLimit)).toEqual([1, 1, 1, 2, LIMITS.pageMax, LIMITS.pageMax]);
    expect([NaN, Infinity, -Infinity].map(clampLimit)).toEqual([LIMITS.pageDefault, LIMITS.pageDefault, LIMITS.pageDefault]);
  });
});

describe('chatMessageOf over a real state.db', () => {
  let h: Harness;
  let db: Db;
  let statements: Statements;
  const ids: Record<string, number> = {};
  let reads: { account: () => number; group: () => number; members: () => number };
  const row = (id: number) => statements.messageById.get(id) as MessageRow;
  const send = (from: string, to: string, text: string) => h.ok<{ id: number }>({ kind: 'send', tokenHash: tok(from), to, text }).id;
  const groupSend = (from: string, text: string) => h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok(from), group: 'Crew', text }).id;

  beforeEach(() => {
    h = new Harness();
    h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    for (const name of ['Ann', 'bob', 'cy']) ids[name] = h.user(name);
    h.raiseClusterVersion(3);
    h.ok({ kind: 'createGroup', tokenHash: tok('Ann'), name: 'Crew', members: ['bob'] });
    db = openSqlite(path.join(h.dir, 'state.db'), { busyTimeoutMs: 0 });
  });
  afterEach(() => {
    db.close();
    h.dispose();
  });

  /** Statements on a second connection, their reads counted (after the state machine's writes are committed). */
  const open = () => {
    h.sm.commitGroup();
    statements = prepareStatements(db);
    const account = vi.spyOn(statements.accountById, 'get');
    const group = vi.spyOn(statements.groupById, 'get');
    const members = vi.spyOn(statements.groupMembers, 'all');
    reads = { account: () => account.mock.calls.length, group: () => group.mock.calls.length, members: () => members.mock.calls.length };
  };

  it('a one-to-one message: names, times, no group; each account read once per lookup', () => {
    const first = send('Ann', 'bob', 'hello @bob');
    const second = send('bob', 'Ann', 'hi');
    h.ok({ kind: 'markRead', tokenHash: tok('bob'), with: 'Ann', upTo: first });
    open();
    const lookup = accountLookup(statements);
    const a = chatMessageOf(row(first), lookup);
    expect(a).toEqual({ id: first, from: 'Ann', to: 'bob', text: 'hello @bob', sentAt: expect.any(Number), deliveredAt: expect.any(Number), readAt: expect.any(Number) });
    expect(chatMessageOf(row(second), lookup)).toEqual({ id: second, from: 'bob', to: 'Ann', text: 'hi', sentAt: a.sentAt + 1000, deliveredAt: null, readAt: null });
    expect([reads.account(), reads.group(), reads.members()]).toEqual([2, 0, 0]);
    // A new lookup (the next answer) reads again.
    chatMessageOf(row(second), accountLookup(statements));
    expect(reads.account()).toBe(4);
  });

  it('a group message: to "#group", its mentions of members; events carry their kind and no mentions', () => {
    const plain = groupSend('Ann', 'no one named');
    const named = groupSend('bob', '@ann @cy @bob.');
    h.ok({ kind: 'edit', tokenHash: tok('bob'), messageId: named, text: '@ANN @cy @bob.' });
    open();
    const lookup = accountLookup(statements);
    expect(chatMessageOf(row(plain), lookup)).toEqual(expect.objectContaining({ from: 'Ann', to: '#Crew', group: 'Crew' }));
    expect(chatMessageOf(row(plain), lookup)).not.toHaveProperty('mentions');
    // cy is no member: only Ann and bob are mentioned.
    expect(chatMessageOf(row(named), lookup)).toEqual(
      expect.objectContaining({ from: 'bob', to: '#Crew', group: 'Crew', mentions: ['Ann', 'bob'], editedAt: expect.any(Number) }),
    );
    const created = (db.prepare("SELECT id FROM messages WHERE event = 'created'").get() as { id: number }).id;
    const event = chatMessageOf(row(created), lookup);
    expect(event).toEqual(expect.objectContaining({ event: 'created', group: 'Crew', to: '#Crew' }));
    expect(event).not.toHaveProperty('mentions');
    // One read of the group and of its members for all of it.
    expect([reads.group(), reads.members()]).toEqual([1, 1]);
  });

  it("a deleted sender's message says so", () => {
    const id = send('cy', 'Ann', 'bye');
    const other = send('Ann', 'bob', 'x');
    h.ok({ kind: 'deleteAccount', tokenHash: tok('cy'), passwordHash: pw('cy') });
    open();
    expect(chatMessageOf(row(id), accountLookup(statements))).toEqual(expect.objectContaining({ from: 'cy', fromDeleted: true }));
    expect(chatMessageOf(row(other), accountLookup(statements))).not.toHaveProperty('fromDeleted');
  });
});
