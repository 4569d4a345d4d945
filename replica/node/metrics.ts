/** Prometheus metrics of one replica (a registry per replica, so several can share a process in tests). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface NodeMetrics {
  registry: Registry;
  term: Gauge;
  commit: Gauge;
  applied: Gauge;
  isLeader: Gauge;
  proposals: Counter;
  requests: Counter<'op' | 'outcome'>;
  persistSeconds: Histogram;
  persistBatch: Histogram;
  applySeconds: Histogram;
  clientConnections: Gauge;
  peersConnected: Gauge;
}

export function createMetrics(id: string, withProcessMetrics: boolean): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ replica: id });
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'quorum_process_' });
  const registers = [registry];
  return {
    registry,
    term: new Gauge({ name: 'quorum_raft_term', help: 'Current Raft term', registers }),
    commit: new Gauge({ name: 'quorum_raft_commit_index', help: 'Highest log index known committed', registers }),
    applied: new Gauge({ name: 'quorum_raft_applied_index', help: 'Highest log index applied to the chat state', registers }),
    isLeader: new Gauge({ name: 'quorum_raft_is_leader', help: '1 when this replica leads', registers }),
    proposals: new Counter({ name: 'quorum_raft_proposals_total', help: 'Commands proposed by this replica as leader', registers }),
    requests: new Counter({ name: 'quorum_client_requests_total', help: 'Client requests by op and outcome code', labelNames: ['op', 'outcome'], registers }),
    persistSeconds: new Histogram({
      name: 'quorum_storage_persist_seconds',
      help: 'Time to durably persist one Ready batch (one fsync)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers,
    }),
    persistBatch: new Histogram({ name: 'quorum_storage_persist_batch_entries', help: 'Entries per durable batch (group commit)', buckets: [0, 1, 2, 4, 8, 16, 64, 256, 1024], registers }),
    applySeconds: new Histogram({ name: 'quorum_apply_seconds', help: 'Time to apply one batch of committed entries', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1], registers }),
    clientConnections: new Gauge({ name: 'quorum_client_connections', help: 'Open client WebSocket connections', registers }),
    peersConnected: new Gauge({ name: 'quorum_peer_links_up', help: 'Outbound peer links that are authenticated and open', registers }),
  };
}
