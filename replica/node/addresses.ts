/**
 * Where each member is reached: the configuration's addresses as replicated in the state machine, and this replica's
 * own address as advertised (or as bound, once the port is known).
 */
import type { Member } from './options.js';

export class MemberAddresses {
  private own: string;

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

  /** Every member's address by id (this replica's own as it is now, not as the configuration recorded it). */
  all(): Map<string, string> {
    const map = new Map<string, string>();
    for (const m of this.stateMachine.members()) map.set(m.id, m.address);
    if (this.own) map.set(this.selfId, this.own);
    return map;
  }

  /** A member's address, or undefined when the configuration holds none for it. */
  of(id: string): string | undefined {
    return id === this.selfId && this.own ? this.own : this.stateMachine.members().find((m) => m.id === id)?.address;
  }
}
