// The one line per member that `status` and the Cluster view show (replica/protocol/autopilot.ts describeMember).
import { describe, expect, it } from 'vitest';
import { describeMember, formatDuration, type AutopilotMemberView } from '../../replica/protocol/autopilot.js';

const NOW = new Date(2026, 11, 4, 11, 0, 0).getTime();
const at = (h: number, m: number) => new Date(2026, 11, 4, h, m).getTime();
const view = (v: Partial<AutopilotMemberView>): AutopilotMemberView => ({ health: 'healthy', since: at(9, 0), roleSince: null, lastChange: null, ...v });

describe('describeMember', () => {
  it.each([
    ['a healthy voter with a known start', true, view({ roleSince: at(10, 42) }), 'voter since 10:42'],
    ['a healthy voter from before this leader started', true, view({}), 'voter'],
    ['an unreachable voter', true, view({ health: 'unreachable', since: NOW - 2 * 60_000 }), 'voter: unreachable for 2 min'],
    ['a learner catching up', false, view({ health: 'catchingUp' }), 'learner: catching up'],
    ['a caught-up learner', false, view({ since: NOW - 4000 }), 'learner: caught up for 4 s'],
    [
      'a voter autopilot demoted, still away',
      false,
      view({ health: 'unreachable', since: NOW - 6 * 60_000, lastChange: { op: 'demote', id: 'x', at: NOW - 60_000, reason: 'dead-voter', explanation: '' } }),
      'demoted: unreachable for 6 min',
    ],
    ['a voter since yesterday', true, view({ roleSince: new Date(2026, 11, 3, 9, 5).getTime() }), 'voter since 3 Dec 09:05'],
  ] as const)('%s', (_name, voter, v, expected) => {
    expect(describeMember({ voter, autopilot: v }, NOW)).toBe(expected);
  });

  it('says nothing without the leader\'s view', () => {
    expect(describeMember({ voter: true }, NOW)).toBeNull();
  });

  it('formats durations in the largest whole unit', () => {
    expect([0, 59_999, 60_000, 3_599_999, 3_600_000, 86_400_000 * 2].map(formatDuration)).toEqual(['0 s', '59 s', '1 min', '59 min', '1 h', '2 d']);
  });
});
