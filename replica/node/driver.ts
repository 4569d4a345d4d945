/**
 * The Raft driver: owns the pure core, and turns its Ready batches into effects in the order the contract demands:
 * persist (one fsync for the batch: group commit) → send → apply → advance. Nothing here waits on a peer: the event
 * loop only ever waits on the local disk, and a leader not even for its own appends (their fsync runs on the thread
 * pool: syncOwnEntries). It depends on interfaces only (driver-contract.ts: the state machine, the
 * log store, timers, snapshot files), so the simulation (test/sim) runs this very code over in-memory ones.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Raft } from '../raft/raft.js';
import { RaftError } from '../raft/errors.js';
import { LogDivergenceError } from '../raft/log.js';
import { ReplicaStopError } from '../util/replica-stop-error.js';
import type { ConfChange, Entry, LogStore, Message, NodeId, Ready, SnapshotMeta, SoftState } from '../raft/types.js';
import { QuorumError } from '../protocol/errors.js';
import type { DriverMetrics, DriverTimers, SnapshotFiles, StagedSnapshot, StateMachine, TimerHandle } from './driver-contract.js';
import { StateCheck, stateCheckDue, type StateCheckVerdict } from './state-check.js';

/**
 * How long log compaction waits for a state hash in progress, in units of compactEvery entries (see maybeCompact):
 * at the default 20,000 and ~4,000 writes/s, 20 s of writes, ~40 MB of log; a hash of 1,000,000 messages takes ~4 s
 * of CPU.
 */
export const COMPACTION_WAITS_FOR_HASH = 4;

/** The context of a 'snap' message that carries a resync (a state replaced, the log kept), not an InstallSnapshot. */
export const RESYNC_CONTEXT = 'resync';

export interface DriverOptions<Outcome> {
  id: string;
  log: Logger;
  raft: Raft;
  logStore: LogStore;
  sm: StateMachine<Outcome>;
  metrics: DriverMetrics;
  /** Node's timers in the replica (NODE_TIMERS); the simulation's in test/sim. */
  timers: DriverTimers;
  /** Where outgoing snapshot files go (snapshotDirectory(dataDir) in the replica). */
  snapshotFiles: SnapshotFiles;
  /** Sends messages to peers (batched per destination). 'snap' messages are handled by the driver itself. */
  send: (to: string, msgs: Message[]) => void;
  /** Streams a snapshot file to a peer; resolves when the peer has it all. */
  sendSnapshot: (to: string, path: string, meta: SnapshotMeta, msg: Message) => Promise<void>;
  /**
   * Why no snapshot may be sent to `to` now (e.g. its release cannot read this one's state format), or null. A
   * withheld snapshot is reported failed to Raft, which asks again later: the peer waits, the leader keeps going.
   */
  snapshotWithheld?: (to: string) => string | null;
  /** Entries applied beyond the last compaction before the log is compacted. */
  compactEvery: number;
  /**
   * Every replica hashes its state at the multiples of this index and compares with its peers (state-check.ts);
   * 0 or absent: no comparison. Hashing costs a read of the whole state, so this is thousands of entries.
   */
  stateCheckEvery?: number;
  /**
   * Whether every peer takes 'stateHash' messages (absent: they do). A release before them refuses the whole frame
   * carrying one and closes the link, so while such a replica is a member hashes are kept here and not sent.
   */
  peersTakeStateHashes?: () => boolean;
  /** Entries kept behind the applied index at compaction, so slightly slow followers need no snapshot. */
  keepEntries: number;
  proposalTimeoutMs: number;
  /**
   * Recognises a failure that is a condition of the machine or of the data rather than a bug (a full disk, a diverged
   * log) and returns the stop it means, whose message is the whole story: it is logged without a stack trace. Null
   * (or absent): a failure, logged with its stack.
   */
  stopFor?: (err: Error) => Error | null;
}

/** A proposal waiting for its entry (`resolve` takes the state machine's Outcome; typed wide so Driver<O> is covariant). */
interface Waiter {
  term: number;
  resolve: (o: unknown) => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
}

interface ReadWaiter {
  resolve: (applied: number) => void;
  reject: (e: Error) => void;
}

/**
 * Events: 'applied' (outcomes: Outcome[]), 'softState' (SoftState), 'conf' () when the configuration this replica acts
 * on changed (a leader that applied its own removal hands leadership over first: its 'conf' comes when it no longer
 * leads), 'fatal' (Error) when it stopped itself (a storage failure or a diverged log).
 */
export class Driver<Outcome> extends EventEmitter {
  private readonly waiters = new Map<number, Waiter>();
  private readonly appliedWaiters: { index: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Settles when the last configuration change queued to wait its turn has (proposeConfChange). */
  private confTurn: Promise<unknown> = Promise.resolve();
  private pendingReads: ReadWaiter[] = [];
  private readonly readBatches = new Map<string, ReadWaiter[]>();
  private readSeq = 0;
  private scheduled = false;
  private stopped = false;
  private soft: SoftState = { lead: null, role: 'follower' };
  private applied: number;
  private readonly snapshotsOut = new Set<string>();
  /** Why a snapshot to each peer was last withheld (so it is logged once, not at every retry). */
  private readonly withheldReasons = new Map<string, string>();
  /** Complete incoming snapshot files by index, until the core installs one (older ones are then dropped). */
  private readonly staged = new Map<number, StagedSnapshot>();
  private lastCompactCheck = 0;
  /**
   * Index of the newest conf entry applied, or an upper bound of it: the configuration at any index at or above it is
   * the state machine's. At start it is unknown, so the applied index stands in.
   */
  private lastConfIndex: number;
  private processing = false;
  /** The leader's own entries saved since the running sync started, up to this one (syncOwnEntries). */
  private unsyncedUpTo: { index: number; term: number } | null = null;
  private syncing = false;
  /** Term and vote as last made durable: a message may carry a term only once it is on disk. */
  private savedTerm: number;
  private savedVote: NodeId | null;
  /** A 'conf' event held back while this replica leads outside the configuration (it is handing leadership over). */
  private confHeld = false;
  /** It stopped leading: the held 'conf' goes out once the current Ready's messages have left. */
  private confDue = false;
  /** This replica's and its peers' state hashes at the same indices. */
  readonly stateCheck: StateCheck;
  /** A leader's snapshot that is to replace this replica's state (resync), once it is committed here. */
  private pendingResync: StagedSnapshot | null = null;

  constructor(private readonly o: DriverOptions<Outcome>) {
    super();
    this.applied = o.sm.applied().index;
    this.lastConfIndex = this.applied;
    const { hardState } = o.logStore.initialState();
    this.savedTerm = hardState.term;
    this.savedVote = hardState.vote;
    this.stateCheck = new StateCheck(o.id, () => {
      const c = o.sm.conf();
      return c ? [...c.voters, ...c.learners] : [o.id];
    });
  }

  get softState(): SoftState {
    return this.soft;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  get isLeader(): boolean {
    return this.soft.role === 'leader';
  }

  tick(): void {
    if (this.stopped) return;
    this.o.raft.tick();
    // Not while a member would refuse the message (resends are counted when due, sent or not).
    if (!this.o.peersTakeStateHashes || this.o.peersTakeStateHashes()) {
      for (const r of this.stateCheck.resendDue(this.o.timers.now())) this.sendStateHash(r.to, r.index, r.hash);
    }
    try {
      this.o.sm.maybeCommitGroup();
    } catch (err) {
      this.fail(err, 'committing applied state failed; stopping');
      return;
    }
    this.schedule();
  }

  step(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      if (m.type === 'stateHash') {
        // Driver to driver: a peer's state hash, compared here; never a core's business.
        if (m.index === undefined || m.context === undefined) continue;
        // A hash already held is a resend: the peer lacks this replica's, which is answered (state-check.ts).
        const { verdicts, answer } = this.stateCheck.receivePeer(m.from, m.index, m.context, this.o.timers.now());
        this.report(verdicts);
        if (answer) this.sendStateHash(answer.to, answer.index, answer.hash);
        continue;
      }
      try {
        this.o.raft.step(m);
      } catch (err) {
        if (err instanceof RaftError) {
          // Refused and changed nothing (a message not meant for this replica).
          this.o.log.warn({ err: err.message, type: m.type, from: m.from }, 'peer message rejected by the core');
          continue;
        }
        if (err instanceof LogDivergenceError) {
          this.fail(
            err,
            `log divergence: ${err.message}; this replica's data disagrees with the cluster's, so it stopped; ` +
              'rebuild the replica as "A damaged replica" in docs/operations.md says',
          );
        } else {
          this.fail(err, `processing a message from ${m.from} failed; stopping to protect durability`);
        }
        return;
      }
    }
    this.schedule();
  }

  /** A complete snapshot arrived: keep the file (by index) until the core asks us to install that one. */
  stepSnapshot(snap: StagedSnapshot): void {
    if (this.stopped) return;
    if (snap.msg.context === RESYNC_CONTEXT) {
      if (this.pendingResync && this.pendingResync.path !== snap.path) this.o.snapshotFiles.remove(this.pendingResync.path);
      this.o.log.warn({ index: snap.meta.index, from: snap.msg.from }, `resync: ${snap.msg.from} sent its state at index ${snap.meta.index}; it replaces this replica's once committed here`);
      this.pendingResync = snap;
      this.schedule();
      return;
    }
    const old = this.staged.get(snap.meta.index);
    if (old && old.path !== snap.path) this.o.snapshotFiles.remove(old.path);
    this.staged.set(snap.meta.index, snap);
    this.step([snap.msg]);
  }

  /** Proposes a command; resolves with its outcome once committed and applied here. */
  propose(data: string): Promise<Outcome> {
    return this.track(() => this.o.raft.propose(data), 'the write was not committed in time; its outcome is unknown: retry with the same session seq');
  }

  /**
   * Proposes a configuration change; resolves with its outcome once committed and applied here. Raft takes one change
   * at a time: while an earlier change (or, at a new leader, an entry of an earlier term) is not applied yet, the core
   * refuses it (CONFLICT). With `waitTurn` the change waits for that instead: such changes queue here in the order
   * asked, and each is proposed again after every apply until the proposal timeout (counted from the call), so that
   * changes asked for at the same moment (machines joining together, a join beside an autopilot promotion) go through
   * one after another, as hashicorp/raft queues them. Cluster administration requests and autopilot wait; the
   * simulation does not (it counts a refused proposal as not made).
   */
  proposeConfChange(cc: ConfChange, o: { waitTurn?: boolean } = {}): Promise<Outcome> {
    if (!o.waitTurn) return this.proposeConfChangeNow(cc).outcome;
    const deadline = this.o.timers.now() + this.o.proposalTimeoutMs;
    const turn = this.confTurn.then(() => this.proposeConfChangeInTurn(cc, deadline));
    this.confTurn = turn.catch(() => {});
    return turn;
  }

  private async proposeConfChangeInTurn(cc: ConfChange, deadline: number): Promise<Outcome> {
    for (;;) {
      const { outcome, pending } = this.proposeConfChangeNow(cc);
      if (!pending || this.o.timers.now() >= deadline) return outcome;
      outcome.catch(() => {}); // the refusal, superseded by the next try
      await this.appliedBeyond(this.applied, deadline);
    }
  }

  /** One proposal; `pending`: the core refused it because an earlier change is not applied yet. */
  private proposeConfChangeNow(cc: ConfChange): { outcome: Promise<Outcome>; pending: boolean } {
    let pending = false;
    const outcome = this.track(() => {
      try {
        return this.o.raft.proposeConfChange(cc);
      } catch (err) {
        pending = err instanceof RaftError && err.code === 'CONF_CHANGE_PENDING';
        throw err;
      }
    }, 'the configuration change was not committed in time; check `status` before retrying');
    return { outcome, pending };
  }

  /** Resolves once an entry after `index` is applied here, or at `deadline`, whichever comes first; rejects if the driver stops. */
  private appliedBeyond(index: number, deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = {
        index: index + 1,
        resolve: () => {
          this.o.timers.clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          this.o.timers.clearTimeout(timer);
          reject(e);
        },
      };
      const timer = this.o.timers.setTimeout(() => {
        const i = this.appliedWaiters.indexOf(waiter);
        if (i >= 0) this.appliedWaiters.splice(i, 1);
        resolve();
      }, Math.max(0, deadline - this.o.timers.now()));
      this.appliedWaiters.push(waiter);
    });
  }

  /** Runs a proposal and waits for the entry at its index to be applied in the same term. */
  private track(proposeFn: () => number, timeoutMessage: string): Promise<Outcome> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    return new Promise((resolve, reject) => {
      let index: number;
      try {
        index = proposeFn();
      } catch (err) {
        reject(this.translate(err));
        return;
      }
      const term = this.o.raft.currentTerm;
      // An index proposed again (a lost term we never saw end) settles the earlier waiter first.
      const earlier = this.waiters.get(index);
      if (earlier) {
        this.o.timers.clearTimeout(earlier.timer);
        earlier.reject(new QuorumError('NOT_LEADER', 'leadership changed before the write committed; retry with the same session seq'));
      }
      const timer = this.o.timers.setTimeout(() => {
        if (this.waiters.get(index)?.timer === timer) {
          this.waiters.delete(index);
          reject(new QuorumError('TIMEOUT', timeoutMessage));
        }
      }, this.o.proposalTimeoutMs);
      this.waiters.set(index, { term, resolve: resolve as (o: unknown) => void, reject, timer });
      this.o.metrics.proposals.inc();
      this.schedule();
    });
  }

  /**
   * Linearizable read barrier (ReadIndex): resolves once this replica, as leader confirmed by a majority, has applied
   * everything committed before the call; resolves with the index applied then. Reads issued in the same turn share
   * one round.
   */
  readBarrier(): Promise<number> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (!this.isLeader) return Promise.reject(this.notLeader());
    return new Promise((resolve, reject) => {
      this.pendingReads.push({ resolve, reject });
      this.schedule();
    });
  }

  transferLeadership(to: string): void {
    this.o.raft.transferLeadership(to);
    this.schedule();
  }

  reportUnreachable(id: string): void {
    this.o.raft.reportUnreachable(id);
  }

  campaign(): void {
    this.o.raft.campaign();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.failAll(this.stoppedError());
  }

  private stoppedError(): QuorumError {
    return new QuorumError('UNAVAILABLE', 'the replica is stopping; retry on another replica');
  }

  notLeader(): QuorumError {
    return new QuorumError('NOT_LEADER', this.soft.lead ? `this replica does not lead; ${this.soft.lead} does` : 'this replica does not lead and knows no leader (election in progress or no majority reachable)');
  }

  private translate(err: unknown): Error {
    if (err instanceof QuorumError) return err;
    if (err instanceof RaftError) {
      switch (err.code) {
        case 'NOT_LEADER':
          return this.notLeader();
        case 'NO_QUORUM':
          return new QuorumError('NO_QUORUM', 'the leader cannot reach a majority of replicas: writes are refused until it can');
        case 'TRANSFERRING':
          return new QuorumError('NOT_LEADER', 'leadership is being handed to another replica; retry in a moment');
        case 'CONF_CHANGE_PENDING':
          return new QuorumError('CONFLICT', err.message);
        case 'INVALID_CONF_CHANGE':
        case 'INVALID_TRANSFER':
        case 'INVALID_MESSAGE':
          return new QuorumError('INVALID', err.message);
      }
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.o.timers.setImmediate(() => {
      this.scheduled = false;
      this.process();
    });
  }

  private process(): void {
    if (this.stopped || this.processing) return;
    this.processing = true;
    try {
      if (this.pendingResync) this.tryResync();
      if (this.pendingReads.length) {
        const batch = this.pendingReads;
        this.pendingReads = [];
        if (this.isLeader) {
          // The core may have stepped down since the last Ready told us it leads (a higher term arrived, or
          // check-quorum): it then refuses the read, which is the reader's NOT_LEADER, not a storage failure.
          const ctx = `r${++this.readSeq}`;
          try {
            this.o.raft.readIndex(ctx);
            this.readBatches.set(ctx, batch);
          } catch (err) {
            const e = this.translate(err);
            for (const r of batch) r.reject(e);
          }
        } else {
          for (const r of batch) r.reject(this.notLeader());
        }
      }
      let rounds = 0;
      while (this.o.raft.hasReady() && rounds++ < 64) this.handleReady(this.o.raft.ready());
      this.maybeCompact();
    } catch (err) {
      this.fail(err, 'replica driver failed; stopping to protect durability');
    } finally {
      this.processing = false;
    }
    if (this.o.raft.hasReady()) this.schedule();
  }

  private handleReady(rd: Ready): void {
    if (rd.softState) this.onSoftState(rd.softState);

    // No message may carry a term or rest on a vote that is not on disk: a Ready with a new term or vote is persisted
    // before anything is sent (a single voter wins its election within one Ready: its appends would otherwise leave
    // at a term a crash could forget, and it could win that term again with a different log).
    // Otherwise a leader may send its appends before its own write (Raft thesis §10.2.1), and need not wait for its
    // own disk: its write returns before the fsync, which runs on the thread pool (syncOwnEntries); the core counts
    // and applies those entries only once that completes (advance 'pending', then persisted). A leader's Ready
    // without new entries carries only commit notices and heartbeats: it answers its clients first.
    // Every other role persists first: its votes and acknowledgements promise what is on disk.
    // Not when a configuration change commits: applying a removal closes the link the commit notice must still take.
    const hard = rd.hardState;
    const newTermOrVote = !!hard && (hard.term !== this.savedTerm || hard.vote !== this.savedVote);
    const leader = this.soft.role === 'leader' && !rd.snapshot && !newTermOrVote;
    const sendFirst = leader && rd.entries.length > 0;
    const sendLast = leader && !sendFirst && !rd.committedEntries.some((e) => e.type === 'conf');
    if (sendFirst) this.sendAll(rd.messages);

    // 1. Make everything durable (one transaction, one fsync: group commit), the leader's own entries excepted.
    if (rd.snapshot) this.installSnapshot(rd.snapshot);
    if (rd.entries.length || hard || rd.snapshot) {
      const t0 = this.o.timers.now();
      const batch = { hardState: hard, entries: rd.entries, snapshot: rd.snapshot };
      if (sendFirst) this.o.logStore.saveUnsynced(batch);
      else this.o.logStore.save(batch);
      this.o.metrics.persistSeconds.observe((this.o.timers.now() - t0) / 1000);
      this.o.metrics.persistBatch.observe(rd.entries.length);
      if (hard) {
        this.savedTerm = hard.term;
        this.savedVote = hard.vote;
      }
    }

    // 2. Send.
    if (!sendFirst && !sendLast) this.sendAll(rd.messages);

    // 3. Apply.
    if (rd.committedEntries.length) this.apply(rd.committedEntries);

    if (sendLast) this.sendAll(rd.messages);

    // ReadIndex answers.
    for (const rs of rd.readStates) {
      const batch = this.readBatches.get(rs.context);
      if (!batch) continue;
      this.readBatches.delete(rs.context);
      const release = () => batch.forEach((r) => r.resolve(this.applied));
      if (this.applied >= rs.index) release();
      else this.appliedWaiters.push({ index: rs.index, resolve: release, reject: (e) => batch.forEach((r) => r.reject(e)) });
    }

    if (this.confDue) {
      this.confDue = false;
      this.confChanged();
    }

    // 4. Tell the core.
    this.o.raft.advance(rd, sendFirst ? 'pending' : 'durable');
    if (sendFirst) this.syncOwnEntries(rd.entries[rd.entries.length - 1]);
  }

  /**
   * The leader's own entries up to `last` were saved without waiting for the disk: one fsync at a time on the thread
   * pool covers every save before it starts (group commit); the core hears of each (persisted) and may then commit
   * and apply them. A failed fsync stops the replica, as a failed save does.
   */
  private syncOwnEntries(last: { index: number; term: number }): void {
    this.unsyncedUpTo = { index: last.index, term: last.term };
    if (this.syncing || this.stopped) return;
    const upTo = this.unsyncedUpTo;
    this.unsyncedUpTo = null;
    this.syncing = true;
    const t0 = this.o.timers.now();
    let synced: Promise<void>;
    try {
      synced = this.o.logStore.sync();
    } catch (err) {
      this.syncing = false;
      this.fail(err, 'making the log durable failed; stopping to protect durability');
      return;
    }
    synced.then(
      () => {
        this.syncing = false;
        if (this.stopped) return;
        this.o.metrics.syncSeconds?.observe((this.o.timers.now() - t0) / 1000);
        this.o.raft.persisted(upTo.index, upTo.term);
        if (this.unsyncedUpTo) this.syncOwnEntries(this.unsyncedUpTo);
        this.schedule();
      },
      (err: unknown) => {
        this.syncing = false;
        if (!this.stopped) this.fail(err, 'making the log durable failed; stopping to protect durability');
      },
    );
  }

  private sendAll(messages: Message[]): void {
    const byPeer = new Map<string, Message[]>();
    for (const m of messages) {
      if (m.type === 'snap') {
        this.sendSnapshot(m);
        continue;
      }
      let list = byPeer.get(m.to);
      if (!list) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, msgs] of byPeer) {
      try {
        this.o.send(to, msgs);
      } catch (err) {
        // Sending is best effort (Raft retransmits); a transport error must not stop the replica.
        this.o.log.error({ err: (err as Error).message, to }, 'sending to a peer failed');
        this.o.raft.reportUnreachable(to);
      }
    }
  }

  /** Applies entries, split at the state check's indices so each replica hashes its state at exactly those. */
  private apply(entries: Entry[]): void {
    const every = this.o.stateCheckEvery ?? 0;
    if (!every || !this.o.sm.stateHash) return this.applyBatch(entries);
    let from = 0;
    for (let i = 0; i < entries.length; i++) {
      if (entries[i].index % every !== 0) continue;
      this.applyBatch(entries.slice(from, i + 1));
      from = i + 1;
      this.checkpoint(entries[i].index);
    }
    if (from < entries.length) this.applyBatch(from === 0 ? entries : entries.slice(from));
  }

  /**
   * Hashes the state at `index` (just applied), compares with what peers reported, and tells the peers. In the
   * background when the state machine can (a large state takes seconds to hash); a skipped hash skips this check.
   * Not at every checkpoint of a large state (stateCheckDue), and never on a replica with no one to compare with.
   */
  private checkpoint(index: number): void {
    const conf = this.o.sm.conf();
    if (!conf || ![...conf.voters, ...conf.learners].some((id) => id !== this.o.id)) return;
    if (!stateCheckDue(index, this.o.stateCheckEvery ?? 0, this.o.sm.stateHashRows?.() ?? 0)) return;
    const later = this.o.sm.stateHashLater;
    if (!later) return this.checkStateHash(index, this.o.sm.stateHash!());
    later.call(this.o.sm).then(
      (hash) => {
        if (hash !== null && !this.stopped) this.checkStateHash(index, hash);
      },
      (err: unknown) => this.o.log.warn({ err: (err as Error).message, index }, 'hashing the state failed; this state check is skipped'),
    );
  }

  private checkStateHash(index: number, hash: string): void {
    this.report(this.stateCheck.recordOwn(index, hash));
    const conf = this.o.sm.conf();
    if (!conf) return;
    for (const to of [...conf.voters, ...conf.learners]) if (to !== this.o.id) this.sendStateHash(to, index, hash);
  }

  /** Tells peer `to` this replica's state hash at `index` (best effort; not while a member would refuse the message). */
  private sendStateHash(to: string, index: number, hash: string): void {
    if (this.o.peersTakeStateHashes && !this.o.peersTakeStateHashes()) return;
    try {
      this.o.send(to, [{ type: 'stateHash', from: this.o.id, to, term: this.savedTerm, index, context: hash }]);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, to }, 'sending a state hash failed');
    }
  }

  private report(verdicts: StateCheckVerdict[]): void {
    for (const v of verdicts) {
      this.o.log.error({ index: v.index, replica: v.replica, hash: v.hash, ownHash: v.ownHash, majorityHash: v.majorityHash }, v.line);
      this.o.metrics.stateMismatches?.inc();
    }
    if (verdicts.length) {
      this.o.metrics.stateDiverged?.set(this.stateCheck.diverged.includes(this.o.id) ? 1 : 0);
      this.safeEmit('stateMismatch', verdicts);
    }
  }

  /**
   * Leader: streams its state (a snapshot at its applied index) to replica `to`, whose state then replaces its own
   * (its log stays: it keeps voting and acknowledging on what it has). Resolves with the snapshot's index once sent.
   */
  resync(to: string): Promise<number> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    if (!this.isLeader) return Promise.reject(this.notLeader());
    if (to === this.o.id) return Promise.reject(new QuorumError('INVALID', `${to} leads: hand leadership to another replica first (cluster transfer), then resync ${to}`));
    const conf = this.o.sm.conf();
    if (!conf || ![...conf.voters, ...conf.learners].includes(to)) return Promise.reject(new QuorumError('NOT_FOUND', `${to} is not a member of the cluster`));
    if (this.snapshotsOut.has(to)) return Promise.reject(new QuorumError('CONFLICT', `a snapshot is being sent to ${to}; retry when it is done`));
    this.snapshotsOut.add(to);
    const path = this.o.snapshotFiles.outgoing(to);
    const msg: Message = { type: 'snap', from: this.o.id, to, term: this.savedTerm, context: RESYNC_CONTEXT };
    return (async () => {
      try {
        const meta = await this.o.sm.snapshotTo(path);
        this.o.log.warn({ to, index: meta.index }, `resync: sending this replica's state at index ${meta.index} to ${to}`);
        await this.o.sendSnapshot(to, path, meta, { ...msg, snapshot: meta });
        return meta.index;
      } finally {
        this.snapshotsOut.delete(to);
        this.o.snapshotFiles.remove(path);
      }
    })();
  }

  /**
   * Replaces this replica's state by the leader's snapshot (resync) once the snapshot's index is committed here and
   * not behind what is applied (the log stays; applying resumes after the snapshot's index).
   */
  private tryResync(): void {
    const snap = this.pendingResync!;
    const index = snap.meta.index;
    if (index < this.applied) {
      this.pendingResync = null;
      this.o.snapshotFiles.remove(snap.path);
      this.o.log.error({ index, applied: this.applied }, `resync refused: the snapshot (index ${index}) is behind this replica's applied index ${this.applied}; run resync again`);
      return;
    }
    if (index > this.o.raft.committedIndex) return; // the commit index follows with the next heartbeat
    this.pendingResync = null;
    const installed = this.o.sm.restoreFrom(snap.path);
    this.o.snapshotFiles.remove(snap.path);
    if (installed.index !== index) throw new Error(`resync snapshot file holds index ${installed.index}, announced ${index}`);
    this.o.raft.resyncApplied(installed);
    this.applied = installed.index;
    this.lastConfIndex = installed.index;
    this.o.metrics.applied.set(this.applied);
    this.stateCheck.resetOwn();
    this.o.metrics.stateDiverged?.set(0);
    this.o.log.warn({ index }, `resync: this replica's state was replaced by the leader's at index ${index}; applying resumes after it`);
    this.safeEmit('conf');
    this.safeEmit('resynced', index);
  }

  private applyBatch(entries: Entry[]): void {
    const t0 = this.o.timers.now();
    const outcomes = this.o.sm.applyEntries(entries, (cc) => this.o.raft.applyConfChange(cc));
    this.o.metrics.applySeconds.observe((this.o.timers.now() - t0) / 1000);
    const last = entries[entries.length - 1];
    this.applied = last.index;
    this.o.metrics.applied.set(this.applied);
    let confChanged = false;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.type === 'conf') {
        confChanged = true;
        this.lastConfIndex = e.index;
      }
      const w = this.waiters.get(e.index);
      if (!w) continue;
      this.waiters.delete(e.index);
      this.o.timers.clearTimeout(w.timer);
      if (w.term === e.term) w.resolve(outcomes[i]);
      else w.reject(new QuorumError('NOT_LEADER', 'leadership changed before the write committed; retry with the same session seq'));
    }
    if (this.appliedWaiters.length) {
      for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
        const w = this.appliedWaiters[i];
        if (w.index <= this.applied) {
          this.appliedWaiters.splice(i, 1);
          w.resolve();
        }
      }
    }
    // Listeners (pushes, peer links) must not be able to turn a delivery problem into a storage failure.
    this.safeEmit('applied', outcomes);
    if (confChanged) this.confChanged();
  }

  /**
   * A leader that applied its own removal (or demotion) keeps leading until it has handed leadership over (the core
   * sends the transfer in the next Ready): listeners that close its links on 'conf' hear of the change once it no
   * longer leads.
   */
  private confChanged(): void {
    const conf = this.o.sm.conf();
    if (conf && !conf.voters.includes(this.o.id) && this.o.raft.currentRole === 'leader') {
      this.confHeld = true;
      return;
    }
    this.confHeld = false;
    this.safeEmit('conf');
  }

  private onSoftState(s: SoftState): void {
    const was = this.soft;
    this.soft = s;
    this.o.metrics.isLeader.set(s.role === 'leader' ? 1 : 0);
    if (was.role === 'leader' && s.role !== 'leader') {
      // Writes in flight may still commit under the next leader; clients retry with the same seq, which is deduplicated.
      const err = new QuorumError('NOT_LEADER', 'this replica lost leadership; retry with the same session seq');
      for (const [idx, w] of this.waiters) {
        this.o.timers.clearTimeout(w.timer);
        w.reject(err);
        this.waiters.delete(idx);
      }
      for (const [ctx, batch] of this.readBatches) {
        batch.forEach((r) => r.reject(err));
        this.readBatches.delete(ctx);
      }
      for (const w of this.appliedWaiters.splice(0)) w.reject(err);
    }
    if (was.role !== s.role || was.lead !== s.lead) this.o.log.info({ role: s.role, leader: s.lead, term: this.o.raft.currentTerm }, 'role changed');
    this.emit('softState', s);
    if (this.confHeld && s.role !== 'leader') this.confDue = true;
  }

  private installSnapshot(meta: SnapshotMeta): void {
    const staged = this.staged.get(meta.index);
    if (!staged) throw new Error(`core asked to install snapshot ${meta.index} but no such snapshot file was received`);
    for (const [index, snap] of this.staged) {
      if (index <= meta.index) {
        this.staged.delete(index);
        if (snap !== staged) this.o.snapshotFiles.remove(snap.path);
      }
    }
    this.o.log.info({ index: meta.index, term: meta.term }, 'installing snapshot from leader');
    const installed = this.o.sm.restoreFrom(staged.path);
    this.o.snapshotFiles.remove(staged.path);
    if (installed.index !== meta.index || installed.term !== meta.term) {
      throw new Error(`snapshot file holds ${installed.index}/${installed.term}, the core expected ${meta.index}/${meta.term}`);
    }
    this.applied = this.o.sm.applied().index;
    this.lastConfIndex = this.applied;
    this.safeEmit('conf');
  }

  private sendSnapshot(m: Message): void {
    const to = m.to;
    if (this.snapshotsOut.has(to)) return;
    const withheld = this.o.snapshotWithheld?.(to) ?? null;
    if (withheld !== null) {
      if (this.withheldReasons.get(to) !== withheld) this.o.log.warn({ to }, `snapshot withheld: ${withheld}`);
      this.withheldReasons.set(to, withheld);
      this.o.raft.reportSnapshot(to, false);
      return;
    }
    this.withheldReasons.delete(to);
    this.snapshotsOut.add(to);
    const path = this.o.snapshotFiles.outgoing(to);
    const started = this.o.timers.now();
    (async () => {
      const meta = await this.o.sm.snapshotTo(path);
      this.o.log.info({ to, index: meta.index }, 'sending snapshot');
      await this.o.sendSnapshot(to, path, meta, { ...m, snapshot: meta });
      return meta;
    })().then(
      (meta) => {
        this.o.log.info({ to, index: meta.index, ms: Math.round(this.o.timers.now() - started) }, 'snapshot sent');
        this.snapshotsOut.delete(to);
        this.o.snapshotFiles.remove(path);
        if (!this.stopped) {
          this.o.raft.reportSnapshot(to, true);
          this.schedule();
        }
      },
      (err) => {
        this.o.log.warn({ to, err: (err as Error).message }, 'snapshot transfer failed; will retry');
        this.snapshotsOut.delete(to);
        this.o.snapshotFiles.remove(path);
        if (!this.stopped) {
          this.o.raft.reportSnapshot(to, false);
          this.schedule();
        }
      },
    );
  }

  /**
   * Drops log entries the state machine has durably applied, keeping a tail for slow followers (whole segment tables
   * go: a few milliseconds, see replica/storage/log-segments.ts).
   */
  private maybeCompact(): void {
    if (this.applied - this.lastCompactCheck < Math.min(1000, Math.ceil(this.o.compactEvery / 4))) return;
    this.lastCompactCheck = this.applied;
    const first = this.o.logStore.firstIndex();
    const upTo = this.applied - this.o.keepEntries;
    if (upTo - first < this.o.compactEvery) return;
    // The snapshot metadata records the configuration as of upTo: the state machine's holds only while no conf entry
    // was applied after upTo (rare: this compaction waits until one is older than the kept tail).
    if (this.lastConfIndex > upTo) return;
    // A state check's hash of a large state runs for seconds, and making the state durable cancels it: under steady
    // load, compaction (every compactEvery entries) would cancel every one and the check would never complete. It
    // waits for the hash, up to COMPACTION_WAITS_FOR_HASH × compactEvery entries in the log; then disk comes first.
    if (this.o.sm.hashing?.() && upTo - first < this.o.compactEvery * COMPACTION_WAITS_FOR_HASH) {
      this.o.log.debug({ upTo }, 'log compaction waits for the state hash in progress');
      return;
    }
    const conf = this.o.sm.conf() ?? { voters: [], learners: [] };
    // The state database is not fsynced per apply: make it durable before dropping the entries it was built from.
    if (!this.o.sm.makeDurable()) {
      this.o.log.warn({ upTo }, 'state checkpoint incomplete (a reader held the WAL); log compaction postponed');
      return;
    }
    this.o.logStore.compact(upTo, this.o.logStore.term(upTo), conf);
    this.o.log.info({ upTo, removed: upTo - first + 1 }, 'log compacted');
  }

  /**
   * A storage failure or a diverged log is fatal: continuing could acknowledge writes that are not durable, or serve
   * a history the cluster does not have. 'fatal' carries the one line that says why (`message`).
   */
  private fail(err: unknown, message: string): void {
    // A stop is not a failure: its message says why and what to do, and no stack helps. A ReplicaStopError says so
    // itself (a replica too old for its cluster); the host recognises others (a full disk, damaged data: stopFor).
    const reason =
      err instanceof ReplicaStopError ? err.message : err instanceof LogDivergenceError ? message : `${message}: ${err instanceof Error ? err.message : String(err)}`;
    const failure = new Error(reason, { cause: err });
    const stop = this.o.stopFor?.(failure) ?? null;
    const oneLine = stop?.message ?? (err instanceof ReplicaStopError ? err.message : null);
    if (oneLine !== null) this.o.log.fatal(oneLine);
    else this.o.log.fatal({ err }, message);
    this.stopped = true;
    this.failAll(new QuorumError('UNAVAILABLE', oneLine !== null ? `the replica stopped: ${oneLine}` : 'the replica hit a storage error and stopped'));
    this.emit('fatal', stop ?? failure);
  }

  private safeEmit(event: string, ...args: unknown[]): void {
    try {
      this.emit(event, ...args);
    } catch (err) {
      this.o.log.error({ err, event }, 'a listener failed');
    }
  }

  private failAll(err: Error): void {
    for (const [, w] of this.waiters) {
      this.o.timers.clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
    for (const r of this.pendingReads) r.reject(err);
    this.pendingReads = [];
    for (const [, b] of this.readBatches) b.forEach((r) => r.reject(err));
    this.readBatches.clear();
    for (const w of this.appliedWaiters.splice(0)) w.reject(err);
  }
}
