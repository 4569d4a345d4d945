/**
 * Leadership hand-over: a leader asked to (an administrator, a replica stopping, a desktop about to sleep or quit, a
 * leader removing itself) hands leadership to another voter and waits until that voter leads, so clients see no
 * election gap.
 */
import type { Logger } from 'pino';
import type { RaftStatus } from '../raft/raft.js';
import type { NodeId, SoftState } from '../raft/types.js';
import { QuorumError } from '../protocol/errors.js';
import type { Driver } from './driver.js';

/** The voter to hand leadership to when none is named: the most up-to-date other voter heard from recently. */
export function handOverTarget(status: RaftStatus, selfId: NodeId): NodeId | undefined {
  let best: { id: NodeId; match: number } | undefined;
  for (const id of status.conf.voters) {
    const progress = status.progress?.[id];
    if (id === selfId || !progress?.recentActive) continue;
    if (!best || progress.match > best.match) best = { id, match: progress.match };
  }
  return best?.id;
}

/** Resolves true once the driver's soft state satisfies `holds` (checked now and on every change), false after `ms`. */
export function waitForSoftState(driver: Driver<unknown>, holds: (soft: SoftState) => boolean, ms: number): Promise<boolean> {
  if (holds(driver.softState)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onChange = (soft: SoftState) => {
      if (holds(soft)) finish(true);
    };
    const timer = setTimeout(() => finish(false), ms);
    const finish = (reached: boolean) => {
      clearTimeout(timer);
      driver.off('softState', onChange);
      resolve(reached);
    };
    driver.on('softState', onChange);
  });
}

export interface LeadershipOptions {
  selfId: NodeId;
  driver: Driver<unknown>;
  /** The core's status (role, configuration, followers' progress). */
  raftStatus: () => RaftStatus;
  log: Logger;
  /** How long a transfer may take before it is reported as failed: the new leader must win an election. */
  transferTimeoutMs: number;
}

export class Leadership {
  constructor(private readonly options: LeadershipOptions) {}

  /**
   * Hands leadership to `to` (default: the most up-to-date other reachable voter); resolves with the new leader's id.
   * NOT_LEADER when this replica does not lead, CONFLICT when there is no voter to hand to, TIMEOUT when the target
   * did not take over in time.
   */
  async transfer(to?: NodeId): Promise<NodeId> {
    const { driver, selfId, log } = this.options;
    const status = this.options.raftStatus();
    if (status.role !== 'leader') throw driver.notLeader();
    const target = to ?? handOverTarget(status, selfId);
    if (!target) throw new QuorumError('CONFLICT', 'no other reachable voter to hand leadership to');
    if (target === selfId) return selfId;
    try {
      driver.transferLeadership(target);
    } catch (err) {
      throw new QuorumError('INVALID', (err as Error).message);
    }
    const tookOver = await waitForSoftState(driver, (soft) => soft.lead === target && soft.role !== 'leader', this.options.transferTimeoutMs);
    if (!tookOver) throw new QuorumError('TIMEOUT', `leadership transfer to ${target} did not complete in time`);
    log.info({ to: target }, 'leadership transferred');
    return target;
  }

  /** Before stopping: a leader of several voters hands over; a failed hand-over is logged and the stop goes on. */
  async handOverBeforeStop(): Promise<void> {
    const status = this.options.raftStatus();
    if (status.role !== 'leader' || status.conf.voters.length <= 1) return;
    await this.transfer().catch((err) => this.options.log.warn({ err: (err as Error).message }, 'leadership transfer before stop failed; stopping anyway'));
  }
}
