/** Prometheus metrics of one replica (a registry per replica, so several can share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { passwordHashLoad } from '../chat/passwords.js';

export interface NodeMetrics {
  registry: Registry;
  term: Gauge;
  commit: Gauge;
  applied: Gauge;
  isLeader: Gauge;
  proposals: Counter;
  requests: Counter<'op' | 'outcome'>;
  persistSeconds: Histogram;
  syncSeconds: Histogram;
  persistBatch: Histogram;
  applySeconds: Histogram;
  clientConnections: Gauge;
  peersConnected: Gauge;
  /** Configuration changes autopilot made, by op (promote, demote) and reason (AutopilotReason). */
  autopilotChanges: Counter<'op' | 'reason'>;
  /** Changes autopilot proposed that failed (not committed, refused), by op. */
  autopilotFailures: Counter<'op'>;
  /** Times autopilot began holding back a change, by why (no-quorum, unsafe, settling). */
  autopilotHolds: Counter<'reason'>;
  /** Voter count autopilot aims at (leader only; 0 elsewhere). */
  autopilotDesiredVoters: Gauge;
  /** Members autopilot sees reachable and caught up (leader only; 0 elsewhere). */
  autopilotHealthyMembers: Gauge;
  /** The highest state-machine version this replica supports (replica/chat/versions.ts). */
  version: Gauge;
  /** The cluster version in this replica's applied state. */
  clusterVersion: Gauge;
  /** Free bytes on the data folder's filesystem. */
  storageFreeBytes: Gauge;
  /** 1 while free space is below the warning threshold (--disk-warn-mb). */
  storageLowSpace: Gauge;
  /** State hash mismatches this replica found between its state and a peer's at the same index. */
  stateMismatches: Counter;
  /** 1 while this replica's state differs from a majority's (resync it). */
  stateDiverged: Gauge;
}

export function createMetrics(id: string, withProcessMetrics: boolean): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ replica: id });
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'quorum_process_' });
  const registers = [registry];
  const metrics: NodeMetrics = {
    registry,
    term: new Gauge({ name: 'quorum_raft_term', help: 'Current Raft term', registers }),
    commit: new Gauge({ name: 'quorum_raft_commit_index', help: 'Highest log index known committed', registers }),
    applied: new Gauge({ name: 'quorum_raft_applied_index', help: 'Highest log index applied to the chat state', registers }),
    isLeader: new Gauge({ name: 'quorum_raft_is_leader', help: '1 when this replica leads', registers }),
    proposals: new Counter({ name: 'quorum_raft_proposals_total', help: 'Commands proposed by this replica as leader', registers }),
    requests: new Counter({ name: 'quorum_client_requests_total', help: 'Client requests by op and outcome code', labelNames: ['op', 'outcome'], registers }),
    persistSeconds: new Histogram({
      name: 'quorum_storage_persist_seconds',
      help: "Time to persist one Ready batch (one fsync; a leader's own entries without it: quorum_storage_leader_sync_seconds)",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers,
    }),
    syncSeconds: new Histogram({
      name: 'quorum_storage_leader_sync_seconds',
      help: "A leader's fsync of its own appended entries, on the thread pool while its event loop goes on",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers,
    }),
    persistBatch: new Histogram({ name: 'quorum_storage_persist_batch_entries', help: 'Entries per durable batch (group commit)', buckets: [0, 1, 2, 4, 8, 16, 64, 256, 1024], registers }),
    applySeconds: new Histogram({ name: 'quorum_apply_seconds', help: 'Time to apply one batch of committed entries', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1], registers }),
    clientConnections: new Gauge({ name: 'quorum_client_connections', help: 'Open client WebSocket connections', registers }),
    peersConnected: new Gauge({ name: 'quorum_peer_links_up', help: 'Outbound peer links that are authenticated and open', registers }),
    autopilotChanges: new Counter({ name: 'quorum_autopilot_changes_total', help: 'Voter changes made by autopilot, by op and reason', labelNames: ['op', 'reason'], registers }),
    autopilotFailures: new Counter({ name: 'quorum_autopilot_change_failures_total', help: 'Voter changes autopilot proposed that failed, by op', labelNames: ['op'], registers }),
    autopilotHolds: new Counter({ name: 'quorum_autopilot_holds_total', help: 'Times autopilot began holding back a change, by reason', labelNames: ['reason'], registers }),
    autopilotDesiredVoters: new Gauge({ name: 'quorum_autopilot_desired_voters', help: 'Voter count autopilot aims at (leader only)', registers }),
    autopilotHealthyMembers: new Gauge({ name: 'quorum_autopilot_healthy_members', help: 'Members reachable and caught up as the leader sees them', registers }),
    version: new Gauge({ name: 'quorum_version_supported', help: 'Highest state-machine version this replica supports', registers }),
    clusterVersion: new Gauge({ name: 'quorum_cluster_version', help: 'Cluster version in the applied state (every replica applies by it)', registers }),
    storageFreeBytes: new Gauge({ name: 'quorum_storage_free_bytes', help: "Free bytes on the data folder's filesystem", registers }),
    storageLowSpace: new Gauge({ name: 'quorum_storage_low_space', help: '1 while free space is below the warning threshold (--disk-warn-mb)', registers }),
    stateMismatches: new Counter({ name: 'quorum_state_hash_mismatches_total', help: "State hash mismatches found between this replica's state and a peer's at the same index", registers }),
    stateDiverged: new Gauge({ name: 'quorum_state_diverged', help: "1 while this replica's state differs from a majority's (resync it)", registers }),
  };
  // Read when scraped: the process's password hashes (shared by every replica in it), running and waiting their turn.
  new Gauge({
    name: 'quorum_password_hashes',
    help: 'Password hashes (logins, signups) computing now and waiting their turn, in this process',
    labelNames: ['state'],
    registers,
    collect() {
      const load = passwordHashLoad();
      this.set({ state: 'running' }, load.running);
      this.set({ state: 'waiting' }, load.waiting);
    },
  });
  return metrics;
}
