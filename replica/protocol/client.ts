/**
 * The client wire protocol: JSON text frames over WebSocket at path /client (docs/protocol.md).
 * Isomorphic: imported by the replica, the client library, the CLI and the renderer. No Node or DOM imports.
 */
import * as z from 'zod';
import { LIMITS } from './limits.js';
import { ERROR_CODES } from './errors.js';
import { HostPortSchema, ReplicaIdSchema } from './address.js';
import type { AutopilotMemberView, AutopilotSummary } from './autopilot.js';

export const PROTOCOL_VERSION = 1;

/** WebSocket close codes a replica ends a client connection with (docs/protocol.md). */
export const CLOSE_CODES = {
  /** Plain text from another machine: clients talk TLS to a replica that is not on this machine. */
  tlsRequired: 4426,
  /** This replica was removed from the cluster: use another one. */
  removed: 4410,
  /** This replica led and another now does: reconnect (the hello names the leader) and resume there. */
  leaderMoved: 4409,
} as const;

export const Username = z
  .string()
  .min(LIMITS.usernameMin)
  .max(LIMITS.usernameMax)
  .regex(/^[A-Za-z0-9_.-]+$/, 'usernames use letters, digits, "_", "." and "-" only');
/** A group's name: like a username (written `#name` where a username could stand), unique ignoring case among groups. */
export const GroupName = z
  .string()
  .min(1)
  .max(LIMITS.groupNameMax)
  .regex(/^[A-Za-z0-9_.-]+$/, 'group names use letters, digits, "_", "." and "-" only');
/** The accounts a group request names (other than the requester). */
export const MemberList = z.array(Username).max(LIMITS.groupMembersMax - 1);
export const Password = z.string().min(LIMITS.passwordMin).max(LIMITS.passwordMax);
export const MessageText = z.string().min(LIMITS.textMin).max(LIMITS.textMax);
export const MessageId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const Limit = z.number().int().min(1).max(LIMITS.pageMax);
export const Token = z.string().min(16).max(LIMITS.tokenMax);
/** Account pattern: `*` any run of characters, `?` exactly one; other characters as in usernames. */
export const Pattern = z
  .string()
  .max(LIMITS.patternMax)
  .regex(/^[A-Za-z0-9_.*?-]*$/, 'patterns use username characters plus "*" and "?"');

/**
 * Exactly-once: every write carries the client's id and a sequence number that increases by one per write.
 * `startIndex`: the `appliedIndex` of the hello the client had when it began this session (the same in every write
 * of the session). It lets the cluster tell a session it expired (idle for a day) from a new one: a write of an
 * unknown session stamped at or below the start of an expired one is refused with SESSION_EXPIRED instead of being
 * applied as new. A session without it is taken as new whenever the cluster does not know it.
 */
export const ClientSession = z.strictObject({
  clientId: z.string().min(8).max(LIMITS.clientIdMax).regex(/^[A-Za-z0-9_-]+$/),
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  startIndex: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});
export type ClientSession = z.infer<typeof ClientSession>;

export const RequestId = z.union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(64)]);

const base = { id: RequestId };
const write = { id: RequestId, session: ClientSession };

export const SignupRequest = z.strictObject({ ...write, op: z.literal('signup'), username: Username, password: Password });
/**
 * Logs in; `after` (last message id this client has) makes the server push everything newer, then live.
 * `token`: a fresh random secret (32+ base64url chars, e.g. 32 random bytes) chosen by the client; the server stores
 * only its hash. Choosing it client-side keeps login exactly-once: a retried login (same session seq) yields the same
 * usable token, where a server-made token would be lost with a lost response.
 */
export const LoginRequest = z.strictObject({
  ...write,
  op: z.literal('login'),
  username: Username,
  password: Password,
  token: z.string().min(32).max(LIMITS.tokenMax).regex(/^[A-Za-z0-9_-]+$/),
  after: z.number().int().nonnegative().optional(),
});
/** Binds a fresh connection to an existing login (after a reconnect or failover). */
export const ResumeRequest = z.strictObject({
  ...base,
  op: z.literal('resume'),
  token: Token,
  after: z.number().int().nonnegative().optional(),
});
export const LogoutRequest = z.strictObject({ ...write, op: z.literal('logout') });
export const AccountsRequest = z.strictObject({
  ...base,
  op: z.literal('accounts'),
  pattern: Pattern.optional(),
  limit: Limit.optional(),
  pageToken: z.string().max(LIMITS.usernameMax + 8).optional(),
});
export const SendRequest = z.strictObject({ ...write, op: z.literal('send'), to: Username, text: MessageText });
/** Returns up to `limit` unread messages, oldest first, and marks them read. */
export const ReadRequest = z.strictObject({ ...write, op: z.literal('read'), limit: Limit.optional() });
/** One page of the conversation with `with`: the newest `limit` messages older than `before`, returned oldest first. */
export const HistoryRequest = z.strictObject({
  ...base,
  op: z.literal('history'),
  with: Username,
  limit: Limit.optional(),
  before: MessageId.optional(),
});
/** The logged-in account's conversations, most recent first, with unread counts. */
export const ConversationsRequest = z.strictObject({ ...base, op: z.literal('conversations'), limit: Limit.optional() });
/** Marks messages from `with` up to and including `upTo` as read (the UI calls it when they are on screen). */
export const MarkReadRequest = z.strictObject({ ...write, op: z.literal('markRead'), with: Username, upTo: MessageId });
/** Marks messages to this account up to `upTo` as delivered (the client calls it when pushes arrive). */
export const DeliveredRequest = z.strictObject({ ...write, op: z.literal('delivered'), upTo: MessageId });
export const DeleteRequest = z.strictObject({
  ...write,
  op: z.literal('delete'),
  ids: z.array(MessageId).min(1).max(LIMITS.deleteMax),
});
/** Replaces the text of a message this account sent (needs cluster version 3). */
export const EditRequest = z.strictObject({ ...write, op: z.literal('edit'), messageId: MessageId, text: MessageText });
/**
 * Full-text search over the messages this account may see, best matches first. Words match whole or, the last one,
 * as a prefix; case and accents are ignored; every word must match.
 */
export const SearchRequest = z.strictObject({ ...base, op: z.literal('search'), query: z.string().min(1).max(LIMITS.searchQueryMax), limit: Limit.optional() });
/**
 * Groups (need cluster version 3). `group` names an existing group (without `#`); the requester must be a member,
 * and an admin to add, remove, rename or change admins. Unknown group: NOT_FOUND; not a member or not an admin:
 * FORBIDDEN; a taken name: CONFLICT.
 */
export const CreateGroupRequest = z.strictObject({ ...write, op: z.literal('createGroup'), name: GroupName, members: MemberList });
export const AddMembersRequest = z.strictObject({ ...write, op: z.literal('addMembers'), group: GroupName, members: MemberList.min(1) });
export const RemoveMembersRequest = z.strictObject({ ...write, op: z.literal('removeMembers'), group: GroupName, members: MemberList.min(1) });
export const LeaveGroupRequest = z.strictObject({ ...write, op: z.literal('leaveGroup'), group: GroupName });
export const RenameGroupRequest = z.strictObject({ ...write, op: z.literal('renameGroup'), group: GroupName, name: GroupName });
export const SetAdminRequest = z.strictObject({ ...write, op: z.literal('setAdmin'), group: GroupName, member: Username, admin: z.boolean() });
export const GroupSendRequest = z.strictObject({ ...write, op: z.literal('groupSend'), group: GroupName, text: MessageText });
/** Marks the group's messages up to and including `upTo` read for this account. */
export const MarkGroupReadRequest = z.strictObject({ ...write, op: z.literal('markGroupRead'), group: GroupName, upTo: MessageId });
/** The account's groups, most recently active first. */
export const GroupsRequest = z.strictObject({ ...base, op: z.literal('groups') });
/** One page of a group's history (messages and membership events): the newest `limit` older than `before`, oldest first. */
export const GroupHistoryRequest = z.strictObject({ ...base, op: z.literal('groupHistory'), group: GroupName, limit: Limit.optional(), before: MessageId.optional() });
/**
 * Who of `users` is online now (connected to the cluster) or when last seen; the connection is then pushed their
 * changes (`presence` events) until it asks again, logs out or closes. Ephemeral: not in the log.
 */
export const PresenceRequest = z.strictObject({ ...base, op: z.literal('presence'), users: z.array(Username).min(1).max(500) });
/**
 * "I am typing" to one account (`to`) or a group's members (`group`): pushed as a `typing` event to their connections
 * right away; not in the log. Clients send it every few seconds while the person types, and show "... is typing"
 * until about 5 s pass without one.
 */
export const TypingRequest = z
  .strictObject({ ...base, op: z.literal('typing'), to: Username.optional(), group: GroupName.optional() })
  .refine((r) => (r.to === undefined) !== (r.group === undefined), 'typing takes exactly one of to and group');
export const DeleteAccountRequest = z.strictObject({ ...write, op: z.literal('deleteAccount'), password: Password });
/** This replica's view of the cluster (no login needed). */
export const StatusRequest = z.strictObject({ ...base, op: z.literal('status') });

/**
 * Cluster administration needs proof of the cluster secret for each request: `scope` is the canonical text of the one
 * request it authorizes (replica/protocol/admin.ts) and `mac` = hex HMAC-SHA256(secret, "quorum-admin-1|" + the
 * hello frame's nonce + "|" + scope). The secret itself never crosses the wire.
 */
export const AdminRequest = z.strictObject({ ...base, op: z.literal('admin'), scope: z.string().min(1).max(400), mac: z.string().regex(/^[0-9a-f]{64}$/) });
const ReplicaId = ReplicaIdSchema;
const ReplicaAddress = HostPortSchema;
export const ConfChangeRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('addLearner'), id: ReplicaId, address: ReplicaAddress }),
  z.strictObject({ op: z.literal('addVoter'), id: ReplicaId, address: ReplicaAddress }),
  z.strictObject({ op: z.literal('promote'), id: ReplicaId }),
  z.strictObject({ op: z.literal('demote'), id: ReplicaId }),
  z.strictObject({ op: z.literal('remove'), id: ReplicaId }),
]);
export type ConfChangeRequest = z.infer<typeof ConfChangeRequestSchema>;
/** One single-server configuration change through the log (admin only). */
export const ClusterChangeRequest = z.strictObject({ ...base, op: z.literal('clusterChange'), change: ConfChangeRequestSchema });
/** Hands leadership to `to` (default: the most up-to-date other voter); admin only. */
export const TransferRequest = z.strictObject({ ...base, op: z.literal('transfer'), to: ReplicaId.optional() });
/**
 * Rebuilds replica `replica`'s state from the leader's (admin only): the leader streams a snapshot of its state, which
 * replaces the replica's once committed there; its log stays. For a replica whose state diverged (status stateCheck).
 */
export const ResyncRequest = z.strictObject({ ...base, op: z.literal('resync'), replica: ReplicaId });

export const ClientRequest = z.discriminatedUnion('op', [
  SignupRequest,
  LoginRequest,
  ResumeRequest,
  LogoutRequest,
  AccountsRequest,
  SendRequest,
  ReadRequest,
  HistoryRequest,
  ConversationsRequest,
  MarkReadRequest,
  DeliveredRequest,
  DeleteRequest,
  DeleteAccountRequest,
  EditRequest,
  SearchRequest,
  CreateGroupRequest,
  AddMembersRequest,
  RemoveMembersRequest,
  LeaveGroupRequest,
  RenameGroupRequest,
  SetAdminRequest,
  GroupSendRequest,
  MarkGroupReadRequest,
  GroupsRequest,
  GroupHistoryRequest,
  PresenceRequest,
  TypingRequest,
  StatusRequest,
  AdminRequest,
  ClusterChangeRequest,
  TransferRequest,
  ResyncRequest,
]);
export type ClientRequest = z.infer<typeof ClientRequest>;
export type Op = ClientRequest['op'];
/** Ops that change replicated state; they carry a session and go through the log. */
export const WRITE_OPS = [
  'signup',
  'login',
  'logout',
  'send',
  'read',
  'markRead',
  'delivered',
  'delete',
  'deleteAccount',
  'edit',
  'createGroup',
  'addMembers',
  'removeMembers',
  'leaveGroup',
  'renameGroup',
  'setAdmin',
  'groupSend',
  'markGroupRead',
] as const;

// ---- results ----

export interface ChatMessage {
  id: number;
  from: string;
  to: string;
  text: string;
  /** Leader's clock when the message was committed to the log (ms since epoch). */
  sentAt: number;
  deliveredAt: number | null;
  readAt: number | null;
  /** True when the sender has since deleted its account. */
  fromDeleted?: boolean;
  /** When the sender last edited the text (leader's clock, ms since epoch); absent when never edited. */
  editedAt?: number;
  /** The group it was sent to (its current name; `to` is then `#name`); absent for one-to-one messages. */
  group?: string;
  /** A group's membership change shown in its history (`from` made it; `text` says it for people); absent for messages. */
  event?: GroupEventKind;
  /** In a group's history: how many other members have read it (its sender excluded). */
  readBy?: number;
  /**
   * Group messages: the members the text names as `@name` (any case; as their usernames are written). A UI highlights
   * them and notifies a mentioned member even when the group is muted.
   */
  mentions?: string[];
}

/** Whether an account is connected now, or when it was last seen (null: not since the serving replica started). */
export interface PresenceEntry {
  user: string;
  online: boolean;
  lastSeenAt: number | null;
}

/** The kinds of group events (group history entries that are not messages). */
export const GROUP_EVENT_KINDS = ['created', 'added', 'removed', 'left', 'renamed', 'admin'] as const;
export type GroupEventKind = (typeof GROUP_EVENT_KINDS)[number];

/** A group as its members see it. */
export interface GroupSummary {
  name: string;
  /** Every member's username, in name order (the creator included while a member). */
  members: string[];
  /** Members who may add, remove and rename. */
  admins: string[];
  /** Messages from others this account has not read. */
  unread: number;
  /** The newest message or event (absent for none). */
  lastMessage?: ChatMessage;
}

/**
 * A search result: a message and where its text matched, as [start, end) offsets into `text` (UTF-16 code units, as
 * JavaScript strings index), in order, so a UI can mark the words.
 */
export interface SearchHit extends ChatMessage {
  matches: [number, number][];
}

export interface ConversationSummary {
  with: string;
  lastMessage: ChatMessage;
  unread: number;
  /** True when the other account was deleted. */
  deleted?: boolean;
}

export interface ReplicaStatusRow {
  id: string;
  address: string;
  voter: boolean;
  /** Leader only: highest log index known to be on that replica. */
  match?: number;
  /** Leader only: heard from within the last election timeout. */
  reachable?: boolean;
  /** Leader only: how autopilot sees this member (health, since when, its role's age, the last change it made). */
  autopilot?: AutopilotMemberView;
  /** The highest state-machine version the member reported supporting (absent: not reported yet). */
  version?: number;
  /**
   * The member's latest state hash compared by this replica (index, and whether it agrees: with the majority's hash at
   * that index, or with this replica's when no majority reported); absent: none compared yet.
   */
  stateCheck?: { index: number; agrees: boolean };
}

export interface ReplicaStatus {
  id: string;
  address: string;
  role: 'follower' | 'preCandidate' | 'candidate' | 'leader' | 'learner' | 'removed' | 'stopped';
  term: number;
  leader: { id: string; address: string } | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  voter: boolean;
  /** Every member of the configuration as this replica knows it. */
  members: ReplicaStatusRow[];
  /** False when this replica (as leader) cannot reach a majority, or (as follower) has no leader. */
  quorum: boolean;
  /** The cluster's public id (16 hex digits; LAN discovery groups replicas by it), once this replica knows it. */
  clusterId?: string;
  /** Leader only: what autopilot aims at and waits for (also when it is off: then `enabled` is false). */
  autopilot?: AutopilotSummary;
  /** The highest state-machine version this replica supports (replica/chat/versions.ts; absent from older releases). */
  version?: number;
  /**
   * The cluster version as of this replica's applied state: the version every replica applies by, raised by the leader
   * once every member supports more (absent from older releases).
   */
  clusterVersion?: number;
  /** Free space of this replica's data folder's filesystem (absent until first sampled, or where it cannot be read). */
  storage?: ReplicaStorageStatus;
  /**
   * Replicas compare their state hashes at the multiples of `every` (0: off): `index` is the newest this replica
   * hashed (null: none yet), `diverged` the replicas known to differ from a majority (resync them), `mismatches` how
   * many differences this replica found since it started.
   */
  stateCheck?: { every: number; index: number | null; diverged: string[]; mismatches: number };
}

/** Free space where a replica keeps its data; `lowSpace` is the warning a UI shows as a banner. */
export interface ReplicaStorageStatus {
  /** Bytes an unprivileged writer may still use on the data folder's filesystem. */
  freeBytes: number;
  /** Size of that filesystem in bytes. */
  totalBytes: number;
  /** The replica warns below this many free bytes (--disk-warn-mb). */
  warnBelowBytes: number;
  /** Free space is below the threshold: free some before the disk fills (a replica on a full disk stops). */
  lowSpace: boolean;
}

export interface ResultMap {
  signup: { user: string };
  /** lastMessageId: the newest message to or from the account now; resume live delivery after it. */
  login: { user: string; token: string; unread: number; lastMessageId?: number };
  resume: { user: string; unread: number; lastMessageId?: number };
  logout: { loggedOut: true };
  accounts: { accounts: { username: string }[]; nextPageToken: string | null };
  send: { id: number; sentAt: number };
  read: { messages: ChatMessage[] };
  history: { messages: ChatMessage[] };
  conversations: { conversations: ConversationSummary[] };
  markRead: { marked: number };
  delivered: { marked: number };
  delete: { deleted: number };
  deleteAccount: { deleted: true };
  edit: { edited: true; editedAt: number };
  createGroup: { group: GroupSummary };
  addMembers: { group: GroupSummary };
  removeMembers: { group: GroupSummary };
  leaveGroup: { left: true };
  renameGroup: { group: GroupSummary };
  setAdmin: { group: GroupSummary };
  groupSend: { id: number; sentAt: number };
  markGroupRead: { marked: number };
  groups: { groups: GroupSummary[] };
  groupHistory: { messages: ChatMessage[] };
  presence: { presence: PresenceEntry[] };
  typing: { sent: true };
  search: { messages: SearchHit[] };
  status: ReplicaStatus;
  admin: { admin: true };
  clusterChange: { conf: { voters: string[]; learners: string[] } };
  transfer: { leader: string };
  /** The snapshot index the leader sent to `resync` (the replica's state is that once it has installed it). */
  resync: { resync: string; index: number };
}

// ---- server to client frames ----

export const WireErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  leader: z.object({ id: z.string(), address: z.string() }).nullable().optional(),
  retryAfterMs: z.number().int().nonnegative().max(86_400_000).optional(),
});

export type ResponseFrame =
  | { type: 'response'; id: string | number; ok: true; result: unknown }
  | { type: 'response'; id: string | number; ok: false; error: z.infer<typeof WireErrorSchema> };

export type PushFrame =
  | { type: 'push'; event: 'message'; message: ChatMessage }
  | { type: 'push'; event: 'deleted'; ids: number[] }
  /** A message was edited: its new version (text, editedAt), to both sides. */
  | { type: 'push'; event: 'edited'; message: ChatMessage }
  /** A watched account came online or went offline (see PresenceRequest). */
  | { type: 'push'; event: 'presence'; user: string; online: boolean; lastSeenAt: number | null }
  /** `from` is typing to this account (`to` absent) or in `group`. */
  | { type: 'push'; event: 'typing'; from: string; group?: string }
  /** Receipts for messages this account sent: delivered or read at the given time. */
  | { type: 'push'; event: 'receipt'; ids: number[]; kind: 'delivered' | 'read'; at: number }
  /** In `group`, members read messages this account sent: each message's count of readers now (its sender left out). */
  | { type: 'push'; event: 'groupRead'; group: string; messages: { id: number; readBy: number }[] }
  /** The login ended (logout elsewhere, account deleted); the client must log in again. */
  | { type: 'push'; event: 'sessionEnded'; reason: string };

/** Sent once on connect so clients know whom they talk to. */
export interface HelloFrame {
  type: 'hello';
  protocol: number;
  replica: { id: string; address: string };
  leader: { id: string; address: string } | null;
  /** The replica's applied log index: a client stamps a new session with it (ClientSession.startIndex). */
  appliedIndex?: number;
  /** Per-connection challenge for the `admin` request. */
  nonce?: string;
  /**
   * The cluster version as of the replica's applied state (replica/chat/versions.ts): features of a higher version are
   * refused (UNSUPPORTED_BY_CLUSTER) until every member is updated; version 3 brings groups, edits and search.
   */
  clusterVersion?: number;
}

/** A frame-level error (malformed frame with no usable id); the connection stays open unless noted. */
export interface ErrorFrame {
  type: 'error';
  error: z.infer<typeof WireErrorSchema>;
}

export type ServerFrame = ResponseFrame | PushFrame | HelloFrame | ErrorFrame;

const ChatMessageSchema = z.object({
  id: z.number(),
  from: z.string(),
  to: z.string(),
  text: z.string(),
  sentAt: z.number(),
  deliveredAt: z.number().nullable(),
  readAt: z.number().nullable(),
  fromDeleted: z.boolean().optional(),
  editedAt: z.number().optional(),
  group: z.string().optional(),
  event: z.enum(GROUP_EVENT_KINDS).optional(),
  readBy: z.number().optional(),
  mentions: z.array(z.string()).optional(),
});

/** Clients validate what servers send too: a buggy or hostile server must not crash a client. */
export const ServerFrameSchema = z.discriminatedUnion('type', [
  // zod 4 refuses two options with the same discriminator value ("Duplicate discriminator value"), so the
  // response shapes form a union on `ok` and the pushes a union on `event`, each nested under its `type`.
  z.discriminatedUnion('ok', [
    z.object({ type: z.literal('response'), id: RequestId, ok: z.literal(true), result: z.unknown() }),
    z.object({ type: z.literal('response'), id: RequestId, ok: z.literal(false), error: WireErrorSchema }),
  ]),
  z.discriminatedUnion('event', [
    z.object({ type: z.literal('push'), event: z.literal('message'), message: ChatMessageSchema }),
    z.object({ type: z.literal('push'), event: z.literal('deleted'), ids: z.array(z.number()) }),
    z.object({ type: z.literal('push'), event: z.literal('edited'), message: ChatMessageSchema }),
    z.object({ type: z.literal('push'), event: z.literal('presence'), user: z.string(), online: z.boolean(), lastSeenAt: z.number().nullable() }),
    z.object({ type: z.literal('push'), event: z.literal('typing'), from: z.string(), group: z.string().optional() }),
    z.object({
      type: z.literal('push'),
      event: z.literal('receipt'),
      ids: z.array(z.number()),
      kind: z.enum(['delivered', 'read']),
      at: z.number(),
    }),
    z.object({
      type: z.literal('push'),
      event: z.literal('groupRead'),
      group: z.string(),
      messages: z.array(z.object({ id: z.number(), readBy: z.number() })),
    }),
    z.object({ type: z.literal('push'), event: z.literal('sessionEnded'), reason: z.string() }),
  ]),
  z.object({
    type: z.literal('hello'),
    protocol: z.number(),
    replica: z.object({ id: z.string(), address: z.string() }),
    leader: z.object({ id: z.string(), address: z.string() }).nullable(),
    appliedIndex: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    clusterVersion: z.number().int().positive().optional(),
  }),
  z.object({ type: z.literal('error'), error: WireErrorSchema }),
]);
