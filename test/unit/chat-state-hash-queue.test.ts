// Queued state hashes run one at a time (ChatStateMachine.stateHashLater chains each job on the one before it):
// several hashes of a large state running side by side would take that much more of the event loop at once. The
// generator that reads the rows (audit.ts stateHashSteps) is wrapped, unchanged, to count how many read at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Harness } from '../helpers/chat-harness.js';

const reading = vi.hoisted(() => ({ now: 0, most: 0 }));

vi.mock('../../replica/chat/audit.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../replica/chat/audit.js')>();
  return {
    ...real,
    *stateHashSteps(...args: Parameters<typeof real.stateHashSteps>): Generator<void, string> {
      reading.now++;
      reading.most = Math.max(reading.most, reading.now);
      try {
        return yield* real.stateHashSteps(...args);
      } finally {
        reading.now--;
      }
    },
  };
});

let h: Harness;
beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
  h.user('ann');
  h.user('bob');
});
afterEach(() => h.dispose());

describe('queued state hashes', () => {
  it('read one at a time, each its own snapshot, though each takes many slices', async () => {
    for (let i = 0; i < 12_000; i++) h.send('ann', 'bob', `m${i}`);
    const expected: string[] = [];
    const jobs: Promise<string | null>[] = [];
    for (let i = 0; i < 3; i++) {
      expected.push(h.sm.stateHash());
      jobs.push(h.sm.stateHashLater());
      h.send('bob', 'ann', `after hash ${i} was asked for`);
    }
    reading.most = 0;
    expect(await Promise.all(jobs)).toEqual(expected);
    expect(reading.most).toBe(1);
  });
});
