/**
 * The Raft consensus core: a pure, deterministic state machine (etcd-io/raft's design, written for Quorum).
 *
 * Driven by tick(), step(message), propose(...), readIndex(...), applyConfChange(...); it returns its effects in
 * Ready batches (see types.ts for the driver's order: persist, send, apply, advance). No timers, clock, I/O or
 * randomness other than opts.random.
 *
 * Beyond Figure 2 of the Raft paper: pre-vote, check-quorum with leader lease, leadership transfer, learners,
 * single-server configuration changes (taking effect when applied, etcd style), snapshots, ReadIndex, batching
 * and pipelining of appends with fast backtracking, and early elections when the transport reports the leader gone
 * (leaderUnreachable).
 *
 * Safety notes (the reasoning the tests check):
 * - Messages leave only through a Ready whose entries and hard state the driver persists before sending them, so a
 *   vote or an append response never depends on state that is not durable. The leader counts its own log toward
 *   commit only up to what the driver acknowledged as persisted (advance), never its unstable tail.
 * - Only one configuration change may be in flight: a leader refuses a new one until the previous conf entry (and
 *   everything in its log when it was elected, including its no-op) is applied. A node with committed but
 *   unapplied conf entries does not campaign. Together these keep every node's configuration within one change of
 *   the latest, so any two quorums that can form overlap.
 * - A node with no configuration at all (a joining replica that was never bootstrapped) refuses log entries and asks
 *   for a snapshot instead (it could not replay the log correctly without the configuration it starts from).
 */
import { RaftLog, RaftLogError } from './log.js';
import { Progress, type ProgressState } from './progress.js';
import { ReadOnly } from './read-only.js';
import {
  applyToConf,
  committedIndex,
  confChangeProblem,
  copyConf,
  encodeConfChange,
  isMember,
  quorumSize,
  voteResult,
} from './conf.js';
import { ConfChangeError, NoQuorumError, NotLeaderError, RaftError, TransferInProgressError } from './errors.js';
import {
  CompactedError,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type RaftOptions,
  type ReadState,
  type Ready,
  type Role,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

export { NotLeaderError, NoQuorumError, TransferInProgressError, ConfChangeError, RaftError } from './errors.js';

/** Vote request context that bypasses the leader lease (leadership transfer). */
export const TRANSFER_CONTEXT = 'transfer';
/** appResp context from a replica without any configuration: it needs a snapshot, not log entries. */
export const SNAPSHOT_NEEDED_CONTEXT = 'needSnapshot';
/** Election rounds that use the short timeout after the leader was reported unreachable (see leaderUnreachable). */
export const QUICK_ELECTIONS = 3;
/**
 * A report that the leader is unreachable is believed only once nothing was heard from the leader for this many
 * heartbeat intervals: a flapping link reports a leader that is alive and still heard over the other direction.
 */
export const LEADER_SILENCE_HEARTBEATS = 3;

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  /** Heard from within the last election timeout. */
  recentActive: boolean;
  isLearner: boolean;
  inflight: number;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId | null;
  role: Role;
  lead: NodeId | null;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  /** Leader only: the target of an ongoing leadership transfer. */
  leadTransferee: NodeId | null;
  /** Leader only: a majority of voters was heard from within the last election timeout. */
  quorumActive?: boolean;
  /** Leader only: every member's replication progress (including the leader's own persisted match). */
  progress?: Record<NodeId, ProgressStatus>;
}

const DEFAULTS = {
  heartbeatTick: 1,
  electionTick: 10,
  maxInflight: 256,
  maxInflightBytes: 8 * 1024 * 1024,
  maxMsgBytes: 1024 * 1024,
  maxApplyBytes: 16 * 1024 * 1024,
};

function respType(t: 'vote' | 'preVote'): MessageType {
  return t === 'vote' ? 'voteResp' : 'preVoteResp';
}

export class Raft {
  readonly id: NodeId;
  /** The core's log (stable storage + unstable tail). Exposed for tests and the simulator; do not mutate. */
  readonly raftLog: RaftLog;

  private term = 0;

  /** The current term (cheap; status() copies the progress map). */
  get currentTerm(): number {
    return this.term;
  }

  /** The current role (cheap). */
  get currentRole(): Role {
    return this.role;
  }
  private vote: NodeId | null = null;
  private role: Role = 'follower';
  private lead: NodeId | null = null;
  private conf: ConfState;

  private readonly heartbeatTick: number;
  private readonly electionTick: number;
  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;
  private readonly maxMsgBytes: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly random: () => number;

  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private readonly readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private pendingReads: { from: NodeId; context: string }[] = [];

  /** Monotonic tick counter (for recentActive / check-quorum). */
  private ticks = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Election rounds left that draw the short timeout (the leader was reported unreachable). */
  private quickElections = 0;
  /**
   * The leader was reported unreachable: the heartbeat intervals of silence from it after which the report is believed
   * (leaderUnreachable); null: no report stands.
   */
  private lostLeaderSilence: number | null = null;
  /** The leader asked this follower to campaign (timeoutNow) while it had conf entries to apply: it will once applied. */
  private transferRequested = false;
  private leadTransferee: NodeId | null = null;
  /** Index of the last conf entry this leader appended (or its no-op): no new change until it is applied. */
  private pendingConfIndex = 0;
  /** Appends are broadcast lazily (batched) when the next Ready is built. */
  private pendingBcast = false;
  private pendingCommitBcast = false;

  private prevHard: HardState;
  /** Term and vote of the last Ready the driver advanced (what is on disk). */
  private savedTermVote: { term: number; vote: NodeId | null };
  private prevSoft: SoftState;
  private outstanding: Ready | null = null;

  constructor(opts: RaftOptions) {
    this.id = opts.id;
    this.heartbeatTick = opts.heartbeatTick ?? DEFAULTS.heartbeatTick;
    this.electionTick = opts.electionTick ?? DEFAULTS.electionTick;
    this.maxInflight = opts.maxInflight ?? DEFAULTS.maxInflight;
    this.maxMsgBytes = opts.maxMsgBytes ?? DEFAULTS.maxMsgBytes;
    this.maxInflightBytes = opts.maxInflightBytes ?? DEFAULTS.maxInflightBytes;
    this.preVote = opts.preVote ?? true;
    this.checkQuorum = opts.checkQuorum ?? true;
    this.random = opts.random;
    if (!(this.heartbeatTick > 0)) throw new RangeError('heartbeatTick must be > 0');
    if (!(this.electionTick > this.heartbeatTick)) throw new RangeError('electionTick must be greater than heartbeatTick');
    if (!(this.maxInflight > 0)) throw new RangeError('maxInflight must be > 0');
    if (!(this.maxMsgBytes > 0)) throw new RangeError('maxMsgBytes must be > 0');
    if (!(this.maxInflightBytes >= 0)) throw new RangeError('maxInflightBytes must be >= 0');

    const { hardState, conf } = opts.storage.initialState();
    this.raftLog = new RaftLog(opts.storage, opts.applied, hardState.commit, opts.maxApplyBytes ?? DEFAULTS.maxApplyBytes);
    this.conf = copyConf(conf);
    this.prevHard = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    this.savedTermVote = { term: hardState.term, vote: hardState.vote };
    this.prevSoft = { lead: null, role: 'follower' };
    this.becomeFollower(hardState.term, null);
    this.vote = hardState.vote;
  }

  // ------------------------------------------------------------------ public API

  /** Advances logical time by one tick (election and heartbeat timers). */
  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  /** Starts an election now (with pre-vote if enabled). Ignored if this node cannot campaign. */
  campaign(): void {
    this.hup(false);
  }

  /**
   * Proposes a normal entry. Returns the index it will have if it commits (it commits with exactly that index and
   * this term, or never). Throws NotLeaderError, TransferInProgressError or NoQuorumError.
   */
  propose(data: string): number {
    this.checkCanPropose();
    return this.appendEntries([{ type: 'normal', data }]);
  }

  /**
   * Proposes a configuration change (a `conf` entry whose data is the ConfChange as JSON). It takes effect on every
   * node when that node applies it (the driver calls applyConfChange). Throws like propose, and ConfChangeError
   * when a previous change is not applied yet or the change does not fit the configuration.
   */
  proposeConfChange(cc: ConfChange): number {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.raftLog.applied) {
      throw new ConfChangeError(
        'CONF_CHANGE_PENDING',
        `a configuration change is pending (log index ${this.pendingConfIndex} is not applied yet, applied ${this.raftLog.applied}); retry when it is`,
      );
    }
    const problem = confChangeProblem(this.conf, cc);
    if (problem) throw new ConfChangeError('INVALID_CONF_CHANGE', `invalid configuration change: ${problem}`);
    if ((cc.op === 'remove' || cc.op === 'demote') && cc.id === this.id) {
      // With changes taking effect on apply, a leader that leaves may strand voters that never learn the change
      // committed (etcd-io/etcd#10563). Hand leadership over first; the new leader then removes this replica.
      throw new ConfChangeError('INVALID_CONF_CHANGE', `invalid configuration change: ${cc.op} of the leader itself; transfer leadership first`);
    }
    const index = this.appendEntries([{ type: 'conf', data: encodeConfChange(cc) }]);
    this.pendingConfIndex = index;
    return index;
  }

  /**
   * Applies a committed conf entry's change; the driver calls it while applying that entry (between ready() and
   * advance()). Returns the new configuration, which the driver persists with the applied index.
   */
  applyConfChange(cc: ConfChange): ConfState {
    this.conf = applyToConf(this.conf, cc);
    if ((this.role === 'candidate' || this.role === 'preCandidate') && !this.promotable()) {
      // Removed or demoted mid-election: a replica outside the voters never leads.
      this.becomeFollower(this.term, null);
      return copyConf(this.conf);
    }
    if (this.role === 'leader') {
      this.syncProgress();
      if (this.leadTransferee !== null && !this.conf.voters.includes(this.leadTransferee)) this.abortLeaderTransfer();
      this.maybeCommit();
      this.pendingBcast = true;
      if (!this.promotable()) this.handOver();
    }
    return copyConf(this.conf);
  }

  /**
   * Requests a linearizable read: once confirmed, Ready.readStates carries {index, context}; the read may be served
   * after the state machine applied `index`. Contexts must be unique. A follower forwards the request to its leader
   * (silently dropped if the leader is lost: the caller times out). Throws NotLeaderError if no leader is known.
   */
  readIndex(context: string): void {
    // A heartbeat answer without a context acknowledges no read: an empty one could never be served.
    if (typeof context !== 'string' || context === '') throw new RaftError('INVALID_MESSAGE', 'a read needs a non-empty context');
    if (this.role === 'leader') {
      this.handleReadIndex(this.id, context);
    } else if (this.role === 'follower' && this.lead !== null) {
      this.send({ type: 'readIndex', to: this.lead, context });
    } else {
      throw new NotLeaderError(null);
    }
  }

  /**
   * Hands leadership to voter `to`: proposals are refused meanwhile; the target is brought up to date and then
   * told to campaign at once (timeoutNow). Aborted after an election timeout.
   */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (to === this.id) return;
    if (!this.conf.voters.includes(to)) throw new RaftError('INVALID_TRANSFER', `cannot transfer leadership to ${to}: not a voter`);
    if (this.leadTransferee === to) return;
    if (this.leadTransferee !== null) this.abortLeaderTransfer();
    this.electionElapsed = 0;
    this.leadTransferee = to;
    const pr = this.prs.get(to)!;
    if (pr.match === this.raftLog.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.maybeSendAppend(pr, true);
  }

  /**
   * This leader applied its own removal or demotion (an entry it inherited: it never proposes one itself). It keeps
   * leading without counting itself, hands leadership to the most caught-up voter (the transfer brings that voter up
   * to date, commit index included, so it can apply the change and win), and steps down when that is done or the
   * transfer times out.
   */
  private handOver(): void {
    if (this.leadTransferee !== null) return;
    let best: Progress | null = null;
    for (const v of this.conf.voters) {
      const pr = this.prs.get(v);
      if (pr && (!best || pr.match > best.match)) best = pr;
    }
    if (!best) {
      this.becomeFollower(this.term, null);
      return;
    }
    this.electionElapsed = 0;
    this.leadTransferee = best.id;
    if (best.match === this.raftLog.lastIndex()) this.send({ type: 'timeoutNow', to: best.id });
    else this.maybeSendAppend(best, true);
  }

  /** The driver could not deliver to `id` (connection lost): stop pipelining to it. */
  reportUnreachable(id: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.prs.get(id);
    if (pr && pr.state === 'replicate') pr.becomeProbe();
  }

  /**
   * The driver lost its connection to `id` and could not re-establish it (the peer's sockets closed and a reconnect
   * was refused, as when its process died). If `id` is this follower's leader, the report stands until the leader
   * has been silent for LEADER_SILENCE_HEARTBEATS heartbeat intervals (at once if it already has), or is believed at
   * once when `gone` (the transport has no connection with `id` in either direction: nothing can be arriving from
   * it, as when its process died; a link that flaps in one direction leaves the other open): the follower then
   * forgets it, and with it the leader lease (so it grants the other followers' pre-votes at once), and campaigns
   * after a short randomized delay of 1..ceil(electionTick/2) ticks instead of its remaining election timeout; the
   * next QUICK_ELECTIONS - 1 rounds (a split vote, an ignored pre-vote) draw from that short range too. Hearing from
   * a leader ends it, and withdraws a report not yet believed.
   *
   * Liveness only, like every timer: safety never depends on it. A false report about a live leader does not
   * disrupt it: a follower that still hears the leader (its link to the leader flapped, the leader's to it did not)
   * never believes the report (unless told `gone`); one that stopped hearing it starts with a pre-vote, which the
   * leader and every follower still in its lease ignore, so no term is bumped unless a majority has also lost the
   * leader.
   * Ignored without pre-vote or check-quorum (nothing would then protect a live leader from the early campaign),
   * and on anything but a voting follower of `id`.
   */
  leaderUnreachable(id: NodeId, gone = false): void {
    if (!this.preVote || !this.checkQuorum) return;
    if (this.role !== 'follower' || this.lead === null || this.lead !== id || !this.promotable()) return;
    this.lostLeaderSilence = gone ? 0 : LEADER_SILENCE_HEARTBEATS;
    this.maybeForgetLostLeader();
  }

  /** Acts on a leaderUnreachable report once the leader has been silent long enough. */
  private maybeForgetLostLeader(): void {
    if (this.lostLeaderSilence === null || this.electionElapsed < this.heartbeatTick * this.lostLeaderSilence) return;
    this.lostLeaderSilence = null;
    this.lead = null;
    this.quickElections = QUICK_ELECTIONS;
    this.electionElapsed = 0;
    this.randomizedElectionTimeout = this.drawElectionTimeout();
  }

  /** The driver finished (ok) or failed to stream the snapshot of a 'snap' message to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    if (this.role !== 'leader') return;
    const pr = this.prs.get(id);
    if (!pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the next heartbeat answer before probing again.
    pr.probeSent = true;
  }

  /** Highest index known committed (cheap). */
  get committedIndex(): number {
    return this.raftLog.committed;
  }

  /**
   * The driver replaced the state machine's state by a leader's snapshot at `s.index` (a resync of a diverged state;
   * the log stays as it is, so votes and acknowledgements keep resting on it): applying resumes after `s.index`, and the
   * configuration is the snapshot's. Only forward, within what is committed, between Readies; a refusal changes nothing.
   */
  resyncApplied(s: SnapshotMeta): void {
    const log = this.raftLog;
    if (this.outstanding) throw new RaftError('INVALID_MESSAGE', 'resync while a Ready is outstanding');
    if (s.index < log.applied || s.index > log.committed) {
      throw new RaftError('INVALID_MESSAGE', `resync snapshot at ${s.index} is outside applied ${log.applied}..committed ${log.committed}`);
    }
    log.appliedTo(s.index);
    this.conf = copyConf(s.conf);
    // A leader replicates to the snapshot's members (a voter it had no progress for would never be sent anything).
    if (this.role === 'leader') this.syncProgress();
  }

  /** Feeds a message from a peer. */
  step(m: Message): void {
    if (m.to !== this.id) throw new RaftError('INVALID_MESSAGE', `message for ${m.to} delivered to ${this.id}`);
    if (m.from === this.id) return;

    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context === TRANSFER_CONTEXT;
        const inLease = this.checkQuorum && this.lead !== null && this.electionElapsed < this.electionTick;
        // Leader lease: a node that heard from a live leader ignores (pre)votes, so a rejoining or removed node
        // cannot disrupt the cluster.
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // Never change term in response to a pre-vote.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term we asked with in our pre-vote; our term changes only when we campaign for real.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A deposed leader (e.g. partitioned and back) learns our term and steps down.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  /** True if ready() would return something to do. False while a handed-out Ready is not advanced. */
  hasReady(): boolean {
    if (this.outstanding) return false;
    if (this.msgs.length || this.readStates.length || this.pendingBcast || this.pendingCommitBcast) return true;
    if (this.softChanged() || this.hardChanged()) return true;
    const u = this.raftLog.unstable;
    if (u.nextSnapshot() || u.offsetInProgress < u.offset + u.entries.length) return true;
    return this.raftLog.hasNextCommittedEntries();
  }

  /** The next batch of work for the driver. Only one Ready may be outstanding: call advance(ready) before the next. */
  ready(): Ready {
    if (this.outstanding) throw new RaftLogError('ready() called before the previous Ready was advanced');
    this.flushBcast();
    const log = this.raftLog;
    const rd: Ready = {
      entries: log.unstable.nextEntries(),
      committedEntries: log.nextCommittedEntries(),
      messages: this.msgs,
      readStates: this.readStates,
    };
    const snap = log.unstable.nextSnapshot();
    if (snap) rd.snapshot = { index: snap.index, term: snap.term, conf: copyConf(snap.conf) };
    if (this.softChanged()) {
      rd.softState = { lead: this.lead, role: this.role };
      this.prevSoft = rd.softState;
    }
    if (this.hardChanged()) {
      rd.hardState = this.hardState();
      this.prevHard = rd.hardState;
    }
    this.msgs = [];
    this.readStates = [];
    log.unstable.acceptInProgress();
    if (rd.committedEntries.length) log.acceptApplying(rd.committedEntries[rd.committedEntries.length - 1].index);
    this.outstanding = rd;
    return rd;
  }

  /**
   * The driver persisted, sent and applied `rd`. `saved`: 'durable' when its save waited for the disk (the contract
   * for every role); 'pending' only for a leader's Ready with new entries and no new term or vote, whose save did not
   * wait (Raft thesis §10.2.1: the leader's own write in parallel with its followers'): the leader counts those
   * entries for itself, and applies them, only once the driver reports them on disk (persisted()).
   */
  advance(rd: Ready, saved: 'durable' | 'pending' = 'durable'): void {
    if (rd !== this.outstanding) throw new RaftLogError('advance() called with a Ready that is not the outstanding one');
    if (saved === 'pending' && (this.role !== 'leader' || rd.snapshot || !rd.entries.length || this.newTermOrVote(rd))) {
      throw new RaftLogError("advance(ready, 'pending') is only for a leader's new entries in its current term and vote");
    }
    this.outstanding = null;
    if (rd.hardState) this.savedTermVote = { term: rd.hardState.term, vote: rd.hardState.vote };
    const log = this.raftLog;
    if (rd.snapshot) log.snapshotApplied(rd.snapshot.index);
    if (rd.entries.length) {
      const last = rd.entries[rd.entries.length - 1];
      log.saved(last.index, last.term, saved === 'durable');
    } else if (rd.snapshot) {
      log.allDurable();
    }
    if (rd.committedEntries.length) log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
    if (this.transferRequested && !this.hasUnappliedConfChanges()) {
      this.transferRequested = false;
      if (this.role === 'follower') this.hup(true);
    }
    if (this.role === 'leader') {
      this.acknowledgeOwnDurable();
    }
  }

  /** Self-acknowledgement: the leader's own entries count toward commit only once they are durable. */
  private acknowledgeOwnDurable(): void {
    const self = this.prs.get(this.id);
    if (self && self.maybeUpdate(this.raftLog.durableIndex())) this.maybeCommit();
  }

  /**
   * Every save the driver made before it asked the disk to sync is durable, the last of them ending at (index, term)
   * (after advance(ready, 'pending')). A leader counts them for itself; any role may now apply them.
   */
  persisted(index: number, term: number): void {
    if (this.raftLog.persisted(index, term) && this.role === 'leader') this.acknowledgeOwnDurable();
  }

  private newTermOrVote(rd: Ready): boolean {
    return !!rd.hardState && (rd.hardState.term !== this.savedTermVote.term || rd.hardState.vote !== this.savedTermVote.vote);
  }

  status(): RaftStatus {
    const log = this.raftLog;
    const st: RaftStatus = {
      id: this.id,
      term: this.term,
      vote: this.vote,
      role: this.role,
      lead: this.lead,
      commit: log.committed,
      applied: log.applied,
      firstIndex: log.firstIndex(),
      lastIndex: log.lastIndex(),
      conf: copyConf(this.conf),
      leadTransferee: this.leadTransferee,
    };
    if (this.role === 'leader') {
      st.quorumActive = this.quorumActive();
      st.progress = {};
      for (const [id, pr] of this.prs) {
        st.progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          recentActive: id === this.id || this.recentlyActive(pr),
          isLearner: pr.isLearner,
          inflight: pr.inflights.count,
        };
      }
    }
    return st;
  }

  // ------------------------------------------------------------------ roles

  private promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.lostLeaderSilence = null;
    this.transferRequested = false;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.drawElectionTimeout();
    this.leadTransferee = null;
    this.votes = new Map();
    this.prs = new Map();
    this.pendingConfIndex = 0;
    this.readOnly.reset();
    this.pendingReads = [];
    this.pendingBcast = false;
    this.pendingCommitBcast = false;
  }

  /**
   * [electionTick, 2*electionTick) ticks; while quick election rounds are left (the leader was reported
   * unreachable), [1, ceil(electionTick/2)].
   */
  private drawElectionTimeout(): number {
    const span = this.quickElections > 0 ? Math.ceil(this.electionTick / 2) : this.electionTick;
    const base = this.quickElections > 0 ? 1 : this.electionTick;
    return base + Math.min(span - 1, Math.floor(this.random() * span));
  }

  /** A leader was heard from (or this node leads): back to regular election timeouts. */
  private endQuickElections(): void {
    if (this.quickElections === 0) return;
    this.quickElections = 0;
    this.randomizedElectionTimeout = this.drawElectionTimeout();
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    if (lead !== null) this.quickElections = 0;
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // Neither the term nor the vote changes.
    this.role = 'preCandidate';
    this.votes = new Map();
    this.lead = null;
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.quickElections = 0;
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.syncProgress();
    const self = this.prs.get(this.id)!;
    self.maybeUpdate(this.raftLog.stableIndex());
    self.becomeReplicate();
    // No configuration change until everything this leader inherited, and its no-op, is applied.
    this.appendEntries([{ type: 'normal', data: '' }]);
    this.pendingConfIndex = this.raftLog.lastIndex();
    // Elected while outside the voters (it campaigned for stale voters): hand leadership to one of them.
    if (!this.promotable()) this.handOver();
  }

  /**
   * Makes prs match the configuration (leader). New peers start probing at our last index + 1. The leader keeps a
   * progress for itself even outside the configuration (it never counts in quorums then).
   */
  private syncProgress(): void {
    const next = this.raftLog.lastIndex() + 1;
    const members = [...this.conf.voters.map((id) => [id, false] as const), ...this.conf.learners.map((id) => [id, true] as const)];
    if (!isMember(this.conf, this.id)) members.push([this.id, true]);
    const keep = new Set<NodeId>();
    for (const [id, learner] of members) {
      keep.add(id);
      const pr = this.prs.get(id);
      if (pr) pr.isLearner = learner;
      else this.prs.set(id, new Progress(id, next, this.maxInflight, learner, this.ticks, this.maxInflightBytes));
    }
    for (const id of [...this.prs.keys()]) if (!keep.has(id)) this.prs.delete(id);
  }

  private hasUnappliedConfChanges(): boolean {
    const log = this.raftLog;
    if (log.committed <= log.applied) return false;
    return log.hasConfEntryIn(log.applied, log.committed);
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    if (this.preVote && !transfer) this.runCampaign('preVote', false);
    else this.runCampaign('vote', transfer);
  }

  private runCampaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    this.votes.set(this.id, true);
    const r = voteResult(this.conf.voters, this.votes);
    if (r === 'won') {
      if (kind === 'preVote') this.runCampaign('vote', false);
      else this.becomeLeader();
      return;
    }
    const log = this.raftLog;
    const index = log.lastIndex();
    const logTerm = log.lastTerm();
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      const m: Message = { type: kind, from: this.id, to: v, term, index, logTerm };
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.msgs.push(m);
    }
  }

  private handleVoteRequest(m: Message): void {
    const kind = m.type as 'vote' | 'preVote';
    const canVote =
      this.vote === m.from || (this.vote === null && this.lead === null) || (kind === 'preVote' && m.term > this.term);
    if (canVote && this.raftLog.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
      // Answer with the term of the request: the candidate counts it in that term.
      this.send({ type: respType(kind), to: m.from, term: m.term, reject: false });
      if (kind === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType(kind), to: m.from, term: this.term, reject: true });
      if (canVote && this.departed()) {
        // A voter of an older configuration needs our vote but is behind us: it has not learned that the change
        // removing us committed. Lead once (among the new voters) to bring it up to date, then hand over.
        this.runCampaign(this.preVote ? 'preVote' : 'vote', false);
      }
    }
  }

  /**
   * This replica applied a configuration in which it is not a voter, while the cluster has voters, and it knows no
   * leader: stale voters may still need it (see handleVoteRequest).
   */
  private departed(): boolean {
    return !this.promotable() && this.conf.voters.length > 0 && this.lead === null && this.role !== 'leader' && !this.hasUnappliedConfChanges();
  }

  // ------------------------------------------------------------------ timers

  private tickElection(): void {
    this.electionElapsed++;
    this.maybeForgetLostLeader();
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      if (this.quickElections > 0) {
        // One quick round used; a pre-candidate that stays one retries after the next draw.
        this.quickElections--;
        this.randomizedElectionTimeout = this.drawElectionTimeout();
      }
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      if (this.leadTransferee !== null) this.abortLeaderTransfer();
      if (!this.promotable()) {
        // A removed or demoted leader whose hand-over did not complete: step down, the voters elect a leader.
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastPendingContext());
    }
  }

  private recentlyActive(pr: Progress): boolean {
    return this.ticks - pr.lastHeard <= this.electionTick;
  }

  /** A majority of voters (counting this leader) was heard from within the last election timeout. */
  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.conf.voters) {
      if (v === this.id) active++;
      else {
        const pr = this.prs.get(v);
        if (pr && this.recentlyActive(pr)) active++;
      }
    }
    return active >= quorumSize(this.conf.voters.length);
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = null;
  }

  // ------------------------------------------------------------------ leader

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== null) throw new TransferInProgressError(this.leadTransferee);
    if (!this.quorumActive()) throw new NoQuorumError();
  }

  private appendEntries(ents: { type: EntryType; data: string }[]): number {
    const log = this.raftLog;
    let index = log.lastIndex();
    const full: Entry[] = ents.map((e) => ({ index: ++index, term: this.term, type: e.type, data: e.data }));
    log.append(full);
    this.pendingBcast = true;
    return index;
  }

  private flushBcast(): void {
    if (!this.pendingBcast && !this.pendingCommitBcast) return;
    const ifEmpty = this.pendingCommitBcast;
    this.pendingBcast = false;
    this.pendingCommitBcast = false;
    if (this.role === 'leader') this.bcastAppend(ifEmpty);
  }

  private bcastAppend(sendIfEmpty: boolean): void {
    for (const pr of this.prs.values()) {
      if (pr.id === this.id) continue;
      let first = true;
      while (this.maybeSendAppend(pr, first && sendIfEmpty)) {
        first = false;
        if (pr.state !== 'replicate') break;
      }
    }
  }

  private bcastHeartbeat(context: string | undefined): void {
    const committed = this.raftLog.committed;
    for (const pr of this.prs.values()) {
      if (pr.id === this.id) continue;
      const m: Message = { type: 'heartbeat', to: pr.id, commit: Math.min(pr.match, committed) } as Message;
      if (context !== undefined) m.context = context;
      this.send(m);
    }
  }

  /**
   * Sends the next append to `pr` unless it is paused (probe waiting, pipeline full, snapshot in flight). Returns
   * true if a message was sent. Falls back to a snapshot when the entries it needs were compacted.
   */
  private maybeSendAppend(pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const log = this.raftLog;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = log.term(prevIndex);
      ents = log.entriesFrom(pr.next, this.maxMsgBytes);
    } catch (e) {
      if (e instanceof CompactedError) return this.sendSnapshot(pr);
      throw e;
    }
    if (!ents.length && !sendIfEmpty) return false;
    this.send({ type: 'app', to: pr.id, index: prevIndex, logTerm: prevTerm, entries: ents, commit: log.committed });
    let bytes = 0;
    for (const e of ents) bytes += e.data.length;
    pr.sentEntries(ents.length, ents.length ? ents[ents.length - 1].index : prevIndex, bytes);
    return true;
  }

  private sendSnapshot(pr: Progress): boolean {
    if (!this.recentlyActive(pr)) return false;
    const meta = this.raftLog.storage.snapshotMeta();
    pr.becomeSnapshot(meta.index);
    this.send({ type: 'snap', to: pr.id, snapshot: { index: meta.index, term: meta.term, conf: copyConf(meta.conf) } });
    return true;
  }

  private maybeCommit(): boolean {
    const mci = committedIndex(this.conf.voters, (id) => this.prs.get(id)?.match ?? 0);
    if (!this.raftLog.maybeCommit(mci, this.term)) return false;
    this.pendingCommitBcast = true;
    if (this.pendingReads.length) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.handleReadIndex(r.from, r.context);
    }
    return true;
  }

  private stepLeader(m: Message): void {
    if (m.type === 'readIndex') {
      // A forwarded read without a context could never be matched to its acknowledgements: dropped (its sender times out).
      if (m.context) this.handleReadIndex(m.from, m.context);
      return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.lastHeard = this.ticks;
    switch (m.type) {
      case 'appResp':
        this.handleAppResp(m, pr);
        break;
      case 'heartbeatResp':
        this.handleHeartbeatResp(m, pr);
        break;
      case 'snapResp':
        this.handleSnapResp(m, pr);
        break;
      default:
        break;
    }
  }

  private handleAppResp(m: Message, pr: Progress): void {
    const log = this.raftLog;
    const index = m.index ?? 0;
    if (m.reject) {
      if (m.context === SNAPSHOT_NEEDED_CONTEXT) {
        if (pr.state !== 'snapshot') this.sendSnapshot(pr);
        return;
      }
      let hint = m.rejectHint ?? 0;
      if ((m.logTerm ?? 0) > 0) hint = log.findConflictByTerm(hint, m.logTerm!).index;
      if (pr.maybeDecrTo(index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.maybeSendAppend(pr, true);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (pr.maybeUpdate(index) || (pr.match === index && pr.state === 'probe')) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match + 1 >= log.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === 'replicate') pr.inflights.freeLE(index);

      if (this.maybeCommit()) {
        // The commit broadcast goes out with the next Ready.
      } else if (oldPaused) {
        this.maybeSendAppend(pr, true);
      }
      while (this.maybeSendAppend(pr, false)) {
        if (pr.state !== 'replicate') break;
      }
      if (pr.id === this.leadTransferee && pr.match === log.lastIndex()) this.send({ type: 'timeoutNow', to: pr.id });
    }
  }

  private handleHeartbeatResp(m: Message, pr: Progress): void {
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex() || pr.state === 'probe') this.maybeSendAppend(pr, true);
    if (!m.context || this.readOnly.size === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks) return;
    let granted = 0;
    for (const v of this.conf.voters) if (acks.has(v)) granted++;
    if (granted < quorumSize(this.conf.voters.length)) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondRead(rs.from, rs.index, rs.context);
  }

  private handleSnapResp(m: Message, pr: Progress): void {
    if (m.reject) {
      if (pr.state === 'snapshot') {
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
      return;
    }
    pr.maybeUpdate(m.index ?? 0);
    if (pr.state === 'snapshot') pr.becomeProbe();
    this.maybeCommit();
    this.maybeSendAppend(pr, true);
  }

  private handleReadIndex(from: NodeId, context: string): void {
    const log = this.raftLog;
    if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
      this.respondRead(from, log.committed, context);
      return;
    }
    // The leader's commit index is only known to be current once it committed an entry of its own term.
    if (log.termOrNull(log.committed) !== this.term) {
      this.pendingReads.push({ from, context });
      return;
    }
    this.readOnly.add(log.committed, context, from, this.id);
    this.bcastHeartbeat(context);
  }

  private respondRead(from: NodeId, index: number, context: string): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'readIndexResp', to: from, index, context });
  }

  // ------------------------------------------------------------------ candidate & follower

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        break;
    }
    if (m.type !== myResp) return;
    if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
    const r = voteResult(this.conf.voters, this.votes);
    if (r === 'won') {
      if (this.role === 'preCandidate') this.runCampaign('vote', false);
      else this.becomeLeader();
    } else if (r === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        break;
      case 'heartbeat':
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        break;
      case 'snap':
        this.heardFromLeader(m.from);
        this.handleSnapshot(m);
        break;
      case 'timeoutNow':
        // The leader hands over (a transfer, or it applied its own removal) right after it committed: a conf entry
        // it carried may be committed here but not applied yet, and nobody campaigns with one pending. Campaign once
        // it is applied (advance).
        if (this.hasUnappliedConfChanges()) this.transferRequested = true;
        else this.hup(true);
        break;
      case 'readIndexResp':
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? '' });
        break;
      default:
        break;
    }
  }

  private heardFromLeader(lead: NodeId): void {
    this.electionElapsed = 0;
    this.lead = lead;
    this.lostLeaderSilence = null;
    this.endQuickElections();
  }

  private handleAppend(m: Message): void {
    const log = this.raftLog;
    if (this.conf.voters.length === 0) {
      // Never configured (a joining replica): replaying the log without the configuration it starts from would
      // give a wrong configuration. Ask for a snapshot.
      this.send({ type: 'appResp', to: m.from, index: m.index ?? 0, reject: true, rejectHint: 0, logTerm: 0, context: SNAPSHOT_NEEDED_CONTEXT });
      return;
    }
    const index = m.index ?? 0;
    // A leader holds every committed entry (Leader Completeness): disagreeing with ours means the logs diverged.
    if (index <= log.committed) log.checkCommittedPrefix(index, m.logTerm ?? 0, m.entries ?? []);
    if (index < log.committed) {
      this.send({ type: 'appResp', to: m.from, index: log.committed });
      return;
    }
    const lastNew = log.maybeAppend(index, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? []);
    if (lastNew !== null) {
      this.send({ type: 'appResp', to: m.from, index: lastNew });
      return;
    }
    const hint = log.findConflictByTerm(Math.min(index, log.lastIndex()), m.logTerm ?? 0);
    this.send({ type: 'appResp', to: m.from, index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: Message): void {
    const log = this.raftLog;
    log.commitTo(Math.min(m.commit ?? 0, log.lastIndex()));
    const resp: Message = { type: 'heartbeatResp', to: m.from } as Message;
    if (m.context !== undefined) resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const log = this.raftLog;
    const s = m.snapshot;
    if (!s) return;
    if (s.index <= log.committed) {
      this.send({ type: 'snapResp', to: m.from, index: log.committed });
      return;
    }
    if (log.matchTerm(s.index, s.term)) {
      // We already have the snapshot's last entry: just learn that it is committed.
      log.commitTo(s.index);
      this.send({ type: 'snapResp', to: m.from, index: log.committed });
      return;
    }
    log.restore({ index: s.index, term: s.term, conf: copyConf(s.conf) });
    this.conf = copyConf(s.conf);
    this.send({ type: 'snapResp', to: m.from, index: s.index });
  }

  // ------------------------------------------------------------------ plumbing

  private send(m: Omit<Message, 'from' | 'term'> & { term?: number }): void {
    const full = m as Message;
    full.from = this.id;
    if (m.term === undefined) full.term = this.term;
    this.msgs.push(full);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  private hardChanged(): boolean {
    const p = this.prevHard;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.raftLog.committed;
  }

  private softChanged(): boolean {
    return this.prevSoft.lead !== this.lead || this.prevSoft.role !== this.role;
  }
}
