/**
 * What a host (the `replica` CLI, the desktop app's utility process, tests) gives `startReplica`, and what it gets
 * back. Each field says when it is read: several only matter on a data folder's first start.
 */
import type { Logger } from 'pino';
import type { ReplicaStatus } from '../protocol/client.js';
import type { AutopilotSettings } from './autopilot/policy.js';
import type { ReplicaSecurityOptions } from '../security/replica-security.js';

/** A replica of the initial configuration: its id and the HOST:PORT peers reach it at. */
export interface Member {
  id: string;
  address: string;
}

export interface ReplicaOptions {
  /** This replica's id: 1-64 letters, digits, "_", "." or "-"; unique in the cluster and never reused. */
  id: string;
  /** Folder of raft.db, state.db and transient snapshots; created (mode 0700) when missing. */
  dataDir: string;
  /** HOST:PORT to listen on (port 0 picks a free one). */
  listen: string;
  /** Address peers and clients use to reach this replica; defaults to the listen address with the bound port. */
  advertise?: string;
  /** Bootstraps a new cluster (first start only; afterwards the stored configuration wins). Default: just this replica. */
  initialCluster?: Member[];
  /**
   * Whether an empty data folder without `join` may start a new cluster (default true). False: such a start fails
   * with an error instead, so a host that lost track of a join in progress never makes a cluster of its own.
   */
  bootstrap?: boolean;
  /**
   * Cluster secret; required when the cluster has more than one member. It authenticates peers (HMAC) and the cluster
   * CA that issues every replica's TLS certificate is derived from it (docs/security.md).
   */
  secret?: Buffer | null;
  /** Older secrets still accepted from peers and administrators while a rotation is under way (docs/security.md). */
  previousSecrets?: readonly Buffer[];
  /** TLS and exposure of the port: operator certificate, plain-text exceptions, origins, metrics (safe defaults). */
  security?: ReplicaSecurityOptions;
  /** Milliseconds per Raft tick (default 25). */
  tickMs?: number;
  /** Ticks between heartbeats (default 2 → 50 ms). */
  heartbeatTicks?: number;
  /** Election timeout drawn from [electionTicks, 2*electionTicks) ticks (default 10 → 250–500 ms). */
  electionTicks?: number;
  /** Built web client to serve at / (default: dist/renderer when it exists; null serves none). */
  webRoot?: string | null;
  /** Parent logger (default: a pino logger named "quorum"); every line carries this replica's id. */
  log?: Logger;
  /** Compaction: entries applied beyond the last compaction point before the log is compacted (default 20000). */
  compactEvery?: number;
  /** Entries kept behind the applied index when compacting (default 5000). */
  keepEntries?: number;
  /** Replicas hash their state at the multiples of this index and compare (state-check.ts; default 10000, 0: never). */
  stateCheckEvery?: number;
  /** A write or configuration change not committed within this many ms fails with TIMEOUT (default 10000). */
  proposalTimeoutMs?: number;
  /** Register process-wide metrics (CPU, memory); on for real processes, off when tests embed several replicas. */
  processMetrics?: boolean;
  /**
   * Join a running cluster through these replicas: on an empty data folder this replica asks to be added as a
   * learner, then catches up; on a restart mid-join it resumes catching up. A data folder that holds a one-member
   * cluster of its own cannot join (move it aside first). Read on every start; `joined` says when the join is done.
   */
  join?: string[];
  /**
   * With join: stay a learner and leave promotion to the leader's autopilot. Without it, a caught-up learner asks to
   * be promoted itself when the leader runs without autopilot.
   */
  learner?: boolean;
  /**
   * Autopilot's settings (missing fields take AUTOPILOT_DEFAULTS: 5 voters, 10 s stabilization, 300 s dead-after),
   * or false to leave voters to the administrator (--no-autopilot). The replica that leads applies its own settings.
   */
  autopilot?: Partial<AutopilotSettings> | false;
  /**
   * Advertise this replica on the LAN with mDNS/DNS-SD (`_quorum._tcp`: replica id, address, public cluster id).
   * Default false; the CLI turns it on unless --no-discovery, the desktop app turns it on. Only an advertised address
   * that is a LAN IPv4 address is advertised (on its own interface): a replica on loopback sends no multicast.
   */
  discovery?: boolean;
  /**
   * The highest state-machine version this replica supports (replica/chat/versions.ts): default SUPPORTED_VERSION;
   * less makes it play an older release (the CLI reads QUORUM_MAX_VERSION), for upgrade tests.
   */
  supportedVersion?: number;
  /**
   * Disaster recovery: restart as a one-member cluster from this replica's own data (see docs/operations.md for what
   * this can lose). Only when a majority of the old cluster is gone for good.
   */
  forceNewCluster?: boolean;
  /**
   * Warn (log, quorum_storage_low_space, status.storage.lowSpace) when the data folder's filesystem has fewer free bytes
   * than this (default 512 MiB). A replica whose disk fills stops (ReplicaStop 'DISK_FULL').
   */
  diskWarnBytes?: number;
  /** Hand leadership to another voter before stopping when leading (default true). */
  transferOnStop?: boolean;
}

export interface ReplicaHandle {
  readonly id: string;
  /** HOST:PORT this replica is reachable at. */
  readonly address: string;
  readonly port: number;
  status(): ReplicaStatus;
  /** sha256 of the replicated chat state (equal on replicas that applied the same log). */
  stateHash(): string;
  /** Resolves when the replica has stopped (after stop(), or a fatal storage error). */
  readonly stopped: Promise<void>;
  /**
   * The error that stopped the replica by itself, or null. A ReplicaStop (exit-status.ts) when the reason is a
   * condition of the machine or the data: `code` 'DISK_FULL' (message "disk full at DIR: stopped; free space and
   * restart"), 'DAMAGED' (a damaged or diverged log: rebuild the replica, docs/operations.md "A damaged replica"); exitStatusOf(failure) is the process's exit status.
   */
  failure(): Error | null;
  /** Hands leadership to `to` (default: the most up-to-date other voter); resolves with the new leader's id. */
  transferLeadership(to?: string): Promise<string>;
  /**
   * Resolves once this replica is a member and has caught up with the leader (and, when it asked to be promoted
   * itself, is a voter): the join has completed, a host may forget the invite. Resolves at once when this start does
   * not join; rejects when the join failed (the reason is in the message) or the replica stopped first.
   */
  readonly joined: Promise<void>;
  /** Stops; a leader first hands leadership over (unless transferOnStop is false). */
  stop(): Promise<void>;
}

/** Raft timing on a LAN: 25 ms ticks, heartbeat every 50 ms, election timeout drawn from [250, 500) ms. */
export const TIMING_DEFAULTS = { tickMs: 25, heartbeatTicks: 2, electionTicks: 10 } as const;
