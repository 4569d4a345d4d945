/**
 * Types of the pure Raft core (replica/raft). The core never touches timers, sockets, disk or the clock:
 * it is driven by tick(), step(message) and propose(...), and hands back a Ready batch
 * (etcd-io/raft's design) that the driver persists, sends and applies, then acknowledges with advance().
 */

export type NodeId = string;

export type EntryType = 'normal' | 'conf';

/** One log entry. `data` is opaque to the core (the chat command, JSON text; '' for the leader's no-op). */
export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: string;
}

/** Durable per-node state that must be fsynced before any message that depends on it is sent. */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

/** The cluster configuration: voters count toward quorums, learners only receive the log. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** A configuration change carried by a `conf` entry (single-server change, Raft dissertation §4.1). */
export type ConfChange =
  | { op: 'addLearner'; id: NodeId; address: string }
  | { op: 'addVoter'; id: NodeId; address: string }
  | { op: 'promote'; id: NodeId }
  | { op: 'demote'; id: NodeId }
  | { op: 'remove'; id: NodeId };

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export type MessageType =
  | 'preVote'
  | 'preVoteResp'
  | 'vote'
  | 'voteResp'
  | 'app'
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap'
  | 'snapResp'
  | 'timeoutNow'
  | 'readIndex'
  | 'readIndexResp'
  | 'propose'
  | 'stateHash';

/**
 * A message between cores. Fields beyond from/to/term/type are used per type (as in etcd's raftpb.Message):
 * - preVote/vote: index/logTerm = candidate's last log index/term.
 * - preVoteResp/voteResp: reject.
 * - app: index/logTerm = prevLogIndex/prevLogTerm, entries, commit.
 * - appResp: index = last index matched (or the rejected index when reject), rejectHint = follower's last index.
 * - heartbeat: commit (min(match, leader commit)), context (ReadIndex round id, optional).
 * - heartbeatResp: context echoed.
 * - snap: snapshot metadata (the state data travels outside the core; see Ready.messages docs).
 * - snapResp: index = snapshot index on success, reject on failure.
 * - timeoutNow: the leader asks the target to campaign at once (leadership transfer).
 * - readIndex: a follower forwards a read request (context) to the leader; readIndexResp: index + context.
 * - propose: reserved for forwarding proposals (not used by the driver).
 * - stateHash: driver to driver, never given to a core: index = an index the sender applied, context = the SHA-256 of
 *   its state there (replica/node/state-check.ts).
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  index?: number;
  logTerm?: number;
  entries?: Entry[];
  commit?: number;
  reject?: boolean;
  rejectHint?: number;
  snapshot?: SnapshotMeta;
  context?: string;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state worth reporting (status, metrics); changes are reported in Ready.softState. */
export interface SoftState {
  lead: NodeId | null;
  role: Role;
}

/** A linearizable read is safe once the state machine has applied `index` (ReadIndex, Raft §6.4). */
export interface ReadState {
  index: number;
  context: string;
}

/**
 * What the driver must do, in this order:
 * 1. persist `snapshot` (if any), `entries` (append, truncating any conflicting suffix) and `hardState` (if any),
 *    all in one durable transaction (fsync);
 * 2. send `messages` (a message of type 'snap' means: stream the state machine snapshot at snapshot.index to `to`,
 *    then deliver the message to the peer's core; on failure call reportSnapshot(to, false));
 * 3. apply `committedEntries` to the state machine in order;
 * 4. call advance(ready).
 * A leader's Ready with new entries and no new term, vote or snapshot may send first and persist without waiting for
 * the disk, then call advance(ready, 'pending') and, once an fsync covering those entries completed,
 * persisted(index, term) of the last of them: the core counts and applies them only then.
 *
 * Details of the contract (replica/raft/raft.ts):
 * - Only one Ready is outstanding: hasReady() is false and ready() throws until advance(ready). tick/step/propose
 *   may be called meanwhile (their effects come in the next Ready).
 * - A 'snap' message: the driver may stream any snapshot of its state machine at an index >= message.snapshot.index
 *   (normally its current applied state) and must set message.snapshot to the metadata of what it streamed. It calls
 *   reportSnapshot(to, true) when the stream completed, reportSnapshot(to, false) when it failed.
 * - Ready.snapshot (on a follower): install it (state machine and log) before anything else; committedEntries are
 *   empty in that Ready. The configuration of the snapshot is the core's configuration from then on.
 * - A committed `conf` entry: its data is the ConfChange as JSON; the driver calls applyConfChange(change) while
 *   applying it (step 3) and persists the returned ConfState with the applied index. initialState().conf must be the
 *   configuration as of the applied index given in RaftOptions.applied.
 * - A replica with an empty configuration (never bootstrapped, joining) accepts only a snapshot.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: SnapshotMeta;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

/**
 * The stable log, as the core reads it (etcd's Storage). Implemented over SQLite in replica/storage and in
 * memory for the simulation. Indices [firstIndex(), lastIndex()] are readable; term(firstIndex()-1) is the
 * snapshot's term.
 */
export interface LogStorage {
  initialState(): { hardState: HardState; conf: ConfState };
  firstIndex(): number;
  lastIndex(): number;
  /** Term of entry i, for firstIndex()-1 <= i <= lastIndex(); throws CompactedError below, UnavailableError above. */
  term(i: number): number;
  /** Entries [lo, hi), at least one if lo < hi, then stopping before the total data length exceeds maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  snapshotMeta(): SnapshotMeta;
}

/** The durable part of a Ready, written by the driver in one step (one transaction, one fsync). */
export interface SaveBatch {
  hardState?: HardState;
  entries: Entry[];
  snapshot?: SnapshotMeta;
}

/**
 * The stable log as the driver writes it (the core only reads, through LogStorage). Implemented over SQLite in
 * replica/storage (what ships) and in memory (MemoryStorage: the simulation and unit tests).
 */
export interface LogStore extends LogStorage {
  /**
   * Persists a Ready's durable part: first the snapshot (replaces the whole log), then the entries (a conflicting
   * suffix from the first new index on is dropped), then the hard state. Durable when it returns, except a change of
   * the commit index alone, which may be kept in memory until the next durable write (a restarted replica re-learns
   * its commit index; the core starts from max(commit, applied)).
   */
  save(batch: SaveBatch): void;
  /**
   * save() without waiting for the disk (a leader's own appends: see Raft.advance): readable at once, lost by a power
   * cut until a later durable save() or sync() covers it, never by the process dying alone.
   */
  saveUnsynced(batch: SaveBatch): void;
  /** Resolves once every save made before the call is on the disk; rejects when the disk refuses. */
  sync(): Promise<void>;
  /** Drops entries up to `index` (applied and durable in the state machine) and records the snapshot metadata. */
  compact(index: number, term: number, conf: ConfState): void;
  /** Replaces the whole log by a snapshot (its entries are gone; the commit index rises to the snapshot's index). */
  resetToSnapshot(meta: SnapshotMeta): void;
}

export class CompactedError extends Error {
  constructor(index: number) {
    super(`log index ${index} is compacted`);
    this.name = 'CompactedError';
  }
}

export class UnavailableError extends Error {
  constructor(index: number) {
    super(`log index ${index} is not available yet`);
    this.name = 'UnavailableError';
  }
}

export interface RaftOptions {
  id: NodeId;
  storage: LogStorage;
  /** Index of the last entry the state machine has applied (from the state machine's own durable state). */
  applied: number;
  /** Ticks between heartbeats (default 1). */
  heartbeatTick?: number;
  /** Election timeout is drawn uniformly from [electionTick, 2*electionTick) ticks (default 10). */
  electionTick?: number;
  /** Max number of in-flight append messages per follower (pipelining; default 256). */
  maxInflight?: number;
  /**
   * Max entry data bytes in the in-flight appends to one follower (default 8 MiB; 0: no limit). An append is sent while
   * less is in flight, so one append of up to maxMsgBytes may go over it.
   */
  maxInflightBytes?: number;
  /** Max total entry data bytes in one append message (batching; default 1 MiB). */
  maxMsgBytes?: number;
  /** Max total entry data bytes of Ready.committedEntries (default 16 MiB; at least one entry). */
  maxApplyBytes?: number;
  preVote?: boolean; // default true
  checkQuorum?: boolean; // default true
  /** Seeded source of randomness in [0, 1); the core uses nothing else. */
  random: () => number;
}
