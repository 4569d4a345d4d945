/**
 * The leader's side of version gates (replica/chat/versions.ts): it hears every peer's supported version (each batch
 * of Raft messages says it, MessagesFrame.version), records in the log what members support (`memberVersion`), and
 * raises the cluster version (`clusterVersion`) once every member of the configuration reported more. Followers only
 * listen; a new leader picks up where the last one stopped, from the replicated record.
 */
import type { Logger } from 'pino';
import { encodeCommand, type Command } from '../chat/commands.js';
import type { ApplyOutcome, ChatStateMachine } from '../chat/state-machine.js';
import type { Driver } from './driver.js';

export interface ClusterVersionOptions {
  selfId: string;
  /** The version this replica supports. */
  supported: number;
  sm: () => ChatStateMachine;
  driver: Driver<ApplyOutcome>;
  log: Logger;
  /** The clock for commands (the leader's corrected clock). */
  now: () => number;
}

export class ClusterVersionKeeper {
  private readonly heard = new Map<string, number>();
  private busy = false;

  constructor(private readonly options: ClusterVersionOptions) {}

  /** A frame from `peer` said it supports `version`. */
  observe(peer: string, version: number): void {
    this.heard.set(peer, version);
  }

  /** The version `peer` last said it supports (undefined: not heard since this replica started). */
  heardFrom(peer: string): number | undefined {
    return this.heard.get(peer);
  }

  /**
   * On the leader (the replica calls it every second): proposes the member versions that differ from the record,
   * then the raise, one proposal at a time, each awaited. Does nothing on a follower or while a round is running.
   */
  async tick(): Promise<void> {
    const { driver, sm, selfId, supported, log } = this.options;
    if (this.busy || !driver.isLeader) return;
    const conf = sm().conf();
    if (!conf) return;
    const members = [...conf.voters, ...conf.learners];
    this.busy = true;
    try {
      const recorded = sm().versions().members;
      for (const id of members) {
        const version = id === selfId ? supported : this.heard.get(id);
        if (version !== undefined && version !== recorded.get(id)) await this.propose({ kind: 'memberVersion', at: this.options.now(), id, version });
      }
      const { cluster, members: reported } = sm().versions();
      const lowest = Math.min(...members.map((id) => reported.get(id) ?? 0));
      if (lowest > cluster) {
        await this.propose({ kind: 'clusterVersion', at: this.options.now(), version: lowest });
        log.info({ from: cluster, to: lowest }, 'cluster version raised: every member supports it');
      }
    } catch (err) {
      // Not leading any more, or the cluster could not commit: the next leader (or round) tries again.
      log.debug({ err: (err as Error).message }, 'recording versions did not complete');
    } finally {
      this.busy = false;
    }
  }

  private async propose(command: Command): Promise<void> {
    const outcome = await this.options.driver.propose(encodeCommand(command));
    if (!outcome.response.ok) throw new Error(`${command.kind}: ${outcome.response.error.message}`);
  }
}
