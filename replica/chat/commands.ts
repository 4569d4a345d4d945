/**
 * The commands carried in Raft log entries (Entry.data is the JSON text of one Command).
 *
 * A command carries everything that must be deterministic, decided once by the leader that proposed it:
 * `at` (the leader's clock, ms since epoch) and, for client writes, the client session {clientId, seq} used for
 * exactly-once. Secrets never enter the log: passwords travel as the scrypt hash the leader computed or verified
 * against, login tokens as their sha256 (tokenHash). Authenticated commands carry the tokenHash of the login that
 * sent them; apply resolves it to the account, so a token revoked earlier in the log fails deterministically.
 */
import * as z from 'zod';
import { ClientSession, GroupName, Limit, MemberList, MessageId, MessageText, Username } from '../protocol/client.js';
import { LIMITS } from '../protocol/limits.js';
import { HostPortSchema, ReplicaIdSchema } from '../protocol/address.js';
import type { ConfChange } from '../raft/types.js';
import { FIRST_VERSION, requiredVersion, SUPPORTED_VERSION } from './versions.js';

const At = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Version = z.number().int().min(1).max(1_000_000);
/** sha256 of a login token, base64url (43 characters); kept loose enough for other encodings. */
export const TokenHash = z.string().min(16).max(128).regex(/^[A-Za-z0-9_-]+$/);
/** A self-describing password hash (`scrypt$N$r$p$salt$hash`); opaque to the state machine. */
export const PasswordHash = z.string().min(1).max(512);
export const NodeIdSchema = ReplicaIdSchema;
export const AddressSchema = HostPortSchema;

const client = { at: At, session: ClientSession };

export const SignupCommand = z.strictObject({ ...client, kind: z.literal('signup'), username: Username, passwordHash: PasswordHash });
/** `passwordHash`: the hash the leader verified the password against; apply refuses if the account's hash changed. */
export const LoginCommand = z.strictObject({
  ...client,
  kind: z.literal('login'),
  username: Username,
  passwordHash: PasswordHash,
  tokenHash: TokenHash,
});
export const LogoutCommand = z.strictObject({ ...client, kind: z.literal('logout'), tokenHash: TokenHash });
export const SendCommand = z.strictObject({ ...client, kind: z.literal('send'), tokenHash: TokenHash, to: Username, text: MessageText });
export const ReadCommand = z.strictObject({ ...client, kind: z.literal('read'), tokenHash: TokenHash, limit: Limit });
export const MarkReadCommand = z.strictObject({
  ...client,
  kind: z.literal('markRead'),
  tokenHash: TokenHash,
  with: Username,
  upTo: MessageId,
});
export const DeliveredCommand = z.strictObject({ ...client, kind: z.literal('delivered'), tokenHash: TokenHash, upTo: MessageId });
export const DeleteCommand = z.strictObject({
  ...client,
  kind: z.literal('delete'),
  tokenHash: TokenHash,
  ids: z.array(MessageId).min(1).max(LIMITS.deleteMax),
});
export const DeleteAccountCommand = z.strictObject({
  ...client,
  kind: z.literal('deleteAccount'),
  tokenHash: TokenHash,
  passwordHash: PasswordHash,
});
/**
 * Moves the cluster clock on without doing anything else (no client session). A leader whose clock is more than
 * MAX_CLOCK_STEP_MS ahead of the applied clock (after the cluster was down or idle) proposes these before a write,
 * since apply moves the clock at most that far per command.
 */
export const ClockCommand = z.strictObject({ at: At, kind: z.literal('clock') });
/** Group commands (version 3): `group` names an existing group; the sender must be a member (admin where noted). */
export const CreateGroupCommand = z.strictObject({ ...client, kind: z.literal('createGroup'), tokenHash: TokenHash, name: GroupName, members: MemberList });
export const AddMembersCommand = z.strictObject({ ...client, kind: z.literal('addMembers'), tokenHash: TokenHash, group: GroupName, members: MemberList.min(1) });
export const RemoveMembersCommand = z.strictObject({ ...client, kind: z.literal('removeMembers'), tokenHash: TokenHash, group: GroupName, members: MemberList.min(1) });
export const LeaveGroupCommand = z.strictObject({ ...client, kind: z.literal('leaveGroup'), tokenHash: TokenHash, group: GroupName });
export const RenameGroupCommand = z.strictObject({ ...client, kind: z.literal('renameGroup'), tokenHash: TokenHash, group: GroupName, name: GroupName });
export const SetAdminCommand = z.strictObject({ ...client, kind: z.literal('setAdmin'), tokenHash: TokenHash, group: GroupName, member: Username, admin: z.boolean() });
export const GroupSendCommand = z.strictObject({ ...client, kind: z.literal('groupSend'), tokenHash: TokenHash, group: GroupName, text: MessageText });
export const MarkGroupReadCommand = z.strictObject({ ...client, kind: z.literal('markGroupRead'), tokenHash: TokenHash, group: GroupName, upTo: MessageId });
/** Replaces the text of a message the sender sent (version 3). */
export const EditCommand = z.strictObject({ ...client, kind: z.literal('edit'), tokenHash: TokenHash, messageId: MessageId, text: MessageText });
/** Records the state-machine version a member supports (proposed by the leader for what the member told it). */
export const MemberVersionCommand = z.strictObject({ at: At, kind: z.literal('memberVersion'), id: NodeIdSchema, version: Version });
/** Raises the cluster version (proposed by the leader once every member supports it; see versions.ts). */
export const ClusterVersionCommand = z.strictObject({ at: At, kind: z.literal('clusterVersion'), version: Version });
/** Records a replica's address (proposed by the driver, no client session). */
export const MemberCommand = z.strictObject({
  at: At,
  session: ClientSession.optional(),
  kind: z.literal('member'),
  id: NodeIdSchema,
  address: AddressSchema,
});

export const Command = z.discriminatedUnion('kind', [
  SignupCommand,
  LoginCommand,
  LogoutCommand,
  SendCommand,
  ReadCommand,
  MarkReadCommand,
  DeliveredCommand,
  DeleteCommand,
  DeleteAccountCommand,
  EditCommand,
  CreateGroupCommand,
  AddMembersCommand,
  RemoveMembersCommand,
  LeaveGroupCommand,
  RenameGroupCommand,
  SetAdminCommand,
  GroupSendCommand,
  MarkGroupReadCommand,
  MemberCommand,
  MemberVersionCommand,
  ClusterVersionCommand,
  ClockCommand,
]);
export type Command = z.infer<typeof Command>;
export type CommandKind = Command['kind'];
/** The command of one kind. */
export type CommandOf<K extends CommandKind> = Extract<Command, { kind: K }>;

/** The payload of a `conf` entry. */
export const ConfChangeSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('addLearner'), id: NodeIdSchema, address: AddressSchema }),
  z.strictObject({ op: z.literal('addVoter'), id: NodeIdSchema, address: AddressSchema }),
  z.strictObject({ op: z.literal('promote'), id: NodeIdSchema }),
  z.strictObject({ op: z.literal('demote'), id: NodeIdSchema }),
  z.strictObject({ op: z.literal('remove'), id: NodeIdSchema }),
]);

/** The client session of a command, when it has one (client writes do; `member` may; `clock` never). */
export function sessionOf(cmd: Command): ClientSession | undefined {
  return 'session' in cmd ? cmd.session : undefined;
}

/** The data of a log entry for `cmd`: its JSON, with `v` when it needs a version above 1 (versions.ts). */
export function encodeCommand(cmd: Command): string {
  const version = requiredVersion(cmd);
  return JSON.stringify(version > FIRST_VERSION ? { ...cmd, v: version } : cmd);
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; message: string; session?: ClientSession };

/**
 * A decoded command entry: the command and the version it needs; or a malformed entry; or one that needs a version
 * above what this replica supports (`newer`), which it cannot read beyond that.
 */
export type DecodedCommand =
  | { ok: true; value: Command; version: number }
  | { ok: false; message: string; session?: ClientSession; newer?: undefined }
  | { ok: false; message: string; session?: ClientSession; newer: number };

const USERNAME_RE = /^[A-Za-z0-9_.-]+$/;
const ID_RE = /^[A-Za-z0-9_-]+$/;

function ownKeys(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

/**
 * The schema check of a `send`, by hand (every replica decodes every message, and this is several times cheaper than
 * the general schema). It accepts only what SendCommand accepts and returns the same value; anything it does not
 * accept goes through the schema, which decides (and explains).
 */
function fastSend(raw: Record<string, unknown>): Command | null {
  const { at, session, tokenHash, to, text, v } = raw;
  if (ownKeys(raw) !== (v === undefined ? 6 : 7) || !Number.isSafeInteger(at) || (at as number) < 0) return null;
  if (typeof session !== 'object' || session === null || Array.isArray(session)) return null;
  const { clientId, seq, startIndex } = session as Record<string, unknown>;
  if (ownKeys(session) !== (startIndex === undefined ? 2 : 3)) return null;
  if (typeof clientId !== 'string' || clientId.length < 8 || clientId.length > LIMITS.clientIdMax || !ID_RE.test(clientId)) return null;
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) return null;
  if (startIndex !== undefined && (!Number.isSafeInteger(startIndex) || (startIndex as number) < 0)) return null;
  if (typeof tokenHash !== 'string' || tokenHash.length < 16 || tokenHash.length > 128 || !ID_RE.test(tokenHash)) return null;
  if (typeof to !== 'string' || to.length < LIMITS.usernameMin || to.length > LIMITS.usernameMax || !USERNAME_RE.test(to)) return null;
  if (typeof text !== 'string' || text.length < LIMITS.textMin || text.length > LIMITS.textMax) return null;
  const stamped = startIndex === undefined ? { clientId, seq: seq as number } : { clientId, seq: seq as number, startIndex: startIndex as number };
  return { at: at as number, session: stamped, kind: 'send', tokenHash, to, text };
}

/**
 * Parses an entry's data. Never throws: a malformed command (a leader bug) becomes a clear message. The version
 * (`v`, absent for 1) is read first: a command needing more than `supported` is not parsed further (`newer`).
 */
export function decodeCommand(data: string, supported = SUPPORTED_VERSION): DecodedCommand {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, message: 'command is not JSON' };
  }
  const fields = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  const declared = fields?.v === undefined ? FIRST_VERSION : fields.v;
  if (!Number.isSafeInteger(declared) || (fields?.v !== undefined && (declared as number) <= FIRST_VERSION)) {
    return { ok: false, message: `malformed command: v: a version above ${FIRST_VERSION} (absent for ${FIRST_VERSION})`, ...sessionIn(fields) };
  }
  const version = declared as number;
  if (version > supported) return { ok: false, newer: version, message: `the command needs Quorum version ${version}`, ...sessionIn(fields) };
  let value: Command | null = fields?.kind === 'send' ? fastSend(fields) : null;
  if (!value) {
    const body = fields && fields.v !== undefined ? withoutVersion(fields) : raw;
    const parsed = Command.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'command';
      // Still tell the proposer which request failed, if the session is intact.
      return { ok: false, message: `malformed command: ${where}: ${issue?.message ?? 'invalid'}`, ...sessionIn(fields) };
    }
    value = parsed.data;
  }
  const needs = requiredVersion(value);
  if (needs !== version) return { ok: false, message: `malformed command: it declares version ${version} but needs ${needs}`, ...sessionIn(fields) };
  return { ok: true, value, version };
}

function withoutVersion(fields: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...fields };
  delete copy.v;
  return copy;
}

/** The session of an entry that did not decode, when it is intact (so its proposer still learns what happened). */
function sessionIn(fields: Record<string, unknown> | null): { session?: ClientSession } {
  const session = fields ? ClientSession.safeParse(fields.session) : null;
  return session?.success ? { session: session.data } : {};
}

export function decodeConfChange(data: string): Decoded<ConfChange> {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { ok: false, message: 'conf change is not JSON' };
  }
  const parsed = ConfChangeSchema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, message: `malformed conf change: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
}
