/**
 * A fake Quorum cluster for client tests: WebSocket servers on 127.0.0.1 (port 0) that speak the client protocol
 * over one shared, in-memory chat state. Only the replica named leader serves (others answer NOT_LEADER with a hint,
 * or NO_QUORUM without a leader), writes are deduplicated by session (clientId, seq) like the real state machine,
 * and tests can intercept any request to drop it, delay it, fail it, or apply it and then cut the connection.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { SESSION_EVICT_EVERY } from '../../replica/chat/sessions.js';
import { PROTOCOL_VERSION, SESSION_WINDOW, WRITE_OPS } from '../../replica/protocol/index.js';
import type { ChatMessage, ErrorCode, ReplicaStatus, WireError } from '../../replica/protocol/index.js';

// The fake parses frames loosely on purpose: it records exactly what the client sent.
export type Req = Record<string, any> & { id: number | string; op: string };

export type HookResult =
  | undefined
  /** Answer with this error (nothing is applied). */
  | { error: WireError }
  /** Never answer. */
  | { drop: true }
  /** Close the connection; with `apply`, first apply the request (a leader that commits, then dies). */
  | { close: true; apply?: boolean }
  /** Answer normally after this long. */
  | { delayMs: number }
  /** Answer ok with this result (nothing is applied). */
  | { result: unknown };

export type Hook = (req: Req, conn: FakeConn, replica: FakeReplica) => HookResult;

const WRITES = new Set<string>(WRITE_OPS);
type Outcome = { ok: true; result: unknown } | { ok: false; error: WireError };

export class FakeConn {
  user: string | null = null;
  readonly frames: Req[] = [];
  closed = false;
  constructor(
    readonly replica: FakeReplica,
    readonly ws: WebSocket,
    readonly n: number,
  ) {}
  send(frame: unknown): void {
    if (!this.closed && this.ws.readyState === 1) this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
  push(message: ChatMessage): void {
    this.send({ type: 'push', event: 'message', message });
  }
  close(): void {
    this.ws.terminate();
  }
}

interface Account {
  username: string;
  password: string;
}

interface AppliedWrite {
  op: string;
  clientId: string;
  seq: number;
  replica: string;
}

export class FakeCluster {
  readonly replicas: FakeReplica[] = [];
  leaderId: string | null;
  /** The state-machine version each replica supports (status); 2 unless a test says otherwise. */
  readonly versions = new Map<string, number>();
  readonly accounts = new Map<string, Account>();
  readonly tokens = new Map<string, string>();
  readonly messages: ChatMessage[] = [];
  /** Deleted messages (the real replica keeps tombstones: a deleted id is still known, not NOT_FOUND). */
  private readonly deleted = new Map<number, ChatMessage>();
  /** Every write actually applied (after deduplication), in order. */
  readonly applied: AppliedWrite[] = [];
  /** Per client: the stored responses and the floor (highest evicted seq), as replica/chat/sessions.ts keeps them. */
  private readonly sessions = new Map<string, { floor: number; responses: Map<number, Outcome> }>();
  private nextMessageId = 1;
  private clock = 1_700_000_000_000;

  private constructor(leaderId: string | null) {
    this.leaderId = leaderId;
  }

  static async start(size = 1): Promise<FakeCluster> {
    const cluster = new FakeCluster('r1');
    for (let i = 1; i <= size; i++) {
      const replica = new FakeReplica(cluster, `r${i}`);
      await replica.up();
      cluster.replicas.push(replica);
    }
    return cluster;
  }

  replica(id: string): FakeReplica {
    const r = this.replicas.find((x) => x.id === id);
    if (!r) throw new Error(`no fake replica ${id}`);
    return r;
  }

  get addresses(): string[] {
    return this.replicas.map((r) => r.address);
  }

  leaderHint(): { id: string; address: string } | null {
    const leader = this.replicas.find((r) => r.id === this.leaderId);
    return leader ? { id: leader.id, address: leader.address } : null;
  }

  /** Every frame any replica received, in arrival order per replica. */
  framesOf(op: string): Req[] {
    return this.replicas.flatMap((r) => r.frames.filter((f) => f.op === op));
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.down()));
  }

  /** Creates an account directly (test setup). */
  addAccount(username: string, password = 'password123'): void {
    this.accounts.set(username, { username, password });
  }

  /** Stores a message as if `from` sent it (test setup) and pushes it to the recipient's live connections. */
  deliver(from: string, to: string, text: string): ChatMessage {
    const message: ChatMessage = { id: this.nextMessageId++, from, to, text, sentAt: this.clock++, deliveredAt: null, readAt: null };
    this.messages.push(message);
    for (const replica of this.replicas) for (const conn of replica.conns) if (conn.user === to) conn.push(message);
    return message;
  }

  status(of: FakeReplica): ReplicaStatus {
    const leader = this.leaderHint();
    return {
      id: of.id,
      address: of.address,
      role: of.id === this.leaderId ? 'leader' : 'follower',
      term: 3,
      leader,
      commitIndex: this.applied.length,
      appliedIndex: this.applied.length,
      lastIndex: this.applied.length,
      voter: true,
      members: this.replicas.map((r) => ({ id: r.id, address: r.address, voter: true, version: this.versionOf(r.id) })),
      quorum: leader !== null,
      version: this.versionOf(of.id),
      clusterVersion: Math.min(...this.replicas.map((r) => this.versionOf(r.id))),
    };
  }

  private versionOf(id: string): number {
    return this.versions.get(id) ?? 2;
  }

  /** Runs one request the way the real replica would (leader only, exactly-once writes). */
  handle(replica: FakeReplica, conn: FakeConn, req: Req): { ok: true; result: unknown } | { ok: false; error: WireError } {
    if (req.op === 'status') return { ok: true, result: this.status(replica) };
    if (replica.id !== this.leaderId) {
      const hint = this.leaderHint();
      return hint
        ? { ok: false, error: { code: 'NOT_LEADER', message: `connect to ${hint.id}`, leader: hint } }
        : { ok: false, error: { code: 'NO_QUORUM', message: 'no leader is known' } };
    }
    if (WRITES.has(req.op)) {
      const { clientId, seq } = req.session as { clientId: string; seq: number };
      const client = this.sessions.get(clientId);
      const stored = client?.responses.get(seq);
      if (stored) {
        this.bind(conn, req, stored);
        return stored;
      }
      if (client && seq <= client.floor) {
        return { ok: false, error: { code: 'INVALID', message: `session seq ${seq} is older than the last ${SESSION_WINDOW} writes of this client; its outcome is unknown` } };
      }
      const outcome = this.apply(conn, req);
      this.record(clientId, seq, outcome);
      this.applied.push({ op: req.op, clientId, seq, replica: replica.id });
      this.bind(conn, req, outcome);
      return outcome;
    }
    return this.apply(conn, req);
  }

  /** Stores a response and evicts in batches like the real table (SESSION_WINDOW kept, SESSION_EVICT_EVERY per batch). */
  private record(clientId: string, seq: number, outcome: Outcome): void {
    const floor = seq - SESSION_WINDOW;
    const client = this.sessions.get(clientId);
    if (!client) {
      this.sessions.set(clientId, { floor: Math.max(0, floor), responses: new Map([[seq, outcome]]) });
      return;
    }
    client.responses.set(seq, outcome);
    if (floor - client.floor >= SESSION_EVICT_EVERY) {
      for (const stored of client.responses.keys()) if (stored <= floor) client.responses.delete(stored);
      client.floor = floor;
    }
  }

  private bind(conn: FakeConn, req: Req, outcome: { ok: boolean }): void {
    if (!outcome.ok) return;
    if (req.op === 'login') {
      conn.user = req.username;
      if (req.after !== undefined) this.backlog(conn, req.after);
    }
    if (req.op === 'logout' || req.op === 'deleteAccount') conn.user = null;
  }

  backlog(conn: FakeConn, after: number): void {
    for (const m of this.messages) if (m.to === conn.user && m.id > after) conn.push(m);
  }

  private apply(conn: FakeConn, req: Req): { ok: true; result: unknown } | { ok: false; error: WireError } {
    const fail = (code: ErrorCode, message: string) => ({ ok: false as const, error: { code, message } });
    const ok = (result: unknown) => ({ ok: true as const, result });
    const me = conn.user;
    const needsLogin = !['signup', 'login', 'resume'].includes(req.op);
    if (needsLogin && !me) return fail('UNAUTHENTICATED', 'log in first');
    switch (req.op) {
      case 'signup':
        if (this.accounts.has(req.username)) return fail('USERNAME_TAKEN', `the username "${req.username}" is taken`);
        this.addAccount(req.username, req.password);
        return ok({ user: req.username });
      case 'login': {
        const account = this.accounts.get(req.username);
        if (!account || account.password !== req.password) return fail('BAD_CREDENTIALS', 'wrong username or password');
        this.tokens.set(req.token, req.username);
        return ok({ user: req.username, token: req.token, unread: this.unread(req.username).length, lastMessageId: this.lastMessageId(req.username) });
      }
      case 'resume': {
        const user = this.tokens.get(req.token);
        if (!user) return fail('UNAUTHENTICATED', 'this login has ended');
        conn.user = user;
        if (req.after !== undefined) this.backlog(conn, req.after);
        return ok({ user, unread: this.unread(user).length });
      }
      case 'logout':
        for (const [token, user] of this.tokens) if (user === me) this.tokens.delete(token);
        return ok({ loggedOut: true });
      case 'presence': {
        // As the real leader answers a watch (replica/node/presence.ts): online while a connection is logged in as it.
        const missing = (req.users as string[]).find((u) => !this.accounts.has(u));
        if (missing !== undefined) return fail('NOT_FOUND', `no account named "${missing}"`);
        const online = (u: string) => this.replicas.some((r) => [...r.conns].some((c) => !c.closed && c.user === u));
        return ok({ presence: (req.users as string[]).map((user) => ({ user, online: online(user), lastSeenAt: null })) });
      }
      case 'accounts': {
        const pattern = new RegExp(`^${String(req.pattern ?? '*').replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
        const names = [...this.accounts.keys()].sort().filter((n) => pattern.test(n) && (!req.pageToken || n > req.pageToken));
        const limit = req.limit ?? 50;
        const page = names.slice(0, limit);
        return ok({ accounts: page.map((username) => ({ username })), nextPageToken: names.length > limit ? page[page.length - 1] : null });
      }
      case 'send': {
        if (!this.accounts.has(req.to)) return fail('NOT_FOUND', `no account named "${req.to}"`);
        const message = this.deliver(me!, req.to, req.text);
        return ok({ id: message.id, sentAt: message.sentAt });
      }
      case 'read': {
        const unread = this.unread(me!).slice(0, req.limit ?? 50);
        for (const m of unread) m.readAt = this.clock++;
        return ok({ messages: unread.map((m) => ({ ...m })) });
      }
      case 'history': {
        const between = this.messages.filter(
          (m) => ((m.from === me && m.to === req.with) || (m.from === req.with && m.to === me)) && (req.before === undefined || m.id < req.before),
        );
        return ok({ messages: between.slice(-(req.limit ?? 50)).map((m) => ({ ...m })) });
      }
      case 'conversations':
        return ok({ conversations: [] });
      case 'markRead':
      case 'delivered': {
        let marked = 0;
        for (const m of this.messages) {
          if (m.to === me && m.id <= req.upTo && (req.op === 'delivered' || m.from === req.with)) {
            const field = req.op === 'delivered' ? 'deliveredAt' : 'readAt';
            if (m[field] === null) {
              m[field] = this.clock++;
              marked++;
            }
          }
        }
        return ok({ marked });
      }
      case 'delete': {
        // Like the real replica: either side of a message may delete it; every id is checked before anything goes.
        const ids = [...new Set(req.ids as number[])].sort((a, b) => a - b);
        const found: ChatMessage[] = [];
        for (const id of ids) {
          const message = this.messages.find((m) => m.id === id) ?? this.deleted.get(id);
          if (!message) return fail('NOT_FOUND', `no message ${id}`);
          if (message.from !== me && message.to !== me) return fail('FORBIDDEN', `message ${id} is not yours to delete`);
          found.push(message);
        }
        // Deleting twice is harmless (the real replica keeps a tombstone and counts only what it deleted now).
        const now = found.filter((m) => !this.deleted.has(m.id));
        for (const m of now) {
          this.messages.splice(this.messages.indexOf(m), 1);
          this.deleted.set(m.id, m);
        }
        return ok({ deleted: now.length });
      }
      case 'deleteAccount': {
        if (this.accounts.get(me!)?.password !== req.password) return fail('BAD_CREDENTIALS', 'wrong password');
        this.accounts.delete(me!);
        for (const [token, user] of this.tokens) if (user === me) this.tokens.delete(token);
        return ok({ deleted: true });
      }
      default:
        return fail('INVALID', `unknown op ${req.op}`);
    }
  }

  private lastMessageId(user: string): number {
    return this.messages.filter((m) => m.to === user || m.from === user).reduce((last, m) => Math.max(last, m.id), 0);
  }

  private unread(user: string): ChatMessage[] {
    return this.messages.filter((m) => m.to === user && m.readAt === null);
  }
}

export class FakeReplica {
  port = 0;
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  readonly conns = new Set<FakeConn>();
  /** Every frame received, in order. */
  readonly frames: Req[] = [];
  /** Connections accepted so far. */
  connections = 0;
  /** Overrides the hello's leader (undefined: the cluster's leader). */
  helloLeader: { id: string; address: string } | null | undefined = undefined;
  /** Send no hello (a wedged server). */
  silent = false;
  hook: Hook | null = null;

  constructor(
    readonly cluster: FakeCluster,
    readonly id: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get isUp(): boolean {
    return this.http !== null;
  }

  /** Starts listening (again on the same port after down()). */
  async up(): Promise<void> {
    if (this.http) return;
    const http = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server: http, path: '/client' });
    wss.on('connection', (ws) => this.accept(ws));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
  }

  /** Stops listening and cuts every connection (a crashed replica: connections are refused). */
  async down(): Promise<void> {
    const http = this.http;
    const wss = this.wss;
    this.http = null;
    this.wss = null;
    this.dropAll();
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
    if (http) await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  /** Cuts every client connection (the server stays up). */
  dropAll(): void {
    for (const conn of this.conns) conn.close();
  }

  private accept(ws: WebSocket): void {
    const conn = new FakeConn(this, ws, ++this.connections);
    this.conns.add(conn);
    ws.on('close', () => {
      conn.closed = true;
      this.conns.delete(conn);
    });
    ws.on('error', () => {});
    ws.on('message', (data) => this.receive(conn, data.toString()));
    if (!this.silent) {
      conn.send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        replica: { id: this.id, address: this.address },
        leader: this.helloLeader === undefined ? this.cluster.leaderHint() : this.helloLeader,
      });
    }
  }

  private receive(conn: FakeConn, text: string): void {
    let req: Req;
    try {
      req = JSON.parse(text) as Req;
    } catch {
      conn.send({ type: 'error', error: { code: 'INVALID', message: 'not JSON' } });
      return;
    }
    conn.frames.push(req);
    this.frames.push(req);
    const action = this.hook?.(req, conn, this);
    if (action && 'error' in action) {
      conn.send({ type: 'response', id: req.id, ok: false, error: action.error });
      return;
    }
    if (action && 'drop' in action) return;
    if (action && 'result' in action) {
      conn.send({ type: 'response', id: req.id, ok: true, result: action.result });
      return;
    }
    if (action && 'close' in action) {
      if (action.apply) this.cluster.handle(this, conn, req);
      conn.close();
      return;
    }
    const answer = () => {
      if (conn.closed) return;
      const outcome = this.cluster.handle(this, conn, req);
      conn.send(outcome.ok ? { type: 'response', id: req.id, ok: true, result: outcome.result } : { type: 'response', id: req.id, ok: false, error: outcome.error });
    };
    if (action && 'delayMs' in action) setTimeout(answer, action.delayMs);
    else answer();
  }
}

/** The real setTimeout, taken before any test fakes timers: until() polls on the real clock even then. */
const realSetTimeout = globalThis.setTimeout;

/**
 * Polls `condition` until it is truthy; fails with `what` after `timeoutMs`. Works while a test fakes setTimeout (it
 * polls on the real clock; vi.waitFor would advance the fake one as it polls).
 */
export async function until<T>(what: string, condition: () => T | Promise<T>, timeoutMs = 5_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => realSetTimeout(resolve, 5));
  }
}
