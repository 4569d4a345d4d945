// Message edits and full-text search (cluster version 3) on the real state machine and SQLite: who may edit, what the
// others see and are pushed, the FTS5 index kept in step with sends, edits, deletes and account deletion, answers
// limited to what the person may see, best matches first with the matched words located; snapshots and the schema 4
// migration carry the index; the state hash of a mixed cluster covers only what both releases hold.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stateHash } from '../../replica/chat/audit.js';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { searchExpression, unmark } from '../../replica/chat/queries.js';
import { Harness, pw, tempDir, tok } from '../helpers/chat-harness.js';

let h: Harness;
const cleanup: (() => void)[] = [];
let ann: number;
let bob: number;

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  ann = h.user('ann');
  bob = h.user('bob');
  h.user('carl');
});
afterEach(() => {
  h.dispose();
  for (const f of cleanup.splice(0)) f();
});

const edit = (who: string, messageId: number, text: string) => h.apply({ kind: 'edit', tokenHash: tok(who), messageId, text });
const search = (accountId: number, query: string, limit = 50) => h.sm.search(accountId, query, limit);
const texts = (accountId: number, query: string) => search(accountId, query).map((m) => m.text);

describe('edits', () => {
  beforeEach(() => h.raiseClusterVersion(3));

  it('the sender replaces the text; it is marked edited at the command clock and pushed to both sides', () => {
    const id = h.send('ann', 'bob', 'see you at 5');
    const outcome = edit('ann', id, 'see you at 6');
    expect(outcome.response).toEqual({ ok: true, result: { edited: true, editedAt: h.at } });
    const pushed = { type: 'push', event: 'edited', message: expect.objectContaining({ id, text: 'see you at 6', editedAt: h.at }) };
    expect(outcome.events.map((e) => [e.toUser, e.frame])).toEqual([
      ['ann', pushed],
      ['bob', pushed],
    ]);
    expect(h.sm.history(bob, 'ann', 10)).toEqual([expect.objectContaining({ id, text: 'see you at 6', editedAt: h.at })]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('refuses, changing nothing: another person\'s message (FORBIDDEN), an unknown or deleted one (NOT_FOUND)', () => {
    const id = h.send('ann', 'bob', 'mine');
    const gone = h.send('ann', 'bob', 'gone');
    h.ok({ kind: 'delete', tokenHash: tok('ann'), ids: [gone] });
    const before = h.sm.stateHash('chat');
    expect(edit('bob', id, 'hijacked').response).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: `message ${id} is not yours to edit: only its sender may` } });
    expect(h.err({ kind: 'edit', tokenHash: tok('ann'), messageId: 999_999, text: 'x' })).toBe('NOT_FOUND');
    expect(h.err({ kind: 'edit', tokenHash: tok('ann'), messageId: gone, text: 'x' })).toBe('NOT_FOUND');
    expect(h.sm.stateHash('chat')).toBe(before);
    expect(texts(bob, 'hijacked')).toEqual([]);
  });
});

describe('edits below cluster version 3', () => {
  it('are refused alike everywhere with UNSUPPORTED_BY_CLUSTER, changing nothing', () => {
    h.raiseClusterVersion(2);
    const id = h.send('ann', 'bob', 'typo hre');
    const before = h.sm.stateHash('chat');
    const outcome = edit('ann', id, 'typo here');
    expect(outcome.response).toEqual({
      ok: false,
      error: { code: 'UNSUPPORTED_BY_CLUSTER', message: 'update every member to use groups, message edits and search (it needs Quorum version 3; the cluster runs version 2)' },
    });
    expect(h.sm.stateHash('chat')).toBe(before);
    expect(h.sm.history(bob, 'ann', 10)[0]).toMatchObject({ text: 'typo hre' });
    expect(h.sm.history(bob, 'ann', 10)[0].editedAt).toBeUndefined();
  });
});

describe('search', () => {
  beforeEach(() => h.raiseClusterVersion(3));

  it('finds only messages the person may see, best first, with where each matched', () => {
    h.send('ann', 'bob', 'the deploy is done');
    h.send('bob', 'ann', 'deploy deploy deploy: rolled back the deploy');
    h.send('carl', 'ann', 'carl talks about the deploy too');
    h.send('ann', 'ann', 'note to self: deploy on Friday');
    // bob sees his conversation with ann only; the message with more of the word ranks first.
    const hits = search(bob, 'deploy');
    expect(hits.map((m) => m.text)).toEqual(['deploy deploy deploy: rolled back the deploy', 'the deploy is done']);
    expect(hits[1].matches).toEqual([[4, 10]]);
    expect(hits[0].matches).toEqual([
      [0, 6],
      [7, 13],
      [14, 20],
      [38, 44],
    ]);
    // ann sees all four (hers, bob's, carl's to her, her note).
    expect(search(ann, 'deploy')).toHaveLength(4);
    expect(texts(h.sm.account('carl')!.id, 'deploy')).toEqual(['carl talks about the deploy too']);
    expect(search(bob, 'deploy', 1)).toHaveLength(1);
  });

  it('ignores case and accents, needs every word, takes the last word as a prefix, and reads no FTS5 syntax', () => {
    h.send('ann', 'bob', 'Café Müller at NOON');
    h.send('ann', 'bob', 'lunch at noon');
    expect(texts(bob, 'cafe muller')).toEqual(['Café Müller at NOON']);
    expect(texts(bob, 'noon caf')).toEqual(['Café Müller at NOON']);
    expect(texts(bob, 'lun')).toEqual(['lunch at noon']);
    expect(texts(bob, 'lunch -- "OR" NEAR( *')).toEqual([]);
    expect(texts(bob, '"lunch" AND')).toEqual([]);
    expect(texts(bob, 'NOON)')).toHaveLength(2);
    expect(() => search(bob, '?!* "')).toThrow(/the search has no words/);
    expect(searchExpression('a "b" c')).toBe('text : ("a" AND "b" AND "c"*)');
  });

  it('a last word of more than 3 ASCII characters is read as the index terms it begins (up to 16), matching what a prefix matches', () => {
    h.send('ann', 'bob', 'Deploy now');
    h.send('ann', 'bob', 'deployed yesterday');
    h.send('ann', 'bob', 'the deployment plan');
    h.send('ann', 'bob', 'redeploy is not a match');
    h.send('ann', 'bob', 'deplp sorts right after the prefix and is no match');
    h.send('carl', 'ann', 'deploys bob never sees');
    expect(texts(bob, 'DEPLO').sort()).toEqual(['Deploy now', 'deployed yesterday', 'the deployment plan']);
    expect(texts(bob, 'deployme')).toEqual(['the deployment plan']);
    expect(texts(bob, 'deployment pla')).toEqual(['the deployment plan']);
    // More than 16 terms begin with "zeta": the last word stays a prefix query, and finds every one.
    const many = Array.from({ length: 20 }, (_, i) => `zeta${i}`);
    for (const w of many) h.send('ann', 'bob', `the ${w} build`);
    expect(texts(bob, 'zeta').sort()).toEqual(many.map((w) => `the ${w} build`).sort());
    expect(texts(bob, 'build zeta1').sort()).toEqual(['the zeta1 build', ...many.filter((w) => w.startsWith('zeta1') && w !== 'zeta1').map((w) => `the ${w} build`)].sort());
    // The expression: the terms when the index has at most 16, the prefix otherwise, and never for short or non-ASCII words.
    expect(searchExpression('ship deplo', () => ['deploy', 'deployed'])).toBe('text : ("ship" AND ("deploy" OR "deployed"))');
    expect(searchExpression('ship deplo', () => null)).toBe('text : ("ship" AND "deplo"*)');
    expect(searchExpression('ship dep', () => ['deploy'])).toBe('text : ("ship" AND "dep"*)');
    expect(searchExpression('café', () => ['cafe'])).toBe('text : ("café"*)');
  });

  it('stays in step with edits, deletes and account deletion', () => {
    const keep = h.send('ann', 'bob', 'meeting in room blue');
    const drop = h.send('ann', 'bob', 'meeting in room red');
    const fromCarl = h.send('carl', 'bob', 'meeting with carl');
    h.ok({ kind: 'edit', tokenHash: tok('ann'), messageId: keep, text: 'meeting in room green' });
    expect(texts(bob, 'blue')).toEqual([]);
    expect(texts(bob, 'green')).toEqual(['meeting in room green']);
    h.ok({ kind: 'delete', tokenHash: tok('bob'), ids: [drop] });
    expect(texts(bob, 'red')).toEqual([]);
    expect(search(bob, 'meeting').map((m) => m.id).sort()).toEqual([keep, fromCarl].sort());
    // Deleting bob's account tombstones his inbox: nobody finds those messages any more.
    h.ok({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('bob') });
    expect(texts(ann, 'meeting')).toEqual([]);
    expect(texts(h.sm.account('carl')!.id, 'meeting')).toEqual([]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('locates matches in texts with characters outside the BMP, and gives none for texts holding the mark characters', () => {
    h.send('ann', 'bob', '🎉 party tonight 🎉');
    h.send('ann', 'bob', 'odd \uE000 party \uE001 text');
    const [emoji, odd] = [...search(bob, 'party')].sort((a, b) => a.id - b.id);
    expect(emoji.text.slice(emoji.matches[0][0], emoji.matches[0][1])).toBe('party');
    expect(odd.matches).toEqual([]);
    expect(unmark('a \uE000b\uE001 c')).toEqual({ text: 'a b c', matches: [[2, 3]] });
  });

  it('the index travels with a snapshot and answers the same after install', async () => {
    for (let i = 0; i < 30; i++) h.send(i % 2 ? 'ann' : 'bob', i % 2 ? 'bob' : 'ann', `status report ${i} ${i % 3 ? 'alpha' : 'beta'}`);
    const id = h.send('ann', 'bob', 'alpha original');
    h.ok({ kind: 'edit', tokenHash: tok('ann'), messageId: id, text: 'alpha edited' });
    const out = tempDir('quorum-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const file = path.join(out, 'snap.db');
    await h.sm.snapshotTo(file);
    const other = new Harness();
    cleanup.push(() => other.dispose());
    other.sm.restoreFrom(file);
    expect(other.sm.search(bob, 'alpha', 100)).toEqual(search(bob, 'alpha', 100));
    expect(other.sm.search(ann, 'beta edit', 100)).toEqual([]);
    expect(other.sm.stateHash('all')).toBe(h.sm.stateHash('all'));
    expect(other.sm.audit()).toEqual([]);
  });
});

/** Turns a state.db into what the release before schema 5 holds (no edited_at, no search index). */
function downgradeToSchema4(file: string): void {
  const db = new Database(file);
  db.exec(`DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; DROP TABLE message_search; DROP VIEW message_search_source;
           DROP INDEX messages_group; DROP TABLE groups; DROP TABLE group_members; ALTER TABLE messages DROP COLUMN group_id;
           ALTER TABLE messages DROP COLUMN event; ALTER TABLE messages DROP COLUMN edited_at;`);
  db.pragma('user_version = 4');
  db.close();
}

describe('schema 4 → 5 and mixed versions', () => {
  it('a schema 4 state (data folder or snapshot) is migrated: the index is built from the live messages', () => {
    h.raiseClusterVersion(2);
    h.send('ann', 'bob', 'older release message');
    const gone = h.send('ann', 'bob', 'older deleted message');
    h.ok({ kind: 'delete', tokenHash: tok('ann'), ids: [gone] });
    h.sm.close();
    downgradeToSchema4(path.join(h.dir, 'state.db'));
    h.sm = ChatStateMachine.open(h.dir);
    expect(texts(bob, 'older')).toEqual(['older release message']);
    expect(h.sm.audit()).toEqual([]);
  });

  it('below cluster version 3 the state hash covers only what the older release holds, so mixed replicas agree', () => {
    h.raiseClusterVersion(2);
    h.send('ann', 'bob', 'same on both');
    const newer = h.sm.stateHash('all');
    h.sm.close();
    const copy = tempDir('quorum-old-');
    cleanup.push(() => fs.rmSync(copy, { recursive: true, force: true }));
    fs.copyFileSync(path.join(h.dir, 'state.db'), path.join(copy, 'state.db'));
    downgradeToSchema4(path.join(copy, 'state.db'));
    const older = new Database(path.join(copy, 'state.db'), { readonly: true });
    // What a schema 4 replica computes (every column of its messages table).
    expect(stateHash(older, 'all', 2)).toBe(newer);
    older.close();
    h.sm = ChatStateMachine.open(h.dir);
    // From version 3 on, edited_at counts: an edit changes the hash.
    h.raiseClusterVersion(3);
    const id = h.send('ann', 'bob', 'to edit');
    const before = h.sm.stateHash('chat');
    h.ok({ kind: 'edit', tokenHash: tok('ann'), messageId: id, text: 'to edit' });
    expect(h.sm.stateHash('chat')).not.toBe(before);
  });
});

/**
 * The search index as schema 6 made it (never released): a content-storing FTS5 table with 1-, 2- and 3-letter prefix
 * indexes, filled from the live messages, with its triggers.
 */
function downgradeToSchema6(file: string): void {
  const parties = (m: string) => `CASE WHEN ${m}.group_id IS NULL THEN 'a' || ${m}.from_id || ' a' || ${m}.to_id ELSE 'g' || ${m}.group_id END`;
  const db = new Database(file);
  db.exec(`DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; DROP TABLE message_search; DROP VIEW message_search_source;
    CREATE VIRTUAL TABLE message_search USING fts5(text, parties, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');
    CREATE TRIGGER message_search_insert AFTER INSERT ON messages WHEN new.deleted = 0 AND new.event IS NULL BEGIN
      INSERT INTO message_search (rowid, text, parties) VALUES (new.id, new.text, ${parties('new')});
    END;
    CREATE TRIGGER message_search_update AFTER UPDATE OF text, deleted ON messages BEGIN
      DELETE FROM message_search WHERE rowid = old.id;
      INSERT INTO message_search (rowid, text, parties) SELECT new.id, new.text, ${parties('new')} WHERE new.deleted = 0 AND new.event IS NULL;
    END;
    INSERT INTO message_search (rowid, text, parties) SELECT id, text, ${parties('messages')} FROM messages WHERE deleted = 0 AND event IS NULL;`);
  db.pragma('user_version = 6');
  db.close();
}

describe('the external-content index (schema 7)', () => {
  beforeEach(() => h.raiseClusterVersion(3));

  it('stores no second copy of the text; a schema 6 state (data folder or snapshot) is migrated to it and answers alike', () => {
    h.send('ann', 'bob', 'Café Müller at noon');
    const edited = h.send('bob', 'ann', 'lunch at noon');
    const gone = h.send('ann', 'bob', 'noon is gone');
    h.ok({ kind: 'edit', tokenHash: tok('bob'), messageId: edited, text: 'lunch at one' });
    h.ok({ kind: 'delete', tokenHash: tok('ann'), ids: [gone] });
    const queries = ['noon', 'lunch o', 'caf', 'c', 'gone', 'at'];
    const answers = queries.map((q) => search(ann, q));
    const hash = h.sm.stateHash('all');
    const tables = (file: string) => {
      const db = new Database(file, { readonly: true });
      const names = db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'message_search%' ORDER BY name").pluck().all();
      db.close();
      return names;
    };
    // No message_search_content: the text lives in messages only.
    expect(tables(path.join(h.dir, 'state.db'))).toEqual(['message_search', 'message_search_config', 'message_search_data', 'message_search_docsize', 'message_search_idx', 'message_search_insert', 'message_search_source', 'message_search_update']);
    h.sm.close();
    const older = tempDir('quorum-v6-');
    cleanup.push(() => fs.rmSync(older, { recursive: true, force: true }));
    const file = path.join(older, 'state.db');
    fs.copyFileSync(path.join(h.dir, 'state.db'), file);
    downgradeToSchema6(file);
    expect(tables(file)).toContain('message_search_content');
    // As a data folder...
    h.sm = ChatStateMachine.open(older);
    expect(queries.map((q) => search(ann, q))).toEqual(answers);
    expect(h.sm.stateHash('all')).toBe(hash);
    expect(h.sm.audit()).toEqual([]);
    h.sm.close();
    expect(tables(file)).not.toContain('message_search_content');
    // ...and as a snapshot of a replica of schema 6.
    downgradeToSchema6(file);
    const other = new Harness();
    cleanup.push(() => other.dispose());
    other.sm.restoreFrom(file);
    expect(queries.map((q) => other.sm.search(ann, q, 50))).toEqual(answers);
    expect(other.sm.audit()).toEqual([]);
    h.sm = ChatStateMachine.open(h.dir);
  });

  it('the audit finds an index that disagrees with the messages', () => {
    h.send('ann', 'bob', 'indexed');
    expect(h.sm.audit()).toEqual([]);
    h.sm.close();
    const db = new Database(path.join(h.dir, 'state.db'));
    // A write the index missed, as if a trigger were lost (opening puts the trigger back, not the index).
    db.exec('DROP TRIGGER message_search_update');
    db.exec("UPDATE messages SET text = 'changed behind its back' WHERE text = 'indexed'");
    db.close();
    h.sm = ChatStateMachine.open(h.dir);
    expect(h.sm.audit()).toEqual([expect.stringMatching(/^the search index disagrees with the messages/)]);
  });
});
