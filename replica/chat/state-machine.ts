/**
 * The replicated chat state machine over `<dataDir>/state.db`: opening it, applying committed log entries in order,
 * and the group commit of what was applied. What a command does is in apply/ (one module per command family), client
 * sessions in sessions.ts, reads in queries.ts, snapshots in snapshot.ts, migrations in migration.ts, whole-state
 * checks in audit.ts, the prepared statements in statements.ts.
 *
 * applyEntries() turns committed log entries into state changes, responses and push events. It is deterministic: the
 * same entries give the same state and responses on every replica — timestamps come from the command's `at` (clamped:
 * clampClock), ids from log indices, nothing from the clock or randomness. Each command runs in its own
 * savepoint, so a refusal rolls back whatever it touched and changes nothing but the applied index and the client's
 * session record.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { QuorumError } from '../protocol/errors.js';
import type { ChatMessage, ConversationSummary, GroupSummary, SearchHit } from '../protocol/client.js';
import type { ConfState, Entry, SnapshotMeta } from '../raft/types.js';
import { copyConf } from '../raft/conf.js';
import { openSqlite, type Db } from '../storage/sqlite.js';
import { ApplyContext } from './apply-context.js';
import { CommandExecutor } from './apply/execute.js';
import { applyConfEntry, type ConfApply } from './apply/members.js';
import { auditState, stateHash, type HashScope } from './audit.js';
import { StateHashJob } from './state-hash-job.js';
import { decodeCommand, sessionOf } from './commands.js';
import { IdentityCache } from './identities.js';
import { migrateSchema } from './migration.js';
import { refusal, type ApplyOutcome, type CommandResponse } from './outcome.js';
import { ChatQueries, type AccountInfo } from './queries.js';
import { ClusterVersions } from './cluster-versions.js';
import { ClientSessions, EXPIRY_EVERY } from './sessions.js';
import { needsVersion, SUPPORTED_VERSION } from './versions.js';
import { ReplicaStopError, VersionStopError } from '../util/replica-stop-error.js';
import { installSnapshot, writeSnapshot } from './snapshot.js';
import { prepareStatements, readMeta, type ClientRow, type Statements } from './statements.js';

export type { ApplyOutcome, CommandResponse, PushEvent } from './outcome.js';
export type { AccountInfo } from './queries.js';
export { patternToGlob } from './queries.js';
export { SESSION_EVICT_EVERY, SESSION_IDLE_MS, SESSION_TOUCH_MS } from './sessions.js';

/** A new cluster's initial configuration is a snapshot at this index and term (never in the log itself). */
export const BOOTSTRAP = { index: 1, term: 1 } as const;
/** State check hashes pinned at once (stateHashLater): one hashing, the rest waiting their turn. */
const MAX_HASH_JOBS = 4;

/**
 * Group commit of the state database (as etcd's backend batches bbolt commits): applied batches accumulate in one
 * open SQLite transaction, committed once it is this old or holds this many entries, and before anything that reads
 * the file from outside this connection (snapshot, checkpoint, close). A page written by many applies reaches the WAL
 * once. Reads on this connection see everything applied. A crash loses at most the open transaction, which the
 * driver replays from the Raft log (fsynced before any acknowledgement) at start-up.
 * Each commit rewrites in the WAL every page it dirtied, and under load most are the same hot pages each time (the
 * tails of the message table and of its indexes, one per sender; the session rows of each client; the search index's
 * new segment): at 100 ms a 3-replica cluster wrote ~12 KB of disk per write at 64 in flight, at 1 s (with raft.db's
 * 1 KiB pages) ~8 KB (test/bench/README.md). A longer wait only means more entries replayed after a crash.
 */
export const GROUP_COMMIT_MS = 1000;
export const GROUP_COMMIT_ENTRIES = 10_000;

/**
 * The WAL is checkpointed into state.db once it holds this many pages (SQLite's default is 1,000). With much data,
 * one group commit of random sends dirties ~1,000 distinct pages (index tails and conversation rows of many
 * recipients): at the default every commit would be followed by a checkpoint copying all of them again (and two
 * fsyncs). With a bigger WAL, a page written by several commits is copied once (figures in test/bench/README.md).
 * Costs: a WAL of up to ~40 MB (reused, not grown further) and a longer, rarer checkpoint.
 */
export const WAL_CHECKPOINT_PAGES = 10_000;

/**
 * The most a command's clock may move the applied clock forward. Commands carry the proposing leader's clock; apply
 * takes it clamped to [last applied clock, last applied clock + MAX_CLOCK_STEP_MS]: time never goes backwards, and
 * one command from a leader whose clock is far ahead cannot jump it (and with it every client's idle time). A leader
 * whose clock is legitimately further ahead (the cluster was down or idle) first proposes `clock` commands, each
 * moving it one step (replica/node/requests.ts).
 */
export const MAX_CLOCK_STEP_MS = 60 * 60 * 1000;

/**
 * The applied clock of a command that carries `at`, given the last applied clock (0: nothing applied yet): never
 * back, and from cluster version 2 on (versions.ts) at most MAX_CLOCK_STEP_MS forward.
 */
export function clampClock(at: number, lastAt: number, clusterVersion: number): number {
  if (lastAt === 0) return at;
  const notBack = Math.max(at, lastAt);
  return clusterVersion >= 2 ? Math.min(notBack, lastAt + MAX_CLOCK_STEP_MS) : notBack;
}

/** The refusal of a command that needs `version` while the cluster runs `cluster`. */
function unsupported(version: number, cluster: number) {
  return refusal('UNSUPPORTED_BY_CLUSTER', needsVersion(version, cluster));
}

/** SQLite errors that depend on this machine (disk, locks, corruption) must not be turned into a reply. */
export function isEnvironmentalError(err: unknown): boolean {
  if (!(err instanceof Database.SqliteError)) return false;
  return !err.code.startsWith('SQLITE_CONSTRAINT');
}

/** How a state machine is opened. */
export interface OpenOptions {
  /** The highest state-machine version this replica supports (default SUPPORTED_VERSION; versions.ts). */
  supportedVersion?: number;
}

/** Everything prepared against one open database; made again when a snapshot replaces the file. */
interface OpenState {
  db: Db;
  statements: Statements;
  versions: ClusterVersions;
  identities: IdentityCache;
  commands: CommandExecutor;
  sessions: ClientSessions;
  queries: ChatQueries;
  /** Applies a batch in a transaction (a savepoint inside the group's transaction). */
  applyBatch: (entries: Entry[], confApply?: ConfApply) => ApplyOutcome[];
  /** Runs one command in a savepoint of its own. */
  inSavepoint: <T>(fn: () => T) => T;
}

export class ChatStateMachine {
  readonly dataDir: string;
  readonly file: string;
  /** The highest state-machine version this replica supports. */
  readonly supportedVersion: number;
  private open!: OpenState;
  private appliedIndex = 0;
  private appliedTerm = 0;
  private confState: ConfState | null = null;
  /** The highest command clock applied: commands' clocks are clamped to never go below it. */
  private lastAt = 0;
  private closed = false;
  /** When the open group-commit transaction began (performance.now()), or null when none is open. */
  private groupOpenedAt: number | null = null;
  private groupEntries = 0;
  /** Snapshot copies running: meanwhile every apply batch commits at once (a backup must see only committed pages). */
  private backups = 0;
  /** The state check's hashes being computed in the background (stateHashLater), oldest first: one runs, the rest wait. */
  private hashJobs: StateHashJob[] = [];

  private constructor(dataDir: string, options: OpenOptions) {
    this.dataDir = dataDir;
    this.file = path.join(dataDir, 'state.db');
    this.supportedVersion = options.supportedVersion ?? SUPPORTED_VERSION;
    this.load();
  }

  /**
   * Opens (creating or migrating) `<dataDir>/state.db`. Throws VersionStopError (a ReplicaStopError) when its cluster runs a version
   * this replica does not support.
   */
  static open(dataDir: string, options: OpenOptions = {}): ChatStateMachine {
    return new ChatStateMachine(dataDir, options);
  }

  private load(): void {
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    // The chat state is derived from the Raft log, which is fsynced (FULL) before anything is acknowledged; an OS crash
    // that loses the last applied transactions here is repaired by replaying the log. So no fsync per apply:
    // makeDurable() checkpoints (with fsync) before the log is compacted past what this file holds.
    const db = openSqlite(this.file, { synchronous: 'NORMAL' });
    let statements: Statements;
    try {
      migrateSchema(db, this.file);
      db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      statements = prepareStatements(db);
    } catch (err) {
      db.close();
      throw err;
    }
    const versions = new ClusterVersions(statements, this.supportedVersion);
    if (versions.current > this.supportedVersion) {
      db.close();
      throw new VersionStopError(
        `${this.file}: this replica's cluster runs Quorum version ${versions.current}, but this replica supports only version ` +
          `${this.supportedVersion}: upgrade this replica`,
      );
    }
    const identities = new IdentityCache(statements);
    const savepoint = db.transaction((fn: () => unknown) => fn());
    this.open = {
      db,
      statements,
      versions,
      identities,
      commands: new CommandExecutor(statements, identities, versions, () => this.confState),
      sessions: new ClientSessions(statements),
      queries: new ChatQueries(statements),
      applyBatch: db.transaction((entries: Entry[], confApply?: ConfApply) => this.applyInTransaction(entries, confApply)),
      inSavepoint: <T>(fn: () => T) => savepoint(fn) as T,
    };
    const meta = readMeta(db)!;
    this.appliedIndex = meta.applied_index;
    this.appliedTerm = meta.applied_term;
    this.confState = meta.conf ? (JSON.parse(meta.conf) as ConfState) : null;
    this.lastAt = meta.last_at;
    this.closed = false;
  }

  // ---------------------------------------------------------------- replicated state

  applied(): { index: number; term: number } {
    return { index: this.appliedIndex, term: this.appliedTerm };
  }

  conf(): ConfState | null {
    return this.confState ? copyConf(this.confState) : null;
  }

  members(): { id: string; address: string }[] {
    return this.open.statements.members.all().map(({ id, address }) => ({ id, address }));
  }

  /** The version every replica applies by (versions.ts). */
  clusterVersion(): number {
    return this.open.versions.current;
  }

  /** The cluster version and the versions members reported (versions.ts). */
  versions(): { supported: number; cluster: number; members: Map<string, number> } {
    return { supported: this.supportedVersion, cluster: this.open.versions.current, members: this.open.versions.members() };
  }

  /**
   * Records the initial configuration (and member addresses) of a brand-new cluster, outside the log. Every initial
   * member must bootstrap with the same values. Refuses once a configuration exists or anything was applied.
   */
  bootstrap(conf: ConfState, members: { id: string; address: string }[]): void {
    this.assertOpen();
    if (this.confState || this.appliedIndex > 0) throw new Error('bootstrap: the state machine already has a configuration');
    const next = copyConf(conf);
    const { db, statements } = this.open;
    this.commitGroup();
    db.transaction(() => {
      statements.setConf.run(JSON.stringify(next));
      for (const m of members) statements.memberUpsert.run(m.id, m.address);
      // The bootstrap state is the snapshot at BOOTSTRAP.index: a replica that joins later receives it by snapshot.
      statements.setApplied.run(BOOTSTRAP.index, BOOTSTRAP.term, this.lastAt);
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
    const next = copyConf(conf);
    this.commitGroup();
    this.open.statements.setConf.run(JSON.stringify(next));
    this.confState = next;
  }

  /**
   * Applies committed entries in order, in one transaction. Returns one outcome per entry, in order (outcomes[i] is
   * entries[i]; no-ops included). Entries at or below the applied index change nothing: their outcome carries the
   * stored session response when there is one, and no events.
   */
  applyEntries(entries: Entry[], confApply?: ConfApply): ApplyOutcome[] {
    this.assertOpen();
    if (entries.length === 0) return [];
    const before = { index: this.appliedIndex, term: this.appliedTerm, conf: this.confState, lastAt: this.lastAt, cluster: this.open.versions.current };
    if (this.groupOpenedAt === null) {
      this.open.db.exec('BEGIN');
      this.groupOpenedAt = performance.now();
      this.groupEntries = 0;
    }
    try {
      // Nested in the group transaction: a savepoint, rolled back alone if the batch fails.
      const outcomes = this.open.applyBatch(entries, confApply);
      this.groupEntries += entries.length;
      if (this.backups > 0 || this.groupEntries >= GROUP_COMMIT_ENTRIES) this.commitGroup();
      else this.maybeCommitGroup();
      return outcomes;
    } catch (err) {
      // The transaction rolled back: so must the cached copies.
      this.open.identities.forget();
      this.appliedIndex = before.index;
      this.appliedTerm = before.term;
      this.confState = before.conf;
      this.lastAt = before.lastAt;
      this.open.versions.current = before.cluster;
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
    if (!this.open.db.inTransaction) return;
    try {
      this.open.db.exec('COMMIT');
    } catch (err) {
      // SQLite may have rolled the transaction back (e.g. an I/O error): nothing read from it can be trusted.
      this.open.identities.forget();
      throw err;
    }
  }

  /**
   * Forces everything applied so far to disk (WAL checkpoint with fsync): required before log compaction. Returns
   * false when the checkpoint could not copy the whole WAL (another connection kept a reader on an older snapshot):
   * the state is then not known to be durable and the log must not be compacted.
   */
  makeDurable(): boolean {
    this.assertOpen();
    // A background hash's read snapshot would keep the checkpoint from copying the whole WAL: durability first.
    this.cancelHashJobs();
    this.commitGroup();
    const [result] = this.open.db.pragma('wal_checkpoint(FULL)') as { busy: number; log: number; checkpointed: number }[];
    return result.busy === 0 && result.checkpointed === result.log;
  }

  private applyInTransaction(entries: Entry[], confApply?: ConfApply): ApplyOutcome[] {
    const outcomes: ApplyOutcome[] = [];
    for (const entry of entries) {
      if (entry.index <= this.appliedIndex) {
        outcomes.push(this.replayedOutcome(entry));
        continue;
      }
      if (entry.index !== this.appliedIndex + 1) {
        throw new Error(`apply: entry ${entry.index} does not follow applied index ${this.appliedIndex}`);
      }
      outcomes.push(entry.type === 'conf' ? this.applyConf(entry, confApply) : this.applyNormal(entry));
      this.appliedIndex = entry.index;
      this.appliedTerm = entry.term;
      if (entry.index % EXPIRY_EVERY === 0) this.open.sessions.expireIdle(this.lastAt, this.open.versions.current);
    }
    this.open.statements.setApplied.run(this.appliedIndex, this.appliedTerm, this.lastAt);
    return outcomes;
  }

  /** An entry applied before (e.g. handed over again after a restart): nothing changes; report what it returned. */
  private replayedOutcome(entry: Entry): ApplyOutcome {
    if (entry.type === 'normal' && entry.data === '') return { index: entry.index, response: { ok: true, result: null }, events: [] };
    const decoded = entry.type === 'normal' ? decodeCommand(entry.data, this.supportedVersion) : null;
    const session = decoded?.ok ? sessionOf(decoded.value) : undefined;
    const stored = session ? this.open.sessions.response(session.clientId, session.seq) : null;
    const response = stored ?? refusal('INTERNAL', `entry ${entry.index} was applied before; its response is no longer known`);
    return { index: entry.index, ...(session ? { session } : {}), response, events: [] };
  }

  private applyConf(entry: Entry, confApply?: ConfApply): ApplyOutcome {
    const { outcome, conf } = applyConfEntry(this.open.statements, this.confState, entry, confApply);
    this.confState = conf;
    return outcome;
  }

  private applyNormal(entry: Entry): ApplyOutcome {
    if (entry.data === '') return { index: entry.index, response: { ok: true, result: null }, events: [] };
    const decoded = decodeCommand(entry.data, this.supportedVersion);
    const cluster = this.open.versions.current;
    if (!decoded.ok) {
      const withSession = decoded.session ? { session: decoded.session } : {};
      if (decoded.newer === undefined) return { index: entry.index, ...withSession, response: refusal('INVALID', decoded.message), events: [] };
      // A command of a version this replica does not know: refused like everywhere if the cluster does not run it yet;
      // otherwise this replica is too old to apply the log.
      if (decoded.newer > cluster) return { index: entry.index, ...withSession, response: unsupported(decoded.newer, cluster), events: [] };
      throw new VersionStopError(
        `this log holds a command from a newer Quorum (entry ${entry.index} needs version ${decoded.newer}; this replica supports ` +
          `${this.supportedVersion}): upgrade this replica`,
      );
    }
    const cmd = decoded.value;
    if (decoded.version > cluster) {
      return { index: entry.index, ...(sessionOf(cmd) ? { session: sessionOf(cmd) } : {}), response: unsupported(decoded.version, cluster), events: [] };
    }
    const at = clampClock(cmd.at, this.lastAt, cluster);
    this.lastAt = at;
    const session = sessionOf(cmd);
    const withSession = session ? { session } : {};

    let client: ClientRow | undefined;
    if (session) {
      const check = this.open.sessions.check(session, entry.index, cluster);
      if (check.status === 'answered') return { index: entry.index, session, response: check.response, events: [] };
      client = check.client;
    }

    const ctx = new ApplyContext(entry.index, at);
    let response: CommandResponse;
    try {
      const { commands, inSavepoint } = this.open;
      const result = CommandExecutor.needsSavepoint(cmd) ? inSavepoint(() => commands.execute(cmd, ctx)) : commands.execute(cmd, ctx);
      response = { ok: true, result };
    } catch (err) {
      if (err instanceof QuorumError) {
        response = refusal(err.code, err.message);
        ctx.events = [];
      } else if (err instanceof ReplicaStopError || isEnvironmentalError(err)) {
        throw err;
      } else {
        // A bug, but a deterministic one (every replica hits it at this entry): answer, keep going.
        return { index: entry.index, ...withSession, response: refusal('INTERNAL', `apply failed: ${(err as Error).message}`), events: [] };
      }
    }
    if (session) this.open.sessions.record(session, client, cmd, response, at, entry.index);
    return { index: entry.index, ...withSession, response, events: ctx.events };
  }

  // ---------------------------------------------------------------- reads (no log entry): see queries.ts

  /** The live account with this username (case-insensitive). */
  account(username: string): { id: number; username: string; passwordHash: string } | null {
    return this.open.queries.account(username);
  }

  /** The live account a login token hash belongs to. */
  accountByToken(tokenHash: string): AccountInfo | null {
    return this.open.queries.accountByToken(tokenHash);
  }

  unreadCount(accountId: number): number {
    return this.open.queries.unreadCount(accountId);
  }

  /** Live accounts matching a pattern, one keyset page (ChatQueries.accounts). */
  accounts(pattern: string, limit: number, pageToken: string | null): ReturnType<ChatQueries['accounts']> {
    return this.open.queries.accounts(pattern, limit, pageToken);
  }

  /** One page of a conversation, oldest first (ChatQueries.history). */
  history(accountId: number, withUsername: string, limit: number, before?: number | null): ChatMessage[] {
    return this.open.queries.history(accountId, withUsername, limit, before);
  }

  /** The account's groups, most recently active first, with members, admins and unread counts. */
  groups(accountId: number): GroupSummary[] {
    return this.open.queries.groups(accountId, (group, viewer) => this.open.commands.groupSummary(group, viewer));
  }

  /** A group's name and member ids, for one of its members (ChatQueries.groupMemberIds). */
  groupMemberIds(accountId: number, name: string): { name: string; memberIds: number[] } {
    return this.open.queries.groupMemberIds(accountId, name);
  }

  /** One page of a group's history, oldest first (ChatQueries.groupHistory). */
  groupHistory(accountId: number, name: string, limit: number, before?: number | null): ChatMessage[] {
    return this.open.queries.groupHistory(accountId, name, limit, before);
  }

  /** Full-text search over the messages the account may see, best first (ChatQueries.search). */
  search(accountId: number, query: string, limit: number): SearchHit[] {
    return this.open.queries.search(accountId, query, limit);
  }

  /** The account's conversations, most recent first, with unread counts and the last message. */
  conversations(accountId: number, limit: number): ConversationSummary[] {
    return this.open.queries.conversations(accountId, limit);
  }

  /** Every live message to or from the account with id > afterId, oldest first (resuming live delivery). */
  messagesAfter(accountId: number, afterId: number, limit: number): ChatMessage[] {
    return this.open.queries.messagesAfter(accountId, afterId, limit);
  }

  /** The applied clock: the clock of the last applied command, clamped (clampClock); 0 before any. */
  appliedClock(): number {
    return this.lastAt;
  }

  /** The highest id of a live message to or from the account (0 if none): where live delivery starts after login. */
  lastMessageId(accountId: number): number {
    return this.open.queries.lastMessageId(accountId);
  }

  /** The stored response of an applied (clientId, seq), or null (never applied, evicted or expired). */
  sessionResponse(clientId: string, seq: number): CommandResponse | null {
    return this.open.sessions.response(clientId, seq);
  }

  /**
   * stateHash of the state as applied now, computed in the background (state-hash-job.ts: a pinned read snapshot,
   * hashed between event-loop turns), so a large state never stalls the replica. One hashes at a time; a new one
   * pins its snapshot now and waits its turn (one apply batch can cross several checkpoints, as when a replica catches
   * up: skipping all but the first would leave it comparing at other indices than its peers), up to MAX_HASH_JOBS
   * pinned at once, beyond which it resolves null at once (that check is skipped), as does one cancelled by
   * makeDurable, restoreFrom or close.
   */
  stateHashLater(scope: HashScope = 'all'): Promise<string | null> {
    this.assertOpen();
    if (this.hashJobs.length >= MAX_HASH_JOBS) return Promise.resolve(null);
    this.commitGroup();
    const job = new StateHashJob(this.file, scope, this.open.versions.current, undefined, this.hashJobs.at(-1)?.result);
    this.hashJobs.push(job);
    const clear = () => {
      this.hashJobs = this.hashJobs.filter((j) => j !== job);
    };
    job.result.then(clear, clear);
    return job.result;
  }

  /** About how many rows stateHash reads now (the driver's StateMachine.stateHashRows): messages and accounts by id. */
  stateHashRows(): number {
    return this.open.statements.hashRows.get()!.rows;
  }

  /** A background hash is running or waiting (makeDurable would cancel it). */
  hashing(): boolean {
    return this.hashJobs.length > 0;
  }

  private cancelHashJobs(): void {
    const jobs = this.hashJobs;
    this.hashJobs = [];
    for (const job of jobs) job.cancel();
  }

  /** sha256 over the replicated tables (audit.ts), at once: for tests and convergence checks. */
  stateHash(scope: HashScope = 'all'): string {
    return stateHash(this.open.db, scope, this.open.versions.current);
  }

  /** Mismatches between the derived state and the messages (audit.ts); empty when consistent. */
  audit(): string[] {
    return auditState(this.open.db);
  }

  // ---------------------------------------------------------------- snapshots: see snapshot.ts

  /** Writes a consistent copy of the state to `file` and returns the metadata of the state it holds. */
  async snapshotTo(file: string): Promise<SnapshotMeta> {
    this.assertOpen();
    this.commitGroup();
    this.backups++;
    try {
      return await writeSnapshot(this.open.db, file);
    } finally {
      this.backups--;
    }
  }

  /** Installs a snapshot into a data folder that no instance has open (installSnapshot). */
  static restoreFrom(snapshotPath: string, dataDir: string): SnapshotMeta {
    return installSnapshot(snapshotPath, dataDir);
  }

  /** Instance form used by the driver: closes this state, installs the snapshot, reopens. */
  restoreFrom(snapshotPath: string): SnapshotMeta {
    this.assertOpen();
    this.cancelHashJobs();
    this.commitGroup();
    this.open.db.close();
    this.closed = true;
    try {
      return installSnapshot(snapshotPath, this.dataDir);
    } finally {
      this.load();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelHashJobs();
    // The file is closed even when the last commit fails (a full disk): the log replays what it lost.
    try {
      this.commitGroup();
    } finally {
      this.open.db.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`${this.file}: state machine is closed`);
  }
}
