/**
 * What a chaos run records: client operations (invoke → ok | fail | unknown, with times), the faults the nemesis
 * injected, and what every replica said about its role, term and leader. Times are milliseconds since the run began.
 */

export type Outcome = 'ok' | 'fail' | 'unknown';

export type OpKind = 'signup' | 'login' | 'send' | 'read' | 'history' | 'delete' | 'createGroup' | 'groups' | 'groupSend' | 'groupHistory' | 'edit';

/** A group as the workload knows it: its name and every member (the creator included), in name order. */
export interface GroupRecord {
  name: string;
  members: string[];
}

/** One message as an operation saw it (enough to identify it; texts are unique per send). */
export interface SeenMessage {
  id: number;
  from: string;
  to: string;
  text: string;
  readAt: number | null;
  /** The cluster's clock when it applied the send (ms since the epoch); absent in hand-made histories. */
  sentAt?: number;
  /** A group message: the group's name (`to` is then `#name`). */
  group?: string;
  /** When its text was last edited (absent: never). */
  editedAt?: number;
}

export interface OpRecord {
  /** Sequence number in the run (invocation order). */
  n: number;
  /** Worker index; -1 for the final collection phase. */
  worker: number;
  user: string;
  op: OpKind;
  /** 'run' while the nemesis is active; 'final' after everything healed. */
  phase: 'setup' | 'run' | 'final';
  start: number;
  end: number;
  outcome: Outcome;
  /**
   * send: to, text; history: with, limit; read: limit; delete: ids; createGroup: group (its name), members (the
   * others); groupSend: group, text; groupHistory: group, limit; edit: messageId, text.
   */
  args: { to?: string; text?: string; with?: string; limit?: number; before?: number; ids?: number[]; group?: string; members?: string[]; messageId?: number };
  /** send: the message id the cluster acknowledged, and the time it stamped it with. */
  id?: number;
  sentAt?: number;
  /** read, history: what came back. */
  messages?: SeenMessage[];
  /** delete: how many were deleted. */
  deleted?: number;
  /** groups: the groups the account is in, as listed. */
  groups?: GroupRecord[];
  /** fail / unknown: the error code and message. */
  error?: string;
}

export type FaultKind = 'kill' | 'pause' | 'partition' | 'loss' | 'restartAll' | 'snapshotCrash' | 'membership' | 'clockSkew' | 'diskFull' | 'rollingUpgrade';

export interface FaultRecord {
  kind: FaultKind;
  /** A finer name: 'leader', 'random', 'two', 'isolate-leader', 'halves', 'bridge', 'link-down', ... */
  variant: string;
  /** Replica ids affected. */
  targets: string[];
  start: number;
  /** When it was healed (null if it never was: the run then fails its heal step). */
  end: number | null;
  note?: string;
}

export interface LeaderObservation {
  t: number;
  replica: string;
  role: string;
  term: number;
  leader: string | null;
}

export interface Digest {
  replica: string;
  appliedIndex: number;
  stateHash: string;
}

/** The checker's counts (see CheckResult for their meaning) plus what describes the run. */
export interface ChaosFigures
  extends Pick<
    CheckResult,
    | 'operations'
    | 'acknowledged'
    | 'failed'
    | 'unknown'
    | 'unknownApplied'
    | 'unknownNotApplied'
    | 'lost'
    | 'duplicated'
    | 'orderViolations'
    | 'staleReads'
    | 'phantoms'
    | 'clockViolations'
    | 'groupMessages'
    | 'edits'
    | 'editViolations'
  > {
  seed: number;
  durationSeconds: number;
  hosts: 'loopback' | 'netns';
  /** TLS peer links and wss:// clients (true), or the plain transport. */
  tls: boolean;
  replicas: number;
  workers: number;
  converged: boolean;
  /** After the run, every replica was SIGKILLed at once and restarted: every live message came back unchanged. */
  restartIntact: boolean;
  leadersPerTermMax: number;
  /** Problems the state machine's own consistency audit found on any replica after the run. */
  auditProblems: number;
  /** Longest stretch (seconds) with no acknowledged write while the nemesis ran. */
  longestOutageSeconds: number;
  /** Longest time from healing a fault to the next acknowledged write (0 when writes went on during the fault). */
  recoverySecondsMax: number;
  /** Longest time from healing a partition, loss or pause to its targets following a leader again. */
  rejoinSecondsMax: number;
  faults: Record<FaultKind, number>;
  verdict: 'pass' | 'fail';
}

export interface Violation {
  kind: 'lost' | 'duplicated' | 'order' | 'stale' | 'phantom' | 'leaders' | 'clock' | 'edit';
  detail: string;
  /** Operation numbers involved. */
  ops?: number[];
}

export interface CheckResult {
  operations: number;
  acknowledged: number;
  acknowledgedSends: number;
  failed: number;
  unknown: number;
  /** Unknown sends found applied (exactly once) / not applied at all. */
  unknownApplied: number;
  unknownNotApplied: number;
  lost: number;
  duplicated: number;
  orderViolations: number;
  staleReads: number;
  /** Messages no send produced, or that a read returned before their send began. */
  phantoms: number;
  /**
   * Message times that are not sensible: an acknowledged send stamped more than CLOCK_TOLERANCE_MS before it was
   * made or after it was acknowledged (by the real clock of the run), or a message stamped earlier than one before it.
   */
  clockViolations: number;
  /** Acknowledged group sends. */
  groupMessages: number;
  /** Acknowledged edits. */
  edits: number;
  /**
   * Edits not applied as promised: a replica stores (or a read began after an acknowledged edit and returned) a text
   * that an acknowledged edit had replaced, or a text came back after another replaced it (an edit applied twice).
   */
  editViolations: number;
  leadersPerTermMax: number;
  /** term → leader ids reported for it (only terms with more than one, for the report). */
  splitTerms: Record<number, string[]>;
  /** Surviving acknowledged messages whose read outcome was unknown (marked read by a read whose answer was lost). */
  readByUnknown: number;
  violations: Violation[];
}
