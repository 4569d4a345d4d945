// The reads of the applied chat state (replica/chat/queries.ts) at their edges: the search expression and its index
// terms, match marks, account patterns and their pages (the bounded scan), conversation and group history refusals,
// live-delivery resumption across groups. Over a real state.db through the state machine, and through ChatQueries on
// a second connection where the SQL a query runs is what is checked.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatQueries, patternToGlob, PREFIX_TERMS_MAX, searchExpression, unmark } from '../../replica/chat/queries.js';
import { prepareStatements } from '../../replica/chat/statements.js';
import { LIMITS } from '../../replica/protocol/limits.js';
import { openSqlite } from '../../replica/storage/sqlite.js';
import { Harness, pw, tok } from '../helpers/chat-harness.js';

describe('searchExpression', () => {
  it('quotes every word, requires all, and makes the last a prefix', () => {
    expect(searchExpression('Deploy the "build"!')).toBe('text : ("Deploy" AND "the" AND "build"*)');
    expect(searchExpression(' ,.!? ')).toBeNull();
    expect(searchExpression('')).toBeNull();
  });

  it(`keeps the first ${LIMITS.searchWordsMax} words`, () => {
    const words = Array.from({ length: LIMITS.searchWordsMax + 2 }, (_, i) => `w${i}`);
    const expression = searchExpression(words.join(' '))!;
    expect(expression.match(/"w\d+"/g)).toHaveLength(LIMITS.searchWordsMax);
    expect(expression).toContain(`"w${LIMITS.searchWordsMax - 1}"*`);
  });

  it('writes the last word as the index terms that begin with it, only for ASCII words longer than 3', () => {
    const asked: string[] = [];
    const terms = (prefix: string) => {
      asked.push(prefix);
      return prefix === 'depl' ? ['deploy', 'deployed'] : prefix === 'none' ? [] : null;
    };
    expect(searchExpression('ship Depl', terms)).toBe('text : ("ship" AND ("deploy" OR "deployed"))');
    // No terms, or too many: the prefix query.
    expect(searchExpression('none', terms)).toBe('text : ("none"*)');
    expect(searchExpression('many', terms)).toBe('text : ("many"*)');
    // Three letters, or not ASCII: not asked.
    expect(searchExpression('dep', terms)).toBe('text : ("dep"*)');
    expect(searchExpression('caféteria', terms)).toBe('text : ("caféteria"*)');
    expect(asked).toEqual(['depl', 'none', 'many']);
  });
});

describe('unmark', () => {
  it('returns the text and the marked runs; a stray end mark marks nothing', () => {
    expect(unmark('a \uE000bc\uE001 d \uE000e\uE001')).toEqual({ text: 'a bc d e', matches: [[2, 4], [7, 8]] });
    expect(unmark('ab\uE001c')).toEqual({ text: 'abc', matches: [] });
    expect(unmark('\uE000ab\uE001c\uE001')).toEqual({ text: 'abc', matches: [[0, 2]] });
  });
});

describe('patternToGlob', () => {
  it('lowercases, escapes brackets, and keeps the literal prefix before the first wildcard', () => {
    expect(patternToGlob('')).toEqual({ glob: '*', prefix: '' });
    expect(patternToGlob('Ann')).toEqual({ glob: 'ann', prefix: 'ann' });
    expect(patternToGlob('an*e')).toEqual({ glob: 'an*e', prefix: 'an' });
    expect(patternToGlob('a?c*')).toEqual({ glob: 'a?c*', prefix: 'a' });
    expect(patternToGlob('?ab')).toEqual({ glob: '?ab', prefix: '' });
    expect(patternToGlob('*b')).toEqual({ glob: '*b', prefix: '' });
    expect(patternToGlob('[x]*')).toEqual({ glob: '[[]x[]]*', prefix: '[x]' });
  });
});

describe('queries over a real state', () => {
  let h: Harness;
  const ids: Record<string, number> = {};
  const send = (from: string, to: string, text: string) => h.ok<{ id: number }>({ kind: 'send', tokenHash: tok(from), to, text }).id;
  const groupSend = (from: string, group: string, text: string) => h.ok<{ id: number }>({ kind: 'groupSend', tokenHash: tok(from), group, text }).id;
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return { code: (err as { code: string }).code, message: (err as Error).message };
    }
    throw new Error('expected a refusal');
  };

  beforeEach(() => {
    h = new Harness();
    h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    for (const name of ['Ann', 'bob', 'cy']) ids[name] = h.user(name);
    h.raiseClusterVersion(3);
  });
  afterEach(() => h.dispose());

  it('unread counts and the last message id: 0 for a deleted or unknown account, or one with no messages', () => {
    expect(h.sm.lastMessageId(ids.bob)).toBe(0);
    send('Ann', 'bob', 'one');
    const last = send('bob', 'Ann', 'two');
    send('Ann', 'cy', 'three');
    expect(h.sm.lastMessageId(ids.bob)).toBe(last);
    expect(h.sm.unreadCount(ids.bob)).toBe(1);
    h.ok({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('bob') });
    expect(h.sm.unreadCount(ids.bob)).toBe(0);
    expect(h.sm.unreadCount(999_999)).toBe(0);
  });

  it('account patterns: refusals say what is wrong', () => {
    expect(refusal(() => h.sm.accounts('a b', 10, null))).toEqual({ code: 'INVALID', message: 'patterns use username characters plus "*" and "?"' });
    for (const token of ['b:ann', 'a:', 'xa:ann', 'a:ann!', 'a:Ann']) {
      expect(refusal(() => h.sm.accounts('', 10, token)), token).toEqual({ code: 'INVALID', message: 'bad page token' });
    }
    expect(h.sm.accounts('', 10, 'a:ann')).toEqual({ accounts: [{ username: 'bob' }, { username: 'cy' }], nextPageToken: null });
    expect(h.sm.accounts('', 2, null)).toEqual({ accounts: [{ username: 'Ann' }, { username: 'bob' }], nextPageToken: 'a:bob' });
  });

  it('a sparse pattern examines at most 1,000 accounts per page, then says where to go on', () => {
    const names = Array.from({ length: 1000 }, (_, i) => `u${String(i).padStart(4, '0')}`);
    h.sm.applyEntries(names.map((username) => h.entry({ kind: 'signup', username, passwordHash: pw(username) })));
    h.signup('uzz');
    // Ann, bob and cy sort before u0000: the first page examines them and 997 more, and finds nothing.
    const first = h.sm.accounts('*z', 5, null);
    expect(first).toEqual({ accounts: [], nextPageToken: 'a:u0996' });
    const second = h.sm.accounts('*z', 5, first.nextPageToken);
    expect(second).toEqual({ accounts: [{ username: 'uzz' }], nextPageToken: null });
  });

  it('history: NOT_FOUND names the account; a conversation with oneself is listed once', () => {
    expect(refusal(() => h.sm.history(ids.Ann, 'nobody', 10))).toEqual({ code: 'NOT_FOUND', message: 'no account named "nobody"' });
    const note = send('Ann', 'Ann', 'note to self');
    send('Ann', 'bob', 'not in it');
    expect(h.sm.history(ids.Ann, 'ann', 10).map((m) => m.id)).toEqual([note]);
  });

  it('groups: member ids for a member, refusals that name the group otherwise; read counts on messages, not events', () => {
    h.ok({ kind: 'createGroup', tokenHash: tok('Ann'), name: 'Crew', members: ['bob'] });
    const id = groupSend('Ann', 'crew', 'hello');
    expect(h.sm.groupMemberIds(ids.bob, 'CREW')).toEqual({ name: 'Crew', memberIds: [ids.Ann, ids.bob].sort((a, b) => a - b) });
    expect(refusal(() => h.sm.groupMemberIds(ids.Ann, 'nope'))).toEqual({ code: 'NOT_FOUND', message: 'no group named "#nope"' });
    expect(refusal(() => h.sm.groupMemberIds(ids.cy, 'crew'))).toEqual({ code: 'FORBIDDEN', message: 'you are not a member of #Crew' });
    expect(refusal(() => h.sm.groupHistory(ids.Ann, 'nope', 10))).toEqual({ code: 'NOT_FOUND', message: 'no group named "#nope"' });
    expect(refusal(() => h.sm.groupHistory(ids.cy, 'crew', 10))).toEqual({ code: 'FORBIDDEN', message: 'you are not a member of #Crew' });
    const [created, message] = h.sm.groupHistory(ids.Ann, 'crew', 10);
    expect(created).toEqual(expect.objectContaining({ event: 'created' }));
    expect(created).not.toHaveProperty('readBy');
    expect(message).toEqual(expect.objectContaining({ id, readBy: 0 }));
    h.ok({ kind: 'markGroupRead', tokenHash: tok('bob'), group: 'crew', upTo: id });
    expect(h.sm.groupHistory(ids.Ann, 'crew', 10)[1]).toEqual(expect.objectContaining({ id, readBy: 1 }));
  });

  it('resuming live delivery: direct and group messages after an id, in id order, at most the limit', () => {
    h.ok({ kind: 'createGroup', tokenHash: tok('Ann'), name: 'crew', members: ['bob'] });
    h.ok({ kind: 'createGroup', tokenHash: tok('cy'), name: 'band', members: ['bob'] });
    // After the two groups' "created" events.
    const after = h.sm.groupHistory(ids.bob, 'band', 10).at(-1)!.id;
    const expected = [
      send('Ann', 'bob', 'a'),
      groupSend('cy', 'band', 'b'),
      send('bob', 'cy', 'c'),
      groupSend('Ann', 'crew', 'd'),
      groupSend('bob', 'band', 'e'),
      send('cy', 'bob', 'f'),
      groupSend('cy', 'band', 'g'),
    ];
    send('Ann', 'cy', 'not for bob');
    expect(h.sm.messagesAfter(ids.bob, after, 100).map((m) => m.id)).toEqual(expected);
    expect(h.sm.messagesAfter(ids.bob, after, 4).map((m) => m.id)).toEqual(expected.slice(0, 4));
    expect(h.sm.messagesAfter(ids.bob, expected[3], 2).map((m) => m.id)).toEqual(expected.slice(4, 6));
  });

  it('search: refuses a query with no words; writes the last word as the index terms that begin with it', () => {
    send('Ann', 'bob', 'deploy tonight');
    send('bob', 'Ann', 'deployed it');
    const many = Array.from({ length: PREFIX_TERMS_MAX + 1 }, (_, i) => `shipment${String.fromCharCode(97 + i)}`);
    send('Ann', 'bob', many.join(' '));
    expect(refusal(() => h.sm.search(ids.Ann, '?!', 10))).toEqual({ code: 'INVALID', message: 'the search has no words: type letters or digits' });
    expect(h.sm.search(ids.bob, 'depl', 10)).toHaveLength(2);
    h.sm.commitGroup();
    const db = openSqlite(path.join(h.dir, 'state.db'), { busyTimeoutMs: 0 });
    try {
      const statements = prepareStatements(db);
      const search = vi.spyOn(statements.search, 'all');
      const queries = new ChatQueries(statements);
      const expressionOf = (query: string) => {
        queries.search(ids.Ann, query, 10);
        return search.mock.lastCall![0].split(' AND parties')[0];
      };
      expect(expressionOf('depl')).toBe('text : (("deploy" OR "deployed"))');
      // One term more than PREFIX_TERMS_MAX: a prefix query. A word the index has no term for: a prefix query too.
      expect(expressionOf('shipm')).toBe('text : ("shipm"*)');
      expect(expressionOf('shipmenta')).toBe('text : (("shipmenta"))');
      expect(expressionOf('zzzz')).toBe('text : ("zzzz"*)');
      expect(queries.search(ids.Ann, 'shipm', 10)).toHaveLength(1);
    } finally {
      db.close();
    }
  });
});
