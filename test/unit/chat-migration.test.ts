// Data folders (and snapshots) of the previous release, schema version 1, open and migrate to the current version.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { STATE_SCHEMA_VERSION } from '../../replica/chat/schema.js';
import type { Entry } from '../../replica/raft/types.js';
import { Harness, tempDir, tok } from '../helpers/chat-harness.js';

// The schema of version 1, verbatim from the previous release (replica/chat/schema.ts).
const V1_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  applied_index INTEGER NOT NULL,
  applied_term INTEGER NOT NULL,
  conf TEXT,               -- ConfState JSON, NULL until the first conf entry
  last_at INTEGER NOT NULL -- highest command clock applied (commands' clocks are clamped to be monotonic)
);
INSERT OR IGNORE INTO meta (id, applied_index, applied_term, conf, last_at) VALUES (0, 0, 0, NULL, 0);

-- id = log index of the signup command. Usernames are unique (case-insensitively) among live accounts only:
-- deleting an account frees its name; the deleted row stays so old messages keep their sender.
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL,
  username_lower TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  deleted_at INTEGER,
  unread INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS accounts_live_name ON accounts (username_lower) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS accounts_name ON accounts (username_lower, id);

-- id = log index of the send command: unique, increasing, the same on every replica.
-- A deleted message stays as a tombstone (text wiped) so ids are never reused and a repeated delete is harmless.
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  from_id INTEGER NOT NULL,
  to_id INTEGER NOT NULL,
  text TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  delivered_at INTEGER,
  read_at INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_to ON messages (to_id, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS messages_from ON messages (from_id, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS messages_pair ON messages (min(from_id, to_id), max(from_id, to_id), id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS messages_unread ON messages (to_id, id) WHERE read_at IS NULL AND deleted = 0;
CREATE INDEX IF NOT EXISTS messages_unread_from ON messages (to_id, from_id, id) WHERE read_at IS NULL AND deleted = 0;
CREATE INDEX IF NOT EXISTS messages_undelivered ON messages (to_id, id) WHERE delivered_at IS NULL AND deleted = 0;

-- One row per (owner, peer) with at least one live message between them.
CREATE TABLE IF NOT EXISTS conversations (
  owner_id INTEGER NOT NULL,
  peer_id INTEGER NOT NULL,
  last_id INTEGER NOT NULL,
  unread INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (owner_id, peer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_recent ON conversations (owner_id, last_id);

CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_account ON tokens (account_id);

-- Exactly-once: the latest SESSION_WINDOW responses per client; floor = highest seq evicted (older seqs are stale).
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT PRIMARY KEY,
  last_at INTEGER NOT NULL,
  floor INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS clients_idle ON clients (last_at, client_id);
CREATE TABLE IF NOT EXISTS sessions (
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  response TEXT NOT NULL,
  at INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS members (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL
) WITHOUT ROWID;
`;

/** Columns of version 1 (the tables were the same; accounts and conversations have gained columns since). */
const V1_COLUMNS: Record<string, string> = {
  meta: 'id, applied_index, applied_term, conf, last_at',
  accounts: 'id, username, username_lower, password_hash, created_at, deleted, deleted_at, unread',
  messages: 'id, from_id, to_id, text, sent_at, delivered_at, read_at, deleted',
  conversations: 'owner_id, peer_id, last_id, unread',
  tokens: 'token_hash, account_id, created_at',
  clients: 'client_id, last_at, floor',
  sessions: 'client_id, seq, response, at, idx',
  members: 'id, address',
};

/** Writes `file` as version 1 would have: its schema, and the rows of `from` (a state the same log produced). */
function writeV1(from: string, file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(V1_SCHEMA);
  db.exec('DELETE FROM meta');
  db.exec(`ATTACH DATABASE '${from}' AS src`);
  for (const [table, cols] of Object.entries(V1_COLUMNS)) db.exec(`INSERT INTO main.${table} (${cols}) SELECT ${cols} FROM src.${table}`);
  db.exec('DETACH DATABASE src');
  db.pragma('user_version = 1');
  db.close();
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

/** A state with read, unread, delivered, deleted messages, notes to self and a deleted account. */
function history(): { h: Harness; later: Entry[] } {
  const h = new Harness();
  cleanup.push(() => h.dispose());
  h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
  for (const u of ['ann', 'bob', 'cat', 'dan']) h.user(u);
  const ids: number[] = [];
  for (let i = 0; i < 40; i++) {
    const [from, to] = [['ann', 'bob'], ['bob', 'ann'], ['cat', 'bob'], ['dan', 'bob'], ['ann', 'ann'], ['bob', 'cat']][i % 6];
    ids.push(h.send(from, to, `m${i}`));
  }
  h.ok({ kind: 'read', tokenHash: tok('bob'), limit: 5 });
  h.ok({ kind: 'markRead', tokenHash: tok('bob'), with: 'cat', upTo: ids[20] });
  h.ok({ kind: 'delivered', tokenHash: tok('bob'), upTo: ids[30] });
  h.ok({ kind: 'delivered', tokenHash: tok('ann'), upTo: ids[10] });
  h.ok({ kind: 'delete', tokenHash: tok('bob'), ids: [ids[25], ids[26], ids[33]] });
  h.ok({ kind: 'deleteAccount', tokenHash: tok('dan'), passwordHash: 'scrypt$16384$8$1$salt$dan' });
  h.sm.commitGroup();
  const later = [
    h.entry({ kind: 'read', tokenHash: tok('bob'), limit: 7 }),
    h.entry({ kind: 'send', tokenHash: tok('cat'), to: 'bob', text: 'after' }),
    h.entry({ kind: 'delivered', tokenHash: tok('bob'), upTo: 10_000 }),
    h.entry({ kind: 'markRead', tokenHash: tok('bob'), with: 'dan', upTo: 10_000 }),
    h.entry({ kind: 'read', tokenHash: tok('bob'), limit: 500 }),
    h.entry({ kind: 'read', tokenHash: tok('cat'), limit: 2 }),
    h.entry({ kind: 'delivered', tokenHash: tok('ann'), upTo: 10_000 }),
    h.entry({ kind: 'delete', tokenHash: tok('ann'), ids: [ids[0]] }),
  ];
  return { h, later };
}

describe('schema version 1', () => {
  it('a data folder of the previous release opens, migrates to the same state and applies alike', () => {
    const { h, later } = history();
    const dir = tempDir('quorum-v1-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    writeV1(path.join(h.dir, 'state.db'), path.join(dir, 'state.db'));
    const sm = ChatStateMachine.open(dir);
    cleanup.push(() => sm.close());
    const db = new Database(path.join(dir, 'state.db'), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(STATE_SCHEMA_VERSION);
    db.close();
    // first_unread is derived exactly; the delivered watermark may differ (it is not hashed) but must be valid.
    expect(sm.audit()).toEqual([]);
    expect(sm.stateHash()).toBe(h.sm.stateHash());
    expect(sm.applied()).toEqual(h.sm.applied());
    expect(sm.conf()).toEqual(h.sm.conf());
    const bob = h.sm.account('bob')!.id;
    expect(sm.conversations(bob, 50)).toEqual(h.sm.conversations(bob, 50));
    expect(sm.history(bob, 'ann', 50)).toEqual(h.sm.history(bob, 'ann', 50));
    for (const e of later) {
      expect(sm.applyEntries([e])).toEqual(h.sm.applyEntries([e]));
      expect(sm.stateHash()).toBe(h.sm.stateHash());
    }
    expect(sm.audit()).toEqual([]);
    // Reopening finds the current version and changes nothing.
    sm.close();
    const again = ChatStateMachine.open(dir);
    expect(again.stateHash()).toBe(h.sm.stateHash());
    again.close();
  });

  it('a snapshot from a replica of the previous release is migrated when installed', () => {
    const { h, later } = history();
    const out = tempDir('quorum-v1-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const file = path.join(out, 'snap.db');
    writeV1(path.join(h.dir, 'state.db'), file);
    const snap = new Database(file);
    snap.pragma('journal_mode = DELETE');
    snap.close();
    const target = new Harness();
    cleanup.push(() => target.dispose());
    expect(target.sm.restoreFrom(file)).toEqual({ index: h.sm.applied().index, term: 1, conf: { voters: ['n1'], learners: [] } });
    expect(target.sm.audit()).toEqual([]);
    expect(target.sm.stateHash()).toBe(h.sm.stateHash());
    for (const e of later) expect(target.sm.applyEntries([e])).toEqual(h.sm.applyEntries([e]));
    expect(target.sm.stateHash()).toBe(h.sm.stateHash());
  });

  it('refuses an unknown version, in a data folder and in a snapshot', () => {
    const dir = tempDir('quorum-v9-');
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const db = new Database(path.join(dir, 'state.db'));
    db.pragma('user_version = 9');
    db.close();
    expect(() => ChatStateMachine.open(dir)).toThrow(/schema version 9/);
    const h = new Harness();
    cleanup.push(() => h.dispose());
    expect(() => h.sm.restoreFrom(path.join(dir, 'state.db'))).toThrow(/schema version 9/);
  });
});

/** What each schema version added, undone to write a file of the version before it. */
const UNDO: Record<number, string> = {
  3: 'ALTER TABLE clients DROP COLUMN start_index; ALTER TABLE meta DROP COLUMN expired_upto; DROP TABLE expired_clients;',
  4: 'ALTER TABLE meta DROP COLUMN cluster_version; ALTER TABLE members DROP COLUMN version;',
  5: 'DROP TABLE message_search; ALTER TABLE messages DROP COLUMN edited_at;',
  6:
    'DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; DROP INDEX messages_group; DROP TABLE groups; ' +
    'DROP TABLE group_members; ALTER TABLE messages DROP COLUMN group_id; ALTER TABLE messages DROP COLUMN event;',
  // Schema 6's index stored its own copy of the text (with prefix indexes); its triggers go with UNDO[6].
  7:
    'DROP TRIGGER message_search_insert; DROP TRIGGER message_search_update; DROP TABLE message_search; DROP VIEW message_search_source; ' +
    "CREATE VIRTUAL TABLE message_search USING fts5(text, parties, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'); " +
    "INSERT INTO message_search (rowid, text, parties) SELECT id, text, 'a' || from_id || ' a' || to_id FROM messages WHERE deleted = 0 AND event IS NULL; " +
    'CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN SELECT 1; END; CREATE TRIGGER message_search_update AFTER UPDATE ON messages BEGIN SELECT 1; END;',
};

/** Writes `file` as schema `version` (2 or later) would have: the rows of `from` without what came after it. */
function writeOlder(from: string, file: string, version: number): void {
  const src = new Database(from, { readonly: true });
  src.prepare('VACUUM INTO ?').run(file);
  src.close();
  const db = new Database(file);
  for (let v = STATE_SCHEMA_VERSION; v > version; v--) db.exec(UNDO[v]);
  db.pragma(`user_version = ${version}`);
  db.close();
}

describe.each([2, 3, 4, 5, 6])('schema version %i', (version) => {
  it('a data folder migrates to the same state (what later versions add starts empty) and applies alike', () => {
    const { h, later } = history();
    const dir = tempDir(`quorum-v${version}-`);
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    writeOlder(path.join(h.dir, 'state.db'), path.join(dir, 'state.db'), version);
    const sm = ChatStateMachine.open(dir);
    cleanup.push(() => sm.close());
    expect(sm.stateHash()).toBe(h.sm.stateHash());
    for (const e of later) expect(sm.applyEntries([e])).toEqual(h.sm.applyEntries([e]));
    expect(sm.stateHash()).toBe(h.sm.stateHash());
    expect(sm.audit()).toEqual([]);
  });
});

