/**
 * A synchronous in-memory cluster for unit tests (etcd-io/raft's `network` style): each node is a Raft core over a
 * MemoryStorage with a trivial driver (persist, send, apply, advance); messages are delivered in order, immediately,
 * unless a filter drops them.
 */
import { Raft } from '../../replica/raft/raft.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import { decodeConfChange } from '../../replica/raft/conf.js';
import type { ConfState, Entry, Message, MessageType, NodeId, RaftOptions, ReadState, SnapshotMeta } from '../../replica/raft/types.js';
import { Rng } from '../helpers/random.js';

export type NodeOpts = Partial<Omit<RaftOptions, 'id' | 'storage' | 'applied' | 'random'>>;

export class TestNode {
  readonly storage: MemoryStorage;
  raft: Raft;
  /** Entries applied by the state machine, in order (normal and conf). */
  applied: Entry[] = [];
  appliedIndex = 0;
  /** Configuration as of appliedIndex (the state machine's). */
  smConf: ConfState;
  readStates: ReadState[] = [];
  private readonly rng: Rng;

  constructor(
    readonly id: NodeId,
    conf: ConfState,
    readonly opts: NodeOpts,
    seed: number,
  ) {
    this.storage = new MemoryStorage(conf);
    this.smConf = conf;
    this.rng = new Rng(seed);
    this.raft = this.makeRaft();
  }

  private makeRaft(): Raft {
    return new Raft({ id: this.id, storage: this.storage, applied: this.appliedIndex, random: this.rng.fn(), ...this.opts });
  }

  /**
   * Replaces the durable state (before anything ran): entries 1..n with the given terms (data `e<index>`), then restarts
   * the core from it. `applied` entries count as applied by the state machine.
   */
  preload(terms: number[], hard: { term: number; vote?: NodeId | null; commit?: number }, applied = 0): void {
    this.storage.append(terms.map((t, k) => ({ index: k + 1, term: t, type: 'normal' as const, data: `e${k + 1}` })));
    this.storage.setHardState({ term: hard.term, vote: hard.vote ?? null, commit: hard.commit ?? 0 });
    this.appliedIndex = applied;
    this.restart();
  }

  /** Terms of the core's log from index 1 (or the first available index) to the last. */
  logTerms(): number[] {
    const log = this.raft.raftLog;
    const out: number[] = [];
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) out.push(log.term(i));
    return out;
  }

  /** Simulates a crash and restart: everything not in storage (and not applied) is lost. */
  restart(): void {
    this.raft = this.makeRaft();
  }

  /** Runs the driver loop until the core has nothing more to do; returns the messages to send. */
  drain(): Message[] {
    const out: Message[] = [];
    let guard = 0;
    while (this.raft.hasReady()) {
      if (++guard > 10_000) throw new Error(`${this.id}: Ready loop does not settle`);
      const rd = this.raft.ready();
      if (rd.snapshot) {
        this.storage.applySnapshot(rd.snapshot);
        this.appliedIndex = rd.snapshot.index;
        this.smConf = rd.snapshot.conf;
      }
      this.storage.append(rd.entries);
      if (rd.hardState) this.storage.setHardState(rd.hardState);
      for (const m of rd.messages) out.push(m.type === 'snap' ? { ...m, snapshot: this.liveSnapshot() } : m);
      for (const e of rd.committedEntries) {
        if (e.index !== this.appliedIndex + 1) throw new Error(`${this.id}: applying ${e.index} after ${this.appliedIndex}`);
        if (e.type === 'conf') {
          this.smConf = this.raft.applyConfChange(decodeConfChange(e.data));
          this.storage.setConfState(this.smConf);
        }
        this.applied.push(e);
        this.appliedIndex = e.index;
      }
      this.readStates.push(...rd.readStates);
      this.raft.advance(rd);
    }
    return out;
  }

  /** What a real driver streams for a 'snap' message: the state machine as it is now. */
  liveSnapshot(): SnapshotMeta {
    return { index: this.appliedIndex, term: this.raft.raftLog.term(this.appliedIndex), conf: this.smConf };
  }

  /** Data of the normal, non-empty entries applied, in order. */
  appliedData(): string[] {
    return this.applied.filter((e) => e.type === 'normal' && e.data !== '').map((e) => e.data);
  }
}

export interface NetworkOpts extends NodeOpts {
  seed?: number;
  /** Voters of the bootstrap configuration (default: all ids). */
  voters?: NodeId[];
  learners?: NodeId[];
}

export class TestNetwork {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cut = new Set<string>();
  private readonly ignored = new Set<MessageType>();
  /** Every message delivered (for assertions). */
  delivered: Message[] = [];
  /** Optional hook to inspect or drop a message (return false to drop). */
  filter: ((m: Message) => boolean) | null = null;
  /** Report snapshot transfers to the sender automatically (ok when delivered, failed when dropped). */
  autoReportSnapshot = true;

  constructor(ids: NodeId[], opts: NetworkOpts = {}) {
    const seed = opts.seed ?? 1;
    const conf: ConfState = { voters: opts.voters ?? ids, learners: opts.learners ?? [] };
    ids.forEach((id, k) => {
      const member = conf.voters.includes(id) || conf.learners.includes(id);
      this.nodes.set(id, new TestNode(id, member ? conf : { voters: [], learners: [] }, opts, seed * 1000 + k));
    });
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  raft(id: NodeId): Raft {
    return this.node(id).raft;
  }

  addNode(id: NodeId, conf: ConfState = { voters: [], learners: [] }, opts: NodeOpts = {}): TestNode {
    const n = new TestNode(id, conf, opts, 7777 + this.nodes.size);
    this.nodes.set(id, n);
    return n;
  }

  /** Delivers `msgs` and everything they cause, until the network is quiet. */
  send(msgs: Message[]): void {
    const queue = [...msgs];
    let guard = 0;
    while (queue.length) {
      if (++guard > 1_000_000) throw new Error('network does not settle');
      const m = queue.shift()!;
      const to = this.nodes.get(m.to);
      const dropped = !to || this.cut.has(`${m.from}>${m.to}`) || this.ignored.has(m.type) || (this.filter && !this.filter(m));
      if (m.type === 'snap' && this.autoReportSnapshot) {
        const from = this.nodes.get(m.from);
        if (from) {
          from.raft.reportSnapshot(m.to, !dropped);
          queue.push(...from.drain());
        }
      }
      if (dropped) continue;
      this.delivered.push(m);
      to!.raft.step(m);
      queue.push(...to!.drain());
    }
  }

  /** Drains every node and delivers the results. */
  settle(): void {
    const msgs: Message[] = [];
    for (const n of this.nodes.values()) msgs.push(...n.drain());
    this.send(msgs);
  }

  tick(id: NodeId, n = 1): void {
    for (let k = 0; k < n; k++) {
      this.raft(id).tick();
      this.send(this.node(id).drain());
    }
  }

  tickAll(n = 1): void {
    for (let k = 0; k < n; k++) {
      for (const node of this.nodes.values()) node.raft.tick();
      this.settle();
    }
  }

  campaign(id: NodeId): void {
    this.raft(id).campaign();
    this.send(this.node(id).drain());
  }

  propose(id: NodeId, data: string): number {
    const i = this.raft(id).propose(data);
    this.send(this.node(id).drain());
    return i;
  }

  /** Drops messages between a and b (both directions). */
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cutLink(id, other);
  }

  ignore(t: MessageType): void {
    this.ignored.add(t);
  }

  recover(): void {
    this.cut.clear();
    this.ignored.clear();
    this.filter = null;
  }

  leaders(): TestNode[] {
    return [...this.nodes.values()].filter((n) => n.raft.status().role === 'leader');
  }
}
