/**
 * This replica's presence on the LAN: it learns its cluster's public id when its data folder has none (from the
 * leader's status; a leader of a cluster that predates cluster ids derives one), and, with discovery on, advertises
 * itself once the id is known, until it stops or is removed from the cluster.
 */
import type { Logger } from 'pino';
import type { RaftStatus } from '../raft/raft.js';
import type { ConfState } from '../raft/types.js';
import type { ReplicaStatus } from '../protocol/client.js';
import { adminRequest } from '../net/admin-client.js';
import { derivedClusterId, readClusterId, writeClusterId } from './cluster-id.js';
import { LanAdvertisement } from './discovery.js';

export interface LanPresenceOptions {
  selfId: string;
  dataDir: string;
  /** This replica's HOST:PORT (advertised as is). */
  address: string;
  /** Advertise on the LAN (--no-discovery: false). */
  discovery: boolean;
  raftStatus: () => RaftStatus;
  conf: () => ConfState;
  leaderAddress: () => string | undefined;
  secret: Buffer | null;
  /** Removed from the configuration: no longer advertised. */
  removed: () => boolean;
  log: Logger;
}

export class LanPresence {
  private clusterId: string | null;
  private advertisement: LanAdvertisement | null = null;
  private asking = false;
  private closed = false;

  constructor(private readonly options: LanPresenceOptions) {
    this.clusterId = readClusterId(options.dataDir);
  }

  /** The cluster's public id, once known. */
  get id(): string | null {
    return this.clusterId;
  }

  /** Called now and then: learns the id when missing, starts or ends the advertisement. */
  tick(): void {
    if (this.closed) return;
    if (this.options.removed()) {
      void this.endAdvertisement();
      return;
    }
    if (!this.clusterId) {
      this.learn();
      return;
    }
    if (this.options.discovery && !this.advertisement) {
      this.advertisement = LanAdvertisement.start({ id: this.options.selfId, address: this.options.address, clusterId: this.clusterId, log: this.options.log });
      // Not advertisable (a loopback address): said once, not retried.
      if (!this.advertisement) this.options.discovery = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.endAdvertisement();
  }

  private adopt(id: string, source: string): void {
    writeClusterId(this.options.dataDir, id);
    this.clusterId = id;
    this.options.log.info({ clusterId: id }, `cluster id ${source}`);
  }

  private learn(): void {
    const status = this.options.raftStatus();
    if (status.role === 'leader') {
      this.adopt(derivedClusterId(this.options.conf()), 'derived from the configuration (a data folder made before cluster ids)');
      return;
    }
    const leader = this.options.leaderAddress();
    if (!leader || this.asking) return;
    this.asking = true;
    adminRequest<ReplicaStatus>([leader], this.options.secret ?? Buffer.alloc(0), { op: 'status' }, { timeoutMs: 3000 })
      .then((answer) => {
        if (answer.clusterId && !this.clusterId && !this.closed) this.adopt(answer.clusterId, `learned from the leader ${answer.id}`);
      })
      .catch(() => {
        // the leader changed or is busy: asked again on the next tick
      })
      .finally(() => (this.asking = false));
  }

  private async endAdvertisement(): Promise<void> {
    const advertisement = this.advertisement;
    this.advertisement = null;
    await advertisement?.close();
  }
}
