/**
 * QuorumClient: the isomorphic client of a Quorum cluster (renderer, CLI, tests).
 *
 * - Connects to any known replica, follows the hello's leader and NOT_LEADER hints to the leader, learns the
 *   membership from `status`, and reconnects with exponential backoff and full jitter, rotating through replicas.
 * - Every write gets its session {clientId, seq, startIndex} when first sent, in call order; unanswered requests are
 *   resent after a reconnect as the very same frame, so the server's session table applies each write exactly once
 *   even across failover. A write is given up after writeGiveUpMs (well before the cluster could forget its session)
 *   with a clear error: "not sent" (UNAVAILABLE, nothing was sent) or "not confirmed" (TIMEOUT, outcome unknown).
 * - An app that keeps writes across a restart (the renderer's stored outbox) is handed each write's session before it
 *   goes out (KeptWrite.keepSession) and, after the restart, sends the write again in that very session, so the
 *   cluster applies it at most once.
 * - After a reconnect a logged-in client first sends `resume {token, after}` so live delivery continues with no
 *   gap; pushed messages are deduplicated by id and acknowledged with coalesced `delivered {upTo}`.
 */
import { ClientRequest, CLOSE_CODES, LIMITS, QuorumError, WRITE_OPS } from '../protocol/index.js';
import type {
  ChatMessage,
  ClientSession,
  ErrorCode,
  HelloFrame,
  LeaderHint,
  Op,
  ReplicaStatus,
  ResultMap,
  ServerFrame,
  WireError,
} from '../protocol/index.js';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';
import { Connection } from './connection.js';
import { DeliveryAcker } from './delivery.js';
import { Emitter, errorText } from './emitter.js';
import type { Listener } from './emitter.js';
import { PendingRequests } from './pending.js';
import type { PendingRequest } from './pending.js';
import { RecentIds } from './recent.js';
import { checkLogin, checkStatus } from './results.js';
import { newClientId, newSecret, Session } from './session.js';
import { fetchStatus } from './status-probe.js';
import type { ClientEvents, ClientState, KeptWrite, QuorumClientOptions, WebSocketConstructor } from './types.js';
import { clientLog, type ClientLog } from './log.js';
import { LivenessWatch } from './liveness.js';

/** Sized for failover on a LAN: elections take a few hundred milliseconds; an unreachable cluster is retried every ≤2 s. */
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2000 };
/** Errors worth retrying on the same replica: the outcome is unknown (TIMEOUT) or it asked us to slow down. */
const RETRY_SAME_REPLICA: ReadonlySet<ErrorCode> = new Set(['TIMEOUT', 'RATE_LIMITED', 'INTERNAL']);
/**
 * Errors that mean "this replica cannot serve you now": follow the leader hint, or try another replica after a
 * backoff (a replica without a leader answers NO_QUORUM; another side of a partition may have one).
 */
const RETRY_ELSEWHERE: ReadonlySet<ErrorCode> = new Set(['NOT_LEADER', 'UNAVAILABLE', 'NO_QUORUM', 'STATE_DIVERGED']);
/** How long a write is retried by default before the client gives up (QuorumClientOptions.writeGiveUpMs). */
export const WRITE_GIVE_UP_MS = 10 * 60 * 1000;
/** The most writeGiveUpMs may be: well inside the day after which the cluster forgets a session. */
const MAX_WRITE_GIVE_UP_MS = 12 * 60 * 60 * 1000;
/** INTERNAL says "may be retried", but a deterministic server bug must not loop forever. */
const MAX_INTERNAL_RETRIES = 3;
/** How often a new connection asks again for the watched presence when the replica refuses (a fresh leader). */
const PRESENCE_RETRIES = 8;
/** Consecutive leader hints followed at once before hops are delayed by the backoff (stale hints can cycle). */
const FREE_REDIRECTS = 3;
const WRITES: ReadonlySet<string> = new Set(WRITE_OPS);

/** A request's own fields (the frame without id, op and session). */
type Params<K extends Op> = Omit<Extract<ClientRequest, { op: K }>, 'id' | 'op' | 'session'>;

interface RequestOptions {
  /** Writes only: a session from an earlier run, or a way to keep the session given now (KeptWrite). */
  kept?: KeptWrite;
}

export class QuorumClient {
  private readonly WebSocketCtor: WebSocketConstructor;
  private readonly random: () => number;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly livenessMs: number;
  private readonly idleLivenessTicks: number;
  private liveness: LivenessWatch | null = null;
  private readonly backoff: BackoffOptions;
  private readonly giveUpAfterMs: number | undefined;
  private readonly writeGiveUpMs: number;
  private readonly urlOf: (address: string) => string;
  private readonly log: ClientLog;
  private readonly autoDelivered: boolean;

  private readonly emitter: Emitter<ClientEvents>;
  private readonly pending = new PendingRequests();
  private readonly session: Session;
  private readonly known: string[] = [];
  private readonly seen = new RecentIds();
  private readonly delivery: DeliveryAcker;

  private conn: Connection | null = null;
  private epoch = 0;
  /** The current connection has its hello and (when logged in) its resume answered: requests may flow. */
  private ready = false;
  private everConnected = false;
  private closed = false;
  private rotation = 0;
  /**
   * Replicas skipped by the rotation: those whose last connection never got a hello (refused, or a host that accepts
   * connections and says nothing: stopped, frozen) or fell silent (liveness.ts). Forgotten on their next hello, or all
   * at once when every known replica is in it.
   */
  private readonly unresponsive = new Set<string>();
  /** Consecutive connection failures (backoff exponent); reset by any response. */
  private failures = 0;
  /** Consecutive leader hops; reset by any response. */
  private redirects = 0;
  /** Where the next connection goes (a leader hint), instead of the rotation. */
  private nextAddress: string | null = null;
  private nextIsRedirect = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private probeAttempts = 0;
  /** Handlers of this connection's internal requests (resume, status), by request id. */
  private internal = new Map<number, (frame: Extract<ServerFrame, { type: 'response' }>) => void>();
  private internalTimers = new Map<number, ReturnType<typeof setTimeout>>();
  private resumeTimer: ReturnType<typeof setTimeout> | null = null;
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  /** The accounts the app watches the presence of (asked again on every new connection). */
  private watchedUsers: string[] | null = null;

  private token: string | null = null;
  private userName: string | null = null;
  private lastMessageId: number | undefined;
  private stateValue: ClientState = { status: 'connecting', replica: null, leader: null, readOnly: false };

  constructor(options: QuorumClientOptions) {
    if (!Array.isArray(options.servers) || options.servers.length === 0) {
      throw new QuorumError('INVALID', 'at least one server address (host:port) is needed');
    }
    const bad = options.servers.find((address) => typeof address !== 'string' || address.trim() === '');
    if (bad !== undefined) throw new QuorumError('INVALID', `a server address must be host:port, not ${JSON.stringify(bad)}`);
    if (typeof options.WebSocket !== 'function') throw new QuorumError('INVALID', 'a WebSocket constructor is needed');
    this.WebSocketCtor = options.WebSocket;
    this.random = options.random ?? Math.random;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.livenessMs = positiveOption('livenessMs', options.livenessMs, 1_500);
    this.idleLivenessTicks = Math.max(1, Math.round(positiveOption('idleLivenessMs', options.idleLivenessMs, 30_000) / this.livenessMs));
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.giveUpAfterMs = options.giveUpAfterMs;
    this.writeGiveUpMs = Math.min(options.writeGiveUpMs ?? WRITE_GIVE_UP_MS, MAX_WRITE_GIVE_UP_MS);
    this.urlOf = options.url ?? ((address) => `ws://${address}/client`);
    this.log = clientLog(options.log);
    this.autoDelivered = options.autoDelivered ?? true;
    this.lastMessageId = options.lastMessageId;
    this.emitter = new Emitter<ClientEvents>(this.log);
    const base = options.clientId;
    let sessions = 0;
    const nextId = base === undefined ? () => newClientId(this.random) : () => `${base.slice(0, LIMITS.clientIdMax - 12)}-${++sessions}`;
    this.session = new Session(base ?? nextId(), nextId);
    this.delivery = new DeliveryAcker((upTo) => this.request('delivered', { upTo }), 50, this.log);
    for (const address of options.servers) this.learnAddress(address);
    this.connectNext();
  }

  // ---- public API ----

  get state(): ClientState {
    return { ...this.stateValue };
  }
  get clientId(): string {
    return this.session.clientId;
  }
  /** The logged-in account, or null. */
  get user(): string | null {
    return this.userName;
  }
  /** Every replica address this client knows (configured, hinted or reported by status). */
  get servers(): string[] {
    return [...this.known];
  }

  /**
   * True while a reconnected connection receives the messages it missed while away (pushed before its resume is
   * answered): a 'message' event then is a replayed backlog, not a live arrival (the app does not notify for it).
   */
  get replaying(): boolean {
    return this.conn !== null && !this.ready && this.token !== null;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): () => void {
    return this.emitter.on(event, listener);
  }
  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.emitter.off(event, listener);
  }

  signup(username: string, password: string): Promise<ResultMap['signup']> {
    return this.request('signup', { username, password });
  }

  /** Logs in and keeps the token in memory for resume. `after`: push every newer message, then live ones. */
  async login(username: string, password: string, options: { after?: number } = {}): Promise<ResultMap['login']> {
    const after = options.after ?? this.lastMessageId;
    // The token is chosen here, so a retried login (same session seq) yields the same usable token.
    const token = newSecret();
    const result = checkLogin(await this.request('login', after === undefined ? { username, password, token } : { username, password, token, after }));
    if (this.userName !== null && this.userName !== result.user) this.forgetAccountState();
    this.token = result.token;
    this.userName = result.user;
    // A client that has seen nothing yet resumes after the newest message at login, so nothing that arrives while
    // it is disconnected is missed.
    if (this.lastMessageId === undefined && typeof result.lastMessageId === 'number') this.lastMessageId = result.lastMessageId;
    return result;
  }

  /**
   * Takes over an existing login (e.g. a page reloaded with the token it kept): binds this client to it and resumes
   * live delivery. Rejects with UNAUTHENTICATED when the login has ended.
   */
  async resumeLogin(token: string): Promise<ResultMap['resume']> {
    const result = (await this.request('resume', { token })) as ResultMap['resume'];
    if (this.userName !== null && this.userName !== result.user) this.forgetAccountState();
    this.token = token;
    this.userName = result.user;
    if (this.lastMessageId === undefined && typeof result.lastMessageId === 'number') this.lastMessageId = result.lastMessageId;
    return result;
  }

  async logout(): Promise<ResultMap['logout']> {
    const result = await this.request('logout', {});
    this.endLogin();
    return result;
  }

  accounts(options: { pattern?: string; limit?: number; pageToken?: string } = {}): Promise<ResultMap['accounts']> {
    return this.request('accounts', options);
  }

  /** Sends a message. `kept`: for an app that keeps the write across a restart (KeptWrite). */
  async send(to: string, text: string, kept?: KeptWrite): Promise<ResultMap['send']> {
    const result = await this.request('send', { to, text }, { kept });
    this.noteMessageId(result.id);
    return result;
  }

  /** Up to `limit` unread messages, oldest first; marks them read. */
  async read(limit?: number): Promise<ResultMap['read']> {
    const result = await this.request('read', limit === undefined ? {} : { limit });
    this.noteMessages(result.messages);
    return result;
  }

  async history(withUser: string, options: { limit?: number; before?: number } = {}): Promise<ResultMap['history']> {
    const result = await this.request('history', { with: withUser, ...options });
    this.noteMessages(result.messages);
    return result;
  }

  conversations(limit?: number): Promise<ResultMap['conversations']> {
    return this.request('conversations', limit === undefined ? {} : { limit });
  }

  markRead(withUser: string, upTo: number): Promise<ResultMap['markRead']> {
    return this.request('markRead', { with: withUser, upTo });
  }

  delivered(upTo: number): Promise<ResultMap['delivered']> {
    return this.request('delivered', { upTo });
  }

  delete(ids: number[]): Promise<ResultMap['delete']> {
    return this.request('delete', { ids });
  }

  /** Replaces the text of a message this account sent; everyone who sees it gets an 'edited' event. */
  edit(messageId: number, text: string): Promise<ResultMap['edit']> {
    return this.request('edit', { messageId, text });
  }

  // ---- groups (need cluster version 3; below it UNSUPPORTED_BY_CLUSTER names the replicas to update) ----

  /** Creates group `name` with the creator and `members`; the creator is its first admin. */
  createGroup(name: string, members: string[]): Promise<ResultMap['createGroup']> {
    return this.request('createGroup', { name, members });
  }

  /** Adds members (admins only). */
  addMembers(group: string, members: string[]): Promise<ResultMap['addMembers']> {
    return this.request('addMembers', { group, members });
  }

  /** Removes members (admins only; only the creator may remove the creator). */
  removeMembers(group: string, members: string[]): Promise<ResultMap['removeMembers']> {
    return this.request('removeMembers', { group, members });
  }

  leaveGroup(group: string): Promise<ResultMap['leaveGroup']> {
    return this.request('leaveGroup', { group });
  }

  /** Renames the group (admins only; names unique ignoring case). */
  renameGroup(group: string, name: string): Promise<ResultMap['renameGroup']> {
    return this.request('renameGroup', { group, name });
  }

  /** Makes a member an admin, or no longer (admins only; the creator stays one). */
  setAdmin(group: string, member: string, admin: boolean): Promise<ResultMap['setAdmin']> {
    return this.request('setAdmin', { group, member, admin });
  }

  /**
   * Sends to every member of the group: pushed live as a 'message' event with `group` set. `kept`: for an app that
   * keeps the write across a restart (KeptWrite), as with send.
   */
  async sendToGroup(group: string, text: string, kept?: KeptWrite): Promise<ResultMap['groupSend']> {
    const result = await this.request('groupSend', { group, text }, { kept });
    this.noteMessageId(result.id);
    return result;
  }

  markGroupRead(group: string, upTo: number): Promise<ResultMap['markGroupRead']> {
    return this.request('markGroupRead', { group, upTo });
  }

  /** The account's groups, most recently active first, with members, admins and unread counts. */
  groups(): Promise<ResultMap['groups']> {
    return this.request('groups', {});
  }

  /** One page of a group's history (messages with readBy, and membership events), oldest first. */
  async groupHistory(group: string, options: { limit?: number; before?: number } = {}): Promise<ResultMap['groupHistory']> {
    const result = await this.request('groupHistory', { group, ...options });
    this.noteMessages(result.messages);
    return result;
  }

  // ---- presence and typing (ephemeral: the serving replica's connections, not the log) ----

  /**
   * Who of `users` is online or when last seen; their changes then arrive as 'presence' events (also re-sent after a
   * reconnect or failover). Each call replaces what was watched.
   */
  async presence(users: string[]): Promise<ResultMap['presence']> {
    const result = await this.request('presence', { users });
    this.watchedUsers = [...users];
    return result;
  }

  /** Tells one account (`{to}`) or a group's members (`{group}`) that this account is typing: call every ~3 s while typing. */
  typing(target: { to: string } | { group: string }): Promise<ResultMap['typing']> {
    return this.request('typing', target);
  }

  /** Full-text search over the messages this account may see, best matches first, with where each matched. */
  search(query: string, options: { limit?: number } = {}): Promise<ResultMap['search']> {
    return this.request('search', { query, ...options });
  }

  async deleteAccount(password: string): Promise<ResultMap['deleteAccount']> {
    const result = await this.request('deleteAccount', { password });
    this.endLogin();
    return result;
  }

  /** The view of the cluster of the replica this client is connected to. */
  async status(): Promise<ReplicaStatus> {
    return checkStatus(await this.request('status', {}));
  }

  /** Asks one specific replica for its status over a separate connection; the main connection is untouched. */
  statusOf(address: string, options: { timeoutMs?: number } = {}): Promise<ReplicaStatus> {
    return fetchStatus(address, {
      WebSocket: this.WebSocketCtor,
      url: this.urlOf(address),
      connectTimeoutMs: options.timeoutMs ?? this.connectTimeoutMs,
      requestTimeoutMs: options.timeoutMs ?? this.requestTimeoutMs,
      log: this.log,
    });
  }

  /** Stops reconnecting, closes the connection and rejects every unanswered call. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.delivery.stop();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.reconnectTimer = null;
    this.probeTimer = null;
    this.stopLiveness();
    const conn = this.conn;
    this.conn = null;
    this.clearInternal();
    conn?.close('client closed');
    this.pending.rejectAll(new QuorumError('UNAVAILABLE', 'the client was closed'));
    this.setState({ status: 'closed', replica: null });
    this.emitter.removeAll();
  }

  // ---- requests ----

  private request<K extends Op>(op: K, params: Params<K>, options: RequestOptions = {}): Promise<ResultMap[K]> {
    if (this.closed) return Promise.reject(new QuorumError('UNAVAILABLE', 'the client was closed'));
    const id = this.pending.allocateId();
    const frame: Record<string, unknown> & { id: number; op: Op } = { id, op };
    for (const [key, value] of Object.entries(params)) if (value !== undefined) frame[key] = value;
    const isWrite = WRITES.has(op);
    const carried = isWrite ? options.kept?.session : undefined;
    // A write takes its session when it is first sent (transmit): validate (and measure) it with the longest one,
    // or with the one it carries from an earlier run.
    if (isWrite) frame.session = carried ?? { clientId: 'x'.repeat(LIMITS.clientIdMax), seq: Number.MAX_SAFE_INTEGER, startIndex: Number.MAX_SAFE_INTEGER };
    const checked = ClientRequest.safeParse(frame);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      return Promise.reject(new QuorumError('INVALID', `${op}: ${where}${issue?.message ?? 'invalid request'}`));
    }
    if (utf8Length(JSON.stringify(frame)) > LIMITS.maxClientFrameBytes) {
      return Promise.reject(new QuorumError('TOO_LARGE', `${op}: the request is larger than ${LIMITS.maxClientFrameBytes} bytes`));
    }
    if (isWrite && !carried) delete frame.session;
    const limit = isWrite ? Math.min(this.writeGiveUpMs, this.giveUpAfterMs ?? Infinity) : this.giveUpAfterMs;

    return new Promise<ResultMap[K]>((resolve, reject) => {
      const createdAt = Date.now();
      const entry: PendingRequest = {
        id,
        op,
        frame,
        createdAt,
        sentOn: null,
        attempts: 0,
        transmissions: 0,
        // A write from an earlier run may have been applied then.
        inDoubt: carried !== undefined,
        giveUpAt: limit === undefined ? null : createdAt + limit,
        keepSession: (isWrite && !carried && options.kept?.keepSession) || null,
        keptSession: null,
        keeping: false,
        lastError: null,
        timer: null,
        giveUpTimer: null,
        resolve: resolve as (result: unknown) => void,
        reject,
      };
      if (limit !== undefined) entry.giveUpTimer = setTimeout(() => this.giveUp(entry), limit);
      this.pending.add(entry);
      this.transmit(entry);
    });
  }

  /** Rejects the call because its time is up (giveUpAfterMs, or writeGiveUpMs for a write). */
  private giveUp(entry: PendingRequest): void {
    const gone = this.pending.take(entry.id);
    if (gone) gone.reject(this.giveUpError(gone, gone.giveUpAt! - gone.createdAt));
  }

  private giveUpError(entry: PendingRequest, limitMs: number): QuorumError {
    const last = entry.lastError;
    if (WRITES.has(entry.op)) {
      const within = `within ${formatDuration(limitMs)}`;
      const why = last?.message ?? this.stateValue.lastError ?? 'no replica answered';
      if (entry.inDoubt) {
        return new QuorumError('TIMEOUT', `not confirmed: ${entry.op}: the cluster did not confirm it ${within}; it may or may not have been applied (${why})`);
      }
      // Every transmission, if any, was refused with a code that says it changed nothing.
      const code = last && last.code !== 'NOT_LEADER' ? last.code : 'UNAVAILABLE';
      return new QuorumError(code, `not sent: ${entry.op}: no leader took it ${within}; nothing was changed (${why})`, last?.leader ?? null);
    }
    if (last && last.code !== 'NOT_LEADER') {
      return new QuorumError(last.code, `${last.message} (gave up after ${limitMs} ms)`, last.leader);
    }
    const why = this.stateValue.lastError ?? (last ? last.message : 'no replica answered');
    return new QuorumError('UNAVAILABLE', `${entry.op}: no leader answered within ${limitMs} ms (${why})`);
  }

  /** Sends the entry on the current connection if requests may flow; otherwise it waits for the next flush. */
  private transmit(entry: PendingRequest): void {
    const conn = this.conn;
    if (!conn || !this.ready || entry.sentOn === conn.epoch || entry.timer || entry.keeping) return;
    // Timers stop while a machine sleeps: a call whose time ran out meanwhile is given up, not sent.
    if (entry.giveUpAt !== null && Date.now() >= entry.giveUpAt) return this.giveUp(entry);
    if (WRITES.has(entry.op) && entry.frame.session === undefined) entry.frame.session = this.session.next(conn.hello?.appliedIndex);
    const session = entry.frame.session as ClientSession | undefined;
    if (entry.keepSession && session && entry.keptSession !== session) {
      // The app stores the session first, so a restart can send this very write again instead of a new one.
      const keep = entry.keepSession;
      entry.keptSession = session;
      entry.keeping = true;
      const resume = () => {
        entry.keeping = false;
        if (this.pending.get(entry.id) === entry) this.transmit(entry);
      };
      Promise.resolve(session).then(keep).then(resume, (err: unknown) => {
        this.log.warn({ op: entry.op, err: errorText(err) }, 'the app could not keep a write\'s session; sending it anyway');
        resume();
      });
      return;
    }
    if (!conn.send(entry.frame)) return;
    entry.transmissions += 1;
    entry.sentOn = conn.epoch;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (this.conn === conn) conn.close(`no response from ${conn.address} within ${this.requestTimeoutMs} ms`);
    }, this.requestTimeoutMs);
  }

  private flush(): void {
    for (const entry of this.pending.list()) this.transmit(entry);
  }

  private onResponse(conn: Connection, frame: Extract<ServerFrame, { type: 'response' }>): void {
    const id = typeof frame.id === 'number' ? frame.id : Number.NaN;
    const internal = this.internal.get(id);
    if (internal) {
      this.internal.delete(id);
      const timer = this.internalTimers.get(id);
      if (timer) clearTimeout(timer);
      this.internalTimers.delete(id);
      internal(frame);
      return;
    }
    const entry = this.pending.get(frame.id);
    if (!entry || entry.sentOn !== conn.epoch) {
      this.log.debug({ id: frame.id }, 'client ignored a response to no pending request');
      return;
    }
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = null;
    if (frame.ok) {
      this.failures = 0;
      this.redirects = 0;
      this.pending.take(entry.id);
      if (WRITES.has(entry.op)) this.setReadOnly(false);
      entry.resolve(frame.result);
      return;
    }
    const error = toQuorumError(frame.error);
    entry.lastError = error;
    entry.sentOn = null;
    if (error.code === 'TIMEOUT' || error.code === 'INTERNAL') entry.inDoubt = true;
    if (error.code === 'SESSION_EXPIRED') {
      const expired = (entry.frame.session as ClientSession).clientId;
      this.session.expired(expired);
      if (entry.transmissions === 1 && !entry.inDoubt) {
        // Its only transmission was refused at apply, so it was not applied: it goes again in a new session. (A write
        // carried from an earlier run may have been applied then: its outcome stays unknown.)
        this.log.info({ op: entry.op, clientId: expired }, 'client session expired; sending the write in a new session');
        delete entry.frame.session;
        this.transmit(entry);
        return;
      }
    }
    // A TIMEOUT naming another leader: leadership moved while the write was in flight; resend it there.
    const movedOn = error.code === 'TIMEOUT' && error.leader && error.leader.id !== conn.hello?.replica.id;
    if (RETRY_ELSEWHERE.has(error.code) || movedOn) {
      if (error.code === 'NO_QUORUM') this.setReadOnly(true, error.message);
      this.leaveReplica(conn, error);
      return;
    }
    // A refusal that names its wait (the login throttle) is a person's to see, not the library's to retry.
    const throttled = error.retryAfterMs !== undefined;
    if (RETRY_SAME_REPLICA.has(error.code) && !throttled && !(error.code === 'INTERNAL' && entry.attempts >= MAX_INTERNAL_RETRIES)) {
      const delay = backoffDelay(entry.attempts, this.backoff, this.random);
      entry.attempts += 1;
      this.log.debug({ op: entry.op, code: error.code, delay }, 'client retrying request');
      entry.timer = setTimeout(() => {
        entry.timer = null;
        this.transmit(entry);
      }, delay);
      return;
    }
    this.failures = 0;
    this.redirects = 0;
    this.pending.take(entry.id);
    entry.reject(error);
  }

  /** NOT_LEADER, UNAVAILABLE, NO_QUORUM or STATE_DIVERGED: go to the hinted leader, or after a backoff to another replica. */
  private leaveReplica(conn: Connection, error: QuorumError): void {
    if (this.conn !== conn) return;
    const hint = error.leader;
    if (hint) this.setState({ leader: hint });
    if (hint && hint.address && hint.address !== conn.address && hint.id !== conn.hello?.replica.id) {
      this.learnAddress(hint.address);
      this.nextAddress = hint.address;
      this.nextIsRedirect = true;
    }
    conn.close(`${error.code} from ${conn.address}: ${error.message}`);
  }

  // ---- connections ----

  private connectNext(): void {
    this.reconnectTimer = null;
    if (this.closed) return;
    const address = this.nextAddress ?? this.nextInRotation();
    this.nextAddress = null;
    this.nextIsRedirect = false;
    this.epoch += 1;
    const conn = new Connection(
      this.epoch,
      address,
      {
        onHello: (c, hello) => this.onHello(c, hello),
        onFrame: (c, frame) => this.onFrame(c, frame),
        onClose: (c, reason) => this.onClose(c, reason),
      },
      this.log,
    );
    this.conn = conn;
    this.ready = false;
    this.setState({ status: this.everConnected ? 'reconnecting' : 'connecting', replica: null });
    this.log.debug({ address, epoch: this.epoch }, 'client connecting');
    conn.open(this.WebSocketCtor, this.urlOf(address), this.connectTimeoutMs);
  }

  /** The next known replica in turn, skipping unresponsive ones while another remains. */
  private nextInRotation(): string {
    if (this.known.every((address) => this.unresponsive.has(address))) this.unresponsive.clear();
    for (;;) {
      const address = this.known[this.rotation++ % this.known.length];
      if (!this.unresponsive.has(address)) return address;
    }
  }

  private onHello(conn: Connection, hello: HelloFrame): void {
    if (conn !== this.conn) return;
    this.unresponsive.delete(conn.address);
    // A replica answered: the cluster is reachable, so a failover's redirects (to a leader that just died, until the
    // election ends) retry at the initial pace instead of backing off ever longer.
    this.failures = 0;
    this.learnAddress(hello.replica.address);
    const leader = hello.leader;
    if (leader) this.learnAddress(leader.address);
    this.setState({ leader: leader ?? this.stateValue.leader });
    if (leader && leader.id !== hello.replica.id && leader.address !== conn.address) {
      // Talk to the leader directly: a follower would answer NOT_LEADER to almost everything.
      this.nextAddress = leader.address;
      this.nextIsRedirect = true;
      conn.close(`${hello.replica.id} is not the leader; going to ${leader.id} at ${leader.address}`);
      return;
    }
    this.everConnected = true;
    this.watchLiveness(conn);
    this.setState({
      status: 'connected',
      replica: hello.replica,
      lastError: undefined,
      ...(hello.clusterVersion === undefined ? {} : { clusterVersion: hello.clusterVersion }),
    });
    // resume goes first: nothing else may run on this connection before it is bound to the login again.
    if (this.token) this.sendResume(conn);
    this.sendMembershipStatus(conn);
    if (!this.token) this.becomeReady();
  }

  private becomeReady(): void {
    this.ready = true;
    this.flush();
    if (this.stateValue.readOnly) this.scheduleProbe();
  }

  private onFrame(conn: Connection, frame: Exclude<ServerFrame, HelloFrame>): void {
    if (conn !== this.conn) return;
    switch (frame.type) {
      case 'response':
        this.onResponse(conn, frame);
        return;
      case 'push':
        this.onPush(frame);
        return;
      case 'error':
        this.log.warn({ address: conn.address, code: frame.error.code, message: frame.error.message }, 'server reported a frame error');
        return;
    }
  }

  private onClose(conn: Connection, reason: string): void {
    if (conn !== this.conn) return;
    this.conn = null;
    this.ready = false;
    this.stopLiveness();
    if (!conn.hello) this.unresponsive.add(conn.address);
    this.clearInternal();
    for (const entry of this.pending.list()) {
      if (entry.sentOn !== null) {
        // Its answer is lost with the connection: resend the identical frame on the next one.
        if (entry.timer) clearTimeout(entry.timer);
        entry.timer = null;
        entry.sentOn = null;
        entry.inDoubt = true;
      }
    }
    if (this.closed) return;
    // The replica stopped leading and sent its logged-in clients on (CLOSE_CODES.leaderMoved): not a failure; the
    // next replica's hello names the leader.
    if (conn.closeCode === CLOSE_CODES.leaderMoved) this.nextIsRedirect = true;
    let delay: number;
    if (this.nextIsRedirect && this.redirects < FREE_REDIRECTS) {
      this.redirects += 1;
      delay = 0;
    } else {
      delay = backoffDelay(this.failures + this.redirects, this.backoff, this.random);
      this.failures += 1;
    }
    this.log.info({ address: conn.address, reason, retryInMs: delay }, 'client connection ended');
    this.setState({ status: this.everConnected ? 'reconnecting' : 'connecting', replica: null, lastError: reason });
    this.reconnectTimer = setTimeout(() => this.connectNext(), delay);
  }

  /** Leaves `conn` when its replica falls silent (liveness.ts); the watch ends with the connection. */
  private watchLiveness(conn: Connection): void {
    this.stopLiveness();
    this.liveness = new LivenessWatch({
      tickMs: this.livenessMs,
      idleTicks: this.idleLivenessTicks,
      heard: () => conn.takeHeard(),
      waiting: () => this.internal.size > 0 || this.pending.list().some((entry) => entry.sentOn === conn.epoch),
      probe: () => this.sendMembershipStatus(conn),
      dead: (silentMs) => {
        if (conn !== this.conn) return;
        this.unresponsive.add(conn.address);
        conn.close(`nothing from ${conn.address} for ${silentMs} ms (frozen or cut off?)`);
      },
    });
    this.liveness.start();
  }

  private stopLiveness(): void {
    this.liveness?.stop();
    this.liveness = null;
  }

  private clearInternal(): void {
    for (const timer of this.internalTimers.values()) clearTimeout(timer);
    this.internalTimers.clear();
    this.internal.clear();
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceTimer = null;
  }

  /** Sends a request that belongs to this connection only (never resent elsewhere). */
  private sendInternal(
    conn: Connection,
    frame: Record<string, unknown>,
    onResponse: (frame: Extract<ServerFrame, { type: 'response' }>) => void,
  ): void {
    const id = this.pending.allocateId();
    if (!conn.send({ id, ...frame })) return;
    this.internal.set(id, onResponse);
    this.internalTimers.set(
      id,
      setTimeout(() => {
        this.internalTimers.delete(id);
        if (this.conn === conn) conn.close(`no response from ${conn.address} within ${this.requestTimeoutMs} ms`);
      }, this.requestTimeoutMs),
    );
  }

  private sendResume(conn: Connection, attempt = 0): void {
    const token = this.token;
    if (!token) {
      this.becomeReady();
      return;
    }
    const frame: Record<string, unknown> = { op: 'resume', token };
    if (this.lastMessageId !== undefined) frame.after = this.lastMessageId;
    this.sendInternal(conn, frame, (response) => {
      if (conn !== this.conn) return;
      if (response.ok) {
        this.failures = 0;
        this.redirects = 0;
        this.becomeReady();
        this.rewatchPresence(conn);
        return;
      }
      const error = toQuorumError(response.error);
      if (RETRY_ELSEWHERE.has(error.code)) {
        if (error.code === 'NO_QUORUM') this.setReadOnly(true, error.message);
        this.leaveReplica(conn, error);
      } else if (RETRY_SAME_REPLICA.has(error.code) && attempt < MAX_INTERNAL_RETRIES) {
        this.resumeTimer = setTimeout(() => {
          this.resumeTimer = null;
          if (conn === this.conn) this.sendResume(conn, attempt + 1);
        }, backoffDelay(attempt, this.backoff, this.random));
      } else {
        // The login is gone (expired, logged out elsewhere, account deleted): the app must log in again.
        this.log.info({ code: error.code }, 'resume refused; the session ended');
        this.token = null;
        this.emitter.emit('sessionEnded', { reason: `${error.code}: ${error.message}` });
        this.becomeReady();
      }
    });
  }

  /**
   * Presence lives on the serving replica's connections: a new connection (after a reconnect or failover) asks again
   * for what the app watched, and reports it as 'presence' events (the new leader's view).
   */
  private rewatchPresence(conn: Connection, attempt = 0): void {
    if (!this.watchedUsers) return;
    this.sendInternal(conn, { op: 'presence', users: this.watchedUsers }, (response) => {
      if (conn !== this.conn) return;
      if (!response.ok) {
        // Presence lives on the leader's connections only: a replica that no longer leads sends the client on to the
        // leader (which is asked again there); another refusal is asked again here. Dropping it would show everyone
        // offline until the next reconnect.
        const error = toQuorumError(response.error);
        if (RETRY_ELSEWHERE.has(error.code)) {
          if (error.code === 'NO_QUORUM') this.setReadOnly(true, error.message);
          this.leaveReplica(conn, error);
        } else if (attempt < PRESENCE_RETRIES) {
          this.presenceTimer = setTimeout(() => {
            this.presenceTimer = null;
            if (conn === this.conn) this.rewatchPresence(conn, attempt + 1);
          }, backoffDelay(attempt, this.backoff, this.random));
        } else {
          this.log.warn({ code: error.code, asked: attempt + 1 }, 'client stopped asking for the watched presence on this connection; it is asked again on the next one');
        }
        return;
      }
      const entries = (response.result as ResultMap['presence'] | null)?.presence;
      if (Array.isArray(entries)) for (const e of entries) this.emitter.emit('presence', e);
    });
  }

  private sendMembershipStatus(conn: Connection): void {
    this.sendInternal(conn, { op: 'status' }, (response) => {
      if (conn !== this.conn || !response.ok) return;
      let status: ReplicaStatus;
      try {
        status = checkStatus(response.result);
      } catch (err) {
        this.log.warn({ err: errorText(err) }, 'client ignored a malformed status');
        return;
      }
      for (const member of status.members) this.learnAddress(member.address);
      if (status.leader) this.setState({ leader: status.leader });
      if (status.clusterVersion !== undefined && status.clusterVersion !== this.stateValue.clusterVersion) this.setState({ clusterVersion: status.clusterVersion });
      if (status.quorum && this.stateValue.readOnly) this.setReadOnly(false);
      this.emitter.emit('members', status.members);
    });
  }

  /** While read-only, asks the replica now and then whether a quorum is back, so the UI can say so. */
  private scheduleProbe(): void {
    if (this.probeTimer || this.closed) return;
    const delay = Math.max(backoffDelay(this.probeAttempts, this.backoff, this.random), this.backoff.initialMs);
    this.probeAttempts += 1;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (!this.stateValue.readOnly) return;
      const conn = this.conn;
      if (conn && this.ready) this.sendMembershipStatus(conn);
      this.scheduleProbe();
    }, delay);
  }

  // ---- pushes ----

  private onPush(frame: Extract<ServerFrame, { type: 'push' }>): void {
    switch (frame.event) {
      case 'message': {
        const message = frame.message as ChatMessage;
        if (!this.seen.add(message.id)) return;
        this.noteMessageId(message.id);
        this.emitter.emit('message', message);
        if (this.autoDelivered && this.token && message.to === this.userName) this.delivery.note(message.id);
        return;
      }
      case 'deleted':
        this.emitter.emit('deleted', frame.ids);
        return;
      case 'edited':
        this.emitter.emit('edited', frame.message as ChatMessage);
        return;
      case 'presence':
        this.emitter.emit('presence', { user: frame.user, online: frame.online, lastSeenAt: frame.lastSeenAt });
        return;
      case 'typing':
        this.emitter.emit('typing', frame.group === undefined ? { from: frame.from } : { from: frame.from, group: frame.group });
        return;
      case 'receipt':
        this.emitter.emit('receipt', { ids: frame.ids, kind: frame.kind, at: frame.at });
        return;
      case 'groupRead':
        this.emitter.emit('groupRead', { group: frame.group, messages: frame.messages });
        return;
      case 'sessionEnded':
        this.token = null;
        this.emitter.emit('sessionEnded', { reason: frame.reason });
        return;
    }
  }

  // ---- bookkeeping ----

  private noteMessageId(id: number): void {
    if (this.lastMessageId === undefined || id > this.lastMessageId) this.lastMessageId = id;
  }

  private noteMessages(messages: ChatMessage[]): void {
    for (const message of messages) {
      this.seen.add(message.id);
      this.noteMessageId(message.id);
    }
  }

  private endLogin(): void {
    this.token = null;
    this.forgetAccountState();
    this.userName = null;
  }

  private forgetAccountState(): void {
    this.lastMessageId = undefined;
    this.seen.clear();
    this.delivery.reset();
  }

  private learnAddress(address: string): void {
    // A member whose address is not known yet is listed with '' (a replica formed without one).
    if (address.length > 0 && !this.known.includes(address)) this.known.push(address);
  }

  private setReadOnly(readOnly: boolean, why?: string): void {
    if (this.stateValue.readOnly === readOnly) return;
    this.probeAttempts = 0;
    this.setState(readOnly ? { readOnly, lastError: why ? `NO_QUORUM: ${why}` : this.stateValue.lastError } : { readOnly });
    if (readOnly && this.ready) this.scheduleProbe();
  }

  private setState(change: Partial<ClientState>): void {
    const next: ClientState = { ...this.stateValue, ...change };
    if ('lastError' in change && change.lastError === undefined) delete next.lastError;
    const prev = this.stateValue;
    if (
      prev.status === next.status &&
      prev.readOnly === next.readOnly &&
      prev.lastError === next.lastError &&
      prev.clusterVersion === next.clusterVersion &&
      sameHint(prev.replica, next.replica) &&
      sameHint(prev.leader, next.leader)
    ) {
      return;
    }
    this.stateValue = next;
    this.emitter.emit('state', { ...next });
  }
}

/** An optional duration option: `fallback` when absent, INVALID unless a positive finite number of milliseconds. */
function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new QuorumError('INVALID', `${name} must be a positive number of milliseconds, not ${String(value)}`);
  return value;
}

function toQuorumError(error: WireError): QuorumError {
  return new QuorumError(error.code, error.message, error.leader ?? null, error.retryAfterMs);
}

function sameHint(a: LeaderHint | null, b: LeaderHint | null): boolean {
  return a === b || (a !== null && b !== null && a.id === b.id && a.address === b.address);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** "300 ms", "90 s", "10 min", "2 h" for error messages. */
function formatDuration(ms: number): string {
  if (ms < 10_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}
