/**
 * Joining a running cluster: a replica started with join addresses asks the cluster to add it as a learner (on an
 * empty data folder), then waits until it is a member and has caught up with the leader. Who votes is then the
 * leader's autopilot's decision; only when the leader runs without autopilot does a replica that was not started as
 * a learner ask to be promoted itself. Run on every start with join addresses, so a restart mid-join resumes.
 */
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.js';
import type { ReplicaStatus } from '../protocol/client.js';
import { QuorumError } from '../protocol/errors.js';
import { adminRequest } from '../net/admin-client.js';

export interface JoinOptions {
  selfId: NodeId;
  /** This replica's own HOST:PORT, recorded in the configuration. */
  selfAddress: string;
  /** Members to ask (the join addresses); the leader's address is added once known. */
  via: string[];
  secret: Buffer;
  /** Ask to be added as a learner first (false: already a member, resuming after a restart). */
  addSelf: boolean;
  /** Leave promotion to the leader's autopilot even when it runs without one. */
  learner: boolean;
  log: Logger;
  /** A member that knows a leader and has applied everything that leader reported committed. */
  caughtUp: () => boolean;
  isVoter: () => boolean;
  /** The current leader's address, when known. */
  leaderAddress: () => string | undefined;
  stopping: () => boolean;
}

/** How often the catch-up condition is checked (an in-process condition: cheap). */
const CATCH_UP_POLL_MS = 50;
/** How long each cluster request of the join may keep retrying (leader elections, a busy leader). */
const REQUEST_TIMEOUT_MS = 60_000;

export async function joinCluster(options: JoinOptions): Promise<void> {
  const { selfId, secret, via, log } = options;
  if (options.addSelf) {
    await adminRequest(via, secret, { op: 'clusterChange', change: { op: 'addLearner', id: selfId, address: options.selfAddress } }, {
      timeoutMs: REQUEST_TIMEOUT_MS,
      onRetry: (why) => log.info({ why }, 'join: retrying'),
    }).catch((err: unknown) => {
      // Already a member (a retried join, or added with `cluster add`): fine.
      if (!(err instanceof QuorumError && err.code === 'INVALID' && /already a member/.test(err.message))) throw err;
    });
  }
  log.info(options.addSelf ? 'join: added as a learner; catching up' : 'join: resuming; catching up');
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (options.stopping()) return reject(new Error('stopped while joining'));
      if (options.caughtUp()) return resolve();
      setTimeout(check, CATCH_UP_POLL_MS);
    };
    check();
  });
  if (options.isVoter()) {
    log.info('join: complete; a caught-up voter');
    return;
  }
  if (options.learner) {
    log.info('join: complete; a caught-up learner, until the leader\'s autopilot promotes it');
    return;
  }
  const leader = await leaderStatus(options);
  if (leader.autopilot?.enabled) {
    log.info({ leader: leader.id }, 'join: complete; a caught-up learner, until the leader\'s autopilot promotes it');
    return;
  }
  const servers = via.concat(options.leaderAddress() ?? []);
  await adminRequest(servers, secret, { op: 'clusterChange', change: { op: 'promote', id: selfId } }, { timeoutMs: REQUEST_TIMEOUT_MS }).catch((err: unknown) => {
    if (!(err instanceof QuorumError && err.code === 'INVALID' && /not a learner/.test(err.message) && options.isVoter())) throw err;
  });
  log.info('join: complete; promoted to voter (the leader runs without autopilot)');
}

/** The leader's own status (it says whether the leader runs autopilot), following leadership changes. */
async function leaderStatus(options: JoinOptions): Promise<ReplicaStatus> {
  const deadline = Date.now() + REQUEST_TIMEOUT_MS;
  for (;;) {
    if (options.stopping()) throw new Error('stopped while joining');
    const address = options.leaderAddress();
    if (address) {
      const status = await adminRequest<ReplicaStatus>([address], options.secret, { op: 'status' }, { timeoutMs: 5_000 }).catch(() => null);
      if (status?.role === 'leader') return status;
    }
    if (Date.now() > deadline) throw new QuorumError('UNAVAILABLE', 'join: no leader answered a status request in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
