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
import Database, { type Statement } from 'better-sqlite3';
import { LIMITS, SESSION_WINDOW } from '../protocol/limits.js';
import { QuorumError, type ErrorCode } from '../protocol/errors.js';
import { Pattern, type ChatMessage, type ClientSession, type ConversationSummary, type PushFrame } from '../protocol/client.js';
import type { ConfChange, ConfState, Entry, SnapshotMeta } from '../raft/types.js';
import { fsyncPath, openSqlite, type Db } from '../storage/sqlite.js';
import { decodeCommand, decodeConfChange, type Command } from './commands.js';
import { applyConfChange } from './conf.js';
import { HASHED_TABLES, STATE_SCHEMA, STATE_SCHEMA_VERSION } from './schema.js';

/** A new cluster's initial configuration is a snapshot at this index and term (never in the log itself). */
export const BOOTSTRAP = { index: 1, term: 1 } as const;

/** A client that wrote nothing for this long loses its session records (checked every EXPIRY_EVERY indices). */
export const SESSION_IDLE_MS = 24 * 60 * 60 * 1000;
export const EXPIRY_EVERY = 1000;
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
}

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

interface Ctx {
  index: number;
  at: number;
  events: PushEvent[];
}

const MSG_COLS = 'id, from_id, to_id, text, sent_at, delivered_at, read_at, deleted';
const ACC_COLS = 'id, username, username_lower, password_hash, created_at, deleted, deleted_at, unread';
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
    unreadPage: p<[number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND read_at IS NULL AND deleted = 0 ORDER BY id LIMIT ?`,
    ),
    unreadFrom: p<[number, number, number], { id: number }>(
      'SELECT id FROM messages WHERE to_id = ? AND from_id = ? AND read_at IS NULL AND deleted = 0 AND id <= ? ORDER BY id',
    ),
    undelivered: p<[number, number], { id: number; from_id: number }>(
      'SELECT id, from_id FROM messages WHERE to_id = ? AND delivered_at IS NULL AND deleted = 0 AND id <= ? ORDER BY id',
    ),
    markRead: p<[number, number, number]>('UPDATE messages SET read_at = ?, delivered_at = coalesce(delivered_at, ?) WHERE id = ?'),
    markDelivered: p<[number, number]>('UPDATE messages SET delivered_at = ? WHERE id = ?'),
    tombstone: p<[number]>("UPDATE messages SET deleted = 1, text = '' WHERE id = ?"),
    inbox: p<[number], { id: number; from_id: number; read_at: number | null }>(
      'SELECT id, from_id, read_at FROM messages WHERE to_id = ? AND deleted = 0 ORDER BY id',
    ),
    lastInPair: p<[number, number], { id: number }>(
      'SELECT id FROM messages WHERE min(from_id, to_id) = ? AND max(from_id, to_id) = ? AND deleted = 0 ORDER BY id DESC LIMIT 1',
    ),
    history: p<[number, number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE min(from_id, to_id) = ? AND max(from_id, to_id) = ? AND deleted = 0 ` +
        'AND id < ? ORDER BY id DESC LIMIT ?',
    ),
    toAfter: p<[number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE to_id = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`,
    ),
    fromAfter: p<[number, number, number, number], MessageRow>(
      `SELECT ${MSG_COLS} FROM messages WHERE from_id = ? AND to_id <> ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`,
    ),

    convUpsert: p<[number, number, number, number]>(
      'INSERT INTO conversations (owner_id, peer_id, last_id, unread) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (owner_id, peer_id) DO UPDATE SET last_id = excluded.last_id, unread = unread + excluded.unread',
    ),
    convAddUnread: p<[number, number, number]>('UPDATE conversations SET unread = unread + ? WHERE owner_id = ? AND peer_id = ?'),
    convSetLast: p<[number, number, number]>('UPDATE conversations SET last_id = ? WHERE owner_id = ? AND peer_id = ?'),
    convDelete: p<[number, number]>('DELETE FROM conversations WHERE owner_id = ? AND peer_id = ?'),
    convPeers: p<[number], { peer_id: number }>('SELECT peer_id FROM conversations WHERE owner_id = ? ORDER BY peer_id'),
    convDeleteOwner: p<[number]>('DELETE FROM conversations WHERE owner_id = ?'),
    convRecent: p<[number, number], { peer_id: number; last_id: number; unread: number }>(
      'SELECT peer_id, last_id, unread FROM conversations WHERE owner_id = ? ORDER BY last_id DESC LIMIT ?',
    ),

    sessionGet: p<[string, number], { response: string }>('SELECT response FROM sessions WHERE client_id = ? AND seq = ?'),
    sessionPut: p<[string, number, string, number, number]>(
      'INSERT INTO sessions (client_id, seq, response, at, idx) VALUES (?, ?, ?, ?, ?)',
    ),
    sessionEvict: p<[string, number]>('DELETE FROM sessions WHERE client_id = ? AND seq <= ?'),
    sessionDropClient: p<[string]>('DELETE FROM sessions WHERE client_id = ?'),
    clientGet: p<[string], { last_at: number; floor: number }>('SELECT last_at, floor FROM clients WHERE client_id = ?'),
    clientTouch: p<[string, number]>(
      'INSERT INTO clients (client_id, last_at, floor) VALUES (?, ?, 0) ON CONFLICT (client_id) DO UPDATE SET last_at = excluded.last_at',
    ),
    clientFloor: p<[number, string]>('UPDATE clients SET floor = max(floor, ?) WHERE client_id = ?'),
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

  private constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.file = path.join(dataDir, 'state.db');
    this.load();
  }

  static open(dataDir: string): ChatStateMachine {
    return new ChatStateMachine(dataDir);
  }

  private load(): void {
    this.lastIdStmt = null;
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    // The chat state is derived from the Raft log, which is fsynced (FULL) before anything is acknowledged; an OS crash
    // that loses the last applied transactions here is repaired by replaying the log. So no fsync per apply:
    // makeDurable() checkpoints (with fsync) before the log is compacted past what this file holds.
    const db = openSqlite(this.file, { synchronous: 'NORMAL' });
    try {
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version !== 0 && version !== STATE_SCHEMA_VERSION) throw new Error(`${this.file}: unknown state.db schema version ${version}`);
      db.exec(STATE_SCHEMA);
      if (version === 0) db.pragma(`user_version = ${STATE_SCHEMA_VERSION}`);
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
    if (this.db.inTransaction) this.db.exec('COMMIT');
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
      ? this.decodeStored(stored.response)
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

    if (session) {
      const stored = this.st.sessionGet.get(session.clientId, session.seq);
      if (stored) return { index: e.index, session, response: this.decodeStored(stored.response), events: [] };
      const client = this.st.clientGet.get(session.clientId);
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
      const result = this.inSavepoint(() => this.execute(cmd, ctx));
      response = { ok: true, result };
      stored = cmd.kind === 'read' ? JSON.stringify({ ok: true, read: (result as { messages: ChatMessage[] }).messages.map((m) => m.id) }) : JSON.stringify(response);
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
    if (session) this.recordSession(session, stored, at, e.index);
    return { index: e.index, ...(session ? { session } : {}), response, events: ctx.events };
  }

  private recordSession(session: ClientSession, stored: string, at: number, index: number): void {
    const { clientId, seq } = session;
    this.st.sessionPut.run(clientId, seq, stored, at, index);
    this.st.clientTouch.run(clientId, at);
    const floor = seq - SESSION_WINDOW;
    if (floor > 0) {
      this.st.sessionEvict.run(clientId, floor);
      this.st.clientFloor.run(floor, clientId);
    }
  }

  private expireClients(): void {
    const cutoff = this.lastAt - SESSION_IDLE_MS;
    if (cutoff <= 0) return;
    for (const { client_id } of this.st.clientsIdle.all(cutoff, EXPIRY_BATCH)) {
      this.st.sessionDropClient.run(client_id);
      this.st.clientDelete.run(client_id);
    }
  }

  private decodeStored(json: string): CommandResponse {
    const v = JSON.parse(json) as CommandResponse | { ok: true; read: number[] };
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

  private execute(cmd: Command, ctx: Ctx): unknown {
    switch (cmd.kind) {
      case 'signup':
        return this.signup(cmd.username, cmd.passwordHash, ctx);
      case 'login':
        return this.login(cmd.username, cmd.passwordHash, cmd.tokenHash, ctx);
      case 'logout': {
        const acc = this.authenticate(cmd.tokenHash);
        this.st.deleteToken.run(cmd.tokenHash);
        this.push(ctx, acc, { type: 'push', event: 'sessionEnded', reason: 'logged out' }, cmd.tokenHash);
        return { loggedOut: true };
      }
      case 'send':
        return this.send(this.authenticate(cmd.tokenHash), cmd.to, cmd.text, ctx);
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

  private send(from: AccountRow, to: string, text: string, ctx: Ctx) {
    const rcpt = this.st.accountLive.get(to.toLowerCase()) ?? refuse('NOT_FOUND', `no account named "${to}"`);
    const self = rcpt.id === from.id;
    const id = ctx.index;
    // A note to self is born delivered and read.
    this.st.insertMessage.run(id, from.id, rcpt.id, text, ctx.at, self ? ctx.at : null, self ? ctx.at : null);
    this.st.convUpsert.run(from.id, rcpt.id, id, 0);
    if (!self) {
      this.st.convUpsert.run(rcpt.id, from.id, id, 1);
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

  private read(acc: AccountRow, limit: number, ctx: Ctx) {
    const rows = this.st.unreadPage.all(acc.id, clampLimit(limit));
    const bySender = new Map<number, number[]>();
    for (const r of rows) {
      this.st.markRead.run(ctx.at, ctx.at, r.id);
      r.read_at = ctx.at;
      r.delivered_at ??= ctx.at;
      this.st.convAddUnread.run(-1, acc.id, r.from_id);
      addTo(bySender, r.from_id, r.id);
    }
    if (rows.length) this.st.accountAddUnread.run(-rows.length, acc.id);
    this.receipts(ctx, bySender, 'read');
    const cache = new Map<number, AccountRow | undefined>();
    return { messages: rows.map((r) => this.toChat(r, cache)) };
  }

  private markReadFrom(acc: AccountRow, withName: string, upTo: number, ctx: Ctx) {
    const peerId = this.resolvePeer(acc.id, withName) ?? refuse('NOT_FOUND', `no conversation with "${withName}"`);
    const ids = this.st.unreadFrom.all(acc.id, peerId, upTo).map((r) => r.id);
    for (const id of ids) this.st.markRead.run(ctx.at, ctx.at, id);
    if (ids.length) {
      this.st.convAddUnread.run(-ids.length, acc.id, peerId);
      this.st.accountAddUnread.run(-ids.length, acc.id);
      this.receipts(ctx, new Map([[peerId, ids]]), 'read');
    }
    return { marked: ids.length };
  }

  private delivered(acc: AccountRow, upTo: number, ctx: Ctx) {
    const rows = this.st.undelivered.all(acc.id, upTo);
    const bySender = new Map<number, number[]>();
    for (const r of rows) {
      this.st.markDelivered.run(ctx.at, r.id);
      addTo(bySender, r.from_id, r.id);
    }
    this.receipts(ctx, bySender, 'delivered');
    return { marked: rows.length };
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
        this.st.convAddUnread.run(-1, r.to_id, r.from_id);
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
    this.st.markAccountDeleted.run(ctx.at, acc.id);
    for (const [sender, ids] of [...bySender].sort((a, b) => a[0] - b[0])) {
      const to = this.st.accountById.get(sender);
      if (to) this.push(ctx, to, { type: 'push', event: 'deleted', ids });
    }
    return { deleted: true };
  }

  /** Re-derives last_id of both conversation rows of a pair after deletions; drops them when nothing is left. */
  private refreshConversation(lo: number, hi: number): void {
    const last = this.st.lastInPair.get(lo, hi);
    for (const [owner, peer] of lo === hi ? [[lo, hi]] : [[lo, hi], [hi, lo]]) {
      if (last) this.st.convSetLast.run(last.id, owner, peer);
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

  private push(ctx: Ctx, to: AccountRow, frame: PushFrame, tokenHash?: string): void {
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
    const rows = this.st.history.all(Math.min(accountId, peer), Math.max(accountId, peer), before ?? Number.MAX_SAFE_INTEGER, clampLimit(limit));
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

  /** Forces everything applied so far to disk (WAL checkpoint with fsync): required before log compaction. */
  makeDurable(): void {
    this.assertOpen();
    this.commitGroup();
    this.db.pragma('wal_checkpoint(FULL)');
  }

  /** The highest id of a live message to or from the account (0 if none): where live delivery starts after login. */
  lastMessageId(accountId: number): number {
    this.lastIdStmt ??= this.db.prepare(
      'SELECT max(coalesce((SELECT max(id) FROM messages WHERE to_id = ? AND deleted = 0), 0), coalesce((SELECT max(id) FROM messages WHERE from_id = ? AND deleted = 0), 0)) AS id',
    );
    return (this.lastIdStmt.get(accountId, accountId) as { id: number }).id;
  }
  private lastIdStmt: Statement | null = null;

  /** The stored response of an applied (clientId, seq), or null (never applied, evicted or expired). */
  sessionResponse(clientId: string, seq: number): CommandResponse | null {
    const row = this.st.sessionGet.get(clientId, seq);
    return row ? this.decodeStored(row.response) : null;
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
      for (const row of this.db.prepare(`SELECT * FROM ${t.table} ORDER BY ${t.order}`).raw().iterate()) {
        h.update(JSON.stringify(row));
        h.update('\n');
      }
    }
    return h.digest('hex');
  }

  /**
   * Recomputes the derived counters (conversation rows, unread counts) from the messages and returns every mismatch.
   * O(n): for tests and chaos checks. An empty array means consistent.
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
    const expected = q<{ owner: number; peer: number; last_id: number; unread: number }>(
      `SELECT owner, peer, max(id) AS last_id, sum(CASE WHEN to_id = owner AND read_at IS NULL THEN 1 ELSE 0 END) AS unread
       FROM (SELECT id, from_id AS owner, to_id AS peer, to_id, read_at FROM messages WHERE deleted = 0
             UNION ALL SELECT id, to_id AS owner, from_id AS peer, to_id, read_at FROM messages WHERE deleted = 0 AND to_id <> from_id)
       WHERE owner IN (SELECT id FROM accounts WHERE deleted = 0)
       GROUP BY owner, peer ORDER BY owner, peer`,
    );
    const actual = q<{ owner_id: number; peer_id: number; last_id: number; unread: number }>(
      'SELECT owner_id, peer_id, last_id, unread FROM conversations ORDER BY owner_id, peer_id',
    );
    const key = (o: number, p: number) => `${o}:${p}`;
    const have = new Map(actual.map((c) => [key(c.owner_id, c.peer_id), c]));
    for (const e of expected) {
      const c = have.get(key(e.owner, e.peer));
      have.delete(key(e.owner, e.peer));
      if (!c) problems.push(`conversation ${key(e.owner, e.peer)} missing`);
      else if (c.last_id !== e.last_id || c.unread !== e.unread) {
        problems.push(`conversation ${key(e.owner, e.peer)}: last ${c.last_id}/unread ${c.unread}, expected ${e.last_id}/${e.unread}`);
      }
    }
    for (const k of have.keys()) problems.push(`conversation ${k} should not exist`);
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
      if (version !== STATE_SCHEMA_VERSION) throw new Error(`snapshot ${snapshotPath}: schema version ${String(version)}`);
      check.pragma('journal_mode = DELETE');
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
