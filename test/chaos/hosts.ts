/**
 * Where the replicas run and which network faults are possible there.
 * - loopback: every replica on 127.0.0.1 with its own port. Processes can be killed, paused and restarted, but the
 *   network cannot be cut (loopback has no links to take down and its packet filter is the machine's own), so the
 *   nemesis does no partitions and no packet loss on loopback, and the report says so.
 * - netns: each replica in its own Linux network namespace on a bridge (test/helpers/netns.ts); the runner itself
 *   runs inside the lab's client namespace. Partitions by iptables DROP rules or by taking a link down, packet loss
 *   by `iptables -m statistic`. Every rule lives inside a namespace the lab made.
 */
import { freePort } from '../helpers/cluster.js';
import { NetnsLab, type LabDescription } from '../helpers/netns.js';

export interface HostLayer {
  readonly mode: 'loopback' | 'netns';
  readonly canPartition: boolean;
  /** HOST:PORT replica i listens on. */
  address(i: number): string;
  /** argv prefix that runs a process on host i ([] on loopback). */
  prefix(i: number): string[];
  /** Peers in different groups cannot exchange packets; clients still reach everyone. Replaces any partition. */
  partition(blocked: [number, number][]): void;
  /** Takes host i's only link down (clients lose it too) or brings it back. */
  setLink(i: number, up: boolean): void;
  /** Random loss on host i's traffic (0 removes it). */
  setLoss(i: number, p: number): void;
  /** Removes every rule and brings every link up. */
  healNetwork(): void;
}

export const NETNS_PORT = 7400;

export class LoopbackHosts implements HostLayer {
  readonly mode = 'loopback' as const;
  readonly canPartition = false;
  private constructor(private readonly ports: number[]) {}

  static async create(n: number): Promise<LoopbackHosts> {
    const ports: number[] = [];
    while (ports.length < n) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    return new LoopbackHosts(ports);
  }

  address(i: number): string {
    return `127.0.0.1:${this.ports[i]}`;
  }
  prefix(): string[] {
    return [];
  }
  partition(): void {
    throw new Error('no partitions on loopback');
  }
  setLink(): void {
    throw new Error('no links on loopback');
  }
  setLoss(): void {
    throw new Error('no packet loss on loopback');
  }
  healNetwork(): void {}
}

/** The lab as the parent process made it: replica hosts r1..rN plus the client host the runner lives in. */
export interface NetnsPlan {
  lab: LabDescription;
  replicaHosts: string[];
  clientHost: string;
}

export function makeLab(n: number): { lab: NetnsLab; plan: NetnsPlan } {
  const lab = new NetnsLab();
  try {
    const replicaHosts: string[] = [];
    for (let i = 1; i <= n; i++) replicaHosts.push(lab.addHost(`r${i}`).name);
    const client = lab.addHost('cl');
    return { lab, plan: { lab: lab.describe(), replicaHosts, clientHost: client.name } };
  } catch (err) {
    lab.destroy();
    throw err;
  }
}

export class NetnsHosts implements HostLayer {
  readonly mode = 'netns' as const;
  readonly canPartition = true;
  private readonly lab: NetnsLab;
  private readonly linkDown = new Set<number>();
  private readonly ruled = new Set<number>();

  constructor(private readonly plan: NetnsPlan) {
    this.lab = NetnsLab.attach(plan.lab);
  }

  private host(i: number) {
    const name = this.plan.replicaHosts[i];
    const h = this.lab.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  address(i: number): string {
    return `${this.host(i).address}:${NETNS_PORT}`;
  }
  prefix(i: number): string[] {
    return this.lab.exec(this.host(i));
  }

  partition(blocked: [number, number][]): void {
    for (const i of this.ruled) this.lab.clearRules(this.host(i));
    this.ruled.clear();
    const rules = new Map<number, string[]>();
    for (const [a, b] of blocked) {
      for (const [x, y] of [
        [a, b],
        [b, a],
      ]) {
        let l = rules.get(x);
        if (!l) rules.set(x, (l = []));
        const other = this.host(y).address;
        l.push(`-A INPUT -s ${other} -j DROP`, `-A OUTPUT -d ${other} -j DROP`);
      }
    }
    for (const [i, r] of rules) {
      this.lab.addRules(this.host(i), r);
      this.ruled.add(i);
    }
  }

  setLink(i: number, up: boolean): void {
    this.lab.setLink(this.host(i), up);
    if (up) this.linkDown.delete(i);
    else this.linkDown.add(i);
  }

  setLoss(i: number, p: number): void {
    if (p <= 0) {
      this.lab.clearRules(this.host(i));
      this.ruled.delete(i);
      return;
    }
    this.lab.setLoss(this.host(i), p);
    this.ruled.add(i);
  }

  healNetwork(): void {
    for (let i = 0; i < this.plan.replicaHosts.length; i++) {
      this.lab.clearRules(this.host(i));
      if (this.linkDown.has(i)) this.setLink(i, true);
    }
    this.ruled.clear();
  }
}
