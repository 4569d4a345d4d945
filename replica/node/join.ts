/**
 * Joining a running cluster: a replica started with --join asks the cluster to add it as a learner, waits until it
 * has caught up, then asks to be promoted to voter (unless it should stay a learner). Decided on every start, so a
 * restart in the middle of a join still ends with the promotion.
 */
import type { Logger } from 'pino';
import type { NodeId } from '../raft/types.js';
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
  /** Stay a learner once caught up. */
  learner: boolean;
  log: Logger;
  /** A member that knows a leader and has applied everything that leader reported committed. */
  caughtUp: () => boolean;
  isVoter: () => boolean;
  /** The current leader's address, when known. */
  leaderAddress: () => string | undefined;
  stopping: () => boolean;
}

/** How often the catch-up condition is checked: a few times per heartbeat round would be wasted work. */
const CATCH_UP_POLL_MS = 50;

export async function joinCluster(options: JoinOptions): Promise<void> {
  const { selfId, secret, via, log } = options;
  if (options.addSelf) {
    await adminRequest(via, secret, { op: 'clusterChange', change: { op: 'addLearner', id: selfId, address: options.selfAddress } }, {
      timeoutMs: 60_000,
      onRetry: (why) => log.info({ why }, 'join: retrying'),
    }).catch((err) => {
      // Already a member (a retried join, or added with `cluster add`): fine.
      if (!(err instanceof QuorumError && err.code === 'INVALID' && /already a member/.test(err.message))) throw err;
    });
  }
  log.info(options.addSelf ? 'join: added as a learner; catching up' : 'join: resuming (a learner waiting for promotion); catching up');
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (options.stopping()) return reject(new Error('stopped while joining'));
      if (options.caughtUp()) return resolve();
      setTimeout(check, CATCH_UP_POLL_MS);
    };
    check();
  });
  if (options.learner) {
    log.info('join: caught up; staying a learner (--learner)');
    return;
  }
  if (options.isVoter()) return;
  const servers = via.concat(options.leaderAddress() ?? []);
  await adminRequest(servers, secret, { op: 'clusterChange', change: { op: 'promote', id: selfId } }, { timeoutMs: 60_000 }).catch((err) => {
    if (!(err instanceof QuorumError && err.code === 'INVALID' && /not a learner/.test(err.message) && options.isVoter())) throw err;
  });
  log.info('join: promoted to voter');
}
