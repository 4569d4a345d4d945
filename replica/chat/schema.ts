/**
 * The SQLite schema of the replicated chat state (`<dataDir>/state.db`).
 *
 * Every hot statement is an index range scan or a primary-key lookup, so each operation costs the same with ten
 * or ten million messages. Partial indexes (WHERE deleted = 0, read_at IS NULL, ...) keep tombstones and handled
 * rows out of the hot paths. Derived counters (conversations.unread, accounts.unread, conversations.last_id) are
 * maintained by apply so no request ever counts or groups over a whole table.
 */
export const STATE_SCHEMA_VERSION = 1;

export const STATE_SCHEMA = `
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

/** Replicated tables in canonical order with their ordering keys (stateHash). */
export const HASHED_TABLES: { table: string; order: string; chat: boolean }[] = [
  { table: 'accounts', order: 'id', chat: true },
  { table: 'messages', order: 'id', chat: true },
  { table: 'conversations', order: 'owner_id, peer_id', chat: true },
  { table: 'tokens', order: 'token_hash', chat: true },
  { table: 'members', order: 'id', chat: true },
  { table: 'meta', order: 'id', chat: false },
  { table: 'clients', order: 'client_id', chat: false },
  { table: 'sessions', order: 'client_id, seq', chat: false },
];
