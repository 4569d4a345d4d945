/**
 * The SQLite schema of the replicated chat state (`<dataDir>/state.db`).
 *
 * Every hot statement is an index range scan or a primary-key lookup, so each operation costs the same with ten
 * or ten million messages. Applying a `send` (which every replica does for every message) touches as few b-tree
 * pages as possible: the message row (appended), three indexes (messages_to, messages_from, messages_in), the two
 * conversation rows (and conversations_recent), the recipient's account row and the client's session row.
 *
 * Read and delivered state is kept as watermarks, not per-message indexes:
 * - unread: within a conversation (owner, peer), the unread messages are exactly the live messages from peer to
 *   owner with id >= conversations.first_unread (NULL: none). `read` takes the oldest unread first and `markRead`
 *   a prefix up to an id, so the unread messages of a conversation are always a suffix; deletions keep
 *   first_unread on the oldest live unread message; notes to self are born read and never count.
 * - undelivered: every live message to an account with id <= accounts.delivered_upto is delivered; above it a
 *   message is delivered exactly when it was read (read marks delivered too). delivered_upto only bounds the work of
 *   `delivered` (any value with that property gives the same outcomes), so it is left out of the state hash.
 * The per-message read_at and delivered_at columns stay (receipts show them) and are updated by rowid.
 * Derived counters (conversations.unread, accounts.unread, conversations.last_id, first_unread) are maintained by
 * apply so no request ever counts or groups over a whole table.
 */
export const STATE_SCHEMA_VERSION = 7;

/**
 * The full-text index of live messages (FTS5, bundled with better-sqlite3's SQLite): rowid = message id; `text` the
 * message's words; `parties` who may see it ("a<from id> a<to id>", or "g<group id>" for a group's), so one MATCH finds
 * a person's messages without scanning everyone's. Group events are not indexed. Kept in step with messages by triggers
 * (send, edit, delete, tombstones of a deleted account), so no apply path can forget it. Derived from messages, so it
 * is not hashed; it is in state.db, so in snapshots.
 *
 * Since schema 7 it is an external-content index (SEARCH_INDEX_OPTIONS): it holds only the index, and reads the text
 * (for highlight()) from the view message_search_source over messages, so a message's text is stored once; removing
 * a row from it takes the 'delete' command with the values it indexed. Schema 6 stored a second copy of every text and
 * 1-, 2- and 3-letter prefix indexes (four index entries per word); on a send that cost ~3/4 of the apply CPU
 * (test/bench/README.md, "Figures behind constants").
 */
const SEARCH_PARTIES = (m: string) => `CASE WHEN ${m}.group_id IS NULL THEN 'a' || ${m}.from_id || ' a' || ${m}.to_id ELSE 'g' || ${m}.group_id END`;
const SEARCH_LIVE = (m: string) => `${m}.deleted = 0 AND ${m}.event IS NULL`;
/** See above and test/bench/README.md for the A/B behind these (prefix indexes, detail). */
const SEARCH_INDEX_OPTIONS = `tokenize = 'unicode61 remove_diacritics 2', detail = column, prefix = '1 2 3'`;
const SEARCH_INDEX = `
CREATE VIEW IF NOT EXISTS message_search_source AS SELECT id, text, ${SEARCH_PARTIES('messages')} AS parties FROM messages WHERE ${SEARCH_LIVE('messages')};
CREATE VIRTUAL TABLE IF NOT EXISTS message_search USING fts5(text, parties, content = 'message_search_source', content_rowid = 'id', ${SEARCH_INDEX_OPTIONS});
CREATE TRIGGER IF NOT EXISTS message_search_insert AFTER INSERT ON messages WHEN ${SEARCH_LIVE('new')} BEGIN
  INSERT INTO message_search (rowid, text, parties) VALUES (new.id, new.text, ${SEARCH_PARTIES('new')});
END;
CREATE TRIGGER IF NOT EXISTS message_search_update AFTER UPDATE OF text, deleted ON messages BEGIN
  INSERT INTO message_search (message_search, rowid, text, parties) SELECT 'delete', old.id, old.text, ${SEARCH_PARTIES('old')} WHERE ${SEARCH_LIVE('old')};
  INSERT INTO message_search (rowid, text, parties) SELECT new.id, new.text, ${SEARCH_PARTIES('new')} WHERE ${SEARCH_LIVE('new')};
END;
`;
/** Drops the search index, whichever form it has (its triggers first: no write may reach a half-dropped index). */
const DROP_SEARCH_INDEX = `
DROP TRIGGER IF EXISTS message_search_insert;
DROP TRIGGER IF EXISTS message_search_update;
DROP TABLE IF EXISTS message_search;
DROP VIEW IF EXISTS message_search_source;
`;
export const STATE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 0),
  applied_index INTEGER NOT NULL,
  applied_term INTEGER NOT NULL,
  conf TEXT,               -- ConfState JSON, NULL until the first conf entry
  last_at INTEGER NOT NULL, -- highest command clock applied (commands' clocks are clamped: see state-machine.ts)
  expired_upto INTEGER NOT NULL DEFAULT 0, -- highest start_index of an expired client (see clients)
  cluster_version INTEGER NOT NULL DEFAULT 1 -- the version every replica applies by (replica/chat/versions.ts)
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
  unread INTEGER NOT NULL DEFAULT 0,
  delivered_upto INTEGER NOT NULL DEFAULT 0
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
  deleted INTEGER NOT NULL DEFAULT 0,
  edited_at INTEGER, -- when the sender last edited it (NULL: never); from cluster version 3
  group_id INTEGER, -- the group it was sent to (to_id is then 0); NULL for one-to-one messages
  event TEXT -- a group's membership change (GroupEvent kind: created, added, removed, left, renamed, admin); NULL for messages
);
-- A group's history in id order (history pages, unread ranges, resuming live delivery).
CREATE INDEX IF NOT EXISTS messages_group ON messages (group_id, id) WHERE deleted = 0 AND group_id IS NOT NULL;
-- An account's inbox and outbox in id order (delivered, messagesAfter, lastMessageId); one direction of a
-- conversation (unread ranges; history merges both directions).
CREATE INDEX IF NOT EXISTS messages_to ON messages (to_id, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS messages_from ON messages (from_id, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS messages_in ON messages (to_id, from_id, id) WHERE deleted = 0;

-- One row per (owner, peer) with at least one live message between them. first_unread: the oldest unread message
-- from peer to owner (NULL when unread = 0); every later live message from peer to owner is unread.
CREATE TABLE IF NOT EXISTS conversations (
  owner_id INTEGER NOT NULL,
  peer_id INTEGER NOT NULL,
  last_id INTEGER NOT NULL,
  unread INTEGER NOT NULL DEFAULT 0,
  first_unread INTEGER,
  PRIMARY KEY (owner_id, peer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_recent ON conversations (owner_id, last_id);
CREATE INDEX IF NOT EXISTS conversations_unread ON conversations (owner_id, first_unread) WHERE first_unread IS NOT NULL;

CREATE TABLE IF NOT EXISTS tokens (
  token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tokens_account ON tokens (account_id);

-- Exactly-once: at least the latest SESSION_WINDOW responses per client (evicted in batches); floor = highest seq
-- evicted (seqs at or below it are stale). last_at is moved only when it is SESSION_TOUCH_MS old (idle expiry).
-- start_index: the applied index the client stamped its session with when it began (0: not stamped). Expiring a
-- client raises meta.expired_upto to its start_index, so a later write of a client that is unknown but stamped at or
-- below it is recognised as expired (SESSION_EXPIRED) instead of being taken for a new client.
CREATE TABLE IF NOT EXISTS clients (
  client_id TEXT PRIMARY KEY,
  last_at INTEGER NOT NULL,
  floor INTEGER NOT NULL DEFAULT 0,
  start_index INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS clients_idle ON clients (last_at, client_id);
-- Expired clients whose sessions were not stamped (start_index 0: clients older than schema version 3), which the
-- watermark cannot recognise: one row each, so their retries are refused too.
CREATE TABLE IF NOT EXISTS expired_clients (
  client_id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
  client_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  response TEXT NOT NULL,
  at INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;

-- version: the highest state-machine version the member reported supporting (NULL: not reported yet).
CREATE TABLE IF NOT EXISTS members (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  version INTEGER
) WITHOUT ROWID;

-- Groups (cluster version 3): id = log index of the createGroup command; names unique ignoring case among groups.
-- last_id: the newest live message or event (its conversation list order).
CREATE TABLE IF NOT EXISTS groups (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  name_lower TEXT NOT NULL UNIQUE,
  creator_id INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_id INTEGER NOT NULL
);
-- Members with their read state: every live message of the group from someone else with id > read_upto is unread
-- (a watermark, as conversations' first_unread); unread counts them. admin: may add, remove and rename.
CREATE TABLE IF NOT EXISTS group_members (
  group_id INTEGER NOT NULL,
  account_id INTEGER NOT NULL,
  admin INTEGER NOT NULL DEFAULT 0,
  joined_at INTEGER NOT NULL,
  read_upto INTEGER NOT NULL,
  unread INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (group_id, account_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_account ON group_members (account_id, group_id);
${SEARCH_INDEX}`;

/**
 * Schema version 1 → 2: watermarks replace the per-message unread/undelivered indexes,
 * messages_in replaces messages_pair. Derived from the stored state only, so every replica migrates alike; run in
 * one transaction, before the old indexes are dropped (they make the derivation index lookups).
 */
const MIGRATE_1_TO_2 = `
ALTER TABLE accounts ADD COLUMN delivered_upto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN first_unread INTEGER;
UPDATE conversations SET first_unread = (
  SELECT min(m.id) FROM messages m
  WHERE m.to_id = conversations.owner_id AND m.from_id = conversations.peer_id AND m.read_at IS NULL AND m.deleted = 0
) WHERE owner_id <> peer_id AND unread > 0;
UPDATE accounts SET delivered_upto = coalesce(
  (SELECT min(m.id) - 1 FROM messages m WHERE m.to_id = accounts.id AND m.delivered_at IS NULL AND m.deleted = 0),
  (SELECT applied_index FROM meta WHERE id = 0)
);
DROP INDEX IF EXISTS messages_unread;
DROP INDEX IF EXISTS messages_unread_from;
DROP INDEX IF EXISTS messages_undelivered;
DROP INDEX IF EXISTS messages_pair;
`;

/** Schema version 2 → 3: client sessions stamped with their start index, and the expiry watermark. */
const MIGRATE_2_TO_3 = `
ALTER TABLE clients ADD COLUMN start_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE meta ADD COLUMN expired_upto INTEGER NOT NULL DEFAULT 0;
`;

/** Schema version 3 → 4: the cluster version (1, the rules of before) and the versions members report. */
const MIGRATE_3_TO_4 = `
ALTER TABLE meta ADD COLUMN cluster_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE members ADD COLUMN version INTEGER;
`;

/** Schema version 4 → 5: message edits (the full-text index of schema 5 is rebuilt by 5 → 6). */
const MIGRATE_4_TO_5 = `
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
`;

/**
 * Schema version 5 → 6: groups (their tables, messages.group_id and event); the full-text index of schema 5 dropped
 * (6 → 7 makes the current one from the live messages, once).
 */
const MIGRATE_5_TO_6 = `
ALTER TABLE messages ADD COLUMN group_id INTEGER;
ALTER TABLE messages ADD COLUMN event TEXT;
${DROP_SEARCH_INDEX}
`;

/**
 * Schema version 6 → 7: the search index made again as an external-content index (see SEARCH_INDEX) from the live
 * messages. Local to each replica (the index is derived and never hashed): the replicated state is unchanged.
 */
const MIGRATE_6_TO_7 = `
${DROP_SEARCH_INDEX}
${SEARCH_INDEX}
INSERT INTO message_search (message_search) VALUES ('rebuild');
`;

/** The migration from each older version to the next, applied in order (migration.ts). */
export const MIGRATIONS: Record<number, string> = { 1: MIGRATE_1_TO_2, 2: MIGRATE_2_TO_3, 3: MIGRATE_3_TO_4, 4: MIGRATE_4_TO_5, 5: MIGRATE_5_TO_6, 6: MIGRATE_6_TO_7 };

/**
 * Replicated tables in canonical order with their ordering keys (stateHash); `columns` when not all are hashed
 * (accounts.delivered_upto is a work bound whose value does not change any outcome: see above).
 */
export const HASHED_TABLES: {
  table: string;
  order: string;
  chat: boolean;
  columns?: string;
  /**
   * While the cluster version is below `version`, only `columns` are hashed: what replicas of the older release hold
   * too, so mixed versions hash alike (what the newer version adds stays empty until the cluster runs it).
   */
  before?: { version: number; columns: string };
  /** A table the cluster version `since` added: left out below it (replicas of the older release lack it). */
  since?: number;
}[] = [
  {
    table: 'accounts',
    order: 'id',
    chat: true,
    columns: 'id, username, username_lower, password_hash, created_at, deleted, deleted_at, unread',
  },
  {
    table: 'messages',
    order: 'id',
    chat: true,
    before: { version: 3, columns: 'id, from_id, to_id, text, sent_at, delivered_at, read_at, deleted' },
  },
  { table: 'groups', order: 'id', chat: true, since: 3 },
  { table: 'group_members', order: 'group_id, account_id', chat: true, since: 3 },
  { table: 'conversations', order: 'owner_id, peer_id', chat: true },
  { table: 'tokens', order: 'token_hash', chat: true },
  { table: 'members', order: 'id', chat: true },
  { table: 'meta', order: 'id', chat: false },
  { table: 'clients', order: 'client_id', chat: false },
  { table: 'expired_clients', order: 'client_id', chat: false },
  { table: 'sessions', order: 'client_id, seq', chat: false },
];
