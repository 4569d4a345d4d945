/**
 * The replicated chat state machine over `<dataDir>/state.db` (WAL, synchronous=FULL).
 *
 * applyEntries() turns committed log entries into state changes, responses and push events, in one transaction per
 * batch (one fsync). It is deterministic: the same entries give the same state and responses on every replica —
 * timestamps come from the command's `at` (clamped to be monotonic), ids from log indices, nothing from the clock
 * or randomness. Each command runs in its own savepoint, so a refusal rolls back whatever it touched and changes
 * nothing but the applied index and the client's session record.
 *
 * Deleted accounts (deleteAccount): the account row stays as a tombstone (deleted = 1, password hash wiped) and its
 * username is freed for new signups. Messages it sent stay visible to their recipients, marked `fromDeleted`
 * (the recipient's copy, as in email or Signal). Its inbox — messages sent to it — is deleted (tombstoned, text wiped,
 * and the senders get a 'deleted' push), its logins end ('sessionEnded' push), its own conversation list is dropped.
 * A survivor can still open and mark read the conversation with a deleted account by its old name, as long as no
 * live account has taken that name.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LIMITS, SESSION_WINDOW } from '../protocol/limits.js';
import { QuorumError, type ErrorCode } from '../protocol/errors.js';
import { Pattern, type ChatMessage, type ClientSession, type ConversationSummary, type PushFrame } from '../protocol/client.js';
import type { ConfChange, ConfState, Entry, SnapshotMeta } from '../raft/types.js';
import { fsyncPath, openSqlite, type Db } from '../storage/sqlite.js';
import { decodeCommand, decodeConfChange, type Command } from './commands.js';
import { applyConfChange } from './conf.js';
import { HASHED_TABLES, MIGRATE_1_TO_2, STATE_SCHEMA, STATE_SCHEMA_VERSION } from './schema.js';

/** A new cluster's initial configuration is a snapshot at this index and term (never in the log itself). */
export const BOOTSTRAP = { index: 1, term: 1 } as const;

/** A client that wrote nothing for this long loses its session records (checked every EXPIRY_EVERY indices). */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
export const EXPIRY_EVERY = 1000;
/**
 * A client's last_at (only used for idle expiry) is moved when it is at least this old, not on every write (which
 * would move its clients_idle entry every time). So it lags by less than this, and a client is expired once its
 * last_at is SESSION_IDLE_MS + SESSION_TOUCH_MS old: it has then been idle for more than SESSION_IDLE_MS.
 */
export const SESSION_TOUCH_MS = 10 * 60 * 1000;
/**
 * Session responses are evicted in batches: once a client's seq is this far past floor + SESSION_WINDOW, everything
 * up to seq - SESSION_WINDOW goes in one range delete. So between SESSION_WINDOW and SESSION_WINDOW +
 * SESSION_EVICT_EVERY responses are kept per client.
 */
export const SESSION_EVICT_EVERY = 512;
/** Most idle clients expired in one check (bounds the cost of one apply). */
const EXPIRY_BATCH = 1000;

/**
 * Group commit of the state database (as etcd's backend batches bbolt commits): applied batches accumulate in one
 * open SQLite transaction, committed once it is this old or holds this many entries, and before anything that reads
 * the file from outside this connection (snapshot, checkpoint, close). A page written by many applies reaches the WAL
 * once. Reads on this connection see everything applied. A crash loses at most the open transaction, which the
 * driver replays from the Raft log (fsynced before any acknowledgement) at start-up.
 */
export const GROUP_COMMIT_MS = 100;
export const GROUP_COMMIT_ENTRIES = 10_000;

/**
 * The WAL is checkpointed into state.db once it holds this many pages (SQLite's default is 1,000). With much data,
 * one group commit of random sends dirties ~1,000 distinct pages (index tails and conversation rows of many
 * recipients): at the default every commit would be followed by a checkpoint copying all of them again (and two
 * fsyncs). With a bigger WAL, a page written by several commits is copied once: at 1,000,000 stored messages this
 * took a send from 1.36× to 1.17× the CPU of an empty replica (test/bench/growth.ts). Costs: a WAL of up to ~40 MB
 * (reused, not grown further) and a longer, rarer checkpoint (tens of ms; ~110 ms measured at 1,000,000 messages
 * sent among 1,000 accounts, test/bench/apply-cost.ts).
 */
export const WAL_CHECKPOINT_PAGES = 10_000;

export type CommandResponse = { ok: true; result: unknown } | { ok: false; error: { code: ErrorCode; message: string } };

/**
 * A push to the live connections of one account. `toAccount` (the account id) is the reliable key: usernames are
 * freed on account deletion and may be reused. `toUser` is the username lowercased, for logs and simple routing.
 * Events addressed to the sender's own account include the connection that made the request; the driver may skip it.
 * `tokenHash`, when present, limits the event to connections logged in with that token (logout ends one login).
 */
export interface PushEvent {
  toAccount: number;
  toUser: string;
  frame: PushFrame;
  tokenHash?: string;
}

export interface ApplyOutcome {
  index: number;
  /** The client session of the command, when it had one (also for refusals and malformed commands if readable). */
  session?: ClientSession;
  response: CommandResponse;
  events: PushEvent[];
}

export interface AccountInfo {
  id: number;
  username: string;
}

interface AccountRow {
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

/** What a push and a message need of an account. */
type Party = Pick<AccountRow, 'id' | 'username' | 'username_lower' | 'deleted'>;

/** Most entries kept in each identity cache before it starts over. */
const IDENTITY_CACHE_MAX = 50_000;

interface MessageRow {
  id: number;
  from_id: number;
  to_id: number;
  text: string;
  sent_at: number;
  delivered_at: number | null;
  read_at: number | null;
  deleted: number;
}

interface MetaRow {
  applied_index: number;
  applied_term: number;
  conf: string | null;
  last_at: number;
}

interface StoredRow {
  response: string;
  at: number;
  idx: number;
}

/** The stored response of a successful send: {id, sentAt} are the session row's idx and at (see decodeStored). */
const SEND_OK = 'send';

interface Ctx {
  index: number;
  at: number;
  events: PushEvent[];
}

const MSG_COLS = 'id, from_id, to_id, text, sent_at, delivered_at, read_at, deleted';
const ACC_COLS = 'id, username, username_lower, password_hash, created_at, deleted, deleted_at, unread, delivered_upto';
const EMPTY_CONF: ConfState = { voters: [], learners: [] };

function refuse(code: ErrorCode, message: string): never {
  throw new QuorumError(code, message);
}

function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return LIMITS.pageDefault;
  return Math.min(LIMITS.pageMax, Math.max(1, Math.floor(limit)));
}

/** SQLite errors that depend on this machine (disk, locks, corruption) must not be turned into a reply. */
function isEnvironmentalError(err: unknown): boolean {
  if (!(err instanceof Database.SqliteError)) return false;
  return !err.code.startsWith('SQLITE_CONSTRAINT');
}

/** Translates an account pattern (`*` any run, `?` one character) into a lowercase SQLite GLOB with escaping. */
export function patternToGlob(pattern: string): { glob: string; prefix: string } {
  let glob = '';
  let prefix = '';
  let literal = true;
  for (const ch of pattern.toLowerCase()) {
    if (ch === '*' || ch === '?') {
      literal = false;
      glob += ch;
    } else {
      if (literal) prefix += ch;
      glob += ch === '[' ? '[[]' : ch === ']' ? '[]]' : ch;
    }
  }
  return { glob: glob === '' ? '*' : glob, prefix };
}

const PAGE_TOKEN = /^a:([a-z0-9_.-]{1,32})$/;

/**
 * Creates the schema in a new file or brings a file of an older version up to STATE_SCHEMA_VERSION, in one
 * transaction (a crash leaves the old version, migrated again at the next open). Refuses unknown versions.
 */
function migrateSchema(db: Db, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === STATE_SCHEMA_VERSION) {
    db.exec(STATE_SCHEMA);
    return;
  }
  if (version !== 0 && version !== 1) throw new Error(`${file}: unknown state.db schema version ${version}`);
  db.transaction(() => {
    if (version === 1) db.exec(MIGRATE_1_TO_2);
    db.exec(STATE_SCHEMA);
    db.pragma(`user_version = ${STATE_SCHEMA_VERSION}`);
  })();
}

function makeStatements(db: Db) {
  const p = <P extends unknown[] = unknown[], R = unknown>(sql: string) => db.prepare<P, R>(sql);
  return {
    meta: p<[], MetaRow>('SELECT applied_index, applied_term, conf, last_at FROM meta WHERE id = 0'),
    setApplied: p<[number, number, number]>('UPDATE meta SET applied_index = ?, applied_term = ?, last_at = ? WHERE id = 0'),
    setConf: p<[string]>('UPDATE meta SET conf = ? WHERE id = 0'),

    accountById: p<[number], AccountRow>(`SELECT ${ACC_COLS} FROM accounts WHERE id = ?`),
    accountLive: p<[string], AccountRow>(`SELECT ${ACC_COLS} FROM accounts WHERE username_lower = ? AND deleted = 0`),
    deletedPeer: p<[string, number], { id: number }>(
      'SELECT a.id FROM accounts a WHERE a.username_lower = ? AND a.deleted = 1 AND EXISTS ' +
        '(SELECT 1 FROM conversations c WHERE c.owner_id = ? AND c.peer_id = a.id) ORDER BY a.id DESC LIMIT 1',
    ),
    insertAccount: p<[number, string, string, string, number]>(
      'INSERT INTO accounts (id, username, username_lower, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    accountAddUnread: p<[number, number]>('UPDATE accounts SET unread = unread + ? WHERE id = ?'),
    setDeliveredUpto: p<[number, number]>('UPDATE accounts SET delivered_upto = ? WHERE id = ?'),
    markAccountDeleted: p<[number, number]>(
      "UPDATE accounts SET deleted = 1, deleted_at = ?, password_hash = '', unread = 0 WHERE id = ?",
    ),
    accountsScan: p<[string, string, string, string], { username: string; username_lower: string; hit: number }>(
      'SELECT username, username_lower, (username_lower GLOB ?) AS hit FROM accounts ' +
        'WHERE deleted = 0 AND username_lower >= ? AND username_lower > ? AND username_lower < ? ORDER BY username_lower',
    ),

    tokenAccount: p<[string], AccountRow>(
      `SELECT ${ACC_COLS.split(', ').map((c) => `a.${c}`).join(', ')} FROM tokens t JOIN accounts a ON a.id = t.account_id ` +
        'WHERE t.token_hash = ? AND a.deleted = 0',
    ),
    tokenOwner: p<[string], { account_id: number }>('SELECT account_id FROM tokens WHERE token_hash = ?'),
    insertToken: p<[string, number, number]>('INSERT INTO tokens (token_hash, account_id, created_at) VALUES (?, ?, ?)'),
    deleteToken: p<[string]>('DELETE FROM tokens WHERE token_hash = ?'),
    deleteTokensOf: p<[number]>('DELETE FROM tokens WHERE account_id = ?'),

    insertMessage: p<[number, number, number, string, number, number | null, number | null]>(
      'INSERT INTO messages (id, from_id, to_id, text, sent_at, delivered_at, read_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    messageById: p<[number], MessageRow>(`SELECT ${MSG_COLS} FROM messages WHERE id = ?`),
    /** Unread messages of one conversation (from peer to owner, id >= first_unread), below a bound, oldest first. */
    unreadIn: p<[number, number, number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id >= ? AND id < ? ORDER BY id LIMIT ?`,
    ),
    unreadInUpTo: p<[number, number, number, number], { id: number }>(
      'SELECT id FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id >= ? AND id <= ? ORDER BY id',
    ),
    /** The next live message from peer to owner after an id (the new first unread once a prefix is read). */
    nextIn: p<[number, number, number], { id: number }>(
      'SELECT id FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT 1',
    ),
    /** Messages to an account above its delivered watermark up to an id (the read ones are delivered already). */
    inboxRange: p<[number, number, number], { id: number; from_id: number; delivered_at: number | null }>(
      'SELECT id, from_id, delivered_at FROM messages WHERE to_id = ? AND deleted = 0 AND id > ? AND id <= ? ORDER BY id',
    ),
    markRead: p<[number, number, number]>('UPDATE messages SET read_at = ?, delivered_at = coalesce(delivered_at, ?) WHERE id = ?'),
    markDelivered: p<[number, number]>('UPDATE messages SET delivered_at = ? WHERE id = ?'),
    tombstone: p<[number]>("UPDATE messages SET deleted = 1, text = '' WHERE id = ?"),
    inbox: p<[number], { id: number; from_id: number; read_at: number | null }>(
      'SELECT id, from_id, read_at FROM messages WHERE to_id = ? AND deleted = 0 ORDER BY id',
    ),
    lastMessageId: p<[number, number], { id: number }>(
      'SELECT max(coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND deleted = 0), 0), coalesce((SELECT max(id) FROM messages WHERE from_id = ? AND deleted = 0), 0)) AS id',
    ),
    lastInPair: p<[number, number, number, number], { id: number | null }>(
      'SELECT max(coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0), 0), ' +
        'coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0), 0)) AS id',
    ),
    /** Both directions of a conversation merged (an index range each), newest first. */
    history: p<[number, number, number, number, number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id < ? ` +
        `UNION ALL SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    historySelf: p<[number, number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND from_id = ? AND deleted = 0 AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    toAfter: p<[number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`,
    ),
    fromAfter: p<[number, number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE from_id = ? AND to_id <> ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`,
    ),

    /** The sender's side of a send (and a note to self): only last_id moves. */
    convUpsert: p<[number, number, number]>(
      'INSERT INTO conversations (owner_id, peer_id, last_id) VALUES (?, ?, ?) ' +
        'ON CONFLICT (owner_id, peer_id) DO UPDATE SET last_id = excluded.last_id',
    ),
    /** The recipient's side when it has unread messages already (first_unread stays: its index entry is not touched). */
    convBumpUnread: p<[number, number, number]>(
      'UPDATE conversations SET last_id = ?, unread = unread + 1 WHERE owner_id = ? AND peer_id = ? AND first_unread IS NOT NULL',
    ),
    /** The recipient's side otherwise: this message is the first unread. */
    convFirstUnread: p<[number, number, number, number]>(
      'INSERT INTO conversations (owner_id, peer_id, last_id, unread, first_unread) VALUES (?, ?, ?, 1, ?) ' +
        'ON CONFLICT (owner_id, peer_id) DO UPDATE SET last_id = excluded.last_id, unread = unread + 1, first_unread = excluded.first_unread',
    ),
    convGet: p<[number, number], { unread: number; first_unread: number | null }>(
      'SELECT unread, first_unread FROM conversations WHERE owner_id = ? AND peer_id = ?',
    ),
    /** Takes `n` unread messages off a conversation and sets its new first unread. */
    convSetUnread: p<[number, number | null, number, number]>(
      'UPDATE conversations SET unread = unread - ?, first_unread = ? WHERE owner_id = ? AND peer_id = ?',
    ),
    /** The account's conversations with unread messages, by their oldest unread message. */
    convUnread: p<[number, number], { peer_id: number; unread: number; first_unread: number }>(
      'SELECT peer_id, unread, first_unread FROM conversations WHERE owner_id = ? AND first_unread IS NOT NULL ORDER BY first_unread LIMIT ?',
    ),
    convSetLast: p<[number, number, number]>('UPDATE conversations SET last_id = ? WHERE owner_id = ? AND peer_id = ?'),
    convDelete: p<[number, number]>('DELETE FROM conversations WHERE owner_id = ? AND peer_id = ?'),
    convPeers: p<[number], { peer_id: number }>('SELECT peer_id FROM conversations WHERE owner_id = ? ORDER BY peer_id'),
    convDeleteOwner: p<[number]>('DELETE FROM conversations WHERE owner_id = ?'),
    convRecent: p<[number, number], { peer_id: number; last_id: number; unread: number }>(
      'SELECT peer_id, last_id, unread FROM conversations WHERE owner_id = ? ORDER BY last_id DESC LIMIT ?',
    ),

    sessionGet: p<[string, number], StoredRow>('SELECT response, at, idx FROM sessions WHERE client_id = ? AND seq = ?'),
    sessionPut: p<[string, number, string, number, number]>(
      'INSERT INTO sessions (client_id, seq, response, at, idx) VALUES (?, ?, ?, ?, ?)',
    ),
    sessionEvict: p<[string, number]>('DELETE FROM sessions WHERE client_id = ? AND seq <= ?'),
    sessionDropClient: p<[string]>('DELETE FROM sessions WHERE client_id = ?'),
    clientGet: p<[string], { last_at: number; floor: number }>('SELECT last_at, floor FROM clients WHERE client_id = ?'),
    clientInsert: p<[string, number, number]>('INSERT INTO clients (client_id, last_at, floor) VALUES (?, ?, ?)'),
    clientTouch: p<[number, string]>('UPDATE clients SET last_at = ? WHERE client_id = ?'),
    clientFloor: p<[number, string]>('UPDATE clients SET floor = ? WHERE client_id = ?'),
    clientsIdle: p<[number, number], { client_id: string }>(
      'SELECT client_id FROM clients WHERE last_at < ? ORDER BY last_at, client_id LIMIT ?',
    ),
    clientDelete: p<[string]>('DELETE FROM clients WHERE client_id = ?'),

    memberUpsert: p<[string, string]>(
      'INSERT INTO members (id, address) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET address = excluded.address',
    ),
    memberDelete: p<[string]>('DELETE FROM members WHERE id = ?'),
    members: p<[], { id: string; address: string }>('SELECT id, address FROM members ORDER BY id'),
  };
}

type Statements = ReturnType<typeof makeStatements>;

export class ChatStateMachine {
  readonly dataDir: string;
  readonly file: string;
  private db!: Db;
  private st!: Statements;
  private appliedIndex = 0;
  private appliedTerm = 0;
  private confState: ConfState | null = null;
  private lastAt = 0;
  private closed = false;
  private applyBatch!: (entries: Entry[], confApply?: (cc: ConfChange) => ConfState) => ApplyOutcome[];
  private inSavepoint!: <T>(fn: () => T) => T;
  /** When the open group-commit transaction began (performance.now()), or null when none is open. */
  private groupOpenedAt: number | null = null;
  private groupEntries = 0;
  /** Snapshot copies running: meanwhile every apply batch commits at once (a backup must see only committed pages). */
  private backups = 0;
  /**
   * Identities of live accounts for `send` (every replica resolves both parties of every message): login token hash
   * → account id, lowercase username → account id, id → party. Filled only from committed-or-applied reads, emptied
   * by whatever can end a login, an account or a name (logout, deleteAccount) and by any rolled-back batch, so a
   * hit is always what the database would answer. A command's own savepoint never needs it emptied: the only
   * command that fills it (send) writes nothing before its lookups.
   */
  private tokenIds = new Map<string, number>();
  private nameIds = new Map<string, number>();
  private parties = new Map<number, Party>();

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.file = path.join(dataDir, 'state.db');
    this.load();
  }

  static open(dataDir: string): ChatStateMachine {
    return new ChatStateMachine(dataDir);
  }

  private forgetIdentities(): void {
    this.tokenIds.clear();
    this.nameIds.clear();
    this.parties.clear();
  }

  private remember(a: Party): Party {
    if (this.parties.size >= IDENTITY_CACHE_MAX) this.forgetIdentities();
    const p: Party = { id: a.id, username: a.username, username_lower: a.username_lower, deleted: a.deleted };
    this.parties.set(a.id, p);
    return p;
  }

  private load(): void {
    this.forgetIdentities();
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    // The chat state is derived from the Raft log, which is fsynced (FULL) before anything is acknowledged; an OS crash
    // that loses the last applied transactions here is repaired by replaying the log. So no fsync per apply:
    // makeDurable() checkpoints (with fsync) before the log is compacted past what this file holds.
    const db = openSqlite(this.file, { synchronous: 'NORMAL' });
    try {
      migrateSchema(db, this.file);
      db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      this.db = db;
      this.st = makeStatements(db);
    } catch (err) {
      db.close();
      throw err;
    }
    const m = this.st.meta.get()!;
    this.appliedIndex = m.applied_index;
    this.appliedTerm = m.applied_term;
    this.confState = m.conf ? (JSON.parse(m.conf) as ConfState) : null;
    this.lastAt = m.last_at;
    this.applyBatch = this.db.transaction((entries: Entry[], confApply?: (cc: ConfChange) => ConfState) =>
      this.applyInTx(entries, confApply),
    );
    const sp = this.db.transaction((fn: () => unknown) => fn());
    this.inSavepoint = <T>(fn: () => T) => sp(fn) as T;
    this.closed = false;
  }

  // ---------------------------------------------------------------- replicated state

  applied(): { index: number; term: number } {
    return { index: this.appliedIndex, term: this.appliedTerm };
  }

  conf(): ConfState | null {
    return this.confState ? { voters: [...this.confState.voters], learners: [...this.confState.learners] } : null;
  }

  members(): { id: string; address: string }[] {
    return this.st.members.all();
  }

  /**
   * Records the initial configuration (and member addresses) of a brand-new cluster, outside the log. Every initial
   * member must bootstrap with the same values. Refuses once a configuration exists or anything was applied.
   */
  bootstrap(conf: ConfState, members: { id: string; address: string }[]): void {
    this.assertOpen();
    if (this.confState || this.appliedIndex > 0) throw new Error('bootstrap: the state machine already has a configuration');
    const next: ConfState = { voters: [...conf.voters], learners: [...conf.learners] };
    this.commitGroup();
    this.db.transaction(() => {
      this.st.setConf.run(JSON.stringify(next));
      for (const m of members) this.st.memberUpsert.run(m.id, m.address);
      // The bootstrap state is the snapshot at BOOTSTRAP.index: a replica that joins later receives it by snapshot.
      this.st.setApplied.run(BOOTSTRAP.index, BOOTSTRAP.term, this.lastAt);
    })();
    this.confState = next;
    this.appliedIndex = BOOTSTRAP.index;
    this.appliedTerm = BOOTSTRAP.term;
  }

  /**
   * Disaster recovery (--force-new-cluster): replaces the configuration with `conf` outside the log, keeping all
   * applied state. Only for a replica restarted alone after its cluster lost a majority for good.
   */
  forceConf(conf: ConfState): void {
    this.assertOpen();
    const next: ConfState = { voters: [...conf.voters], learners: [...conf.learners] };
    this.commitGroup();
    this.st.setConf.run(JSON.stringify(next));
    this.confState = next;
  }

  /**
   * Applies committed entries in order, in one transaction. Returns one outcome per entry, in order (outcomes[i] is
   * entries[i]; no-ops included). Entries at or below the applied index change nothing: their outcome carries the
   * stored session response when there is one, and no events.
   */
  applyEntries(entries: Entry[], confApply?: (cc: ConfChange) => ConfState): ApplyOutcome[] {
    this.assertOpen();
    if (entries.length === 0) return [];
    const before = { index: this.appliedIndex, term: this.appliedTerm, conf: this.confState, lastAt: this.lastAt };
    if (this.groupOpenedAt === null) {
      this.db.exec('BEGIN');
      this.groupOpenedAt = performance.now();
      this.groupEntries = 0;
    }
    try {
      // Nested in the group transaction: a savepoint, rolled back alone if the batch fails.
      const outcomes = this.applyBatch(entries, confApply);
      this.groupEntries += entries.length;
      if (this.backups > 0 || this.groupEntries >= GROUP_COMMIT_ENTRIES) this.commitGroup();
      else this.maybeCommitGroup();
      return outcomes;
    } catch (err) {
      // The transaction rolled back: so must the cached copies.
      this.forgetIdentities();
      this.appliedIndex = before.index;
      this.appliedTerm = before.term;
      this.confState = before.conf;
      this.lastAt = before.lastAt;
      throw err;
    }
  }

  /** Commits the open group transaction if it is older than GROUP_COMMIT_MS (the driver calls this on every tick). */
  maybeCommitGroup(): void {
    if (this.groupOpenedAt !== null && performance.now() - this.groupOpenedAt >= GROUP_COMMIT_MS) this.commitGroup();
  }

  /** Commits everything applied so far to the state database (no fsync: see makeDurable). */
  commitGroup(): void {
    if (this.groupOpenedAt === null) return;
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    if (!this.db.inTransaction) return;
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      // SQLite may have rolled the transaction back (e.g. an I/O error): nothing read from it can be trusted.
      this.forgetIdentities();
      throw err;
    }
  }

  private applyInTx(entries: Entry[], confApply?: (cc: ConfChange) => ConfState): ApplyOutcome[] {
    const outcomes: ApplyOutcome[] = [];
    for (const e of entries) {
      if (e.index <= this.appliedIndex) {
        outcomes.push(this.replayedOutcome(e));
        continue;
      }
      if (e.index !== this.appliedIndex + 1) {
        throw new Error(`apply: entry ${e.index} does not follow applied index ${this.appliedIndex}`);
      }
      const outcome = e.type === 'conf' ? this.applyConf(e, confApply) : this.applyNormal(e);
      this.appliedIndex = e.index;
      this.appliedTerm = e.term;
      if (e.index % EXPIRY_EVERY === 0) this.expireClients();
      outcomes.push(outcome);
    }
    this.st.setApplied.run(this.appliedIndex, this.appliedTerm, this.lastAt);
    return outcomes;
  }

  /** An entry applied before (e.g. handed over again after a restart): nothing changes; report what it returned. */
  private replayedOutcome(e: Entry): ApplyOutcome {
    const d = e.type === 'normal' && e.data !== '' ? decodeCommand(e.data) : null;
    const session = d?.ok ? d.value.session : undefined;
    const stored = session ? this.st.sessionGet.get(session.clientId, session.seq) : undefined;
    const response: CommandResponse = stored
      ? this.decodeStored(stored)
      : { ok: false, error: { code: 'INTERNAL', message: `entry ${e.index} was applied before; its response is no longer known` } };
    return { index: e.index, ...(session ? { session } : {}), response: e.type === 'normal' && e.data === '' ? { ok: true, result: null } : response, events: [] };
  }

  private applyConf(e: Entry, confApply?: (cc: ConfChange) => ConfState): ApplyOutcome {
    const d = decodeConfChange(e.data);
    if (!d.ok) return { index: e.index, response: { ok: false, error: { code: 'INVALID', message: d.message } }, events: [] };
    const cc = d.value;
    let next: ConfState;
    try {
      next = confApply ? confApply(cc) : applyConfChange(this.confState ?? EMPTY_CONF, cc);
    } catch (err) {
      return { index: e.index, response: { ok: false, error: { code: 'CONFLICT', message: (err as Error).message } }, events: [] };
    }
    next = { voters: [...next.voters], learners: [...next.learners] };
    this.st.setConf.run(JSON.stringify(next));
    this.confState = next;
    if (cc.op === 'addLearner' || cc.op === 'addVoter') this.st.memberUpsert.run(cc.id, cc.address);
    if (cc.op === 'remove') this.st.memberDelete.run(cc.id);
    return { index: e.index, response: { ok: true, result: { conf: next } }, events: [] };
  }

  private applyNormal(e: Entry): ApplyOutcome {
    if (e.data === '') return { index: e.index, response: { ok: true, result: null }, events: [] };
    const d = decodeCommand(e.data);
    if (!d.ok) {
      return {
        index: e.index,
        ...(d.session ? { session: d.session } : {}),
        response: { ok: false, error: { code: 'INVALID', message: d.message } },
        events: [],
      };
    }
    const cmd = d.value;
    const at = Math.max(cmd.at, this.lastAt);
    this.lastAt = at;
    const session = cmd.session;

    let client: { last_at: number; floor: number } | undefined;
    if (session) {
      const stored = this.st.sessionGet.get(session.clientId, session.seq);
      if (stored) return { index: e.index, session, response: this.decodeStored(stored), events: [] };
      client = this.st.clientGet.get(session.clientId);
      if (client && session.seq <= client.floor) {
        return {
          index: e.index,
          session,
          response: {
            ok: false,
            error: {
              code: 'INVALID',
              message: `session seq ${session.seq} is older than the last ${SESSION_WINDOW} writes of this client; its outcome is unknown`,
            },
          },
          events: [],
        };
      }
    }

    const ctx: Ctx = { index: e.index, at, events: [] };
    let response: CommandResponse;
    let stored: string;
    try {
      // A send needs no savepoint: it refuses (NOT_FOUND, UNAUTHENTICATED) before its first write, and its writes
      // (a new row under a fresh id, then upserts and counters) cannot fail but for the environment, which fails the
      // whole batch. Every other command runs in a savepoint, so a refusal rolls back whatever it touched.
      const result = cmd.kind === 'send' ? this.send(this.sender(cmd.tokenHash), cmd.to, cmd.text, ctx) : this.inSavepoint(() => this.execute(cmd, ctx));
      response = { ok: true, result };
      stored =
        cmd.kind === 'send'
          ? SEND_OK
          : cmd.kind === 'read'
            ? JSON.stringify({ ok: true, read: (result as { messages: ChatMessage[] }).messages.map((m) => m.id) })
            : JSON.stringify(response);
    } catch (err) {
      if (err instanceof QuorumError) {
        response = { ok: false, error: { code: err.code, message: err.message } };
      } else if (isEnvironmentalError(err)) {
        throw err;
      } else {
        // A bug, but a deterministic one (every replica hits it at this entry): answer, keep going.
        response = { ok: false, error: { code: 'INTERNAL', message: `apply failed: ${(err as Error).message}` } };
        return { index: e.index, ...(session ? { session } : {}), response, events: [] };
      }
      ctx.events = [];
      stored = JSON.stringify(response);
    }
    if (session) this.recordSession(session, client, stored, at, e.index);
    return { index: e.index, ...(session ? { session } : {}), response, events: ctx.events };
  }

  /**
   * Stores the response of (clientId, seq). The client's row changes only when it is new, when its last_at is
   * SESSION_TOUCH_MS old, or when SESSION_EVICT_EVERY responses have gone past the window (evicted in one range).
   */
  private recordSession(session: ClientSession, client: { last_at: number; floor: number } | undefined, stored: string, at: number, index: number): void {
    const { clientId, seq } = session;
    this.st.sessionPut.run(clientId, seq, stored, at, index);
    const floor = seq - SESSION_WINDOW;
    if (!client) {
      // A new (or expired) client has nothing stored below this seq.
      this.st.clientInsert.run(clientId, at, Math.max(0, floor));
      return;
    }
    if (at - client.last_at >= SESSION_TOUCH_MS) this.st.clientTouch.run(at, clientId);
    if (floor - client.floor >= SESSION_EVICT_EVERY) {
      this.st.sessionEvict.run(clientId, floor);
      this.st.clientFloor.run(floor, clientId);
    }
  }

  private expireClients(): void {
    const cutoff = this.lastAt - SESSION_IDLE_MS - SESSION_TOUCH_MS;
    if (cutoff <= 0) return;
    for (const { client_id } of this.st.clientsIdle.all(cutoff, EXPIRY_BATCH)) {
      this.st.sessionDropClient.run(client_id);
      this.st.clientDelete.run(client_id);
    }
  }

  private decodeStored(row: StoredRow): CommandResponse {
    // A send's answer is {id: its entry's index, sentAt: its clock}, both in the row (SEND_OK: no JSON stored).
    if (row.response === SEND_OK) return { ok: true, result: { id: row.idx, sentAt: row.at } };
    const v = JSON.parse(row.response) as CommandResponse | { ok: true; read: number[] };
    if ('read' in v) {
      const cache = new Map<number, AccountRow | undefined>();
      const messages: ChatMessage[] = [];
      for (const id of v.read) {
        const row = this.st.messageById.get(id);
        if (row && !row.deleted) messages.push(this.toChat(row, cache));
      }
      return { ok: true, result: { messages } };
    }
    return v;
  }

  // ---------------------------------------------------------------- commands

  /** Every command but `send`, which applyNormal runs directly (it refuses before its first write: no savepoint). */
  private execute(cmd: Exclude<Command, { kind: 'send' }>, ctx: Ctx): unknown {
    switch (cmd.kind) {
      case 'signup':
        return this.signup(cmd.username, cmd.passwordHash, ctx);
      case 'login':
        return this.login(cmd.username, cmd.passwordHash, cmd.tokenHash, ctx);
      case 'logout': {
        const acc = this.authenticate(cmd.tokenHash);
        this.st.deleteToken.run(cmd.tokenHash);
        this.tokenIds.delete(cmd.tokenHash);
        this.push(ctx, acc, { type: 'push', event: 'sessionEnded', reason: 'logged out' }, cmd.tokenHash);
        return { loggedOut: true };
      }
      case 'read':
        return this.read(this.authenticate(cmd.tokenHash), cmd.limit, ctx);
      case 'markRead':
        return this.markReadFrom(this.authenticate(cmd.tokenHash), cmd.with, cmd.upTo, ctx);
      case 'delivered':
        return this.delivered(this.authenticate(cmd.tokenHash), cmd.upTo, ctx);
      case 'delete':
        return this.deleteMessages(this.authenticate(cmd.tokenHash), cmd.ids, ctx);
      case 'deleteAccount':
        return this.deleteAccount(this.authenticate(cmd.tokenHash), cmd.passwordHash, ctx);
      case 'member':
        this.st.memberUpsert.run(cmd.id, cmd.address);
        return { id: cmd.id, address: cmd.address };
    }
  }

  private authenticate(tokenHash: string): AccountRow {
    return this.st.tokenAccount.get(tokenHash) ?? refuse('UNAUTHENTICATED', 'this login has ended (logged out or account deleted); log in again');
  }

  private signup(username: string, passwordHash: string, ctx: Ctx) {
    const lower = username.toLowerCase();
    if (this.st.accountLive.get(lower)) refuse('USERNAME_TAKEN', `the username "${username}" is taken`);
    this.st.insertAccount.run(ctx.index, username, lower, passwordHash, ctx.at);
    return { user: username };
  }

  private login(username: string, passwordHash: string, tokenHash: string, ctx: Ctx) {
    const acc = this.st.accountLive.get(username.toLowerCase());
    // The leader verified the password against `passwordHash`; if the account changed since, refuse.
    if (!acc || acc.password_hash !== passwordHash) refuse('BAD_CREDENTIALS', 'wrong username or password');
    const owner = this.st.tokenOwner.get(tokenHash);
    if (owner && owner.account_id !== acc.id) refuse('INVALID', 'this login token is already in use; choose a fresh one');
    if (!owner) this.st.insertToken.run(tokenHash, acc.id, ctx.at);
    // The driver adds `token` (the client chose it; only its hash is replicated). lastMessageId is taken here, at
    // apply, so live delivery can resume exactly after it even if messages commit before the connection is bound.
    return { user: acc.username, unread: acc.unread, lastMessageId: this.lastMessageId(acc.id) };
  }

  /** The live account a send's login belongs to (authenticate, through the identity cache). */
  private sender(tokenHash: string): Party {
    const id = this.tokenIds.get(tokenHash);
    const known = id === undefined ? undefined : this.parties.get(id);
    if (known) return known;
    const p = this.remember(this.authenticate(tokenHash));
    this.tokenIds.set(tokenHash, p.id);
    return p;
  }

  /** The live account named `name` (any case), through the identity cache. */
  private liveParty(name: string): Party | undefined {
    const lower = name.toLowerCase();
    const id = this.nameIds.get(lower);
    const known = id === undefined ? undefined : this.parties.get(id);
    if (known) return known;
    const a = this.st.accountLive.get(lower);
    if (!a) return undefined;
    const p = this.remember(a);
    this.nameIds.set(lower, p.id);
    return p;
  }

  private send(from: Party, to: string, text: string, ctx: Ctx) {
    const rcpt = this.liveParty(to) ?? refuse('NOT_FOUND', `no account named "${to}"`);
    const self = rcpt.id === from.id;
    const id = ctx.index;
    // A note to self is born delivered and read.
    this.st.insertMessage.run(id, from.id, rcpt.id, text, ctx.at, self ? ctx.at : null, self ? ctx.at : null);
    this.st.convUpsert.run(from.id, rcpt.id, id);
    if (!self) {
      if (this.st.convBumpUnread.run(id, rcpt.id, from.id).changes === 0) this.st.convFirstUnread.run(rcpt.id, from.id, id, id);
      this.st.accountAddUnread.run(1, rcpt.id);
    }
    const message: ChatMessage = {
      id,
      from: from.username,
      to: rcpt.username,
      text,
      sentAt: ctx.at,
      deliveredAt: self ? ctx.at : null,
      readAt: self ? ctx.at : null,
    };
    const frame: PushFrame = { type: 'push', event: 'message', message };
    this.push(ctx, rcpt, frame);
    this.push(ctx, from, frame);
    return { id, sentAt: ctx.at };
  }

  /**
   * The oldest `limit` unread messages across the account's conversations. They lie in the `limit` conversations
   * whose first unread messages are oldest (each conversation's unread messages are a suffix of it), so those are
   * merged, each read only below the current limit-th oldest candidate.
   */
  private read(acc: AccountRow, limit: number, ctx: Ctx) {
    const n = clampLimit(limit);
    const convs = this.st.convUnread.all(acc.id, n);
    let rows: MessageRow[] = [];
    for (const c of convs) {
      const bound = rows.length === n ? rows[n - 1].id : Number.MAX_SAFE_INTEGER;
      if (c.first_unread >= bound) break;
      const got = this.st.unreadIn.all(acc.id, c.peer_id, c.first_unread, bound, n);
      rows = rows.length ? rows.concat(got).sort((a, b) => a.id - b.id).slice(0, n) : got;
    }
    const bySender = new Map<number, number[]>();
    for (const r of rows) {
      this.st.markRead.run(ctx.at, ctx.at, r.id);
      r.read_at = ctx.at;
      r.delivered_at ??= ctx.at;
      addTo(bySender, r.from_id, r.id);
    }
    for (const c of convs) {
      const ids = bySender.get(c.peer_id);
      if (ids) this.takeUnread(acc.id, c.peer_id, c.unread, ids);
    }
    if (rows.length) this.st.accountAddUnread.run(-rows.length, acc.id);
    this.receipts(ctx, bySender, 'read');
    const cache = new Map<number, AccountRow | undefined>();
    return { messages: rows.map((r) => this.toChat(r, cache)) };
  }

  /** `ids`, the oldest unread messages of conversation (owner, peer) in order, were read: moves first_unread past them. */
  private takeUnread(owner: number, peer: number, unread: number, ids: number[]): void {
    const next = ids.length >= unread ? null : (this.st.nextIn.get(owner, peer, ids[ids.length - 1])?.id ?? null);
    this.st.convSetUnread.run(ids.length, next, owner, peer);
  }

  private markReadFrom(acc: AccountRow, withName: string, upTo: number, ctx: Ctx) {
    const peerId = this.resolvePeer(acc.id, withName) ?? refuse('NOT_FOUND', `no conversation with "${withName}"`);
    const conv = this.st.convGet.get(acc.id, peerId);
    if (!conv || conv.first_unread === null || conv.first_unread > upTo) return { marked: 0 };
    const ids = this.st.unreadInUpTo.all(acc.id, peerId, conv.first_unread, upTo).map((r) => r.id);
    for (const id of ids) this.st.markRead.run(ctx.at, ctx.at, id);
    if (ids.length) {
      this.takeUnread(acc.id, peerId, conv.unread, ids);
      this.st.accountAddUnread.run(-ids.length, acc.id);
      this.receipts(ctx, new Map([[peerId, ids]]), 'read');
    }
    return { marked: ids.length };
  }

  /**
   * Marks the messages to the account up to `upTo` delivered. Those at or below its delivered watermark are, and
   * above it exactly the read ones are, so only the range between is looked at; then the watermark moves to upTo
   * (never past this entry's index: later messages are not delivered yet).
   */
  private delivered(acc: AccountRow, upTo: number, ctx: Ctx) {
    const to = Math.min(upTo, ctx.index);
    if (to <= acc.delivered_upto) return { marked: 0 };
    const bySender = new Map<number, number[]>();
    let marked = 0;
    for (const r of this.st.inboxRange.all(acc.id, acc.delivered_upto, to)) {
      if (r.delivered_at !== null) continue;
      this.st.markDelivered.run(ctx.at, r.id);
      addTo(bySender, r.from_id, r.id);
      marked++;
    }
    this.st.setDeliveredUpto.run(to, acc.id);
    this.receipts(ctx, bySender, 'delivered');
    return { marked };
  }

  private deleteMessages(acc: AccountRow, ids: number[], ctx: Ctx) {
    const unique = [...new Set(ids)].sort((a, b) => a - b);
    const rows: MessageRow[] = [];
    // Check everything first: a refusal changes nothing.
    for (const id of unique) {
      const row = this.st.messageById.get(id) ?? refuse('NOT_FOUND', `no message ${id}`);
      if (row.from_id !== acc.id && row.to_id !== acc.id) refuse('FORBIDDEN', `message ${id} is not yours to delete`);
      rows.push(row);
    }
    const byAccount = new Map<number, number[]>();
    const pairs = new Map<string, [number, number]>();
    let count = 0;
    for (const r of rows) {
      if (r.deleted) continue; // already gone: deleting twice is harmless
      this.st.tombstone.run(r.id);
      count++;
      if (r.read_at === null && r.from_id !== r.to_id) {
        // An unread message: the recipient's counters drop; first_unread moves on if it was this one.
        const conv = this.st.convGet.get(r.to_id, r.from_id);
        if (conv) {
          const next = conv.unread <= 1 ? null : conv.first_unread === r.id ? (this.st.nextIn.get(r.to_id, r.from_id, r.id)?.id ?? null) : conv.first_unread;
          this.st.convSetUnread.run(1, next, r.to_id, r.from_id);
        }
        this.st.accountAddUnread.run(-1, r.to_id);
      }
      addTo(byAccount, r.from_id, r.id);
      if (r.to_id !== r.from_id) addTo(byAccount, r.to_id, r.id);
      const lo = Math.min(r.from_id, r.to_id);
      const hi = Math.max(r.from_id, r.to_id);
      pairs.set(`${lo}:${hi}`, [lo, hi]);
    }
    for (const [lo, hi] of pairs.values()) this.refreshConversation(lo, hi);
    for (const [accountId, list] of [...byAccount].sort((a, b) => a[0] - b[0])) {
      const to = this.st.accountById.get(accountId);
      if (to) this.push(ctx, to, { type: 'push', event: 'deleted', ids: list });
    }
    return { deleted: count };
  }

  private deleteAccount(acc: AccountRow, passwordHash: string, ctx: Ctx) {
    if (acc.password_hash !== passwordHash) refuse('BAD_CREDENTIALS', 'wrong password');
    // The inbox goes: tombstone every message sent to this account; tell the senders.
    const bySender = new Map<number, number[]>();
    for (const r of this.st.inbox.all(acc.id)) {
      this.st.tombstone.run(r.id);
      if (r.from_id !== acc.id) addTo(bySender, r.from_id, r.id);
    }
    // Its own conversation list goes; the survivors' conversations keep the messages it sent them.
    const peers = this.st.convPeers.all(acc.id).map((r) => r.peer_id);
    this.st.convDeleteOwner.run(acc.id);
    for (const peer of peers) if (peer !== acc.id) this.refreshConversation(Math.min(peer, acc.id), Math.max(peer, acc.id));
    this.push(ctx, acc, { type: 'push', event: 'sessionEnded', reason: 'account deleted' });
    this.st.deleteTokensOf.run(acc.id);
    this.forgetIdentities();
    this.st.markAccountDeleted.run(ctx.at, acc.id);
    for (const [sender, ids] of [...bySender].sort((a, b) => a[0] - b[0])) {
      const to = this.st.accountById.get(sender);
      if (to) this.push(ctx, to, { type: 'push', event: 'deleted', ids });
    }
    return { deleted: true };
  }

  /** Re-derives last_id of both conversation rows of a pair after deletions; drops them when nothing is left. */
  private refreshConversation(lo: number, hi: number): void {
    const last = this.st.lastInPair.get(lo, hi, hi, lo)?.id ?? 0;
    for (const [owner, peer] of lo === hi ? [[lo, hi]] : [[lo, hi], [hi, lo]]) {
      if (last) this.st.convSetLast.run(last, owner, peer);
      else this.st.convDelete.run(owner, peer);
    }
  }

  /** A live account by name, else a deleted one with that name that `ownerId` still has a conversation with. */
  private resolvePeer(ownerId: number, name: string): number | null {
    const lower = name.toLowerCase();
    const live = this.st.accountLive.get(lower);
    if (live) return live.id;
    return this.st.deletedPeer.get(lower, ownerId)?.id ?? null;
  }

  private receipts(ctx: Ctx, bySender: Map<number, number[]>, kind: 'delivered' | 'read'): void {
    for (const [sender, ids] of [...bySender].sort((a, b) => a[0] - b[0])) {
      const to = this.st.accountById.get(sender);
      if (to) this.push(ctx, to, { type: 'push', event: 'receipt', ids, kind, at: ctx.at });
    }
  }

  private push(ctx: Ctx, to: Party, frame: PushFrame, tokenHash?: string): void {
    if (to.deleted) return; // nobody is logged in there
    if (ctx.events.some((e) => e.toAccount === to.id && e.frame === frame)) return;
    ctx.events.push({ toAccount: to.id, toUser: to.username_lower, frame, ...(tokenHash ? { tokenHash } : {}) });
  }

  private toChat(r: MessageRow, cache: Map<number, AccountRow | undefined>): ChatMessage {
    const get = (id: number) => {
      if (!cache.has(id)) cache.set(id, this.st.accountById.get(id));
      return cache.get(id);
    };
    const from = get(r.from_id);
    const to = get(r.to_id);
    const m: ChatMessage = {
      id: r.id,
      from: from?.username ?? '',
      to: to?.username ?? '',
      text: r.text,
      sentAt: r.sent_at,
      deliveredAt: r.delivered_at,
      readAt: r.read_at,
    };
    if (from?.deleted) m.fromDeleted = true;
    return m;
  }

  // ---------------------------------------------------------------- reads (no log entry)

  /** The live account with this username (case-insensitive). */
  account(username: string): { id: number; username: string; passwordHash: string } | null {
    const a = this.st.accountLive.get(username.toLowerCase());
    return a ? { id: a.id, username: a.username, passwordHash: a.password_hash } : null;
  }

  /** The live account a login token hash belongs to. */
  accountByToken(tokenHash: string): AccountInfo | null {
    const a = this.st.tokenAccount.get(tokenHash);
    return a ? { id: a.id, username: a.username } : null;
  }

  unreadCount(accountId: number): number {
    const a = this.st.accountById.get(accountId);
    return a && !a.deleted ? a.unread : 0;
  }

  /**
   * Live accounts whose username matches `pattern` (`*`, `?`; case-insensitive; '' means all), ordered by lowercase
   * username, with keyset pagination. Bounded work: one call examines at most max(1000, 4 * limit) accounts, so a
   * sparse pattern may return a short (even empty) page with a nextPageToken; keep paging until it is null.
   */
  accounts(pattern: string, limit: number, pageToken: string | null): { accounts: { username: string }[]; nextPageToken: string | null } {
    if (!Pattern.safeParse(pattern).success) throw new QuorumError('INVALID', 'patterns use username characters plus "*" and "?"');
    let after = '';
    if (pageToken) {
      const m = PAGE_TOKEN.exec(pageToken);
      if (!m) throw new QuorumError('INVALID', 'bad page token');
      after = m[1];
    }
    const n = clampLimit(limit);
    const budget = Math.max(1000, 4 * n);
    const { glob, prefix } = patternToGlob(pattern);
    const hits: { username: string; lower: string }[] = [];
    let lastScanned: string | null = null;
    let scanned = 0;
    let more = false;
    for (const row of this.st.accountsScan.iterate(glob, prefix, after, prefix + '\uffff')) {
      if (row.hit) {
        if (hits.length === n) {
          more = true;
          break;
        }
        hits.push({ username: row.username, lower: row.username_lower });
      }
      lastScanned = row.username_lower;
      if (++scanned >= budget) {
        more = true;
        break;
      }
    }
    const resumeAt = hits.length === n ? hits[n - 1].lower : lastScanned;
    return {
      accounts: hits.map((h) => ({ username: h.username })),
      nextPageToken: more && resumeAt ? `a:${resumeAt}` : null,
    };
  }

  /**
   * One page of the conversation between `accountId` and `withUsername`: the newest `limit` messages with
   * id < before, returned oldest first. NOT_FOUND when there is no such account (a deleted account counts while
   * a conversation with it remains and no live account took its name).
   */
  history(accountId: number, withUsername: string, limit: number, before?: number | null): ChatMessage[] {
    const peer = this.resolvePeer(accountId, withUsername);
    if (peer === null) throw new QuorumError('NOT_FOUND', `no account named "${withUsername}"`);
    const b = before ?? Number.MAX_SAFE_INTEGER;
    const n = clampLimit(limit);
    const rows =
      peer === accountId ? this.st.historySelf.all(peer, peer, b, n) : this.st.history.all(accountId, peer, b, peer, accountId, b, n);
    const cache = new Map<number, AccountRow | undefined>();
    return rows.reverse().map((r) => this.toChat(r, cache));
  }

  /** The account's conversations, most recent first, with unread counts and the last message. */
  conversations(accountId: number, limit: number): ConversationSummary[] {
    const cache = new Map<number, AccountRow | undefined>();
    const out: ConversationSummary[] = [];
    for (const c of this.st.convRecent.all(accountId, clampLimit(limit))) {
      const row = this.st.messageById.get(c.last_id);
      if (!row) continue;
      const lastMessage = this.toChat(row, cache);
      if (!cache.has(c.peer_id)) cache.set(c.peer_id, this.st.accountById.get(c.peer_id));
      const peer = cache.get(c.peer_id);
      const s: ConversationSummary = { with: peer?.username ?? '', lastMessage, unread: c.unread };
      if (peer?.deleted) s.deleted = true;
      out.push(s);
    }
    return out;
  }

  /** Every live message to or from the account with id > afterId, oldest first (resuming live delivery). */
  messagesAfter(accountId: number, afterId: number, limit: number): ChatMessage[] {
    const n = clampLimit(limit);
    const a = this.st.toAfter.all(accountId, afterId, n);
    const b = this.st.fromAfter.all(accountId, accountId, afterId, n);
    const merged: MessageRow[] = [];
    let i = 0;
    let j = 0;
    while (merged.length < n && (i < a.length || j < b.length)) {
      if (j >= b.length || (i < a.length && a[i].id < b[j].id)) merged.push(a[i++]);
      else merged.push(b[j++]);
    }
    const cache = new Map<number, AccountRow | undefined>();
    return merged.map((r) => this.toChat(r, cache));
  }

  /**
   * Forces everything applied so far to disk (WAL checkpoint with fsync): required before log compaction. Returns
   * false when the checkpoint could not copy the whole WAL (another connection kept a reader on an older snapshot):
   * the state is then not known to be durable and the log must not be compacted.
   */
  makeDurable(): boolean {
    this.assertOpen();
    this.commitGroup();
    const [result] = this.db.pragma('wal_checkpoint(FULL)') as { busy: number; log: number; checkpointed: number }[];
    return result.busy === 0 && result.checkpointed === result.log;
  }

  /** The highest id of a live message to or from the account (0 if none): where live delivery starts after login. */
  lastMessageId(accountId: number): number {
    return this.st.lastMessageId.get(accountId, accountId)!.id;
  }

  /** The stored response of an applied (clientId, seq), or null (never applied, evicted or expired). */
  sessionResponse(clientId: string, seq: number): CommandResponse | null {
    const row = this.st.sessionGet.get(clientId, seq);
    return row ? this.decodeStored(row) : null;
  }

  /**
   * sha256 (hex) over a canonical dump of the replicated tables. scope 'all' covers everything (applied index, conf,
   * sessions); 'chat' covers what users see (accounts, messages, conversations, tokens, members), so a refused
   * command leaves it unchanged. O(n): for tests and convergence checks.
   */
  stateHash(scope: 'all' | 'chat' = 'all'): string {
    const h = createHash('sha256');
    for (const t of HASHED_TABLES) {
      if (scope === 'chat' && !t.chat) continue;
      h.update(`#${t.table}\n`);
      for (const row of this.db.prepare(`SELECT ${t.columns ?? '*'} FROM ${t.table} ORDER BY ${t.order}`).raw().iterate()) {
        h.update(JSON.stringify(row));
        h.update('\n');
      }
    }
    return h.digest('hex');
  }

  /**
   * Recomputes the derived state (conversation rows, unread counts, first_unread, the read and delivered watermarks)
   * from the messages and returns every mismatch. O(n): for tests and chaos checks. An empty array means consistent.
   */
  audit(): string[] {
    const problems: string[] = [];
    const q = <T>(sql: string) => this.db.prepare(sql).all() as T[];
    for (const r of q<{ id: number; unread: number; actual: number }>(
      `SELECT a.id, a.unread, (SELECT count(*) FROM messages m WHERE m.to_id = a.id AND m.read_at IS NULL AND m.deleted = 0) AS actual
       FROM accounts a WHERE a.deleted = 0`,
    )) {
      if (r.unread !== r.actual) problems.push(`account ${r.id}: unread ${r.unread}, actually ${r.actual}`);
    }
    const expected = q<{ owner: number; peer: number; last_id: number; unread: number; first_unread: number | null }>(
      `SELECT owner, peer, max(id) AS last_id, sum(CASE WHEN to_id = owner AND read_at IS NULL THEN 1 ELSE 0 END) AS unread,
              min(CASE WHEN to_id = owner AND read_at IS NULL THEN id END) AS first_unread
       FROM (SELECT id, from_id AS owner, to_id AS peer, to_id, read_at FROM messages WHERE deleted = 0
             UNION ALL SELECT id, to_id AS owner, from_id AS peer, to_id, read_at FROM messages WHERE deleted = 0 AND to_id <> from_id)
       WHERE owner IN (SELECT id FROM accounts WHERE deleted = 0)
       GROUP BY owner, peer ORDER BY owner, peer`,
    );
    const actual = q<{ owner_id: number; peer_id: number; last_id: number; unread: number; first_unread: number | null }>(
      'SELECT owner_id, peer_id, last_id, unread, first_unread FROM conversations ORDER BY owner_id, peer_id',
    );
    const key = (o: number, p: number) => `${o}:${p}`;
    const have = new Map(actual.map((c) => [key(c.owner_id, c.peer_id), c]));
    for (const e of expected) {
      const c = have.get(key(e.owner, e.peer));
      have.delete(key(e.owner, e.peer));
      if (!c) problems.push(`conversation ${key(e.owner, e.peer)} missing`);
      else if (c.last_id !== e.last_id || c.unread !== e.unread || c.first_unread !== e.first_unread) {
        problems.push(
          `conversation ${key(e.owner, e.peer)}: last ${c.last_id}/unread ${c.unread}/first unread ${c.first_unread}, ` +
            `expected ${e.last_id}/${e.unread}/${e.first_unread}`,
        );
      }
    }
    for (const k of have.keys()) problems.push(`conversation ${k} should not exist`);
    // The unread messages of a conversation are exactly its messages from the peer from first_unread on.
    for (const r of q<{ id: number }>(
      `SELECT m.id FROM messages m JOIN conversations c ON c.owner_id = m.to_id AND c.peer_id = m.from_id
       WHERE m.deleted = 0 AND m.to_id <> m.from_id
         AND (m.read_at IS NULL) <> (c.first_unread IS NOT NULL AND m.id >= c.first_unread) ORDER BY m.id`,
    )) {
      problems.push(`message ${r.id}: read state disagrees with its conversation's first_unread`);
    }
    // Delivered: everything up to the account's watermark, and everything read.
    for (const r of q<{ id: number }>(
      `SELECT m.id FROM messages m JOIN accounts a ON a.id = m.to_id
       WHERE m.deleted = 0 AND a.deleted = 0 AND m.delivered_at IS NULL AND (m.id <= a.delivered_upto OR m.read_at IS NOT NULL) ORDER BY m.id`,
    )) {
      problems.push(`message ${r.id}: not delivered, but read or below its recipient's delivered watermark`);
    }
    return problems;
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * Writes a consistent copy of the state to `file` with SQLite's online backup (the event loop keeps running;
   * applies during the copy are folded into it), converts it to a self-contained rollback-journal file, fsyncs it,
   * and returns the metadata of the state it holds (conf is empty if no conf entry was ever applied).
   */
  async snapshotTo(file: string): Promise<SnapshotMeta> {
    this.assertOpen();
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) fs.rmSync(f, { force: true });
    this.commitGroup();
    this.backups++;
    try {
      await this.db.backup(file);
    } finally {
      this.backups--;
    }
    const copy = new Database(file);
    let meta: MetaRow;
    try {
      copy.pragma('journal_mode = DELETE');
      meta = copy.prepare('SELECT applied_index, applied_term, conf, last_at FROM meta WHERE id = 0').get() as MetaRow;
    } finally {
      copy.close();
    }
    fsyncPath(file);
    fsyncPath(path.dirname(file));
    return { index: meta.applied_index, term: meta.applied_term, conf: meta.conf ? (JSON.parse(meta.conf) as ConfState) : { ...EMPTY_CONF, voters: [], learners: [] } };
  }

  /**
   * Replaces `<dataDir>/state.db` with a snapshot file, atomically: the snapshot is copied beside it, checked and
   * fsynced; the old database is checkpointed so no stale WAL can be replayed onto the new file; then a rename and
   * a directory fsync. A crash at any point leaves either the old or the new state. No instance may have the
   * database open (use the instance method, which closes and reopens).
   */
  static restoreFrom(snapshotPath: string, dataDir: string): SnapshotMeta {
    fs.mkdirSync(dataDir, { recursive: true });
    const target = path.join(dataDir, 'state.db');
    const tmp = `${target}.restore`;
    for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) fs.rmSync(f, { force: true });
    fs.copyFileSync(snapshotPath, tmp);
    let meta: MetaRow | undefined;
    const check = new Database(tmp);
    try {
      const version = check.pragma('user_version', { simple: true });
      // A snapshot from a replica of the previous release (version 1) is migrated like a data folder would be.
      if (version !== STATE_SCHEMA_VERSION && version !== 1) throw new Error(`snapshot ${snapshotPath}: schema version ${String(version)}`);
      check.pragma('journal_mode = DELETE');
      if (version !== STATE_SCHEMA_VERSION) migrateSchema(check, snapshotPath);
      meta = check.prepare('SELECT applied_index, applied_term, conf, last_at FROM meta WHERE id = 0').get() as MetaRow | undefined;
      if (!meta) throw new Error(`snapshot ${snapshotPath}: no meta row`);
    } catch (err) {
      check.close();
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    check.close();
    fsyncPath(tmp);
    if (fs.existsSync(target)) {
      // Fold any WAL into the old file and drop it, so nothing stale can be replayed onto the new one.
      const old = new Database(target);
      try {
        old.pragma('wal_checkpoint(TRUNCATE)');
        old.pragma('journal_mode = DELETE');
      } finally {
        old.close();
      }
    }
    for (const f of [`${target}-wal`, `${target}-shm`, `${target}-journal`]) fs.rmSync(f, { force: true });
    fs.renameSync(tmp, target);
    fsyncPath(dataDir);
    return { index: meta.applied_index, term: meta.applied_term, conf: meta.conf ? (JSON.parse(meta.conf) as ConfState) : { voters: [], learners: [] } };
  }

  /** Instance form used by the driver: closes this state, installs the snapshot, reopens. */
  restoreFrom(snapshotPath: string): SnapshotMeta {
    this.assertOpen();
    this.commitGroup();
    this.db.close();
    this.closed = true;
    try {
      return ChatStateMachine.restoreFrom(snapshotPath, this.dataDir);
    } finally {
      this.load();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.commitGroup();
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.file}: state machine is closed`);
  }
}

function addTo(map: Map<number, number[]>, key: number, id: number): void {
  const list = map.get(key);
  if (list) list.push(id);
  else map.set(key, [id]);
}
