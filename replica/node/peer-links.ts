/**
 * This replica's outbound links to the other members, kept in step with the configuration: one PeerLink per other
 * member at its current address, made on demand for a peer outside a configuration this replica has not received yet
 * (a joining replica answering its leader), and all closed for good when the replica stops or is removed.
 */
import type { Logger } from 'pino';
import type { ConfState, NodeId } from '../raft/types.js';
import { PeerLink, type PeerLinkOptions } from '../net/peer-link.js';

export interface PeerLinksOptions {
  selfId: NodeId;
  /** This replica's own HOST:PORT, announced to peers when a link authenticates. */
  selfAddress: () => string;
  /** The cluster secret; without one (a one-member cluster) no link is made. */
  secret: Buffer | null;
  /** Older secrets accepted from peers during a rotation. */
  previousSecrets?: readonly Buffer[];
  /** TLS of the links (our certificate, the check of the peer's); null: plain (tests of the HMAC layer alone). */
  tls?: PeerLinkOptions['tls'];
  /** Fall back to plain text for a peer that does not speak TLS (--peer-links tls-or-plain). */
  allowPlain?: boolean;
  /** The state-machine version this replica supports (told to peers). */
  version?: number;
  log: Logger;
  /** Messages to `id` had to be dropped (its link is down or congested). */
  onUnreachable: (id: NodeId) => void;
  /** The established link to `id` closed and did not come back (e.g. its process died). */
  onLost: (id: NodeId) => void;
}

export class PeerLinks {
  private readonly links = new Map<NodeId, PeerLink>();
  private closed = false;

  constructor(private readonly options: PeerLinksOptions) {}

  /** Keeps one link per other member of `conf`, at its address in `addresses`; closes links to anyone else. */
  sync(conf: ConfState, addresses: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return;
    const ids = new Set([...conf.voters, ...conf.learners].filter((id) => id !== this.options.selfId));
    for (const [id, link] of this.links) {
      if (!ids.has(id) || link.address !== addresses.get(id)) {
        link.close();
        this.links.delete(id);
      }
    }
    for (const id of ids) {
      const address = addresses.get(id);
      if (!this.links.has(id) && address) this.open(id, address);
    }
  }

  /**
   * The link to `id`, made on demand at `address` when there is none (a peer outside a configuration this replica has
   * not received yet, e.g. the leader of a cluster it joins). Undefined without an address, or once closed.
   */
  linkTo(id: NodeId, address: string | undefined): PeerLink | undefined {
    const link = this.links.get(id);
    if (link || this.closed) return link;
    return address ? this.open(id, address) : undefined;
  }

  /** `id` just authenticated a connection to us: our link to it need not wait out its reconnect backoff. */
  peerSeen(id: NodeId): void {
    this.links.get(id)?.peerSeen();
  }

  /** Whether the link to `id` is authenticated and open. */
  isConnected(id: NodeId): boolean {
    return this.links.get(id)?.connected ?? false;
  }

  /** Links that are authenticated and open. */
  get connectedCount(): number {
    let n = 0;
    for (const link of this.links.values()) if (link.connected) n++;
    return n;
  }

  /** Closes every link for good (stopping, or removed from the configuration). */
  close(): void {
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
  }

  private open(id: NodeId, address: string): PeerLink | undefined {
    if (!this.options.secret?.length) return undefined;
    const link = new PeerLink({
      selfId: this.options.selfId,
      selfAddress: this.options.selfAddress(),
      peerId: id,
      peerAddress: address,
      secret: this.options.secret,
      previousSecrets: this.options.previousSecrets,
      tls: this.options.tls,
      allowPlain: this.options.allowPlain,
      log: this.options.log,
      random: Math.random,
      onUnreachable: () => this.options.onUnreachable(id),
      onLost: () => this.options.onLost(id),
      version: this.options.version,
    });
    this.links.set(id, link);
    return link;
  }
}
