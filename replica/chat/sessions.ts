/**
 * Client sessions: exactly-once for client writes. A write carries (clientId, seq); its response is stored under it,
 * and the same (clientId, seq) applied again returns the stored response and changes nothing.
 *
 * Bounded storage: at least the latest SESSION_WINDOW responses per client are kept (evicted in batches; `floor` is
 * the highest evicted seq, and a seq at or below it is refused: its outcome is unknown). A client that wrote nothing
 * for SESSION_IDLE_MS loses its records (checked every EXPIRY_EVERY indices, deterministically on every replica).
 *
 * Expired clients stay recognisable without keeping a row each: a client stamps its session with the applied index
 * it began at (ClientSession.startIndex, from the hello). Expiring a client raises a watermark (meta.expired_upto) to
 * its start index. A write of an unknown client stamped at or below the watermark began before some client that has
 * since expired, so it is at least a day old: it may be the retry of a write applied before the expiry, and it is
 * refused with SESSION_EXPIRED (outcome unknown), never applied again. A fresh session is stamped with a recent index,
 * above the watermark (clients begin a new session after an hour without writes, replica/client/session.ts). An
 * unstamped session (a client of an older release) leaves its id in expired_clients instead.
 */
import { SESSION_WINDOW } from '../protocol/limits.js';
import type { ChatMessage, ClientSession } from '../protocol/client.js';
import type { Command } from './commands.js';
import { accountLookup, chatMessageOf } from './message-view.js';
import { refusal, type CommandResponse } from './outcome.js';
import type { ClientRow, Statements, StoredResponseRow } from './statements.js';

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
 * The stored response of a successful send: {id, sentAt} are the session row's idx and at, so nothing else is
 * stored for the most frequent command. A successful read stores the ids it read ({ok: true, read: [...]}), rendered
 * again from the messages when replayed. Everything else is the response's JSON.
 */
const SEND_OK = 'send';

const SESSION_EXPIRED = refusal(
  'SESSION_EXPIRED',
  `this client's session expired after ${SESSION_IDLE_MS / 3_600_000} hours without writes: the outcome of this write is unknown ` +
    '(check before sending it again); start a new session',
);

/** What a client write's session says before it is applied. */
export type SessionCheck =
  /** Applied before (the stored response), or too old to know (a refusal): apply nothing. */
  | { status: 'answered'; response: CommandResponse }
  /** Not applied before: apply it, then record(). `client` is the client's row, undefined for a new client. */
  | { status: 'open'; client: ClientRow | undefined };

export class ClientSessions {
  constructor(private readonly statements: Statements) {}

  /**
   * What the session of a write applied at `index` says: answer it from the records, or apply it. Expired sessions
   * are recognised from cluster version 2 on (versions.ts).
   */
  check(session: ClientSession, index: number, clusterVersion: number): SessionCheck {
    const stored = this.statements.sessionGet.get(session.clientId, session.seq);
    if (stored) return { status: 'answered', response: this.decode(stored) };
    const client = this.statements.clientGet.get(session.clientId);
    if (client && session.seq <= client.floor) {
      return {
        status: 'answered',
        response: refusal('INVALID', `session seq ${session.seq} is older than the last ${SESSION_WINDOW} writes of this client; its outcome is unknown`),
      };
    }
    if (!client) {
      if (session.startIndex !== undefined && session.startIndex >= index) {
        return { status: 'answered', response: refusal('INVALID', `session start index ${session.startIndex} is not below this write's index ${index}`) };
      }
      if (clusterVersion >= 2 && this.expired(session)) return { status: 'answered', response: SESSION_EXPIRED };
    }
    return { status: 'open', client };
  }

  /** Whether an unknown client's session is one that expired. */
  private expired(session: ClientSession): boolean {
    // Start index 0 is stored like no stamp (schema.ts): such a client leaves its id when it expires.
    if (!session.startIndex) return this.statements.expiredClientGet.get(session.clientId) !== undefined;
    return session.startIndex <= this.statements.expiredUpto.get()!.expired_upto;
  }

  /** The stored response of an applied (clientId, seq), or null (never applied, evicted or expired). */
  response(clientId: string, seq: number): CommandResponse | null {
    const row = this.statements.sessionGet.get(clientId, seq);
    return row ? this.decode(row) : null;
  }

  /**
   * Stores the response of (clientId, seq) applied at `index`. The client's row changes only when it is new, when its
   * last_at is SESSION_TOUCH_MS old, or when SESSION_EVICT_EVERY responses have gone past the window (evicted in one
   * range delete).
   */
  record(session: ClientSession, client: ClientRow | undefined, cmd: Command, response: CommandResponse, at: number, index: number): void {
    const { clientId, seq } = session;
    this.statements.sessionPut.run(clientId, seq, encode(cmd, response), at, index);
    const floor = seq - SESSION_WINDOW;
    if (!client) {
      // A new client has nothing stored below this seq.
      this.statements.clientInsert.run(clientId, at, Math.max(0, floor), session.startIndex ?? 0);
      return;
    }
    if (at - client.last_at >= SESSION_TOUCH_MS) this.statements.clientTouch.run(at, clientId);
    if (floor - client.floor >= SESSION_EVICT_EVERY) {
      this.statements.sessionEvict.run(clientId, floor);
      this.statements.clientFloor.run(floor, clientId);
    }
  }

  /**
   * Drops the records of clients idle for more than SESSION_IDLE_MS at clock `now` (at most EXPIRY_BATCH of them);
   * from cluster version 2 on, remembers them (watermark or id) so their writes get SESSION_EXPIRED.
   */
  expireIdle(now: number, clusterVersion: number): void {
    const cutoff = now - SESSION_IDLE_MS - SESSION_TOUCH_MS;
    if (cutoff <= 0) return;
    let expiredUpto = 0;
    for (const { client_id, start_index } of this.statements.clientsIdle.all(cutoff, EXPIRY_BATCH)) {
      this.statements.sessionDropClient.run(client_id);
      this.statements.clientDelete.run(client_id);
      if (clusterVersion < 2) continue;
      if (start_index === 0) this.statements.expiredClientAdd.run(client_id);
      expiredUpto = Math.max(expiredUpto, start_index);
    }
    if (expiredUpto > 0) this.statements.raiseExpiredUpto.run(expiredUpto);
  }

  private decode(row: StoredResponseRow): CommandResponse {
    if (row.response === SEND_OK) return { ok: true, result: { id: row.idx, sentAt: row.at } };
    const value = JSON.parse(row.response) as CommandResponse | { ok: true; read: number[] };
    if (!('read' in value)) return value;
    const accounts = accountLookup(this.statements);
    const messages: ChatMessage[] = [];
    for (const id of value.read) {
      const message = this.statements.messageById.get(id);
      if (message && !message.deleted) messages.push(chatMessageOf(message, accounts));
    }
    return { ok: true, result: { messages } };
  }
}

function encode(cmd: Command, response: CommandResponse): string {
  if (!response.ok) return JSON.stringify(response);
  if (cmd.kind === 'send') return SEND_OK;
  if (cmd.kind === 'read') return JSON.stringify({ ok: true, read: (response.result as { messages: ChatMessage[] }).messages.map((m) => m.id) });
  return JSON.stringify(response);
}
