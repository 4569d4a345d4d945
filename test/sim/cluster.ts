/**
 * A small, scripted cluster of simulated replicas (replica.ts: the production driver and core over in-memory stores)
 * for driver tests: messages are delivered in order, nothing is lost unless a test says so, faults strike exactly
 * where a test plans them, and every replica's applied entries are recorded.
 */
import type { ConfState, Entry, Message, NodeId, SaveBatch } from '../../replica/raft/types.js';
import { chainHash } from './checker.js';
import { SimReplica, type Effect, type Fault, type SimHost } from './replica.js';

export interface ClusterOptions {
  /** Replicas of the bootstrap configuration (voters, then learners), all started. */
  voters: NodeId[];
  learners?: NodeId[];
  electionTick?: number;
  heartbeatTick?: number;
  compactEvery?: number;
  keepEntries?: number;
  /** Entries written to every replica's log before it starts (after the bootstrap snapshot at index 1). */
  preload?: Entry[];
}

export class SimCluster implements SimHost {
  readonly nodes = new Map<NodeId, SimReplica>();
  /** Entries each replica applied, by index (applied again after a crash: the last time counts). */
  readonly applied = new Map<NodeId, Entry[]>();
  /** Every message transmitted, in order. */
  readonly sent: Message[] = [];
  /** Replicas that stopped by themselves for a reason that is not a planned fault, with the reason. */
  readonly stops: { id: NodeId; error: Error }[] = [];
  /** Drops messages for which this returns false. */
  filter: ((m: Message) => boolean) | null = null;
  /** How long a leader's fsync of its own entries takes (0: it completes at the next settle). */
  ownSyncMs = 0;
  private queue: { from: NodeId; inc: number; m: Message; snap?: { data: string; settle: (ok: boolean) => void } }[] = [];
  private readonly planned: { id: NodeId; effect: Effect; fault: Fault }[] = [];
  private ticks = 0;
  private incarnations = 0;
  readonly log: string[] = [];

  constructor(opts: ClusterOptions) {
    const conf: ConfState = { voters: opts.voters, learners: opts.learners ?? [] };
    for (const id of [...conf.voters, ...conf.learners]) {
      const n = new SimReplica(this, {
        id,
        conf,
        bootstrapAtOne: true,
        bootHash: 1,
        raft: { electionTick: opts.electionTick ?? 10, heartbeatTick: opts.heartbeatTick ?? 1 },
        random: () => 0.5,
        compactEvery: opts.compactEvery ?? 1_000_000,
        keepEntries: opts.keepEntries ?? 0,
        proposalTimeoutMs: 60_000,
        observer: {
          applied: (node, prev, e) => {
            // A replica that lost applied state in a crash applies those entries again.
            const list = this.applied.get(node)!;
            while (list.length && list[list.length - 1].index >= e.index) list.pop();
            list.push(e);
            return chainHash(prev, e);
          },
          snapshotLoaded: () => {},
        },
      });
      if (opts.preload) n.store.append(opts.preload);
      this.nodes.set(id, n);
      this.applied.set(id, []);
    }
    for (const n of this.nodes.values()) n.start();
  }

  node(id: NodeId): SimReplica {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no replica ${id}`);
    return n;
  }

  /** The next time `id` reaches `effect`, `fault` strikes. */
  plan(id: NodeId, effect: Effect, fault: Fault): void {
    this.planned.push({ id, effect, fault });
  }

  /** Runs every replica's pending turns and delivers every message until nothing moves; buries replicas that died. */
  async settle(): Promise<void> {
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const n of this.nodes.values()) {
        if (n.alive && n.pendingWork) {
          moved = true;
          if (n.runImmediates()) n.crash(false);
        }
        // Timers already due (a leader's fsync of its own entries completes at once here).
        if (n.alive && n.fireTimers(this.now())) moved = true;
      }
      for (let k = 0; k < 4; k++) await null;
      const batch = this.queue;
      this.queue = [];
      for (const q of batch) {
        moved = true;
        const to = this.nodes.get(q.m.to);
        const ok = !!to && to.alive && (!this.filter || this.filter(q.m));
        if (q.snap) {
          if (ok) to!.deliverSnapshot(q.snap.data, q.m);
          q.snap.settle(ok);
        } else if (ok) to!.deliver([q.m]);
      }
      for (let k = 0; k < 4; k++) await null;
      if (!moved) return;
    }
    throw new Error('the cluster does not settle');
  }

  /** One tick for every live replica, then settle. */
  async tick(times = 1): Promise<void> {
    for (let k = 0; k < times; k++) {
      this.ticks++;
      for (const n of this.nodes.values()) {
        n.driver?.tick();
        n.fireTimers(this.now());
      }
      await this.settle();
    }
  }

  leader(): SimReplica | null {
    return [...this.nodes.values()].find((n) => n.alive && !n.removed && n.raft!.status().role === 'leader') ?? null;
  }

  /** Data of the normal, non-empty entries `id` applied. */
  appliedData(id: NodeId): string[] {
    return this.applied.get(id)!.filter((e) => e.type === 'normal' && e.data !== '').map((e) => e.data);
  }

  // ---- SimHost ----

  now(): number {
    return this.ticks * 25;
  }

  newIncarnation(): number {
    return ++this.incarnations;
  }

  transmit(from: SimReplica, _to: NodeId, msgs: Message[]): void {
    for (const m of msgs) {
      this.sent.push(m);
      this.queue.push({ from: from.id, inc: from.incarnation, m });
    }
  }

  transmitSnapshot(from: SimReplica, _to: NodeId, data: string, msg: Message): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sent.push(msg);
      this.queue.push({ from: from.id, inc: from.incarnation, m: msg, snap: { data, settle: (ok) => (ok ? resolve() : reject(new Error('lost'))) } });
    });
  }

  fault(node: SimReplica, effect: Effect): Fault {
    const k = this.planned.findIndex((p) => p.id === node.id && p.effect === effect);
    if (k < 0) return 'none';
    const [p] = this.planned.splice(k, 1);
    this.note(`${p.fault} at ${node.id} before ${effect}`);
    return p.fault;
  }

  saving(_node: SimReplica, _batch: SaveBatch): void {}

  syncDelayMs(): number {
    return this.ownSyncMs;
  }

  checkpointIncomplete(): boolean {
    return false;
  }

  unexpectedStop(node: SimReplica, error: Error): void {
    this.stops.push({ id: node.id, error });
  }

  pickSurvivingGroups(): number {
    return 0;
  }

  note(line: string): void {
    this.log.push(line);
  }
}
