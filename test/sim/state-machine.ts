/**
 * The simulation's state machine: an in-memory StateMachine (replica/node/driver-contract.ts) with the durability of
 * the chat state machine that ships (replica/chat/state-machine.ts):
 * - applied batches collect in an open group that is committed after GROUP_MS of simulated time or GROUP_ENTRIES
 *   entries, and before a snapshot copy or a checkpoint; committed groups are not fsynced;
 * - makeDurable() checkpoints (fsync): it may report an incomplete checkpoint, as SQLite's can;
 * - a process crash loses the open group; a power loss also loses any suffix of the committed groups since the last
 *   checkpoint; restoreFrom() is durable at once (fsync + rename).
 * Its state is a hash chain over every applied entry (the checker compares it across replicas), the configuration, and
 * an application's state (SimApplication: the seam for workloads such as client sessions).
 */
import { decodeConfChange } from '../../replica/raft/conf.js';
import type { ConfChange, ConfState, Entry, NodeId, SnapshotMeta } from '../../replica/raft/types.js';
import type { StateMachine } from '../../replica/node/driver-contract.js';

/**
 * What the state machine does with a normal entry beyond the hash chain. The default (no application) does nothing
 * more. A workload with client sessions and retries (issue 11 finding 2) plugs its command handling in here and its
 * commands into the world's proposals; the result reaches the proposer in the outcome.
 */
export interface SimApplication {
  apply(entry: Entry): unknown;
  /** The application's state as text, kept with every group commit, checkpoint and snapshot. */
  save(): string;
  load(state: string): void;
}

/** What applying one entry yields: the proposer checks that its own command was applied at that index. */
export interface SimOutcome {
  index: number;
  term: number;
  data: string;
  result: unknown;
}

/** Checker hooks (checker.ts). */
export interface ApplyObserver {
  /** Returns the state's hash after applying `e` on top of `prevHash`; throws on a State Machine Safety violation. */
  applied(node: NodeId, prevHash: number, e: Entry): number;
  snapshotLoaded(node: NodeId, index: number, hash: number): void;
}

export interface SimState {
  index: number;
  term: number;
  hash: number;
  conf: ConfState | null;
  app: string;
}

/** Simulated disk of one replica for snapshot files: path → contents. */
export type SimFiles = Map<string, string>;

export const GROUP_MS = 100;
export const GROUP_ENTRIES = 16;

function copyState(s: SimState): SimState {
  return { ...s, conf: s.conf ? { voters: [...s.conf.voters], learners: [...s.conf.learners] } : null };
}

export class SimStateMachine implements StateMachine<SimOutcome> {
  /** What the process sees. */
  private live: SimState;
  /** Committed groups since the last checkpoint, oldest first (survive a process crash, not necessarily power loss). */
  private committedGroups: SimState[] = [];
  /** As of the last checkpoint (survives anything). */
  private durable: SimState;
  private groupOpenedAt: number | null = null;
  private groupEntries = 0;
  applies = 0;

  constructor(
    readonly node: NodeId,
    initial: SimState,
    private readonly files: SimFiles,
    private readonly observer: ApplyObserver,
    private readonly now: () => number,
    /** Decides whether a checkpoint comes out incomplete (a reader held the WAL). */
    private readonly checkpointIncomplete: () => boolean,
    private readonly application: SimApplication | null = null,
  ) {
    this.live = copyState(initial);
    this.durable = copyState(initial);
    this.application?.load(initial.app);
  }

  get state(): Readonly<SimState> {
    return this.live;
  }

  applied(): { index: number; term: number } {
    return { index: this.live.index, term: this.live.term };
  }

  conf(): ConfState | null {
    const c = this.live.conf;
    return c ? { voters: [...c.voters], learners: [...c.learners] } : null;
  }

  applyEntries(entries: Entry[], applyConf: (cc: ConfChange) => ConfState): SimOutcome[] {
    const out: SimOutcome[] = [];
    for (const e of entries) {
      if (e.index <= this.live.index) {
        out.push({ index: e.index, term: e.term, data: e.data, result: null });
        continue;
      }
      if (e.index !== this.live.index + 1) throw new Error(`${this.node}: apply: entry ${e.index} does not follow applied index ${this.live.index}`);
      this.live.hash = this.observer.applied(this.node, this.live.hash, e);
      let result: unknown = null;
      if (e.type === 'conf') this.live.conf = applyConf(decodeConfChange(e.data));
      else if (this.application && e.data !== '') result = this.application.apply(e);
      this.live.index = e.index;
      this.live.term = e.term;
      this.applies++;
      out.push({ index: e.index, term: e.term, data: e.data, result });
    }
    if (this.application) this.live.app = this.application.save();
    this.groupOpenedAt ??= this.now();
    this.groupEntries += entries.length;
    if (this.groupEntries >= GROUP_ENTRIES) this.commitGroup();
    return out;
  }

  maybeCommitGroup(): void {
    if (this.groupOpenedAt !== null && this.now() - this.groupOpenedAt >= GROUP_MS) this.commitGroup();
  }

  makeDurable(): boolean {
    this.commitGroup();
    if (this.checkpointIncomplete()) return false;
    this.durable = copyState(this.live);
    this.committedGroups = [];
    return true;
  }

  snapshotTo(file: string): Promise<SnapshotMeta> {
    this.commitGroup();
    this.files.set(file, JSON.stringify(this.live));
    return Promise.resolve({ index: this.live.index, term: this.live.term, conf: this.conf() ?? { voters: [], learners: [] } });
  }

  restoreFrom(file: string): SnapshotMeta {
    const text = this.files.get(file);
    if (text === undefined) throw new Error(`${this.node}: no snapshot file ${file}`);
    const s = JSON.parse(text) as SimState;
    this.observer.snapshotLoaded(this.node, s.index, s.hash);
    this.live = copyState(s);
    this.durable = copyState(s);
    this.committedGroups = [];
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    this.application?.load(s.app);
    return { index: s.index, term: s.term, conf: this.conf() ?? { voters: [], learners: [] } };
  }

  /**
   * The process died: the open group is lost. With `powerLoss`, so are the committed groups after the first `keep`
   * (0..committedGroups.length, the caller's random pick): their WAL frames never reached the disk.
   */
  crash(powerLoss: boolean, keep: number): void {
    if (powerLoss) {
      const kept = this.committedGroups.slice(0, keep);
      this.committedGroups = [];
      this.durable = copyState(kept.length ? kept[kept.length - 1] : this.durable);
      this.live = copyState(this.durable);
    } else {
      const last = this.committedGroups[this.committedGroups.length - 1];
      this.live = copyState(last ?? this.durable);
    }
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    this.application?.load(this.live.app);
  }

  /** Committed groups a power loss could lose (for the caller's pick of what survives). */
  get unsyncedGroups(): number {
    return this.committedGroups.length;
  }

  private commitGroup(): void {
    if (this.groupOpenedAt === null) return;
    this.groupOpenedAt = null;
    this.groupEntries = 0;
    this.committedGroups.push(copyState(this.live));
  }
}
