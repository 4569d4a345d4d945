/**
 * A production Driver over a real SqliteLogStore in a temporary folder, as the only voter ('a') of its configuration,
 * led to leadership: the driver unit tests' common setup. `options` overrides the driver's (send, compaction, state
 * check, timeouts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { expect } from 'vitest';
import { Driver, type DriverOptions } from '../../replica/node/driver.js';
import { NODE_TIMERS, snapshotDirectory } from '../../replica/node/driver-contract.js';
import { createMetrics } from '../../replica/node/metrics.js';
import { openCore } from '../../replica/node/open-core.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import type { CountingStateMachine } from './counting-state-machine.js';

type Outcome = { index: number };

export interface LoneDriver {
  dir: string;
  store: SqliteLogStore;
  driver: Driver<Outcome>;
  /** Stops the driver, closes the store and deletes the folder. */
  close(): void;
}

/** Opens the store (`prepare` may wrap its methods before the core reads it), starts the driver and waits until it leads. */
export async function loneLeader(
  sm: CountingStateMachine,
  options: Partial<DriverOptions<Outcome>> = {},
  prepare: (store: SqliteLogStore) => void = () => {},
): Promise<LoneDriver> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-driver-'));
  const store = SqliteLogStore.open(dir);
  store.bootstrap({ voters: ['a'], learners: [] });
  prepare(store);
  const driver = new Driver<Outcome>({
    id: 'a',
    timers: NODE_TIMERS,
    snapshotFiles: snapshotDirectory(dir),
    log: pino({ level: 'silent' }),
    raft: openCore(store, sm, pino({ level: 'silent' }), { id: 'a', random: () => 0.5 }),
    logStore: store,
    sm,
    metrics: createMetrics('a', false),
    send: () => {},
    sendSnapshot: () => Promise.reject(new Error('no snapshots in this test')),
    compactEvery: 1_000_000,
    keepEntries: 1_000,
    proposalTimeoutMs: 5_000,
    ...options,
  });
  driver.campaign();
  for (let k = 0; k < 100 && !driver.isLeader; k++) await new Promise((r) => setImmediate(r));
  expect(driver.isLeader).toBe(true);
  return {
    dir,
    store,
    driver,
    close() {
      driver.stop();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
