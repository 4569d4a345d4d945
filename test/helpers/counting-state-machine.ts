// A state machine for driver tests that only counts: what the driver needs of one (applied index, configuration,
// durability), and, when asked, a state hash that records the indices it was taken at.
import type { StateMachine } from '../../replica/node/driver-contract.js';
import { decodeConfChange } from '../../replica/raft/conf.js';
import type { ConfChange, ConfState, Entry, SnapshotMeta } from '../../replica/raft/types.js';

/** A state machine that only counts: what compaction needs of one (applied index, configuration, durability). */
export class CountingStateMachine implements StateMachine<{ index: number }> {
  index = 1;
  term = 1;
  confState: ConfState = { voters: ['a'], learners: [] };
  /** Configuration from each index on. */
  history: { index: number; conf: ConfState }[] = [{ index: 1, conf: { voters: ['a'], learners: [] } }];
  durable = true;
  applied() {
    return { index: this.index, term: this.term };
  }
  conf(): ConfState {
    return this.confState;
  }
  confAt(index: number): ConfState {
    let conf = this.history[0].conf;
    for (const h of this.history) if (h.index <= index) conf = h.conf;
    return conf;
  }
  applyEntries(entries: Entry[], confApply: (cc: ConfChange) => ConfState) {
    return entries.map((e) => {
      if (e.type === 'conf') {
        const cc = decodeConfChange(e.data);
        this.confState = confApply(cc);
        this.history.push({ index: e.index, conf: this.confState });
      }
      this.index = e.index;
      this.term = e.term;
      return { index: e.index };
    });
  }
  maybeCommitGroup(): void {}
  makeDurable(): boolean {
    return this.durable;
  }
  snapshotTo(): Promise<SnapshotMeta> {
    return Promise.reject(new Error('no snapshots in this test'));
  }
  restoreFrom(): SnapshotMeta {
    throw new Error('no snapshots in this test');
  }
}
