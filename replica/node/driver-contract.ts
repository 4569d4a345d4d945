/**
 * What the Raft driver (driver.ts) depends on, as interfaces: the replicated state machine, the clock and timers,
 * where snapshot files live, and the metrics it records. The replica passes the real ones (ChatStateMachine,
 * SqliteLogStore, Node's timers, the data folder); the simulation (test/sim) passes in-memory, deterministic ones,
 * so that it runs the production driver. The log the driver writes is `LogStore` (replica/raft/types.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfChange, ConfState, Entry, Message, SnapshotMeta } from '../raft/types.js';

/**
 * The replicated state machine (hashicorp/raft's FSM): applies committed entries in log order, takes and restores
 * snapshots, and keeps its applied index and configuration durable with its state. `Outcome` is what applying one
 * entry yields (the chat's reply and pushes); the driver hands it to whoever proposed the entry.
 */
export interface StateMachine<Outcome> {
  /** Index and term of the last entry applied (as recorded with the state: after a crash, what survived). */
  applied(): { index: number; term: number };
  /** The configuration as of the applied index; null when it never had one (a replica joining a cluster). */
  conf(): ConfState | null;
  /**
   * Applies committed entries in order and returns one outcome per entry. For a conf entry it calls
   * `applyConf(change)` (the core's) and records the configuration that returns. Entries at or below the applied
   * index change nothing. A throw is a storage failure: the driver stops the replica.
   */
  applyEntries(entries: Entry[], applyConf: (cc: ConfChange) => ConfState): Outcome[];
  /** Called on every tick: applied batches that waited long enough are committed (group commit, not fsynced). */
  maybeCommitGroup(): void;
  /**
   * Makes everything applied durable (survives power loss). Returns false when it could not (the log must then not
   * be compacted past what the state durably holds).
   */
  makeDurable(): boolean;
  /** Writes a consistent snapshot of the applied state to `file` (durably); resolves with what it holds. */
  snapshotTo(file: string): Promise<SnapshotMeta>;
  /** Replaces the whole state by the snapshot in `file`, atomically and durably; returns what it holds. */
  restoreFrom(file: string): SnapshotMeta;
  /**
   * A hash of the whole replicated state as applied now (equal on every replica at the same index); absent: replicas
   * do not compare their states (state-check.ts).
   */
  stateHash?(): string;
  /**
   * The same hash of the state as applied now, computed without stalling the event loop; null when it was skipped or
   * cancelled (one runs at a time; a checkpoint, restore or close cancels it). The driver prefers it to stateHash.
   */
  stateHashLater?(): Promise<string | null>;
  /**
   * About how many rows a state hash reads now (an upper bound, cheap to read), the same on every replica at the same
   * applied index; absent: 0. The driver thins out the state check's checkpoints as it grows (stateCheckDue).
   */
  stateHashRows?(): number;
  /** True while a stateHashLater hash is running or waiting (makeDurable would cancel it). */
  hashing?(): boolean;
}

/** A handle returned by DriverTimers.setTimeout. */
export type TimerHandle = unknown;

/** The clock and timers the driver uses (Node's in the replica; the simulation's own, deterministic ones). */
export interface DriverTimers {
  /** Milliseconds on a monotonic clock (durations for metrics). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Runs `fn` once the current turn of the event loop is done (the driver batches a turn's work into one Ready). */
  setImmediate(fn: () => void): void;
}

export const NODE_TIMERS: DriverTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setImmediate: (fn) => void setImmediate(fn),
};

/** Where the driver keeps the snapshot files it writes for peers. */
export interface SnapshotFiles {
  /** A fresh path for a snapshot about to be streamed to `to`. */
  outgoing(to: string): string;
  /** Deletes a snapshot file (sent, installed, superseded); a missing file is fine. */
  remove(path: string): void;
}

/** Snapshot files in `<dataDir>/snapshots` (the replica removes leftovers `out-*` at stop). */
export function snapshotDirectory(dataDir: string): SnapshotFiles {
  const dir = join(dataDir, 'snapshots');
  let seq = 0;
  return {
    outgoing(to) {
      mkdirSync(dir, { recursive: true });
      return join(dir, `out-${to}-${Date.now()}-${++seq}.db`);
    },
    remove(path) {
      rmSync(path, { force: true });
    },
  };
}

/** A complete snapshot received from the leader, in a file, with the message that announced it. */
export interface StagedSnapshot {
  path: string;
  meta: SnapshotMeta;
  msg: Message;
}

/** The metrics the driver records (replica/node/metrics.ts has them all). */
export interface DriverMetrics {
  proposals: { inc(): void };
  persistSeconds: { observe(seconds: number): void };
  persistBatch: { observe(entries: number): void };
  /** A leader's fsync of its own entries, off the event loop (absent in the simulation). */
  syncSeconds?: { observe(seconds: number): void };
  applySeconds: { observe(seconds: number): void };
  applied: { set(index: number): void };
  isLeader: { set(leading: number): void };
  /** State hash mismatches this replica found (state-check.ts); absent in the simulation. */
  stateMismatches?: { inc(): void };
  /** 1 while this replica knows its own state differs from a majority's. */
  stateDiverged?: { set(diverged: number): void };
}
