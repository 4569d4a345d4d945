/**
 * A replica's data folder at start-up: opens raft.db and state.db, and decides what this start is: the first start of
 * a new cluster (records the bootstrap configuration), the first start of a replica joining a running cluster (an
 * empty folder and join addresses), or a restart (the stored configuration wins). Applies --force-new-cluster. (The
 * log left behind its state by an interrupted snapshot install is repaired when the core starts: open-core.ts.)
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ConfState } from '../raft/types.js';
import { isMember } from '../raft/conf.js';
import { SqliteLogStore } from '../storage/log-store.js';
import { DataFolderLock } from '../storage/folder-lock.js';
import { ChatStateMachine } from '../chat/state-machine.js';
import type { ReplicaOptions } from './options.js';
import { bootstrapClusterId, writeClusterId } from './cluster-id.js';
import { checkFolderIdentity } from './rebuild.js';

export interface DataFolder {
  /** Held until the replica has closed its stores: no other process may open this folder meanwhile. */
  lock: DataFolderLock;
  logStore: SqliteLogStore;
  stateMachine: ChatStateMachine;
  /**
   * What this start does about joining: 'add' (the folder held nothing and join addresses were given: ask to be
   * added, then catch up), 'resume' (join addresses given and already a member: catch up, as after a restart
   * mid-join), or 'none'.
   */
  join: 'add' | 'resume' | 'none';
}

/** Closes what start-up opened, most recent first, when a later step fails. */
export type Closer = () => unknown;

/**
 * Opens (creating when missing) the data folder at `dataDir` for the replica `options.id`. Each store it opens is
 * pushed onto `opened`, so a failed start closes it again. Throws with what to do when the folder and the options
 * do not fit together.
 */
export function openDataFolder(options: ReplicaOptions, dataDir: string, log: Logger, opened: Closer[]): DataFolder {
  // A rebuilt folder starts only under its new id; a rebuild's backup never (rebuild.ts).
  checkFolderIdentity(dataDir, options.id);
  // The data folder holds every message and password hash: this user only.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const lock = DataFolderLock.acquire(dataDir, options.id);
  opened.push(() => lock.release());
  const logStore = SqliteLogStore.open(dataDir);
  opened.push(() => logStore.close());
  const stateMachine = ChatStateMachine.open(dataDir, { supportedVersion: options.supportedVersion });
  opened.push(() => stateMachine.close());

  const join = recordConfiguration(options, dataDir, logStore, stateMachine, log);
  if (options.forceNewCluster) forceNewCluster(options.id, dataDir, logStore, stateMachine, log);

  const conf = stateMachine.conf();
  if (conf && conf.voters.length + conf.learners.length > 1 && !options.secret?.length) {
    throw new Error('this cluster has more than one member: a cluster secret is required (--secret-file with a non-empty file)');
  }
  return { lock, logStore, stateMachine, join };
}

/**
 * First start: records the bootstrap configuration (identical on every initial member), unless this replica joins
 * a running cluster. Says what this start does about joining; refuses a join the data folder cannot take.
 */
function recordConfiguration(options: ReplicaOptions, dataDir: string, logStore: SqliteLogStore, stateMachine: ChatStateMachine, log: Logger): DataFolder['join'] {
  const initial = options.initialCluster ?? [];
  const conf = stateMachine.conf();
  const joining = (options.join?.length ?? 0) > 0;
  if (joining && !options.secret?.length) throw new Error('joining a cluster needs its secret (--secret-file or --join-code)');
  if (!conf && logStore.lastIndex() === 0 && joining) {
    log.info({ via: options.join }, 'empty data folder: joining a running cluster');
    return 'add';
  }
  if (conf) {
    if (initial.length) log.info('stored configuration found; --initial-cluster is ignored on restart');
    if (!joining) return 'none';
    if (conf.voters.length === 1 && conf.voters[0] === options.id && conf.learners.length === 0) {
      throw new Error(
        `data folder ${dataDir} holds a one-member cluster of its own; joining another cluster needs an empty data folder: ` +
          'move this one aside (it keeps its messages as a backup) and start again',
      );
    }
    if (!isMember(conf, options.id)) {
      throw new Error(`this replica was removed from the cluster its data folder ${dataDir} belongs to; to join again, start it with an empty data folder`);
    }
    return 'resume';
  }
  if (logStore.lastIndex() > 0) throw new Error(`data folder ${dataDir} has a log but no configuration; it is damaged`);
  if (options.bootstrap === false) {
    throw new Error(`data folder ${dataDir} is empty and this start may not create a new cluster (bootstrap is off) nor join one (no join addresses)`);
  }
  const members = initial.length ? initial : [{ id: options.id, address: '' }];
  if (!members.some((m) => m.id === options.id)) {
    throw new Error(`--initial-cluster must include this replica (${options.id}); to join a running cluster use --join`);
  }
  const bootConf: ConfState = { voters: members.map((m) => m.id), learners: [] };
  stateMachine.bootstrap(bootConf, members);
  logStore.bootstrap(bootConf);
  writeClusterId(dataDir, bootstrapClusterId(members));
  return 'none';
}

function forceNewCluster(id: string, dataDir: string, logStore: SqliteLogStore, stateMachine: ChatStateMachine, log: Logger): void {
  if (!stateMachine.conf()) throw new Error('--force-new-cluster needs a data folder that already belongs to a cluster');
  log.warn(
    { previous: stateMachine.conf() },
    'FORCE NEW CLUSTER: this replica now forms a one-member cluster from its own data. Writes acknowledged by the old ' +
      'cluster that never reached this replica are lost; entries only this replica held become committed. ' +
      'Add the other machines back with --join; never restart the old replicas with their old data.',
  );
  const marker = join(dataDir, 'forced-new-cluster');
  if (existsSync(marker)) {
    log.warn({ marker }, '--force-new-cluster was already applied to this data folder; ignoring it (delete the marker file to force again)');
    return;
  }
  // Entries past the applied state may never have committed, and a configuration change among them would undo
  // the forced configuration when replayed: the new cluster starts from the applied state alone.
  const applied = stateMachine.applied();
  const alone: ConfState = { voters: [id], learners: [] };
  stateMachine.forceConf(alone);
  logStore.resetToSnapshot({ index: applied.index, term: applied.term, conf: alone });
  writeFileSync(marker, `forced at applied index ${applied.index} (term ${applied.term}) on ${new Date().toISOString()}\n`);
}

/** Snapshot files this replica was sending when it stopped are of no use to the next start. */
export function removeOutgoingSnapshots(dataDir: string): void {
  const dir = join(dataDir, 'snapshots');
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (f.startsWith('out-')) rmSync(join(dir, f), { force: true });
}
