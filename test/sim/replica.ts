/**
 * One simulated replica: the production consensus stack (openCore + Raft + Driver, replica/node/) over in-memory
 * stores that keep only what the real ones would keep through a crash (MemoryStorage for raft.db, SimStateMachine for
 * state.db), with simulated timers and snapshot files, wired the way replica/node/replica.ts wires a replica:
 * - a replica removed from the configuration serves no clients (the world proposes and reads elsewhere) but still
 *   answers its former peers;
 * - a one-voter configuration campaigns at start;
 * - transport reports go to driver.reportUnreachable and raft.leaderUnreachable.
 * Faults are injected at the driver's effects (SimHost.fault): the process dies just before a write, a send or an
 * apply (a crash between installing a snapshot and resetting the log included), or a write fails (disk full), after
 * which the driver stops the replica. Anything else that stops a driver is a bug the host reports.
 */
import pino from 'pino';
import { Driver } from '../../replica/node/driver.js';
import { openCore } from '../../replica/node/open-core.js';
import type { DriverMetrics, DriverTimers, SnapshotFiles, StateMachine } from '../../replica/node/driver-contract.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import type { Raft } from '../../replica/raft/raft.js';
import type { ConfState, LogStore, Message, NodeId, RaftOptions, SaveBatch } from '../../replica/raft/types.js';
import { SimStateMachine, type ApplyObserver, type SimApplication, type SimFiles, type SimOutcome, type SimState } from './state-machine.js';

/**
 * Where a fault may strike: just before this effect of the driver. 'install' is the log reset that completes a snapshot
 * install (after 'restore' replaced the state); 'reset' is start-up's repair of a log left behind its state.
 */
export type Effect = 'save' | 'install' | 'send' | 'apply' | 'checkpoint' | 'compact' | 'restore' | 'reset';

/** A fault the host injects at an effect. */
export type Fault = 'none' | 'crash' | 'diskFull';

/** Thrown into the driver when the simulated process dies at an effect (the driver then stops; nothing more leaves). */
export class SimCrash extends Error {
  constructor(where: Effect) {
    super(`simulated crash before ${where}`);
    this.name = 'SimCrash';
  }
}

export class SimDiskFull extends Error {
  constructor(where: Effect) {
    super(`simulated disk full at ${where}`);
    this.name = 'SimDiskFull';
  }
}

export interface SimHost {
  /** Simulated time in milliseconds. */
  now(): number;
  /** Messages the replica's driver sends (the replica is alive, a member or joining, and the incarnation current). */
  transmit(from: SimReplica, to: NodeId, msgs: Message[]): void;
  /** Streams a snapshot file's contents; resolves when the peer has it, rejects when it was lost. */
  transmitSnapshot(from: SimReplica, to: NodeId, data: string, msg: Message): Promise<void>;
  /** The fault (if any) to inject just before `effect`. */
  fault(node: SimReplica, effect: Effect): Fault;
  /** Log Matching on what is persisted: `prevTerm` is the term of the entry before the batch's first (null: unknown). */
  saving(node: SimReplica, batch: SaveBatch, prevTerm: number | null): void;
  /** How long a leader's fsync of its own entries takes (LogStore.sync). */
  syncDelayMs(node: SimReplica): number;
  /** A checkpoint comes out incomplete (a reader held the WAL). */
  checkpointIncomplete(node: SimReplica): boolean;
  /** The replica stopped itself for a reason that is not an injected fault: a bug. */
  unexpectedStop(node: SimReplica, err: Error): void;
  /** Which committed groups survive a power loss (0..unsynced). */
  pickSurvivingGroups(unsynced: number): number;
  note(line: string): void;
  /** A number for a new incarnation, unique across every replica the host ever ran (Election Safety counts them). */
  newIncarnation(): number;
}

export interface SimReplicaOptions {
  id: NodeId;
  /** Initial configuration; null for a replica that joins later (it waits for a snapshot). */
  conf: ConfState | null;
  /** Bootstrap as the replica does (the configuration as a snapshot at index 1) instead of at index 0. */
  bootstrapAtOne: boolean;
  bootHash: number;
  raft: Omit<RaftOptions, 'id' | 'storage' | 'applied' | 'random'>;
  random: () => number;
  compactEvery: number;
  keepEntries: number;
  proposalTimeoutMs: number;
  observer: ApplyObserver;
  application?: SimApplication | null;
}

const SILENT = pino({ level: 'silent' });
const NO_METRICS: DriverMetrics = {
  proposals: { inc() {} },
  persistSeconds: { observe() {} },
  persistBatch: { observe() {} },
  applySeconds: { observe() {} },
  applied: { set() {} },
  isLeader: { set() {} },
};

function isMember(conf: ConfState | null, id: NodeId): boolean {
  return !!conf && (conf.voters.includes(id) || conf.learners.includes(id));
}

export class SimReplica {
  readonly id: NodeId;
  incarnation = 0;
  raft: Raft | null = null;
  driver: Driver<SimOutcome> | null = null;
  readonly store: MemoryStorage;
  readonly sm: SimStateMachine;
  readonly files: SimFiles = new Map();
  /** Removed from the configuration: serves no clients (replica.ts's `membership.removed`). */
  removed = false;
  private wasMember = false;
  /** The process died at an effect inside the driver's current turn; it is buried when the turn ends. */
  private dying = false;
  private immediates: (() => void)[] = [];
  private readonly timeouts = new Map<number, { at: number; fn: () => void }>();
  private timerSeq = 0;
  private fileSeq = 0;

  constructor(
    private readonly host: SimHost,
    private readonly opts: SimReplicaOptions,
  ) {
    this.id = opts.id;
    const conf = opts.conf;
    this.store = new MemoryStorage(conf ?? { voters: [], learners: [] });
    const initial: SimState = { index: 0, term: 0, hash: 0, conf, app: '' };
    if (conf && opts.bootstrapAtOne) {
      // As the replica bootstraps (data-folder.ts): the configuration is a snapshot at index 1, term 1, in both stores.
      this.store.resetToSnapshot({ index: 1, term: 1, conf });
      this.store.save({ entries: [], hardState: { term: 1, vote: null, commit: 1 } });
      Object.assign(initial, { index: 1, term: 1, hash: opts.bootHash });
    }
    this.sm = new SimStateMachine(
      opts.id,
      initial,
      this.files,
      opts.observer,
      () => host.now(),
      () => host.checkpointIncomplete(this),
      opts.application ?? null,
    );
  }

  get alive(): boolean {
    return this.driver !== null;
  }

  get pendingWork(): boolean {
    return this.immediates.length > 0;
  }

  /** Starts a new incarnation; false if it died during start-up (reconciling its log with its state). */
  start(): boolean {
    const inc = (this.incarnation = this.host.newIncarnation());
    this.dying = false;
    this.immediates = [];
    this.timeouts.clear();
    try {
      this.raft = openCore(this.logStore(inc), this.sm, SILENT, { ...this.opts.raft, id: this.id, random: this.opts.random });
    } catch (err) {
      if (!(err instanceof SimCrash || err instanceof SimDiskFull)) throw err;
      this.host.note(`${this.id} dies starting up: ${err.message}`);
      this.crash(false);
      return false;
    }
    const driver = new Driver<SimOutcome>({
      id: this.id,
      log: SILENT,
      raft: this.raft,
      logStore: this.logStore(inc),
      sm: this.faultyStateMachine(inc),
      metrics: NO_METRICS,
      timers: this.timers(inc),
      snapshotFiles: this.snapshotFiles(),
      send: (to, msgs) => {
        if (inc !== this.incarnation || this.dying) return;
        if (this.fault('send') !== 'none') {
          // The process dies with these messages unsent; the driver's turn goes on until its next effect throws.
          this.dying = true;
          return;
        }
        this.host.transmit(this, to, msgs);
      },
      sendSnapshot: (to, path, _meta, msg) => {
        const data = this.files.get(path);
        if (inc !== this.incarnation || this.dying || data === undefined) return Promise.reject(new Error('link closed'));
        return this.host.transmitSnapshot(this, to, data, msg);
      },
      compactEvery: this.opts.compactEvery,
      keepEntries: this.opts.keepEntries,
      proposalTimeoutMs: this.opts.proposalTimeoutMs,
    });
    this.driver = driver;
    this.wasMember = isMember(this.sm.conf(), this.id);
    // A replica that starts outside its stored configuration was removed: it serves no clients.
    this.removed = this.sm.conf() !== null && !this.wasMember;
    driver.on('conf', () => {
      const member = isMember(this.sm.conf(), this.id);
      if (this.wasMember && !member && !this.removed) {
        this.removed = true;
        this.host.note(`${this.id} removed from the configuration: serves no clients`);
      }
      this.wasMember = member;
    });
    driver.on('fatal', (err: Error) => {
      if (inc !== this.incarnation) return;
      const cause = err.cause;
      if (cause instanceof SimCrash) this.dying = true;
      else if (cause instanceof SimDiskFull) {
        this.host.note(`${this.id} stops: ${err.message}`);
        this.dying = true;
      } else this.host.unexpectedStop(this, err);
    });
    const conf = this.sm.conf();
    if (conf && conf.voters.length === 1 && conf.voters[0] === this.id && this.raft.status().role !== 'leader') driver.campaign();
    return true;
  }

  /** The process dies: whatever the stores would not keep is gone. */
  crash(powerLoss: boolean): void {
    this.driver?.stop();
    this.driver = null;
    this.raft = null;
    this.dying = false;
    this.immediates = [];
    this.timeouts.clear();
    this.files.clear();
    this.removed = false;
    this.store.crash(powerLoss);
    this.sm.crash(powerLoss, powerLoss ? this.host.pickSurvivingGroups(this.sm.unsyncedGroups) : 0);
  }

  /** Runs what the driver scheduled (its event-loop turn). Returns true if the process died in it. */
  runImmediates(): boolean {
    const run = this.immediates;
    this.immediates = [];
    for (const fn of run) {
      fn();
      if (this.dying) return true;
    }
    return false;
  }

  /** Fires the timers due at `now`; true if any fired (its promises' callbacks may be waiting). */
  fireTimers(now: number): boolean {
    let fired = false;
    for (const [id, t] of this.timeouts) {
      if (t.at <= now) {
        this.timeouts.delete(id);
        t.fn();
        fired = true;
      }
    }
    return fired;
  }

  /** Peer messages arriving (a removed replica still steps them). */
  deliver(msgs: Message[]): void {
    if (!this.driver) return;
    this.driver.step(msgs);
  }

  deliverSnapshot(data: string, msg: Message): void {
    if (!this.driver) return;
    const path = `in-${++this.fileSeq}`;
    this.files.set(path, data);
    this.driver.stepSnapshot({ path, meta: msg.snapshot!, msg });
  }

  get isDying(): boolean {
    return this.dying;
  }

  private fault(effect: Effect): Fault {
    return this.host.fault(this, effect);
  }

  /** Throws into the driver when the process is dead or dies now, or when the write fails. */
  private before(effect: Effect): void {
    if (this.dying) throw new SimCrash(effect);
    const f = this.fault(effect);
    if (f === 'crash') {
      this.dying = true;
      throw new SimCrash(effect);
    }
    if (f === 'diskFull') throw new SimDiskFull(effect);
  }

  private logStore(inc: number): LogStore {
    const store = this.store;
    const guard = (effect: Effect) => {
      if (inc !== this.incarnation) throw new SimCrash(effect);
      this.before(effect);
    };
    return {
      initialState: () => store.initialState(),
      firstIndex: () => store.firstIndex(),
      lastIndex: () => store.lastIndex(),
      term: (i) => store.term(i),
      entries: (lo, hi, maxBytes) => store.entries(lo, hi, maxBytes),
      snapshotMeta: () => store.snapshotMeta(),
      save: (batch) => {
        guard(batch.snapshot ? 'install' : 'save');
        this.host.saving(this, batch, this.prevTerm(batch));
        store.save(batch);
      },
      saveUnsynced: (batch) => {
        guard('save');
        this.host.saving(this, batch, this.prevTerm(batch));
        store.saveUnsynced(batch);
      },
      // The fsync completes a while later (a timer of this incarnation: a crash cancels it, and a power cut then
      // loses what it would have covered). No fault strikes here: it runs outside the driver's turn, and a crash
      // before it completes is any crash in between.
      sync: () => {
        if (inc !== this.incarnation) throw new SimCrash('save');
        const done = store.syncPoint();
        return new Promise<void>((resolve) => {
          this.timeouts.set(++this.timerSeq, {
            at: this.host.now() + this.host.syncDelayMs(this),
            fn: () => {
              done();
              resolve();
            },
          });
        });
      },
      compact: (index, term, conf) => {
        guard('compact');
        store.compact(index, term, conf);
      },
      resetToSnapshot: (meta) => {
        guard('reset');
        store.resetToSnapshot(meta);
      },
    };
  }

  private prevTerm(batch: SaveBatch): number | null {
    if (!batch.entries.length) return null;
    const before = batch.entries[0].index - 1;
    if (batch.snapshot) return batch.snapshot.index === before ? batch.snapshot.term : null;
    try {
      return this.store.term(before);
    } catch {
      return null;
    }
  }

  private faultyStateMachine(inc: number): StateMachine<SimOutcome> {
    const sm = this.sm;
    const guard = (effect: Effect) => {
      if (inc !== this.incarnation) throw new SimCrash(effect);
      this.before(effect);
    };
    return {
      applied: () => sm.applied(),
      conf: () => sm.conf(),
      applyEntries: (entries, applyConf) => {
        guard('apply');
        return sm.applyEntries(entries, applyConf);
      },
      maybeCommitGroup: () => sm.maybeCommitGroup(),
      makeDurable: () => {
        guard('checkpoint');
        return sm.makeDurable();
      },
      snapshotTo: (file) => sm.snapshotTo(file),
      restoreFrom: (file) => {
        guard('restore');
        return sm.restoreFrom(file);
      },
    };
  }

  private timers(inc: number): DriverTimers {
    return {
      now: () => this.host.now(),
      setTimeout: (fn, ms) => {
        if (inc !== this.incarnation) return 0;
        const id = ++this.timerSeq;
        this.timeouts.set(id, { at: this.host.now() + ms, fn });
        return id;
      },
      clearTimeout: (handle) => {
        if (inc === this.incarnation) this.timeouts.delete(handle as number);
      },
      setImmediate: (fn) => {
        if (inc === this.incarnation) this.immediates.push(fn);
      },
    };
  }

  private snapshotFiles(): SnapshotFiles {
    return {
      outgoing: (to) => `out-${to}-${++this.fileSeq}`,
      remove: (path) => void this.files.delete(path),
    };
  }
}
