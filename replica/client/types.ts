/**
 * Types shared by the client library's modules. Isomorphic: no Node or DOM imports; the WebSocket
 * constructor is injected (the browser's in the renderer, `ws`'s under Node).
 */
import type { ChatMessage, ClientSession, PresenceEntry, ReplicaStatusRow, LeaderHint } from '../protocol/index.js';
import type { BackoffOptions } from '../util/backoff.js';

/** Declares a handler parameter bivariantly so both `ws`'s and the DOM's event types fit. */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface MessageEventLike {
  data: unknown;
}
export interface CloseEventLike {
  code?: number;
  reason?: string;
}
/** `ws` passes an ErrorEvent with `message`; browsers pass a plain Event. */
export type ErrorEventLike = unknown;

/** The part of the standard WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<MessageEventLike> | null;
  onclose: Handler<CloseEventLike> | null;
  onerror: Handler<ErrorEventLike> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** pino-compatible subset; every method optional so `console` or a stub also fits. */
export interface ClientLogger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}


export interface QuorumClientOptions {
  /** Replica addresses, host:port. At least one. */
  servers: string[];
  WebSocket: WebSocketConstructor;
  /**
   * Client id of the first exactly-once session; generated when absent. Later sessions (Session, after an hour
   * without writes) get generated ids, or this one with a suffix `-N` when given.
   */
  clientId?: string;
  /** Uniform [0,1) source for jitter and generated ids; injectable for deterministic tests. */
  random?: () => number;
  /** No response to a request within this long: the connection is considered dead. Default 10000. */
  requestTimeoutMs?: number;
  /** No hello within this long after opening a socket: try another replica. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * A replica that goes silent with the connection open (host frozen or cut off: liveness.ts): with requests waiting,
   * nothing heard for this long → a status request; nothing a tick later → leave it for another replica. Default 1500.
   */
  livenessMs?: number;
  /** The same with nothing waiting (pushes would stop unnoticed): silent this long → a status request. Default 30000. */
  idleLivenessMs?: number;
  /** Reconnect and retry delays. Default {initialMs: 50, maxMs: 2000}. */
  backoff?: BackoffOptions;
  /** Reject a call that has not succeeded this long after it was made. Undefined: retry reads forever (UI). */
  giveUpAfterMs?: number;
  /**
   * Reject a write that has not succeeded this long after it was made, whatever giveUpAfterMs says. Default
   * WRITE_GIVE_UP_MS (10 minutes); at most a day. A write may only be resent while the cluster still knows its
   * session (a day without writes), so the client gives up well before: with UNAVAILABLE ("not sent", nothing was
   * sent) or TIMEOUT ("not confirmed": it was sent and may or may not have been applied).
   */
  writeGiveUpMs?: number;
  /** Builds the WebSocket URL of a replica address. Default `ws://${address}/client`. */
  url?: (address: string) => string;
  /** Send `delivered {upTo}` after pushed messages arrive. Default true. */
  autoDelivered?: boolean;
  /** Last message id the app already has (e.g. from a previous run); live delivery resumes after it. */
  lastMessageId?: number;
  log?: ClientLogger;
}

/**
 * A write the app keeps across a restart (the renderer's stored outbox), so a reload or restart never applies it twice.
 * The app stores the session keepSession is given and, after the restart, passes it back as `session`.
 */
export interface KeptWrite {
  /**
   * The session this write was given in an earlier run: it is sent again as that very write, so the cluster applies
   * it at most once (or answers SESSION_EXPIRED once it forgot the session: outcome unknown). Such a write is in doubt
   * from the start: its give-up error is TIMEOUT ("not confirmed").
   */
  session?: ClientSession;
  /**
   * Called once, when the write is first given its session (just before its first transmission); the write goes out
   * when the returned promise settles, so the app has stored the session before the cluster can apply it. A rejection
   * (storage failing) is logged and the write goes out anyway.
   */
  keepSession?(session: ClientSession): Promise<void>;
}

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ClientState {
  status: ConnectionStatus;
  /** The replica this client is connected to (from its hello), null while not connected. */
  replica: LeaderHint | null;
  /** The leader as last reported by any replica, null when unknown. */
  leader: LeaderHint | null;
  /** True after the cluster answered NO_QUORUM, until a write succeeds or status reports a quorum again. */
  readOnly: boolean;
  lastError?: string;
  /**
   * The cluster version the connected replica reported in its hello (absent before the first hello, or from an older
   * release): a UI offers groups, edits and search only from 3 on (they are refused below it, naming who to update).
   */
  clusterVersion?: number;
}

export interface ReceiptEvent {
  ids: number[];
  kind: 'delivered' | 'read';
  at: number;
}

export interface GroupReadEvent {
  group: string;
  messages: { id: number; readBy: number }[];
}

export interface ClientEvents {
  state: ClientState;
  message: ChatMessage;
  deleted: number[];
  /** A message this account sent or received was edited: its new version (text, editedAt). */
  edited: ChatMessage;
  /** A watched account came online or went offline (client.presence). */
  presence: PresenceEntry;
  /** Someone is typing to this account (`group` absent) or in a group: show it for about 5 s. */
  typing: { from: string; group?: string };
  receipt: ReceiptEvent;
  /** Members of `group` read messages this account sent: each one's count of readers now (its sender left out). */
  groupRead: GroupReadEvent;
  sessionEnded: { reason: string };
  members: ReplicaStatusRow[];
}
