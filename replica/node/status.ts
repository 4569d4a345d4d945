/**
 * What this replica reports about itself and the cluster (the `status` request, /healthz, /debug/state): built from
 * the core's status, the applied configuration and the peer links, with no state of its own beyond a hash cache.
 */
import type { RaftStatus } from '../raft/raft.js';
import type { ConfState, NodeId } from '../raft/types.js';
import { isMember, quorumSize } from '../raft/conf.js';
import type { ReplicaStatus, ReplicaStatusRow, ReplicaStorageStatus } from '../protocol/client.js';
import type { AutopilotReport } from './autopilot/autopilot.js';
import type { StateCheck } from './state-check.js';

export interface StatusInputs {
  selfId: NodeId;
  selfAddress: string;
  raft: RaftStatus;
  /** The applied configuration (the core's may be ahead by a change not yet applied here). */
  conf: ConfState;
  addresses: ReadonlyMap<NodeId, string>;
  /** Whether this replica's link to `id` is open (counts toward "reachable" on a leader). */
  linkConnected: (id: NodeId) => boolean;
  appliedIndex: number;
  /** Removed from the configuration: serves no clients (it still answers its former peers). */
  removed: boolean;
  /** False while stopping or removed. */
  serving: boolean;
  /** The cluster's public id, once this replica knows it. */
  clusterId: string | null;
  /** The leader's autopilot report (undefined when not leading). */
  autopilot: AutopilotReport | undefined;
  /** What this replica supports, the cluster version, and what members reported (the replicated record). */
  versions: { supported: number; cluster: number; members: ReadonlyMap<NodeId, number> };
  /** Free space of the data folder's filesystem (null before the first sample). */
  storage: ReplicaStorageStatus | null;
  /** The state comparison with peers (absent: not reported). */
  stateCheck?: { every: number; check: StateCheck };
}

export function replicaStatus(inputs: StatusInputs): ReplicaStatus {
  const { raft, conf, addresses, selfId } = inputs;
  const leading = raft.role === 'leader';
  const row = (id: NodeId, voter: boolean): ReplicaStatusRow => {
    const member: ReplicaStatusRow = { id, address: addresses.get(id) ?? '', voter };
    const version = inputs.versions.members.get(id);
    if (version !== undefined) member.version = version;
    if (leading) {
      const progress = raft.progress?.[id];
      member.match = id === selfId ? raft.lastIndex : (progress?.match ?? 0);
      member.reachable = id === selfId ? true : (progress?.recentActive ?? false) && inputs.linkConnected(id);
      const view = inputs.autopilot?.memberView(id);
      if (view) member.autopilot = view;
    }
    const checked = inputs.stateCheck?.check.member(id);
    if (checked) member.stateCheck = { index: checked.index, agrees: checked.agrees };
    return member;
  };
  const members = [...conf.voters.map((id) => row(id, true)), ...conf.learners.map((id) => row(id, false))];
  const quorum = leading
    ? members.filter((m) => m.voter && m.reachable).length >= quorumSize(conf.voters.length)
    : raft.lead !== null;
  const voter = conf.voters.includes(selfId);
  const autopilot = leading ? inputs.autopilot?.summary : undefined;
  return {
    id: selfId,
    address: inputs.selfAddress,
    role: inputs.removed ? 'removed' : !inputs.serving ? 'stopped' : !voter ? 'learner' : raft.role,
    term: raft.term,
    leader: raft.lead ? { id: raft.lead, address: addresses.get(raft.lead) ?? '' } : null,
    commitIndex: raft.commit,
    appliedIndex: inputs.appliedIndex,
    lastIndex: raft.lastIndex,
    voter,
    members,
    quorum,
    ...(inputs.clusterId ? { clusterId: inputs.clusterId } : {}),
    version: inputs.versions.supported,
    clusterVersion: inputs.versions.cluster,
    ...(autopilot ? { autopilot } : {}),
    ...(inputs.storage ? { storage: inputs.storage } : {}),
    ...(inputs.stateCheck
      ? { stateCheck: { every: inputs.stateCheck.every, index: inputs.stateCheck.check.lastIndex, diverged: inputs.stateCheck.check.diverged, mismatches: inputs.stateCheck.check.mismatches } }
      : {}),
  };
}

/** /healthz: 200 when serving and a member of the configuration; otherwise 503 with the reason. */
export function replicaHealth(status: ReplicaStatus, conf: ConfState | null): { serving: boolean; detail: Record<string, unknown> } {
  const member = !!conf && isMember(conf, status.id);
  const detail: Record<string, unknown> = { id: status.id, role: status.role, term: status.term, leader: status.leader?.id ?? null, appliedIndex: status.appliedIndex };
  if (status.role === 'removed') detail.reason = 'removed from the cluster configuration';
  else if (!member) detail.reason = 'joining: not yet a member of the configuration';
  return { serving: status.role !== 'removed' && status.role !== 'stopped' && member, detail };
}

/** Hashing the state is O(size): computed once per applied index, so polling it cannot stall the event loop. */
export class StateDigest {
  private last: { appliedIndex: number; stateHash: string } | null = null;

  constructor(
    private readonly appliedIndex: () => number,
    private readonly hash: () => string,
  ) {}

  current(): { appliedIndex: number; stateHash: string } {
    const appliedIndex = this.appliedIndex();
    if (this.last?.appliedIndex !== appliedIndex) this.last = { appliedIndex, stateHash: this.hash() };
    return this.last;
  }
}
