// Autopilot's decision (replica/node/autopilot/policy.ts), table-driven: from who votes, who is reachable and who has
// been healthy since when, the one change to make next and why. Plus properties over random clusters: never a change
// without a reachable majority after it, never the leader demoted, the desired count always odd.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AUTOPILOT_DEFAULTS, desiredVoterCount, nextChange, type MemberObservation, type PolicyDecision } from '../../replica/node/autopilot/policy.js';
import { quorumSize } from '../../replica/raft/conf.js';

const NOW = 1_800_000_000_000;
const S = 1000;
const MIN = 60 * S;

interface Shape {
  voter?: boolean;
  /** ms since the last contact; 0 = reachable now. */
  away?: number;
  /** ms it has been healthy (null: not healthy now). Defaults: reachable → healthy for an hour; unreachable → null. */
  healthyFor?: number | null;
  match?: number;
}

function member(id: string, shape: Shape = {}): MemberObservation {
  const away = shape.away ?? 0;
  const reachable = away === 0;
  const healthyFor = shape.healthyFor === undefined ? (reachable ? 60 * MIN : null) : shape.healthyFor;
  return {
    id,
    voter: shape.voter ?? true,
    reachable,
    lastContactAt: NOW - away,
    healthySince: healthyFor === null ? null : NOW - healthyFor,
    match: shape.match ?? 100,
  };
}

const voter = (id: string, shape: Shape = {}) => member(id, { ...shape, voter: true });
const learner = (id: string, shape: Shape = {}) => member(id, { ...shape, voter: false });

function decide(members: MemberObservation[], settings = AUTOPILOT_DEFAULTS, confChangedAt = NOW - 60 * MIN): PolicyDecision {
  return nextChange({ now: NOW, leaderId: 'L', members, settings, confChangedAt });
}

/** The decision in a few words, for the table. */
function brief(d: PolicyDecision): string {
  return d.kind === 'change' ? `${d.op} ${d.id} (${d.reason}) → ${d.desiredVoters}` : `none${d.hold ? ` [${d.hold}]` : ''} → ${d.desiredVoters}`;
}

describe('autopilot policy', () => {
  const table: [string, MemberObservation[], string, Partial<typeof AUTOPILOT_DEFAULTS>?][] = [
    ['one member: the leader votes alone', [voter('L')], 'none → 1'],
    ['two members stay at one voter', [voter('L'), learner('a')], 'none → 1'],
    ['three members: a stable learner is promoted (1 → 2 on the way to 3)', [voter('L'), learner('a', { match: 90 }), learner('b', { match: 99 })], 'promote b (stable-learner) → 3'],
    ['three members, two voters: the learner is promoted', [voter('L'), voter('a'), learner('b')], 'promote b (stable-learner) → 3'],
    ['four members keep three voters', [voter('L'), voter('a'), voter('b'), learner('c')], 'none → 3'],
    ['five members: both learners become voters, one at a time', [voter('L'), voter('a'), voter('b'), learner('c'), learner('d')], 'promote c (stable-learner) → 5'],
    ['six members keep five voters', [voter('L'), voter('a'), voter('b'), voter('c'), voter('d'), learner('e')], 'none → 5'],
    ['seven healthy voters over a target of five: the least up-to-date is demoted', [voter('L'), voter('a'), voter('b', { match: 50 }), voter('c'), voter('d'), voter('e'), voter('f')], 'demote b (over-target) → 5'],
    ['four voters: an even count is cut to three', [voter('L'), voter('a'), voter('b'), voter('c', { match: 10 })], 'demote c (over-target) → 3'],
    ['two voters and nobody else: one votes', [voter('L', { match: 1 }), voter('a', { match: 200 })], 'demote a (over-target) → 1'],
    ['a learner not yet stable is not promoted', [voter('L'), learner('a'), learner('b', { healthyFor: 9 * S })], 'none → 1'],
    ['a learner healthy for exactly the stabilization time is stable', [voter('L'), learner('a'), learner('b', { healthyFor: 10 * S })], 'promote a (stable-learner) → 3'],
    ['a learner catching up is not promoted', [voter('L'), learner('a'), learner('b', { healthyFor: null })], 'none → 1'],
    ['a voter dead past dead-after is demoted first', [voter('L'), voter('a'), voter('b', { away: 301 * S }), learner('c')], 'demote b (dead-voter) → 3'],
    ['then the healthy learner takes its place', [voter('L'), voter('a'), learner('b', { away: 302 * S }), learner('c')], 'promote c (stable-learner) → 3'],
    ['a voter unreachable for less than dead-after keeps its vote', [voter('L'), voter('a'), voter('b', { away: 299 * S }), learner('c')], 'none → 3'],
    ['without a reachable majority nothing changes', [voter('L'), voter('a', { away: 400 * S }), voter('b', { away: 400 * S }), learner('c')], 'none [no-quorum] → 1'],
    ['two dead voters of five: the one gone longest goes first', [voter('L'), voter('a'), voter('b'), voter('c', { away: 400 * S }), voter('d', { away: 900 * S })], 'demote d (dead-voter) → 3'],
    ['surplus voters wait while a learner is catching up', [voter('L'), voter('a'), learner('b', { healthyFor: null })], 'none [settling] → 1'],
    ['surplus voters wait while a learner is briefly unreachable', [voter('L'), voter('a'), learner('b', { away: 20 * S })], 'none [settling] → 1'],
    ['a learner dead past dead-after does not hold anything up', [voter('L'), voter('a'), learner('b', { away: 600 * S })], 'demote a (over-target) → 1'],
    ['the leader is never the one demoted', [voter('L', { match: 1 }), voter('a', { match: 500 }), voter('b', { match: 400 }), voter('c', { match: 300 })], 'demote c (over-target) → 3'],
    ['an unreachable surplus voter goes before a reachable one', [voter('L'), voter('a', { match: 1 }), voter('b', { away: 5 * S, match: 900 }), voter('c')], 'demote b (over-target) → 3'],
    ['a target of three caps five healthy voters', [voter('L'), voter('a'), voter('b'), voter('c', { match: 7 }), voter('d')], 'demote c (over-target) → 3', { targetVoters: 3 }],
    ['a target of one keeps the leader alone', [voter('L'), learner('a'), learner('b')], 'none → 1', { targetVoters: 1 }],
  ];
  it.each(table)('%s', (_name, members, expected, settings) => {
    expect(brief(decide(members, { ...AUTOPILOT_DEFAULTS, ...settings }))).toBe(expected);
  });

  it('a surplus voter waits until the configuration has been unchanged for the stabilization time', () => {
    const twoVoters = [voter('L'), voter('a')];
    expect(decide(twoVoters, AUTOPILOT_DEFAULTS, NOW - 4 * S)).toMatchObject({
      kind: 'none',
      hold: 'settling',
      waiting: 'holding: 2 voters where one is wanted, until the configuration has been unchanged for 10 s (6 s to go)',
    });
    expect(brief(decide(twoVoters, AUTOPILOT_DEFAULTS, NOW - 10 * S))).toBe('demote a (over-target) → 1');
    // Promotions and dead voters do not wait for it.
    expect(brief(decide([voter('L'), voter('a'), learner('b')], AUTOPILOT_DEFAULTS, NOW))).toBe('promote b (stable-learner) → 3');
    expect(brief(decide([voter('L'), voter('a'), voter('b', { away: 301 * S })], AUTOPILOT_DEFAULTS, NOW))).toBe('demote b (dead-voter) → 1');
  });

  it('explains each decision with its figures', () => {
    const dead = decide([voter('L'), voter('a'), voter('b', { away: 6 * MIN }), learner('c')]);
    expect(dead.kind === 'change' && dead.explanation).toBe('b has been unreachable for 6 min (dead after 5 min): it no longer counts toward the majority');
    const promote = decide([voter('L'), voter('a'), learner('b', { healthyFor: 12 * S })]);
    expect(promote.kind === 'change' && promote.explanation).toBe('b has been caught up and reachable for 12 s (stabilization 10 s); voters 2 → 3 of 3 wanted');
    const even = decide([voter('L'), voter('a'), voter('b'), voter('c', { match: 1 })]);
    expect(even.kind === 'change' && even.explanation).toBe('4 voters is an even count: 3 tolerate as many failures with a smaller majority; c is the least up to date');
  });

  it('says what a learner on its way to a vote waits for', () => {
    const waiting = decide([voter('L'), learner('a'), learner('b', { healthyFor: 4 * S })]);
    expect(waiting).toMatchObject({ kind: 'none', hold: null, waiting: 'b is caught up; promoted once it has stayed healthy for 10 s (6 s to go)' });
    const behind = decide([voter('L'), learner('a'), learner('b', { healthyFor: null })]);
    expect(behind).toMatchObject({ kind: 'none', waiting: 'b is catching up' });
    expect(decide([voter('L'), voter('a'), voter('b')])).toMatchObject({ kind: 'none', hold: null, waiting: null });
  });

  it('members 1 → 2 → … → 7 keep 1, 1, 3, 3, 5, 5, 5 voters', () => {
    const counts: number[] = [];
    for (let n = 1; n <= 7; n++) {
      // Run the policy to a fixed point from "only the leader votes", applying each change it makes.
      let members = [voter('L'), ...Array.from({ length: n - 1 }, (_, i) => learner(`m${i}`))];
      for (let step = 0; step < 20; step++) {
        const d = decide(members);
        if (d.kind === 'none') break;
        members = members.map((m) => (m.id === d.id ? { ...m, voter: d.op === 'promote' } : m));
      }
      counts.push(members.filter((m) => m.voter).length);
    }
    expect(counts).toEqual([1, 1, 3, 3, 5, 5, 5]);
  });

  it('desiredVoterCount is the largest odd number within both limits', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 9].map((usable) => desiredVoterCount(5, usable))).toEqual([1, 1, 1, 3, 3, 5, 5, 5, 5]);
    expect(desiredVoterCount(3, 10)).toBe(3);
  });

  it('properties: a reachable majority after every change, never the leader demoted, an odd aim, one change only for a reason', () => {
    const shape = fc.record({
      voter: fc.boolean(),
      away: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 * MIN })),
      healthyFor: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 30 * S })),
      match: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(shape, { maxLength: 8 }), fc.constantFrom(1, 3, 5, 7), (shapes, targetVoters) => {
        const members = [voter('L'), ...shapes.map((s, i) => member(`m${i}`, { ...s, healthyFor: s.away === 0 ? s.healthyFor : null }))];
        const settings = { ...AUTOPILOT_DEFAULTS, targetVoters };
        const d = decide(members, settings);
        expect(d.desiredVoters % 2).toBe(1);
        expect(d.desiredVoters).toBeLessThanOrEqual(targetVoters);
        if (d.kind === 'none') return;
        expect(d.id).not.toBe('L');
        const target = members.find((m) => m.id === d.id)!;
        expect(target.voter).toBe(d.op === 'demote');
        const after = members.map((m) => (m.id === d.id ? { ...m, voter: d.op === 'promote' } : m)).filter((m) => m.voter);
        expect(after.filter((m) => m.reachable).length).toBeGreaterThanOrEqual(quorumSize(after.length));
        if (d.op === 'promote') expect(target.healthySince !== null && NOW - target.healthySince >= settings.stabilizeMs).toBe(true);
      }),
      { numRuns: 3000, seed: 12 },
    );
  });
});
