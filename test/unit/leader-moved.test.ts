import { describe, expect, it } from 'vitest';
import { LeaderMoved } from '../../replica/node/leader-moved.js';
import type { SoftState } from '../../replica/raft/types.js';

function run(states: SoftState[]): { reasons: string[]; told: [string, number][] } {
  const reasons: string[] = [];
  const told: [string, number][] = [];
  const moved = new LeaderMoved({
    selfId: 'r1',
    closeLoggedIn: (reason) => (reasons.push(reason), 3),
    onClosed: (leader, closed) => told.push([leader, closed]),
  });
  for (const s of states) moved.softState(s);
  return { reasons, told };
}

describe('LeaderMoved', () => {
  it('closes the logged-in connections once a replica that led hears of another leader', () => {
    const r = run([
      { role: 'leader', lead: 'r1' },
      // Stepped down: no leader known yet, so the clients would have nowhere to go.
      { role: 'follower', lead: null },
      { role: 'follower', lead: 'r2' },
      // Once per hand-over.
      { role: 'follower', lead: 'r3' },
    ]);
    expect(r.reasons).toEqual(['r2 leads now']);
    expect(r.told).toEqual([['r2', 3]]);
  });

  it('closes nothing on a replica that never led, or that is elected again before it hears of another', () => {
    expect(run([{ role: 'follower', lead: 'r2' }, { role: 'candidate', lead: null }, { role: 'follower', lead: 'r3' }]).reasons).toEqual([]);
    expect(run([{ role: 'leader', lead: 'r1' }, { role: 'candidate', lead: null }, { role: 'leader', lead: 'r1' }]).reasons).toEqual([]);
  });

  it('closes again after each later term it led', () => {
    const r = run([
      { role: 'leader', lead: 'r1' },
      { role: 'follower', lead: 'r2' },
      { role: 'leader', lead: 'r1' },
      { role: 'follower', lead: 'r3' },
    ]);
    expect(r.told).toEqual([['r2', 3], ['r3', 3]]);
  });
});
