// Log compaction in the driver: the snapshot metadata it records carries the configuration as of the compacted index
// (not the latest one), and nothing is compacted unless the state machine reports its state durable.
import { afterEach, describe, expect, it } from 'vitest';
import { COMPACTION_WAITS_FOR_HASH } from '../../replica/node/driver.js';
import { applyToConf } from '../../replica/raft/conf.js';
import type { ConfChange, ConfState } from '../../replica/raft/types.js';
import type { SqliteLogStore } from '../../replica/storage/log-store.js';
import { CountingStateMachine } from '../helpers/counting-state-machine.js';
import { loneLeader, type LoneDriver } from '../helpers/lone-driver.js';

let lone: LoneDriver | undefined;
let store: SqliteLogStore;

afterEach(() => {
  lone?.close();
  lone = undefined;
});

/** A lone leader compacting every 8 entries (keeping 3), recording each compaction. */
async function start(sm: CountingStateMachine) {
  const compactions: { upTo: number; conf: ConfState }[] = [];
  lone = await loneLeader(sm, { compactEvery: 8, keepEntries: 3 }, (s) => {
    const compact = s.compact.bind(s);
    s.compact = (index, term, conf) => {
      compactions.push({ upTo: index, conf });
      compact(index, term, conf);
    };
  });
  store = lone.store;
  return { driver: lone.driver, compactions };
}

describe('driver: log compaction', () => {
  it('records the configuration as of the compacted index, not a newer one applied since', async () => {
    const sm = new CountingStateMachine();
    const { driver, compactions } = await start(sm);
    const changes: ConfChange[] = [
      { op: 'addLearner', id: 'b', address: 'b:1' },
      { op: 'remove', id: 'b' },
      { op: 'addLearner', id: 'c', address: 'c:1' },
      { op: 'addLearner', id: 'd', address: 'd:1' },
    ];
    for (const cc of changes) {
      for (let k = 0; k < 9; k++) await driver.propose(`x${k}`);
      await driver.proposeConfChange(cc);
      // A conf entry just applied, with entries before it still in the log: the next compaction point lies before it.
      for (let k = 0; k < 2; k++) await driver.propose(`y${k}`);
    }
    for (let k = 0; k < 20; k++) await driver.propose(`z${k}`);
    driver.stop();
    expect(compactions.length).toBeGreaterThan(3);
    for (const c of compactions) expect({ upTo: c.upTo, conf: c.conf }).toEqual({ upTo: c.upTo, conf: sm.confAt(c.upTo) });
    expect(store.snapshotMeta().conf).toEqual(sm.confAt(store.snapshotMeta().index));
    expect(sm.conf()).toEqual(applyToConf({ voters: ['a'], learners: ['c'] }, { op: 'addLearner', id: 'd', address: 'd:1' }));
  });

  it('does not compact while the state machine cannot make its state durable', async () => {
    const sm = new CountingStateMachine();
    sm.durable = false;
    const { driver, compactions } = await start(sm);
    for (let k = 0; k < 40; k++) await driver.propose(`x${k}`);
    expect(compactions).toEqual([]);
    expect(store.firstIndex()).toBe(2);
    sm.durable = true;
    for (let k = 0; k < 4; k++) await driver.propose(`y${k}`);
    expect(compactions.length).toBe(1);
    expect(store.firstIndex()).toBeGreaterThan(30);
    driver.stop();
  });

  it('waits for a state hash in progress (making the state durable would cancel it), up to COMPACTION_WAITS_FOR_HASH × compactEvery entries', async () => {
    class HashingStateMachine extends CountingStateMachine {
      busy = true;
      cancelled = 0;
      hashing(): boolean {
        return this.busy;
      }
      override makeDurable(): boolean {
        if (this.busy) this.cancelled++;
        this.busy = false;
        return super.makeDurable();
      }
    }
    const sm = new HashingStateMachine();
    const { driver, compactions } = await start(sm);
    // compactEvery 8, keepEntries 3: due from ~12 entries on; waiting up to 4 × 8 entries in the log.
    for (let k = 0; k < 24; k++) await driver.propose(`x${k}`);
    expect(compactions).toEqual([]);
    sm.busy = false; // the hash completed
    for (let k = 0; k < 4; k++) await driver.propose(`y${k}`);
    expect(compactions.length).toBe(1);
    expect(sm.cancelled).toBe(0);
    // A hash that outlasts the wait is cancelled: the log does not grow without bound.
    sm.busy = true;
    for (let k = 0; k < 60; k++) await driver.propose(`z${k}`);
    expect(sm.cancelled).toBe(1);
    expect(compactions.length).toBeGreaterThan(1);
    expect(store.lastIndex() - store.firstIndex()).toBeLessThan(COMPACTION_WAITS_FOR_HASH * 8 + 8);
    driver.stop();
  });
});
