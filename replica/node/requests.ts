/**
 * Turns validated client requests into work: writes become commands proposed to Raft (with the leader's clock and
 * the client session), reads wait for a ReadIndex barrier and are served from the applied chat state.
 * Only the leader serves; every other replica answers NOT_LEADER with the leader's address.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClientConn, ClientHandler } from '../net/client-endpoint.js';
import { PROTOCOL_VERSION, type ClientRequest, type ClientSession, type HelloFrame, type ReplicaStatus } from '../protocol/client.js';
import { QuorumError, type LeaderHint } from '../protocol/errors.js';
import { hashPassword, verifyPassword } from '../chat/passwords.js';
import { adminMac, macEqual } from '../net/peer-auth.js';
import { adminScope, type AdminOp } from '../protocol/admin.js';
import { MAX_CLOCK_STEP_MS, type ChatStateMachine, type ApplyOutcome } from '../chat/state-machine.js';
import { encodeCommand, type Command } from '../chat/commands.js';
import { requiredVersion, unsupportedReason } from '../chat/versions.js';
import type { Driver } from './driver.js';
import type { Presence } from './presence.js';
import type { NodeMetrics } from './metrics.js';
import { throttledPasswordCheck, type LoginThrottle } from '../security/login-throttle.js';

export interface RequestContext {
  id: string;
  address: string;
  log: Logger;
  driver: Driver<ApplyOutcome>;
  sm: () => ChatStateMachine;
  metrics: NodeMetrics;
  leaderHint: () => LeaderHint | null;
  status: () => ReplicaStatus;
  /** The clock for commands: this replica's, corrected by its peers' (PeerClocks), never going back. */
  now: () => number;
  /** Sends everything newer than `after` to the connection, then it receives live pushes. */
  pushBacklog: (conn: ClientConn, accountId: number, after: number) => void;
  /** False while the replica is stopping or removed. */
  serving: () => boolean;
  /** The cluster secret (null: cluster administration is refused). */
  secret: Buffer | null;
  /** Older secrets whose admin proofs are still accepted during a rotation. */
  previousSecrets?: readonly Buffer[];
  /** Slows password guessing (login, deleteAccount); see replica/security/login-throttle.ts. */
  loginThrottle: LoginThrottle;
  /** Hands leadership over (to the given voter or the most up-to-date one); resolves with the new leader's id. */
  transfer: (to?: string) => Promise<string>;
  /** Who is online, and typing notices (ephemeral: the serving replica's connections). */
  presence: Presence;
  /** True while this replica's state differs from the majority's (state check): it refuses client requests. */
  diverged: () => boolean;
}

function tokenHashOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The session key of a logged-in client: its clientId bound to its login (43 base64url characters). */
function sessionKey(clientId: string, tokenHash: string): string {
  return createHash('sha256').update(`${clientId}|${tokenHash}`).digest('base64url');
}

/** The last session key computed per connection (a connection writes with one clientId and login at a time). */
const sessionKeys = new WeakMap<ClientConn, { clientId: string; tokenHash: string; key: string }>();
function sessionKeyOf(conn: ClientConn, clientId: string, tokenHash: string): string {
  const k = sessionKeys.get(conn);
  if (k && k.clientId === clientId && k.tokenHash === tokenHash) return k.key;
  const key = sessionKey(clientId, tokenHash);
  sessionKeys.set(conn, { clientId, tokenHash, key });
  return key;
}

// A fixed hash to verify against when the account does not exist, so timing does not reveal which usernames exist.
let dummyHash: Promise<string> | null = null;

/** Most `clock` commands proposed ahead of one write (a week of steps); a later write proposes the rest. */
const MAX_CLOCK_STEPS_PER_WRITE = 168;

/** Cluster administration, which a diverged replica still serves (its repair goes through it). */
const ADMIN_OPS: ReadonlySet<string> = new Set(['clusterChange', 'transfer', 'resync']);

export class RequestHandler implements ClientHandler {
  /** The clock the `clock` commands proposed so far lead to (0: none pending). */
  private clockProposedTo = 0;

  constructor(private readonly replica: RequestContext) {}

  hello(conn: ClientConn): HelloFrame {
    return {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      replica: { id: this.replica.id, address: this.replica.address },
      leader: this.replica.leaderHint(),
      appliedIndex: this.replica.sm().applied().index,
      nonce: conn.nonce,
      clusterVersion: this.replica.sm().clusterVersion(),
    };
  }

  onClose(conn: ClientConn): void {
    this.replica.presence.unwatch(conn);
  }

  async handle(conn: ClientConn, req: ClientRequest): Promise<unknown> {
    try {
      const result = await this.dispatch(conn, req);
      this.replica.metrics.requests.inc({ op: req.op, outcome: 'ok' });
      return result;
    } catch (err) {
      this.replica.metrics.requests.inc({ op: req.op, outcome: err instanceof QuorumError ? err.code : 'INTERNAL' });
      throw err;
    }
  }

  private async dispatch(conn: ClientConn, req: ClientRequest): Promise<unknown> {
    if (req.op === 'status') return this.replica.status();
    if (req.op === 'admin') {
      if (!this.replica.secret) throw new QuorumError('FORBIDDEN', 'this replica has no cluster secret, so it accepts no cluster administration');
      const secrets = [this.replica.secret, ...(this.replica.previousSecrets ?? [])];
      if (!secrets.some((secret) => macEqual(req.mac, adminMac(secret, conn.nonce, req.scope)))) throw new QuorumError('FORBIDDEN', 'wrong cluster secret');
      conn.adminScope = req.scope;
      return { admin: true };
    }
    // An admin proof is checked (and consumed) first, wherever the request lands.
    if (req.op === 'clusterChange') this.admin(conn, { op: 'clusterChange', change: req.change });
    if (req.op === 'transfer') this.admin(conn, { op: 'transfer', to: req.to });
    if (req.op === 'resync') this.admin(conn, { op: 'resync', replica: req.replica });
    if (!this.replica.serving()) throw new QuorumError('UNAVAILABLE', 'this replica is not serving (stopping or removed from the cluster); use another replica');
    // A diverged replica answers status and cluster administration (transfer, resync repair it) and nothing else: its
    // state may be wrong. It keeps taking part in Raft.
    if (!ADMIN_OPS.has(req.op) && this.replica.diverged()) {
      throw new QuorumError('STATE_DIVERGED', `this replica's state differs from the cluster's; use another replica (an operator runs \`npm run cluster -- resync ${this.replica.id}\`)`);
    }
    if (!this.replica.driver.isLeader) throw this.notLeader();

    // Exactly-once is enforced where it is safe, at apply: a retried (clientId, seq) goes through the log again and
    // the state machine returns the first response without applying anything. (Answering retries from the stored
    // response before checking credentials would hand one client's answers to another.)

    switch (req.op) {
      case 'signup': {
        const passwordHash = await hashPassword(req.password);
        return this.write(conn, req, { kind: 'signup', username: req.username, passwordHash });
      }
      case 'login': {
        const acc = await throttledPasswordCheck(this.replica.loginThrottle, req.username, conn.remote, async () => {
          await this.replica.driver.readBarrier();
          const found = this.replica.sm().account(req.username);
          if (!found) {
            dummyHash ??= hashPassword('not-a-real-password');
            await verifyPassword(req.password, await dummyHash);
            return null;
          }
          return (await verifyPassword(req.password, found.passwordHash)) ? found : null;
        });
        if (!acc) throw new QuorumError('BAD_CREDENTIALS', 'wrong username or password');
        return this.write(conn, req, { kind: 'login', username: req.username, passwordHash: acc.passwordHash, tokenHash: tokenHashOf(req.token) });
      }
      case 'resume': {
        await this.replica.driver.readBarrier();
        const tokenHash = tokenHashOf(req.token);
        const acc = this.replica.sm().accountByToken(tokenHash);
        if (!acc) throw new QuorumError('UNAUTHENTICATED', 'this login has ended (logged out, expired or account deleted); log in again');
        conn.account = { id: acc.id, username: acc.username, tokenHash };
        if (req.after !== undefined) this.replica.pushBacklog(conn, acc.id, req.after);
        return { user: acc.username, unread: this.replica.sm().unreadCount(acc.id), lastMessageId: this.replica.sm().lastMessageId(acc.id) };
      }
      case 'logout':
        return this.write(conn, req, { kind: 'logout', tokenHash: this.auth(conn).tokenHash });
      case 'accounts': {
        this.auth(conn);
        await this.replica.driver.readBarrier();
        return this.replica.sm().accounts(req.pattern ?? '', req.limit ?? 50, req.pageToken ?? null);
      }
      case 'send':
        return this.write(conn, req, { kind: 'send', tokenHash: this.auth(conn).tokenHash, to: req.to, text: req.text });
      case 'read':
        return this.write(conn, req, { kind: 'read', tokenHash: this.auth(conn).tokenHash, limit: req.limit ?? 50 });
      case 'history': {
        const a = this.auth(conn);
        await this.replica.driver.readBarrier();
        return { messages: this.replica.sm().history(a.id, req.with, req.limit ?? 50, req.before ?? null) };
      }
      case 'conversations': {
        const a = this.auth(conn);
        await this.replica.driver.readBarrier();
        return { conversations: this.replica.sm().conversations(a.id, req.limit ?? 50) };
      }
      case 'markRead':
        return this.write(conn, req, { kind: 'markRead', tokenHash: this.auth(conn).tokenHash, with: req.with, upTo: req.upTo });
      case 'delivered':
        return this.write(conn, req, { kind: 'delivered', tokenHash: this.auth(conn).tokenHash, upTo: req.upTo });
      case 'delete':
        return this.write(conn, req, { kind: 'delete', tokenHash: this.auth(conn).tokenHash, ids: req.ids });
      case 'edit':
        return this.write(conn, req, { kind: 'edit', tokenHash: this.auth(conn).tokenHash, messageId: req.messageId, text: req.text });
      case 'createGroup':
        return this.write(conn, req, { kind: 'createGroup', tokenHash: this.auth(conn).tokenHash, name: req.name, members: req.members });
      case 'addMembers':
        return this.write(conn, req, { kind: 'addMembers', tokenHash: this.auth(conn).tokenHash, group: req.group, members: req.members });
      case 'removeMembers':
        return this.write(conn, req, { kind: 'removeMembers', tokenHash: this.auth(conn).tokenHash, group: req.group, members: req.members });
      case 'leaveGroup':
        return this.write(conn, req, { kind: 'leaveGroup', tokenHash: this.auth(conn).tokenHash, group: req.group });
      case 'renameGroup':
        return this.write(conn, req, { kind: 'renameGroup', tokenHash: this.auth(conn).tokenHash, group: req.group, name: req.name });
      case 'setAdmin':
        return this.write(conn, req, { kind: 'setAdmin', tokenHash: this.auth(conn).tokenHash, group: req.group, member: req.member, admin: req.admin });
      case 'groupSend':
        return this.write(conn, req, { kind: 'groupSend', tokenHash: this.auth(conn).tokenHash, group: req.group, text: req.text });
      case 'markGroupRead':
        return this.write(conn, req, { kind: 'markGroupRead', tokenHash: this.auth(conn).tokenHash, group: req.group, upTo: req.upTo });
      case 'groups': {
        const a = this.auth(conn);
        await this.replica.driver.readBarrier();
        return { groups: this.replica.sm().groups(a.id) };
      }
      case 'groupHistory': {
        const a = this.auth(conn);
        await this.replica.driver.readBarrier();
        return { messages: this.replica.sm().groupHistory(a.id, req.group, req.limit ?? 50, req.before ?? null) };
      }
      case 'presence': {
        this.auth(conn);
        await this.replica.driver.readBarrier();
        const sm = this.replica.sm();
        const accounts = req.users.map((name) => sm.account(name) ?? null);
        const missing = req.users.find((_, i) => accounts[i] === null);
        if (missing !== undefined) throw new QuorumError('NOT_FOUND', `no account named "${missing}"`);
        return { presence: this.replica.presence.watch(conn, accounts.map((a) => ({ id: a!.id, username: a!.username }))) };
      }
      case 'typing': {
        const a = this.auth(conn);
        const sm = this.replica.sm();
        if (req.group !== undefined) {
          // Only a member may tell a group; the members are read from the applied state (no barrier: a notice).
          const group = sm.groupMemberIds(a.id, req.group);
          this.replica.presence.typing(a.id, group.memberIds, { type: 'push', event: 'typing', from: a.username, group: group.name });
        } else {
          const to = sm.account(req.to!) ?? null;
          if (to === null) throw new QuorumError('NOT_FOUND', `no account named "${req.to}"`);
          this.replica.presence.typing(a.id, [to.id], { type: 'push', event: 'typing', from: a.username });
        }
        return { sent: true };
      }
      case 'search': {
        const a = this.auth(conn);
        await this.replica.driver.readBarrier();
        return { messages: this.replica.sm().search(a.id, req.query, req.limit ?? 50) };
      }
      case 'clusterChange': {
        const cc = req.change;
        if ((cc.op === 'remove' || cc.op === 'demote') && cc.id === this.replica.id) {
          // A leader removing or demoting itself hands leadership over first; the client retries at the new leader.
          const to = await this.replica.transfer();
          throw new QuorumError('NOT_LEADER', `leadership handed to ${to} before the change to ${cc.id}; retry there`, this.replica.leaderHint());
        }
        const outcome = await this.replica.driver.proposeConfChange(cc, { waitTurn: true });
        if (!outcome.response.ok) throw new QuorumError(outcome.response.error.code, outcome.response.error.message);
        return outcome.response.result;
      }
      case 'transfer': {
        return { leader: await this.replica.transfer(req.to) };
      }
      case 'resync': {
        return { resync: req.replica, index: await this.replica.driver.resync(req.replica) };
      }
      case 'deleteAccount': {
        const a = this.auth(conn);
        const acc = await throttledPasswordCheck(this.replica.loginThrottle, a.username, conn.remote, async () => {
          await this.replica.driver.readBarrier();
          const found = this.replica.sm().account(a.username);
          return found && (await verifyPassword(req.password, found.passwordHash)) ? found : null;
        });
        if (!acc) throw new QuorumError('BAD_CREDENTIALS', 'wrong password');
        return this.write(conn, req, { kind: 'deleteAccount', tokenHash: a.tokenHash, passwordHash: acc.passwordHash });
      }
    }
  }

  /** Consumes the connection's admin proof, which must be for exactly this request. */
  private admin(conn: ClientConn, req: AdminOp): void {
    const scope = conn.adminScope;
    conn.adminScope = null;
    if (scope === null || scope !== adminScope(req)) {
      throw new QuorumError('FORBIDDEN', 'cluster administration needs proof of the cluster secret for this very request (an admin frame first)');
    }
  }

  private auth(conn: ClientConn): NonNullable<ClientConn['account']> {
    if (!conn.account) throw new QuorumError('UNAUTHENTICATED', 'log in first');
    return conn.account;
  }

  private notLeader(): QuorumError {
    const hint = this.replica.leaderHint();
    return hint
      ? new QuorumError('NOT_LEADER', `this replica does not lead; connect to ${hint.id} at ${hint.address}`, hint)
      : new QuorumError('NO_QUORUM', 'no leader is known: an election is in progress or a majority of replicas is unreachable (read-only); retry shortly');
  }

  private async write(conn: ClientConn, req: ClientRequest & { session: ClientSession }, body: Record<string, unknown>): Promise<unknown> {
    // Sessions of logged-in writes are keyed by the login too, so a stored response can only ever be replayed to the
    // login that made it (another account reusing a clientId gets a session of its own).
    const token = typeof body.tokenHash === 'string' ? body.tokenHash : null;
    const state = this.replica.sm();
    const cluster = state.clusterVersion();
    let session: ClientSession = token ? { ...req.session, clientId: sessionKeyOf(conn, req.session.clientId, token) } : req.session;
    // A stamped session needs version 2: below it the write goes unstamped (exactly-once as the older rules give it).
    if (session.startIndex !== undefined && cluster < 2) session = { clientId: session.clientId, seq: session.seq };
    const at = this.replica.now();
    const command = { ...body, at, session } as Command;
    const required = requiredVersion(command);
    if (required > cluster) {
      const { members } = state.versions();
      const conf = state.conf();
      throw new QuorumError('UNSUPPORTED_BY_CLUSTER', unsupportedReason(required, cluster, [...(conf?.voters ?? []), ...(conf?.learners ?? [])], members));
    }
    this.catchUpClock(at, cluster);
    let outcome: ApplyOutcome;
    try {
      outcome = await this.replica.driver.propose(encodeCommand(command));
    } catch (err) {
      if (err instanceof QuorumError && (err.code === 'NOT_LEADER' || err.code === 'UNAVAILABLE')) {
        // It may have been appended before leadership moved or the replica stopped, and commit later: its outcome is
        // unknown (TIMEOUT), which the client resolves by resending the same frame, at the leader if one is known.
        throw new QuorumError('TIMEOUT', `${err.message}; the outcome of this write is unknown: resend it with the same session seq`, this.replica.leaderHint());
      }
      throw err;
    }
    return this.finishWrite(conn, req, outcome.response);
  }

  /**
   * Proposes `clock` commands ahead of a write whose clock is more than one step past the applied clock (the cluster
   * was down or idle), so the write applies at its own time: apply moves the clock at most MAX_CLOCK_STEP_MS per
   * command. They are not awaited: if they are lost, the write applies at the clock as far as it got.
   */
  private catchUpClock(at: number, cluster: number): void {
    const applied = this.replica.sm().appliedClock();
    let from = Math.max(applied, this.clockProposedTo);
    // Below cluster version 2 apply does not bound the step (and knows no `clock` commands).
    if (cluster < 2 || applied === 0 || at - from <= MAX_CLOCK_STEP_MS) return;
    for (let steps = 0; steps < MAX_CLOCK_STEPS_PER_WRITE && at - from > MAX_CLOCK_STEP_MS; steps++) {
      from += MAX_CLOCK_STEP_MS;
      void this.replica.driver.propose(encodeCommand({ kind: 'clock', at: from })).catch(() => {
        this.clockProposedTo = 0;
      });
    }
    this.clockProposedTo = from;
  }

  /** Turns a stored or fresh outcome into the response; binds or unbinds the connection on login/logout. */
  private finishWrite(conn: ClientConn, req: ClientRequest, response: ApplyOutcome['response']): unknown {
    if (!response.ok) throw new QuorumError(response.error.code, response.error.message);
    const result = response.result as Record<string, unknown>;
    if (req.op === 'login') {
      // Bind by the token this request registered, never by the name it asked for: a response replayed for a reused
      // session seq must not log anyone in.
      const tokenHash = tokenHashOf(req.token);
      const acc = this.replica.sm().accountByToken(tokenHash);
      if (!acc || acc.username.toLowerCase() !== req.username.toLowerCase()) {
        throw new QuorumError('INVALID', 'this session seq was already used by another request; use a new seq for a new login');
      }
      conn.account = { id: acc.id, username: acc.username, tokenHash };
      const last = typeof result.lastMessageId === 'number' ? result.lastMessageId : this.replica.sm().lastMessageId(acc.id);
      // Messages committed between the login's apply and now: push them so nothing is missed.
      this.replica.pushBacklog(conn, acc.id, req.after ?? last);
      return { ...result, token: req.token, lastMessageId: last };
    }
    if (req.op === 'logout' || req.op === 'deleteAccount') conn.account = null;
    return result;
  }
}

