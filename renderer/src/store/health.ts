/** What the connection bar and the cluster view say, derived from connection state and replica status. Pure. */
import type { ClientState, ReplicaStatus } from '../net/api.js';

export interface Health {
  voters: number;
  reachable: number;
  /** Replica failures the cluster can still take and keep a majority: r - (floor(n/2) + 1), at least 0. */
  survive: number;
}

/** Counts from the leader's status (only the leader knows who is reachable); null otherwise. */
export function clusterHealth(status: ReplicaStatus | null): Health | null {
  if (!status || status.role !== 'leader') return null;
  const voters = status.members.filter((m) => m.voter);
  if (voters.length === 0) return null;
  const reachable = voters.filter((m) => m.id === status.id || m.reachable === true).length;
  const majority = Math.floor(voters.length / 2) + 1;
  return { voters: voters.length, reachable, survive: Math.max(0, reachable - majority) };
}

export type BarTone = 'ok' | 'warn' | 'bad' | 'idle';

export function connectionLabel(conn: ClientState): { text: string; tone: BarTone } {
  switch (conn.status) {
    case 'connecting':
      return { text: 'Connecting…', tone: 'idle' };
    case 'reconnecting':
      return { text: 'Reconnecting…', tone: 'warn' };
    case 'closed':
      return { text: 'Offline', tone: 'bad' };
    case 'connected':
      if (conn.readOnly) return { text: 'Read-only: no majority reachable', tone: 'bad' };
      return { text: `Connected to ${conn.leader?.id ?? conn.replica?.id ?? 'the cluster'}`, tone: 'ok' };
  }
}

export function surviveText(h: Health | null): string | null {
  if (!h) return null;
  if (h.survive === 0) return h.voters === 1 ? 'a one-replica cluster: no failure can be survived' : 'cannot survive another replica failure';
  return `can survive ${h.survive} more replica ${h.survive === 1 ? 'failure' : 'failures'}`;
}
