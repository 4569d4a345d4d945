/** Raft core scenarios that several unit test files start from (TestNetwork of test/sim/harness.ts). */
import { expect } from 'vitest';
import { encodeConfChange } from '../../replica/raft/conf.js';
import { TestNetwork } from '../sim/harness.js';

/**
 * A 3-node cluster whose leader a has compacted its log past what c has (first index 5): c's progress is in snapshot
 * state at match 1, the snapshot message not delivered (and not reported), the network healed.
 */
export function snapshotInFlight(): TestNetwork {
  const net = new TestNetwork(['a', 'b', 'c']);
  net.autoReportSnapshot = false;
  net.campaign('a');
  net.isolate('c');
  for (let k = 0; k < 3; k++) net.propose('a', `x${k}`);
  const a = net.node('a');
  a.storage.compact(a.appliedIndex, a.storage.term(a.appliedIndex), a.smConf);
  net.recover();
  net.ignore('snap');
  net.tickAll(2);
  expect(net.raft('a').status().progress!.c).toMatchObject({ state: 'snapshot', match: 1 });
  expect(net.raft('a').status().firstIndex).toBe(5);
  net.recover();
  return net;
}

/**
 * In a 2-node `net` (a, b): a led term 1, committed and applied its own demotion (index 2), appended 3 and 4, and
 * restarted; b never learned that 2 committed and lacks 4, so it still runs the old configuration {a, b}: it needs
 * a's vote, and a's log is ahead.
 */
export function demotedLeaderAhead(net: TestNetwork): void {
  const demoteA = encodeConfChange({ op: 'demote', id: 'a' });
  const e = (index: number, type: 'normal' | 'conf' = 'normal', data = `e${index}`) => ({ index, term: 1, type, data });
  const a = net.node('a');
  a.storage.append([e(1, 'normal', ''), e(2, 'conf', demoteA), e(3), e(4)]);
  a.storage.setHardState({ term: 1, vote: 'a', commit: 2 });
  a.storage.setConfState({ voters: ['b'], learners: ['a'] });
  a.appliedIndex = 2;
  a.smConf = { voters: ['b'], learners: ['a'] };
  a.restart();
  const b = net.node('b');
  b.storage.append([e(1, 'normal', ''), e(2, 'conf', demoteA), e(3)]);
  b.storage.setHardState({ term: 1, vote: 'a', commit: 1 });
  b.restart();
}
