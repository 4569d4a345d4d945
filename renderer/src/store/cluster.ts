/** The connection and the cluster as the connection bar and the cluster view show them. */
import type { ClientState, ReplicaStatus } from '../net/api.js';
import type { SetState, SliceDeps } from './store-deps.js';

export interface ClusterState {
  conn: ClientState;
  /** The last status the connected replica gave, and when (env.now()). */
  status: ReplicaStatus | null;
  statusAt: number | null;
  /** Each member's own status (role, term), by address; null when that replica did not answer. */
  memberStatus: Record<string, ReplicaStatus | null>;
}

export interface ClusterActions {
  /** Polls the connected replica's status; with `probeMembers`, also every other member's own view. */
  refreshStatus(probeMembers?: boolean): Promise<void>;
}

export function createClusterSlice(set: SetState, { api, env }: SliceDeps): ClusterState & ClusterActions {
  return {
    conn: api.state,
    status: null,
    statusAt: null,
    memberStatus: {},

    async refreshStatus(probeMembers = false) {
      try {
        const status = await api.status();
        set({ status, statusAt: env.now() });
        if (probeMembers && api.statusOf) {
          const probe = api.statusOf;
          const rows = status.members.filter((m) => m.id !== status.id);
          const results = await Promise.all(rows.map((m) => probe(m.address, 900).then((r) => r, () => null)));
          const memberStatus: Record<string, ReplicaStatus | null> = { [status.address]: status };
          rows.forEach((m, i) => (memberStatus[m.address] = results[i]));
          set({ memberStatus });
        }
      } catch {
        // The bar shows the connection state; a failed status poll just leaves the last one.
      }
    },
  };
}
