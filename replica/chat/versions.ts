/**
 * Versions of the replicated state machine, for clusters whose replicas run different Quorum releases during a
 * rolling upgrade (as etcd's cluster version does).
 *
 * - Every replica supports versions up to SUPPORTED_VERSION (or less: QUORUM_MAX_VERSION makes it play an older
 *   release, for tests). It tells its peers in every batch of Raft messages (MessagesFrame.version).
 * - The replicated state records each member's supported version (`memberVersion` commands, proposed by the leader
 *   for what it hears) and the cluster version: the version every replica applies by (`clusterVersion` commands,
 *   raised by the leader once every member supports more; never lowered).
 * - A command that needs a version above the cluster version is refused: at the leader (UNSUPPORTED_BY_CLUSTER, naming the
 *   replicas to upgrade) and, deterministically, at apply. Commands needing more than version 1 carry it (`v`), so a
 *   replica that does not know the command can still tell whether it must refuse it or is itself too old.
 * - A replica stops with one line when the cluster version passes what it supports, or when the log holds a command
 *   it does not understand that the cluster version allows; it refuses to start on (or install) a state whose cluster
 *   version it does not support.
 *
 * How a new command declares the version it needs: add a line to VERSION_HISTORY and raise SUPPORTED_VERSION, give
 * the command's kind its version in COMMAND_VERSIONS (or, for a new field of an old command, in requiredVersion), and
 * keep every rule that changes with it behind `clusterVersion >= N` in apply. The leader stamps `v` and refuses it
 * below that cluster version.
 */
import type { Command, CommandKind } from './commands.js';

/**
 * Each version: what it added to the state machine (`adds`), and what a person gets from it, as a refusal names it
 * ("update every member to use <feature>").
 */
export const VERSION_HISTORY: Record<number, { adds: string; feature: string }> = {
  1: { adds: 'accounts, messages, receipts, members, client sessions, version reports', feature: 'this' },
  2: {
    adds: 'client sessions stamped with their start index (SESSION_EXPIRED), the bounded clock step and `clock` commands',
    feature: 'session expiry',
  },
  3: {
    adds: 'groups, message edits (`edit`, messages.edited_at) and full-text search (state.db schema 7)',
    feature: 'groups, message edits and search',
  },
};

/** The highest state-machine version this build supports. */
export const SUPPORTED_VERSION = 3;

/** The cluster version of a new cluster, and of a data folder from before versions were recorded. */
export const FIRST_VERSION = 1;

/**
 * The cluster version from which every member takes 'stateHash' peer messages (state-check.ts): releases of version 2
 * refuse a frame that carries one and close the link, so replicas compare state hashes only from this version on.
 */
export const STATE_HASH_VERSION = 3;

/** The version each command kind needs. */
const COMMAND_VERSIONS: Record<CommandKind, number> = {
  signup: 1,
  login: 1,
  logout: 1,
  send: 1,
  read: 1,
  markRead: 1,
  delivered: 1,
  delete: 1,
  deleteAccount: 1,
  member: 1,
  memberVersion: 1,
  clusterVersion: 1,
  clock: 2,
  edit: 3,
  createGroup: 3,
  addMembers: 3,
  removeMembers: 3,
  leaveGroup: 3,
  renameGroup: 3,
  setAdmin: 3,
  groupSend: 3,
  markGroupRead: 3,
};

/** The version a command needs: its kind's, or more for newer fields (a session's start index needs 2). */
export function requiredVersion(cmd: Command): number {
  const kind = COMMAND_VERSIONS[cmd.kind];
  return 'session' in cmd && cmd.session?.startIndex !== undefined ? Math.max(kind, 2) : kind;
}

/**
 * The version this replica supports: SUPPORTED_VERSION, or less when QUORUM_MAX_VERSION says so (a replica that
 * plays an older release, for upgrade tests). Throws on a value that is not a version this build knows.
 */
export function supportedVersion(env: Record<string, string | undefined>): number {
  const cap = env.QUORUM_MAX_VERSION;
  if (cap === undefined || cap === '') return SUPPORTED_VERSION;
  const version = Number(cap);
  if (!Number.isInteger(version) || version < FIRST_VERSION || version > SUPPORTED_VERSION) {
    throw new Error(`QUORUM_MAX_VERSION=${cap}: this Quorum supports versions ${FIRST_VERSION} to ${SUPPORTED_VERSION}`);
  }
  return version;
}

/**
 * Why the leader refuses a command that needs `required` while the cluster runs `cluster`: the members to upgrade,
 * named from what they reported (those that never did count as the oldest).
 */
export function unsupportedReason(required: number, cluster: number, memberIds: string[], reported: ReadonlyMap<string, number>): string {
  const behind = memberIds.filter((id) => (reported.get(id) ?? FIRST_VERSION) < required);
  const who = behind.map((id) => `${id} (version ${reported.get(id) ?? `${FIRST_VERSION} or unreported`})`).join(', ');
  return (
    `${needsVersion(required, cluster)}` + (behind.length ? `; still to update: ${who}` : '; the cluster version is being raised: retry shortly')
  );
}

/**
 * The start of every refusal of a command that needs `required` while the cluster runs `cluster` (at the leader and
 * at apply alike): what to do first, then the versions.
 */
export function needsVersion(required: number, cluster: number): string {
  const feature = VERSION_HISTORY[required]?.feature ?? `Quorum version ${required}`;
  return `update every member to use ${feature} (it needs Quorum version ${required}; the cluster runs version ${cluster})`;
}

/**
 * The newest state.db schema (schema.ts STATE_SCHEMA_VERSION) a replica that supports each version can read: a
 * snapshot is a state.db, so the leader sends one only to a peer that reads its schema (older ones it migrates).
 * Version 1 as QUORUM_MAX_VERSION plays it: releases from before version gates report no version at all. Version 3
 * reads schema 7 (schema 6, the search index that stored a second copy of every text, was never released: no
 * release supports version 3 with schema 6).
 */
const READABLE_SCHEMA: Record<number, number> = { 1: 4, 2: 4, 3: 7 };

/**
 * Why a replica that supports `peerVersion` is not sent a snapshot of schema `schema` while the cluster runs
 * `clusterVersion` (null: send it). Its release could not read it, so it waits to be updated (the leader keeps going
 * without it). Not withheld when its version is unknown (a peer says it with its first answer, before any snapshot),
 * nor when the cluster already runs past it: it can never rejoin, and installing the snapshot makes it stop with the
 * line that says to update it.
 */
export function snapshotUnreadableBy(peer: string, peerVersion: number | undefined, schema: number, clusterVersion: number): string | null {
  if (peerVersion === undefined || clusterVersion > peerVersion) return null;
  const readable = READABLE_SCHEMA[peerVersion] ?? (peerVersion > SUPPORTED_VERSION ? schema : 0);
  if (readable >= schema) return null;
  return `${peer} supports version ${peerVersion}, whose release cannot read this replica's state format (schema ${schema}): it catches up once updated (or from a leader of its release)`;
}
