/**
 * Rebuilding a replica whose log cannot be trusted (`replica --rebuild`, docs/operations.md "A damaged replica"), in
 * one step that the replica's own start then finishes:
 *
 *   1. check, changing nothing: the folder holds a raft.db, no other process holds it (its lock), its log really is
 *      damaged (it fails the checks a start runs; --force-rebuild skips this one), its files can be moved into a
 *      folder beside it (same filesystem), and the cluster's leader answers, does not hear from the old id (it is not
 *      running elsewhere: a wrong --id would otherwise remove a healthy replica) and does not count the new id;
 *   2. ask the leader to remove the old id, and wait until that change is applied by the leader (committed);
 *   3. move the folder's files into `<folder>.damaged-<UTC time>` beside it (never delete; `cluster.secret` stays);
 *   4. the caller then starts the replica under the NEW id with --join: an empty folder, so it is added as a learner
 *      and catches up from the leader (by snapshot once the log was compacted).
 *
 * Why a new id: an empty log under an id that some replica still counts as a voter (one partitioned before the
 * removal, or a removal not yet applied there) could give its vote to a candidate that lacks committed entries, and
 * help elect a leader that loses them. Ids are never reused.
 *
 * Markers make the steps resumable and keep the old data from being started again: `rebuild.json` in the folder
 * (from which id, as which id, where the backup is, and whether the move finished) and `moved-aside.json` in the
 * backup. A start checks both (checkFolderIdentity): the rebuilt folder only under its new id, the backup never.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, accessSync, constants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import Database from 'better-sqlite3';
import type { ReplicaStatus } from '../protocol/client.js';
import { QuorumError } from '../protocol/errors.js';
import { isReplicaId } from '../protocol/address.js';
import { adminRequest } from '../net/admin-client.js';
import type { ClientTrust } from '../security/client-tls.js';
import { SqliteLogStore } from '../storage/log-store.js';
import { DamagedLogError } from '../storage/log-segments.js';
import { DataFolderInUseError, DataFolderLock } from '../storage/folder-lock.js';
import { fsyncPath } from '../storage/sqlite.js';

/** In a rebuilt folder: which replica it held before and which it holds now. */
const REBUILD_MARKER = 'rebuild.json';
/** In the backup folder: whose files these are; no replica may start on them. */
const MOVED_ASIDE_MARKER = 'moved-aside.json';
/** Files that stay in the folder: the lock (held while moving) and the cluster's secret (a join code's, kept). */
const STAYS = new Set(['LOCK', 'LOCK.holder', 'cluster.secret']);

interface RebuildMarker {
  from: string;
  id: string;
  backup: string;
  at: string;
  /** 'moving' until every file is in the backup. */
  state: 'moving' | 'moved';
}

interface MovedAsideMarker {
  replica: string;
  rebuiltAs: string;
  folder: string;
  at: string;
}

/** The id a rebuilt replica takes by default: r2 → r2-2, r2-2 → r2-3; null when it would be too long. */
export function nextReplicaId(id: string): string | null {
  const m = /^(.*[^-])-([0-9]{1,9})$/.exec(id);
  const next = m ? `${m[1]}-${Number(m[2]) + 1}` : `${id}-2`;
  return isReplicaId(next) ? next : null;
}

/** A refused or failed rebuild: `message` is the one line the operator reads (what went wrong, what to do). */
export class RebuildError extends Error {
  constructor(
    /** INVALID: nothing was changed, the request does not fit; DATA_FOLDER_IN_USE; UNAVAILABLE: the cluster or the disk failed. */
    readonly code: 'INVALID' | 'DATA_FOLDER_IN_USE' | 'UNAVAILABLE',
    message: string,
  ) {
    super(message);
    this.name = 'RebuildError';
  }
}

export interface RebuildOptions {
  dataDir: string;
  /** The id the folder's replica ran as: removed from the cluster. */
  oldId: string;
  /** The id to join as; when not given explicitly, a resumed rebuild keeps the one it chose. */
  newId: string;
  newIdGiven: boolean;
  /** Skip the damage check (a replica stopped for a log divergence, whose checksums pass). */
  force: boolean;
  /** Members to ask (the --join addresses). */
  via: string[];
  secret: Buffer;
  trust?: ClientTrust;
  log: Logger;
  /** How long the cluster requests may keep retrying (default 60 s). */
  timeoutMs?: number;
  /** How long to wait for the leader to stop hearing from the old id (default 5 s). */
  silenceMs?: number;
  now?: () => Date;
}

export interface RebuildResult {
  /** The id to start under. */
  id: string;
  backup: string;
  /** A rebuild interrupted earlier was finished (its removal was done then). */
  resumed: boolean;
}

export async function rebuildDataFolder(o: RebuildOptions): Promise<RebuildResult> {
  const dataDir = resolve(o.dataDir);
  if (!existsSync(dataDir)) throw new RebuildError('INVALID', `${dataDir} does not exist: give the data folder of the damaged replica with --data`);
  let marker: RebuildMarker | null;
  try {
    refuseBackupFolder(dataDir);
    marker = readMarker<RebuildMarker>(join(dataDir, REBUILD_MARKER));
  } catch (err) {
    throw new RebuildError('INVALID', `${(err as Error).message}; nothing changed`);
  }
  if (marker && marker.from === o.oldId) return resume(o, dataDir, marker);
  if (marker && marker.id !== o.oldId) {
    throw new RebuildError('INVALID', `${dataDir} was rebuilt as replica ${marker.id} (from ${marker.from}): it is not ${o.oldId}'s folder; check --id`);
  }
  if (!existsSync(join(dataDir, 'raft.db'))) {
    throw new RebuildError('INVALID', `${dataDir} holds no raft.db: nothing to rebuild (to join with an empty folder, start without --rebuild, with a new --id and --join)`);
  }
  let lock: DataFolderLock;
  try {
    lock = DataFolderLock.acquire(dataDir, o.oldId);
  } catch (err) {
    if (err instanceof DataFolderInUseError) throw new RebuildError('DATA_FOLDER_IN_USE', err.message);
    throw new RebuildError('UNAVAILABLE', `cannot lock ${dataDir}: ${(err as Error).message}`);
  }
  try {
    checkDamaged(dataDir, o);
    const backup = backupFolder(dataDir, o.now?.() ?? new Date());
    await removeFromCluster(o);
    o.log.warn({ backup }, `rebuild: moving the files of ${o.oldId} aside`);
    moveAside(dataDir, backup, o.oldId, o.newId, o.now?.() ?? new Date());
    return { id: o.newId, backup, resumed: false };
  } finally {
    lock.release();
  }
}

/** The markers' verdict on starting replica `id` on `dataDir`: throws with what to do when it may not. */
export function checkFolderIdentity(dataDir: string, id: string): void {
  refuseBackupFolder(dataDir);
  const marker = readMarker<RebuildMarker>(join(dataDir, REBUILD_MARKER));
  if (!marker) return;
  if (marker.state !== 'moved') {
    throw new Error(`a rebuild of ${dataDir} (replica ${marker.from} as ${marker.id}) was interrupted: run it again (the same command, with --rebuild)`);
  }
  if (marker.id !== id) {
    throw new Error(`data folder ${dataDir} was rebuilt as replica ${marker.id} (from ${marker.from}, ${marker.at}): start it with --id ${marker.id}`);
  }
}

function refuseBackupFolder(dataDir: string): void {
  const aside = readMarker<MovedAsideMarker>(join(dataDir, MOVED_ASIDE_MARKER));
  if (aside) {
    throw new Error(
      `${dataDir} holds the files of replica ${aside.replica}, moved aside when it was rebuilt as ${aside.rebuiltAs} (${aside.at}): ` +
        'never start a replica on them; copy out what you need',
    );
  }
}

function readMarker<T>(file: string): T | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${file} is unreadable (${(err as Error).message}): a rebuild marker; see docs/operations.md "A damaged replica"`, { cause: err });
  }
}

/** Refuses (changing nothing) unless the folder's log fails the checks a start runs, or the rebuild is forced. */
function checkDamaged(dataDir: string, o: RebuildOptions): void {
  let problem: Error | null = null;
  try {
    SqliteLogStore.open(dataDir).close();
  } catch (err) {
    problem = err as Error;
  }
  if (o.force) {
    o.log.warn({ problem: problem?.message ?? null }, 'rebuild: --force-rebuild: not checking whether the log is damaged');
    return;
  }
  if (!problem) {
    throw new RebuildError(
      'INVALID',
      `${join(dataDir, 'raft.db')} passes its checksums, nothing changed: a replica whose state diverged needs \`cluster resync ${o.oldId}\`; ` +
        'to rebuild anyway (a replica stopped for a log divergence) add --force-rebuild',
    );
  }
  const corrupt = problem instanceof Database.SqliteError && /^SQLITE_(CORRUPT|NOTADB)/.test(problem.code);
  if (!(problem instanceof DamagedLogError) && !corrupt) {
    throw new RebuildError('INVALID', `cannot tell whether the log is damaged: ${problem.message}; nothing changed (to rebuild anyway add --force-rebuild)`);
  }
  o.log.warn({ problem: problem.message }, 'rebuild: the log is damaged');
}

/** `<parent>/<name>.damaged-<UTC time>`, checked to be creatable by a rename (the same filesystem, writable). */
function backupFolder(dataDir: string, now: Date): string {
  const parent = dirname(dataDir);
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let backup = join(parent, `${basename(dataDir)}.damaged-${stamp}`);
  for (let n = 2; existsSync(backup); n++) backup = join(parent, `${basename(dataDir)}.damaged-${stamp}-${n}`);
  if (statSync(parent).dev !== statSync(dataDir).dev) {
    throw new RebuildError(
      'INVALID',
      `${dataDir} is a filesystem of its own, so its files cannot be moved into ${parent}; nothing changed: ` +
        'move them aside yourself, then start with an empty folder, a new --id and --join (docs/operations.md "A damaged replica")',
    );
  }
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new RebuildError('INVALID', `cannot create the backup folder in ${parent} (not writable); nothing changed`);
  }
  return backup;
}

/** The leader's status, following the leader hint of whichever member answers first. */
async function leaderStatus(o: RebuildOptions, deadline: number): Promise<ReplicaStatus> {
  const ask = (servers: string[]) => adminRequest<ReplicaStatus>(servers, o.secret, { op: 'status' }, { timeoutMs: Math.max(1000, deadline - Date.now()), trust: o.trust });
  for (;;) {
    const st = await ask(o.via);
    if (st.role === 'leader') return st;
    if (st.leader) {
      const leader = await ask([st.leader.address]).catch(() => null);
      if (leader?.role === 'leader') return leader;
    }
    if (Date.now() > deadline) throw new QuorumError('NO_QUORUM', 'no leader answered (is a majority of the cluster running?)');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function memberIds(st: ReplicaStatus): string[] {
  return st.members.map((m) => m.id);
}

/** Step 2, after every check: the leader removes the old id (resolves once the change is applied there). */
async function removeFromCluster(o: RebuildOptions): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const cannot = (err: unknown, what: string): RebuildError =>
    new RebuildError(
      'UNAVAILABLE',
      `${what} through ${o.via.join(',')}: ${err instanceof QuorumError ? `${err.code}: ` : ''}${(err as Error).message}; ` +
        'nothing was moved: check --join and the secret, then run the same command again',
    );
  let st: ReplicaStatus;
  try {
    st = await leaderStatus(o, deadline);
    // A replica stopped moments ago may still count as heard from for an election timeout.
    const silenceDeadline = Date.now() + (o.silenceMs ?? 5000);
    while (st.members.find((m) => m.id === o.oldId)?.reachable) {
      if (Date.now() > silenceDeadline) {
        throw new RebuildError(
          'INVALID',
          `the leader ${st.id} hears from replica ${o.oldId}, so it is running: this folder is not its data (check --id and --data), ` +
            'or it runs elsewhere (stop it first); nothing changed',
        );
      }
      await new Promise((r) => setTimeout(r, 200));
      st = await leaderStatus(o, deadline);
    }
  } catch (err) {
    if (err instanceof RebuildError) throw err;
    throw cannot(err, 'cannot reach the cluster\'s leader');
  }
  if (memberIds(st).includes(o.newId)) {
    throw new RebuildError('INVALID', `${o.newId} is already a member of the cluster; nothing changed: give an id never used in it with --new-id`);
  }
  if (!memberIds(st).includes(o.oldId)) {
    o.log.warn({ members: memberIds(st) }, `rebuild: ${o.oldId} is not a member of the cluster (removed already); nothing to remove`);
    return;
  }
  o.log.warn({ leader: st.id }, `rebuild: asking the cluster to remove ${o.oldId}`);
  try {
    const r = await adminRequest<{ conf: { voters: string[]; learners: string[] } }>(
      [st.address, ...o.via],
      o.secret,
      { op: 'clusterChange', change: { op: 'remove', id: o.oldId } },
      { timeoutMs: Math.max(1000, deadline - Date.now()), trust: o.trust },
    );
    if ([...r.conf.voters, ...r.conf.learners].includes(o.oldId)) throw new Error(`the applied configuration still lists ${o.oldId}`);
    o.log.warn({ conf: r.conf }, `rebuild: ${o.oldId} removed from the cluster (applied by the leader)`);
  } catch (err) {
    // Removed meanwhile (a retried request, another operator): the goal holds.
    if (err instanceof QuorumError && /is not a member/.test(err.message)) return;
    throw cannot(err, `asking the cluster to remove ${o.oldId} failed`);
  }
}

/** Step 3: every file but the lock and the secret into `backup`, resumable through the folder's marker. */
function moveAside(dataDir: string, backup: string, oldId: string, newId: string, now: Date): void {
  const at = now.toISOString();
  try {
    mkdirSync(backup, { mode: 0o700 });
    const aside: MovedAsideMarker = { replica: oldId, rebuiltAs: newId, folder: dataDir, at };
    writeFileSync(join(backup, MOVED_ASIDE_MARKER), `${JSON.stringify(aside)}\n`, { mode: 0o600 });
    // The marker of an earlier rebuild (this folder's replica was rebuilt before) is history: it goes with the rest.
    if (existsSync(join(dataDir, REBUILD_MARKER))) renameSync(join(dataDir, REBUILD_MARKER), join(backup, REBUILD_MARKER));
    const marker: RebuildMarker = { from: oldId, id: newId, backup, at, state: 'moving' };
    writeMarker(dataDir, marker);
    finishMove(dataDir, marker);
  } catch (err) {
    if (err instanceof RebuildError) throw err;
    throw new RebuildError(
      'UNAVAILABLE',
      `${oldId} was removed from the cluster, but moving the files of ${dataDir} into ${backup} failed (${(err as Error).message}): ` +
        'fix that, then run the same command again',
    );
  }
}

function writeMarker(dataDir: string, marker: RebuildMarker): void {
  writeFileSync(join(dataDir, REBUILD_MARKER), `${JSON.stringify(marker)}\n`, { mode: 0o600 });
  fsyncPath(join(dataDir, REBUILD_MARKER));
  fsyncPath(dataDir);
}

function finishMove(dataDir: string, marker: RebuildMarker): void {
  for (const name of readdirSync(dataDir)) {
    if (STAYS.has(name) || name === REBUILD_MARKER) continue;
    renameSync(join(dataDir, name), join(marker.backup, name));
  }
  fsyncPath(marker.backup);
  writeMarker(dataDir, { ...marker, state: 'moved' });
  fsyncPath(dirname(dataDir));
}

/** A rebuild of this folder from `oldId` ran before: its removal is done; finish moving, and join as its new id. */
function resume(o: RebuildOptions, dataDir: string, marker: RebuildMarker): RebuildResult {
  if (o.newIdGiven && o.newId !== marker.id) {
    throw new RebuildError('INVALID', `${dataDir} is being rebuilt as ${marker.id} already; drop --new-id ${o.newId} (or give --new-id ${marker.id})`);
  }
  if (marker.state !== 'moved') {
    let lock: DataFolderLock;
    try {
      lock = DataFolderLock.acquire(dataDir, o.oldId);
    } catch (err) {
      if (err instanceof DataFolderInUseError) throw new RebuildError('DATA_FOLDER_IN_USE', err.message);
      throw err;
    }
    try {
      finishMove(dataDir, marker);
    } catch (err) {
      throw new RebuildError('UNAVAILABLE', `moving the files of ${dataDir} into ${marker.backup} failed (${(err as Error).message}): fix that, then run the same command again`);
    } finally {
      lock.release();
    }
  }
  o.log.warn({ backup: marker.backup }, `rebuild: resuming the rebuild of ${marker.from} as ${marker.id}`);
  return { id: marker.id, backup: marker.backup, resumed: true };
}
