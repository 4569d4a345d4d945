// The identity cache of `send` (replica/chat/identities.ts) over a real state.db: a hit is served from memory without
// reading SQLite, a miss reads once, whatever can end a login or a name empties it, and it starts over at its bound.
// Reads are counted on the real prepared statements.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdentityCache, authenticate } from '../../replica/chat/identities.js';
import { prepareStatements, type Statements } from '../../replica/chat/statements.js';
import { openSqlite, type Db } from '../../replica/storage/sqlite.js';
import { Harness, tok } from '../helpers/chat-harness.js';

let h: Harness;
let db: Db;
let statements: Statements;
const ids: Record<string, number> = {};
let reads: { token: () => number; name: () => number };

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  for (const name of ['Ann', 'bob', 'cy']) ids[name] = h.user(name);
  h.sm.commitGroup();
  db = openSqlite(path.join(h.dir, 'state.db'), { busyTimeoutMs: 0 });
  statements = prepareStatements(db);
  const token = vi.spyOn(statements.tokenAccount, 'get');
  const name = vi.spyOn(statements.accountLive, 'get');
  reads = { token: () => token.mock.calls.length, name: () => name.mock.calls.length };
});
afterEach(() => {
  db.close();
  h.dispose();
});

const identity = (name: string) => ({ id: ids[name], username: name, username_lower: name.toLowerCase(), deleted: 0 });

describe('IdentityCache', () => {
  it('reads a login once, then answers from memory', () => {
    const cache = new IdentityCache(statements);
    expect(cache.sender(tok('Ann'))).toEqual(identity('Ann'));
    expect(cache.sender(tok('Ann'))).toEqual(identity('Ann'));
    expect(reads.token()).toBe(1);
    expect(cache.sender(tok('bob'))).toEqual(identity('bob'));
    expect(reads.token()).toBe(2);
  });

  it('refuses a login that ended, and keeps nothing of it', () => {
    const cache = new IdentityCache(statements);
    const ended = { code: 'UNAUTHENTICATED', message: 'this login has ended (logged out or account deleted); log in again' };
    expect(() => cache.sender(tok('nobody'))).toThrow(expect.objectContaining(ended));
    expect(() => cache.sender(tok('nobody'))).toThrow(expect.objectContaining(ended));
    expect(reads.token()).toBe(2);
    expect(() => authenticate(statements, tok('nobody'))).toThrow(expect.objectContaining(ended));
  });

  it('finds a live account by name in any case, reading it once', () => {
    const cache = new IdentityCache(statements);
    expect(cache.liveAccount('ANN')).toEqual(identity('Ann'));
    expect(cache.liveAccount('ann')).toEqual(identity('Ann'));
    expect(reads.name()).toBe(1);
    expect(cache.liveAccount('nobody')).toBeUndefined();
    expect(cache.liveAccount('nobody')).toBeUndefined();
    expect(reads.name()).toBe(3);
  });

  it('reads again after forgetToken (that login only) and after forget (everything)', () => {
    const cache = new IdentityCache(statements);
    cache.sender(tok('Ann'));
    cache.sender(tok('bob'));
    cache.liveAccount('cy');
    cache.forgetToken(tok('Ann'));
    cache.sender(tok('Ann'));
    cache.sender(tok('bob'));
    expect(reads.token()).toBe(3);
    cache.forget();
    cache.sender(tok('bob'));
    cache.liveAccount('cy');
    expect(reads.token()).toBe(4);
    expect(reads.name()).toBe(2);
  });

  it('keeps at most `max` accounts, then starts over', () => {
    const cache = new IdentityCache(statements, 2);
    cache.sender(tok('Ann'));
    cache.liveAccount('bob');
    // Two accounts: both still known.
    cache.sender(tok('Ann'));
    cache.liveAccount('BOB');
    expect([reads.token(), reads.name()]).toEqual([1, 1]);
    // A third: the cache starts over with it alone.
    cache.liveAccount('cy');
    cache.liveAccount('cy');
    expect(reads.name()).toBe(2);
    cache.sender(tok('Ann'));
    cache.liveAccount('bob');
    expect([reads.token(), reads.name()]).toEqual([2, 3]);
  });
});
