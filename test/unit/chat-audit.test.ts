// The whole-state checks (replica/chat/audit.ts) that the chaos run, the model tests and replica comparison trust:
// auditState must name each kind of drift between the derived state and the messages, and stateHash must change with
// what it covers and only with that. Each drift is written into a real state.db through a second SQLite connection,
// as a bug in apply would leave it.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite, type Db } from '../../replica/storage/sqlite.js';
import { Harness, tok } from '../helpers/chat-harness.js';

let h: Harness;
let db: Db;
const ids: Record<string, number> = {};
const msg: Record<string, number> = {};

const send = (from: string, to: string, text: string) => h.ok<{ id: number }>({ kind: 'send', tokenHash: tok(from), to, text }).id;

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  for (const name of ['ann', 'bob', 'cy']) ids[name] = h.user(name);
  h.raiseClusterVersion(3);
  msg.first = send('ann', 'bob', 'one');
  msg.second = send('ann', 'bob', 'two');
  msg.reply = send('bob', 'ann', 'back');
  msg.third = send('ann', 'bob', 'three');
  // bob reads ann's first two: one unread left in bob's conversation with ann, from msg.third on.
  h.ok({ kind: 'markRead', tokenHash: tok('bob'), with: 'ann', upTo: msg.second });
  h.ok({ kind: 'createGroup', tokenHash: tok('ann'), name: 'crew', members: ['bob', 'cy'] });
  h.ok({ kind: 'groupSend', tokenHash: tok('ann'), group: 'crew', text: 'all hands' });
  db = openSqlite(path.join(h.dir, 'state.db'), { busyTimeoutMs: 0 });
});
afterEach(() => {
  db.close();
  h.dispose();
});

/** Writes `sql` into state.db behind the state machine's back, once its open group transaction is committed. */
const corrupt = (sql: string, ...params: unknown[]) => {
  h.sm.commitGroup();
  db.prepare(sql).run(...params);
};

const key = (owner: string, peer: string) => `${ids[owner]}:${ids[peer]}`;

describe('auditState names each kind of drift', () => {
  it('finds nothing in a state written by apply', () => {
    expect(h.sm.audit()).toEqual([]);
  });

  it("an account's unread count", () => {
    corrupt('UPDATE accounts SET unread = unread + 2 WHERE id = ?', ids.bob);
    expect(h.sm.audit()).toEqual([`account ${ids.bob}: unread 3, actually 1`]);
  });

  it('a missing conversation', () => {
    corrupt('DELETE FROM conversations WHERE owner_id = ? AND peer_id = ?', ids.ann, ids.bob);
    expect(h.sm.audit()).toEqual([`conversation ${key('ann', 'bob')} missing`]);
  });

  it("a conversation's last message, unread count or first unread, each alone", () => {
    const drift = (column: string, value: number | null) => {
      h.sm.commitGroup();
      const before = db.prepare(`SELECT ${column} AS v FROM conversations WHERE owner_id = ? AND peer_id = ?`).get(ids.bob, ids.ann) as { v: number };
      corrupt(`UPDATE conversations SET ${column} = ? WHERE owner_id = ? AND peer_id = ?`, value, ids.bob, ids.ann);
      const problems = h.sm.audit();
      corrupt(`UPDATE conversations SET ${column} = ? WHERE owner_id = ? AND peer_id = ?`, before.v, ids.bob, ids.ann);
      return problems;
    };
    const expected = `expected ${msg.third}/1/${msg.third}`;
    expect(drift('last_id', msg.second)).toEqual([`conversation ${key('bob', 'ann')}: last ${msg.second}/unread 1/first unread ${msg.third}, ${expected}`]);
    expect(drift('unread', 0)).toEqual([`conversation ${key('bob', 'ann')}: last ${msg.third}/unread 0/first unread ${msg.third}, ${expected}`]);
    // first_unread moved down over a read message: the message's read state disagrees too.
    expect(drift('first_unread', msg.second)).toEqual([
      `conversation ${key('bob', 'ann')}: last ${msg.third}/unread 1/first unread ${msg.second}, ${expected}`,
      `message ${msg.second}: read state disagrees with its conversation's first_unread`,
    ]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('a conversation with no messages', () => {
    corrupt('INSERT INTO conversations (owner_id, peer_id, last_id, unread, first_unread) VALUES (?, ?, ?, 0, NULL)', 
      ids.cy,
      ids.ann,
      msg.first,
    );
    expect(h.sm.audit()).toEqual([`conversation ${key('cy', 'ann')} should not exist`]);
  });

  it('a read message below first_unread marked unread again', () => {
    corrupt('UPDATE messages SET read_at = NULL WHERE id = ?', msg.first);
    expect(h.sm.audit()).toEqual([
      `account ${ids.bob}: unread 1, actually 2`,
      `conversation ${key('bob', 'ann')}: last ${msg.third}/unread 1/first unread ${msg.third}, expected ${msg.third}/2/${msg.first}`,
      `message ${msg.first}: read state disagrees with its conversation's first_unread`,
    ]);
  });

  it('a read message not delivered, and an undelivered one below the delivered watermark', () => {
    corrupt('UPDATE messages SET delivered_at = NULL WHERE id = ?', msg.second);
    expect(h.sm.audit()).toEqual([`message ${msg.second}: not delivered, but read or below its recipient's delivered watermark`]);
    corrupt('UPDATE messages SET delivered_at = ? WHERE id = ?', h.at, msg.second);
    corrupt('UPDATE messages SET delivered_at = NULL WHERE id = ?', msg.third);
    corrupt('UPDATE accounts SET delivered_upto = ? WHERE id = ?', msg.third, ids.bob);
    expect(h.sm.audit()).toEqual([`message ${msg.third}: not delivered, but read or below its recipient's delivered watermark`]);
    corrupt('UPDATE accounts SET delivered_upto = ? WHERE id = ?', msg.third - 1, ids.bob);
    expect(h.sm.audit()).toEqual([]);
  });

  it("a group member's unread count", () => {
    h.sm.commitGroup();
    const group = (db.prepare('SELECT id FROM groups').get() as { id: number }).id;
    corrupt('UPDATE group_members SET unread = 7 WHERE group_id = ? AND account_id = ?', group, ids.cy);
    expect(h.sm.audit()).toEqual([`group ${group} member ${ids.cy}: unread 7, actually 1`]);
  });
});

describe('stateHash', () => {
  it('changes with what it covers: every chat table, the applied index in "all" only', () => {
    const chat = h.sm.stateHash('chat');
    const all = h.sm.stateHash('all');
    // A refusal changes the applied index (and the client's session), not what users see.
    h.err({ kind: 'send', tokenHash: tok('ann'), to: 'nobody', text: 'lost' });
    expect(h.sm.stateHash('chat')).toBe(chat);
    expect(h.sm.stateHash('all')).not.toBe(all);
    for (const [table, change] of [
      ['groups', "UPDATE groups SET name = 'renamed'"],
      ['group_members', 'UPDATE group_members SET unread = unread + 1'],
      ['messages', "UPDATE messages SET text = 'edited' WHERE id = " + msg.first],
      ['conversations', 'UPDATE conversations SET unread = unread + 1'],
      ['accounts', 'UPDATE accounts SET unread = unread + 1'],
      ['tokens', 'UPDATE tokens SET created_at = created_at + 1'],
      ['members', "UPDATE members SET address = 'r1:2'"],
    ]) {
      const before = h.sm.stateHash('chat');
      corrupt(change);
      expect(h.sm.stateHash('chat'), table).not.toBe(before);
    }
    // What users do not see: 'all' only.
    for (const [table, change] of [
      ['meta', 'UPDATE meta SET last_at = last_at + 1'],
      ['clients', 'UPDATE clients SET last_at = last_at + 1'],
      ['expired_clients', "INSERT INTO expired_clients (client_id) VALUES ('client-gone')"],
      ['sessions', 'UPDATE sessions SET at = at + 1'],
    ]) {
      const before = { chat: h.sm.stateHash('chat'), all: h.sm.stateHash('all') };
      corrupt(change);
      expect(h.sm.stateHash('chat'), table).toBe(before.chat);
      expect(h.sm.stateHash('all'), table).not.toBe(before.all);
    }
  });

  it('leaves out what the cluster version does not have yet: groups below version 3', () => {
    const old = new Harness();
    try {
      old.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
      old.user('ann');
      const before = old.sm.stateHash('all');
      old.sm.commitGroup();
      const oldDb = openSqlite(path.join(old.dir, 'state.db'), { busyTimeoutMs: 0 });
      try {
        oldDb.prepare("INSERT INTO groups (id, name, name_lower, creator_id, created_at, last_id) VALUES (999, 'x', 'x', 1, 1, 1)").run();
        expect(old.sm.stateHash('all')).toBe(before);
      } finally {
        oldDb.close();
      }
    } finally {
      old.dispose();
    }
  });
});
