/**
 * Where each member is reached: the configuration's addresses as replicated in the state machine, this replica's own
 * address as advertised (or as bound, once the port is known), and for a member the configuration holds no address
 * for, the one it announced when it authenticated a peer connection to us (a one-member cluster records its first
 * member before its port is bound, so a replica that joins it learns the leader's address that way).
 */
import type { Member } from './options.js';

export class MemberAddresses {
  private own: string;
  private readonly announced = new Map<string, string>();

  constructor(
    private readonly selfId: string,
    private readonly stateMachine: { members(): Member[] },
    advertise: string | undefined,
  ) {
    this.own = advertise ?? '';
  }

  /** This replica's HOST:PORT ('' until the port is bound, when no address was advertised). */
  get self(): string {
    return this.own;
  }

  /** Records the bound listen address; an advertised address, when given, stays the one peers and clients use. */
  bound(host: string, port: number): void {
    if (this.own) return;
    const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.own = `${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  }

  /** `id` proved the cluster secret on a connection to us and said it listens at `address`. */
  announce(id: string, address: string): void {
    if (address && id !== this.selfId) this.announced.set(id, address);
  }

  /** Every member's address by id (this replica's own as it is now, not as the configuration recorded it). */
  all(): Map<string, string> {
    const map = new Map<string, string>();
    for (const m of this.stateMachine.members()) map.set(m.id, m.address || (this.announced.get(m.id) ?? ''));
    if (this.own) map.set(this.selfId, this.own);
    return map;
  }

  /** A member's address (or a peer's announced one); undefined when neither is known. */
  of(id: string): string | undefined {
    if (id === this.selfId && this.own) return this.own;
    return this.stateMachine.members().find((m) => m.id === id)?.address || this.announced.get(id);
  }
}
