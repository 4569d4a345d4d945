/**
 * The prepared statements of the chat state (`state.db`, schema in schema.ts) and the rows they return. Every hot
 * statement is a primary-key lookup or an index range scan (see schema.ts for why each index exists). Prepared once
 * per open database; the state machine prepares them again after a snapshot is installed.
 */
import type { Db } from '../storage/sqlite.js';

export interface AccountRow {
  id: number;
  username: string;
  username_lower: string;
  password_hash: string;
  created_at: number;
  deleted: number;
  deleted_at: number | null;
  unread: number;
  delivered_upto: number;
}

/** What a push and a message need of an account: who it is and whether it still exists. */
export type AccountIdentity = Pick<AccountRow, 'id' | 'username' | 'username_lower' | 'deleted'>;

export interface MessageRow {
  id: number;
  from_id: number;
  to_id: number;
  text: string;
  sent_at: number;
  delivered_at: number | null;
  read_at: number | null;
  deleted: number;
  edited_at: number | null;
  /** The group it was sent to (to_id is then 0), or null. */
  group_id: number | null;
  /** A group event's kind (GroupEventKind), or null for a message. */
  event: string | null;
}

export interface GroupRow {
  id: number;
  name: string;
  name_lower: string;
  creator_id: number;
  created_at: number;
  last_id: number;
}

export interface GroupMemberRow {
  group_id: number;
  account_id: number;
  admin: number;
  joined_at: number;
  read_upto: number;
  unread: number;
}

export interface MetaRow {
  applied_index: number;
  applied_term: number;
  /** ConfState JSON, null until the first conf entry. */
  conf: string | null;
  /** The highest command clock applied. */
  last_at: number;
}

/** A client's session bookkeeping (see schema.ts, table clients). */
export interface ClientRow {
  last_at: number;
  floor: number;
  start_index: number;
}

/** One stored session response (see sessions.ts for its encoding). */
export interface StoredResponseRow {
  response: string;
  at: number;
  idx: number;
}

const MESSAGE_COLUMNS = 'id, from_id, to_id, text, sent_at, delivered_at, read_at, deleted, edited_at, group_id, event';
const ACCOUNT_COLUMNS = 'id, username, username_lower, password_hash, created_at, deleted, deleted_at, unread, delivered_upto';

/** The meta row of any state database (also of a snapshot copy, opened on its own). */
export function readMeta(db: Db): MetaRow | undefined {
  return db.prepare<[], MetaRow>('SELECT applied_index, applied_term, conf, last_at FROM meta WHERE id = 0').get();
}

export function prepareStatements(db: Db) {
  const prepare = <P extends unknown[] = unknown[], R = unknown>(sql: string) => db.prepare<P, R>(sql);
  // The search index's terms (fts5vocab), in this connection's temp schema: a view of message_search, nothing stored
  // in state.db (so not in the state hash or snapshots). queries.ts expands a typed prefix into its terms with it.
  db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.message_search_terms USING fts5vocab(main, message_search, 'row')");
  return {
    setApplied: prepare<[number, number, number]>('UPDATE meta SET applied_index = ?, applied_term = ?, last_at = ? WHERE id = 0'),
    setConf: prepare<[string]>('UPDATE meta SET conf = ? WHERE id = 0'),
    expiredUpto: prepare<[], { expired_upto: number }>('SELECT expired_upto FROM meta WHERE id = 0'),
    clusterVersion: prepare<[], { cluster_version: number }>('SELECT cluster_version FROM meta WHERE id = 0'),
    /**
     * About how many rows a state hash reads, from above: the highest message and account ids (ids are log indices, so
     * at least as many as those rows), read from two b-tree ends instead of counting.
     */
    hashRows: prepare<[], { rows: number }>('SELECT coalesce((SELECT max(id) FROM messages), 0) + coalesce((SELECT max(id) FROM accounts), 0) AS rows'),
    setClusterVersion: prepare<[number]>('UPDATE meta SET cluster_version = ? WHERE id = 0'),
    raiseExpiredUpto: prepare<[number]>('UPDATE meta SET expired_upto = max(expired_upto, ?) WHERE id = 0'),

    accountById: prepare<[number], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
    accountLive: prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE username_lower = ? AND deleted = 0`),
    deletedPeer: prepare<[string, number], { id: number }>(
      'SELECT a.id FROM accounts a WHERE a.username_lower = ? AND a.deleted = 1 AND EXISTS ' +
        '(SELECT 1 FROM conversations c WHERE c.owner_id = ? AND c.peer_id = a.id) ORDER BY a.id DESC LIMIT 1',
    ),
    insertAccount: prepare<[number, string, string, string, number]>(
      'INSERT INTO accounts (id, username, username_lower, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    accountAddUnread: prepare<[number, number]>('UPDATE accounts SET unread = unread + ? WHERE id = ?'),
    setDeliveredUpto: prepare<[number, number]>('UPDATE accounts SET delivered_upto = ? WHERE id = ?'),
    markAccountDeleted: prepare<[number, number]>(
      "UPDATE accounts SET deleted = 1, deleted_at = ?, password_hash = '', unread = 0 WHERE id = ?",
    ),
    accountsScan: prepare<[string, string, string, string], { username: string; username_lower: string; hit: number }>(
      'SELECT username, username_lower, (username_lower GLOB ?) AS hit FROM accounts ' +
        'WHERE deleted = 0 AND username_lower >= ? AND username_lower > ? AND username_lower < ? ORDER BY username_lower',
    ),

    tokenAccount: prepare<[string], AccountRow>(
      `SELECT ${ACCOUNT_COLUMNS.split(', ').map((c) => `a.${c}`).join(', ')} FROM tokens t JOIN accounts a ON a.id = t.account_id ` +
        'WHERE t.token_hash = ? AND a.deleted = 0',
    ),
    tokenOwner: prepare<[string], { account_id: number }>('SELECT account_id FROM tokens WHERE token_hash = ?'),
    insertToken: prepare<[string, number, number]>('INSERT INTO tokens (token_hash, account_id, created_at) VALUES (?, ?, ?)'),
    deleteToken: prepare<[string]>('DELETE FROM tokens WHERE token_hash = ?'),
    deleteTokensOf: prepare<[number]>('DELETE FROM tokens WHERE account_id = ?'),

    insertMessage: prepare<[number, number, number, string, number, number | null, number | null]>(
      'INSERT INTO messages (id, from_id, to_id, text, sent_at, delivered_at, read_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    messageById: prepare<[number], MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`),
    /** Unread messages of one conversation (from peer to owner, id >= first_unread), below a bound, oldest first. */
    unreadIn: prepare<[number, number, number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id >= ? AND id < ? ORDER BY id LIMIT ?`,
    ),
    unreadInUpTo: prepare<[number, number, number, number], { id: number }>(
      'SELECT id FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id >= ? AND id <= ? ORDER BY id',
    ),
    /** The next live message from peer to owner after an id (the new first unread once a prefix is read). */
    nextIn: prepare<[number, number, number], { id: number }>(
      'SELECT id FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT 1',
    ),
    /** Messages to an account above its delivered watermark up to an id (the read ones are delivered already). */
    inboxRange: prepare<[number, number, number], { id: number; from_id: number; delivered_at: number | null }>(
      'SELECT id, from_id, delivered_at FROM messages WHERE to_id = ? AND deleted = 0 AND id > ? AND id <= ? ORDER BY id',
    ),
    markRead: prepare<[number, number, number]>('UPDATE messages SET read_at = ?, delivered_at = coalesce(delivered_at, ?) WHERE id = ?'),
    markDelivered: prepare<[number, number]>('UPDATE messages SET delivered_at = ? WHERE id = ?'),
    tombstone: prepare<[number]>("UPDATE messages SET deleted = 1, text = '' WHERE id = ?"),
    editMessage: prepare<[string, number, number]>('UPDATE messages SET text = ?, edited_at = ? WHERE id = ?'),
    /**
     * Full-text matches among the messages `parties` (an FTS5 expression over the parties column) may see, best
     * first (bm25), with the matched words between \uE000 and \uE001 (private-use characters; see queries.ts).
     */
    search: prepare<[string, number], MessageRow & { marked: string }>(
      `SELECT ${MESSAGE_COLUMNS.split(', ')
        .map((c) => `m.${c}`)
        .join(', ')}, highlight(message_search, 0, char(57344), char(57345)) AS marked
       FROM message_search JOIN messages m ON m.id = message_search.rowid
       WHERE message_search MATCH ? AND m.deleted = 0 ORDER BY rank LIMIT ?`,
    ),
    /** Terms of the search index in [from, to) (a prefix's range), at most `limit`. */
    searchTerms: prepare<[string, string, number], { term: string }>('SELECT term FROM temp.message_search_terms WHERE term >= ? AND term < ? LIMIT ?'),
    inbox: prepare<[number], { id: number; from_id: number; read_at: number | null }>(
      'SELECT id, from_id, read_at FROM messages WHERE to_id = ? AND deleted = 0 ORDER BY id',
    ),
    lastMessageId: prepare<[number, number], { id: number }>(
      'SELECT max(coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND deleted = 0), 0), coalesce((SELECT max(id) FROM messages WHERE from_id = ? AND deleted = 0), 0)) AS id',
    ),
    lastInPair: prepare<[number, number, number, number], { id: number | null }>(
      'SELECT max(coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0), 0), ' +
        'coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0), 0)) AS id',
    ),
    /** Both directions of a conversation merged (an index range each), newest first. */
    history: prepare<[number, number, number, number, number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id < ? ` +
        `UNION ALL SELECT ${MESSAGE_COLUMNS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    historySelf: prepare<[number, number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    toAfter: prepare<[number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE to_id = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`,
    ),
    fromAfter: prepare<[number, number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE from_id = ? AND to_id <> ? AND deleted = 0 AND group_id IS NULL AND id > ? ORDER BY id LIMIT ?`,
    ),

    insertGroupMessage: prepare<[number, number, string, number, number, string | null]>(
      'INSERT INTO messages (id, from_id, to_id, text, sent_at, group_id, event) VALUES (?, ?, 0, ?, ?, ?, ?)',
    ),
    groupByName: prepare<[string], GroupRow>('SELECT id, name, name_lower, creator_id, created_at, last_id FROM groups WHERE name_lower = ?'),
    groupById: prepare<[number], GroupRow>('SELECT id, name, name_lower, creator_id, created_at, last_id FROM groups WHERE id = ?'),
    insertGroup: prepare<[number, string, string, number, number, number]>(
      'INSERT INTO groups (id, name, name_lower, creator_id, created_at, last_id) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    renameGroup: prepare<[string, string, number]>('UPDATE groups SET name = ?, name_lower = ? WHERE id = ?'),
    groupSetLast: prepare<[number, number]>('UPDATE groups SET last_id = ? WHERE id = ?'),
    deleteGroup: prepare<[number]>('DELETE FROM groups WHERE id = ?'),
    groupMembers: prepare<[number], GroupMemberRow & { username: string }>(
      'SELECT gm.group_id, gm.account_id, gm.admin, gm.joined_at, gm.read_upto, gm.unread, a.username FROM group_members gm ' +
        'JOIN accounts a ON a.id = gm.account_id WHERE gm.group_id = ? ORDER BY gm.account_id',
    ),
    groupMember: prepare<[number, number], GroupMemberRow>(
      'SELECT group_id, account_id, admin, joined_at, read_upto, unread FROM group_members WHERE group_id = ? AND account_id = ?',
    ),
    groupMemberCount: prepare<[number], { n: number }>('SELECT count(*) AS n FROM group_members WHERE group_id = ?'),
    addGroupMember: prepare<[number, number, number, number, number]>(
      'INSERT INTO group_members (group_id, account_id, admin, joined_at, read_upto) VALUES (?, ?, ?, ?, ?)',
    ),
    removeGroupMember: prepare<[number, number]>('DELETE FROM group_members WHERE group_id = ? AND account_id = ?'),
    setGroupAdmin: prepare<[number, number, number]>('UPDATE group_members SET admin = ? WHERE group_id = ? AND account_id = ?'),
    /** A new message from `sender`: one more unread for every other member (their watermarks are below it). */
    groupBumpUnread: prepare<[number, number]>('UPDATE group_members SET unread = unread + 1 WHERE group_id = ? AND account_id <> ?'),
    /** A live message `id` from `sender` went: one fewer unread for the members that had not read it. */
    groupDropUnread: prepare<[number, number, number]>(
      'UPDATE group_members SET unread = unread - 1 WHERE group_id = ? AND account_id <> ? AND read_upto < ?',
    ),
    groupSetRead: prepare<[number, number, number, number]>(
      'UPDATE group_members SET read_upto = ?, unread = unread - ? WHERE group_id = ? AND account_id = ?',
    ),
    /** The account's groups (its memberships), by group id. */
    groupsOf: prepare<[number], GroupMemberRow>(
      'SELECT group_id, account_id, admin, joined_at, read_upto, unread FROM group_members WHERE account_id = ? ORDER BY group_id',
    ),
    /** A group's live messages (not events) from others above a watermark, oldest first. */
    groupUnread: prepare<[number, number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? AND deleted = 0 AND id > ? AND event IS NULL AND from_id <> ? ORDER BY id LIMIT ?`,
    ),
    /** What groupUnread would return up to an id, unbounded: what markGroupRead's moved watermark newly reads. */
    groupReadRange: prepare<[number, number, number, number], { id: number; from_id: number }>(
      'SELECT id, from_id FROM messages WHERE group_id = ? AND deleted = 0 AND id > ? AND id <= ? AND event IS NULL AND from_id <> ? ORDER BY id',
    ),
    groupHistory: prepare<[number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? AND deleted = 0 AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    groupAfter: prepare<[number, number, number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`,
    ),
    groupLast: prepare<[number], { id: number | null }>('SELECT max(id) AS id FROM messages WHERE group_id = ? AND deleted = 0'),

    /** The sender's side of a send (and a note to self): only last_id moves. */
    convUpsert: prepare<[number, number, number]>(
      'INSERT INTO conversations (owner_id, peer_id, last_id) VALUES (?, ?, ?) ' +
        'ON CONFLICT (owner_id, peer_id) DO UPDATE SET last_id = excluded.last_id',
    ),
    /** The recipient's side when it has unread messages already (first_unread stays: its index entry is not touched). */
    convBumpUnread: prepare<[number, number, number]>(
      'UPDATE conversations SET last_id = ?, unread = unread + 1 WHERE owner_id = ? AND peer_id = ? AND first_unread IS NOT NULL',
    ),
    /** The recipient's side otherwise: this message is the first unread. */
    convFirstUnread: prepare<[number, number, number, number]>(
      'INSERT INTO conversations (owner_id, peer_id, last_id, unread, first_unread) VALUES (?, ?, ?, 1, ?) ' +
        'ON CONFLICT (owner_id, peer_id) DO UPDATE SET last_id = excluded.last_id, unread = unread + 1, first_unread = excluded.first_unread',
    ),
    convGet: prepare<[number, number], { unread: number; first_unread: number | null }>(
      'SELECT unread, first_unread FROM conversations WHERE owner_id = ? AND peer_id = ?',
    ),
    /** Takes `n` unread messages off a conversation and sets its new first unread. */
    convSetUnread: prepare<[number, number | null, number, number]>(
      'UPDATE conversations SET unread = unread - ?, first_unread = ? WHERE owner_id = ? AND peer_id = ?',
    ),
    /** The account's conversations with unread messages, by their oldest unread message. */
    convUnread: prepare<[number, number], { peer_id: number; unread: number; first_unread: number }>(
      'SELECT peer_id, unread, first_unread FROM conversations WHERE owner_id = ? AND first_unread IS NOT NULL ORDER BY first_unread LIMIT ?',
    ),
    convSetLast: prepare<[number, number, number]>('UPDATE conversations SET last_id = ? WHERE owner_id = ? AND peer_id = ?'),
    convDelete: prepare<[number, number]>('DELETE FROM conversations WHERE owner_id = ? AND peer_id = ?'),
    convPeers: prepare<[number], { peer_id: number }>('SELECT peer_id FROM conversations WHERE owner_id = ? ORDER BY peer_id'),
    convDeleteOwner: prepare<[number]>('DELETE FROM conversations WHERE owner_id = ?'),
    convRecent: prepare<[number, number], { peer_id: number; last_id: number; unread: number }>(
      'SELECT peer_id, last_id, unread FROM conversations WHERE owner_id = ? ORDER BY last_id DESC LIMIT ?',
    ),

    sessionGet: prepare<[string, number], StoredResponseRow>('SELECT response, at, idx FROM sessions WHERE client_id = ? AND seq = ?'),
    sessionPut: prepare<[string, number, string, number, number]>(
      'INSERT INTO sessions (client_id, seq, response, at, idx) VALUES (?, ?, ?, ?, ?)',
    ),
    sessionEvict: prepare<[string, number]>('DELETE FROM sessions WHERE client_id = ? AND seq <= ?'),
    sessionDropClient: prepare<[string]>('DELETE FROM sessions WHERE client_id = ?'),
    clientGet: prepare<[string], ClientRow>('SELECT last_at, floor, start_index FROM clients WHERE client_id = ?'),
    clientInsert: prepare<[string, number, number, number]>('INSERT INTO clients (client_id, last_at, floor, start_index) VALUES (?, ?, ?, ?)'),
    clientTouch: prepare<[number, string]>('UPDATE clients SET last_at = ? WHERE client_id = ?'),
    clientFloor: prepare<[number, string]>('UPDATE clients SET floor = ? WHERE client_id = ?'),
    clientsIdle: prepare<[number, number], { client_id: string; start_index: number }>(
      'SELECT client_id, start_index FROM clients WHERE last_at < ? ORDER BY last_at, client_id LIMIT ?',
    ),
    clientDelete: prepare<[string]>('DELETE FROM clients WHERE client_id = ?'),
    expiredClientAdd: prepare<[string]>('INSERT OR IGNORE INTO expired_clients (client_id) VALUES (?)'),
    expiredClientGet: prepare<[string], { client_id: string }>('SELECT client_id FROM expired_clients WHERE client_id = ?'),

    memberUpsert: prepare<[string, string]>(
      'INSERT INTO members (id, address) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET address = excluded.address',
    ),
    memberDelete: prepare<[string]>('DELETE FROM members WHERE id = ?'),
    members: prepare<[], { id: string; address: string; version: number | null }>('SELECT id, address, version FROM members ORDER BY id'),
    memberVersionSet: prepare<[number, string]>('UPDATE members SET version = ? WHERE id = ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
