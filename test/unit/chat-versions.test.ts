// Version gates (replica/chat/versions.ts): the cluster version recorded in the state, raised only once every member
// supports it; commands above it refused the same on every replica; a replica too old for its cluster stops.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../replica/chat/commands.js';
import { ChatStateMachine, MAX_CLOCK_STEP_MS } from '../../replica/chat/state-machine.js';
import { STATE_SCHEMA_VERSION } from '../../replica/chat/schema.js';
import {
  FIRST_VERSION,
  requiredVersion,
  snapshotUnreadableBy,
  SUPPORTED_VERSION,
  supportedVersion,
  unsupportedReason,
  VERSION_HISTORY,
} from '../../replica/chat/versions.js';
import { ReplicaStopError } from '../../replica/util/replica-stop-error.js';
import { Harness, tempDir, tok } from '../helpers/chat-harness.js';

let h: Harness;
const cleanup: (() => void)[] = [];

beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1', 'r2'], learners: ['r3'] }, ['r1', 'r2', 'r3'].map((id) => ({ id, address: `${id}:1` })));
});
afterEach(() => {
  h.dispose();
  for (const f of cleanup.splice(0)) f();
});

const command = (body: Parameters<typeof encodeCommand>[0]) => h.sm.applyEntries([h.raw(encodeCommand(body))])[0];
const report = (id: string, version: number) => command({ kind: 'memberVersion', at: h.at, id, version });
const raise = (version: number) => command({ kind: 'clusterVersion', at: h.at, version });

describe('the cluster version', () => {
  it('starts at 1; is raised only once every member reported at least that much; is never lowered', () => {
    expect(h.sm.versions()).toEqual({ supported: SUPPORTED_VERSION, cluster: 1, members: new Map() });
    report('r1', 2);
    report('r2', 2);
    expect(raise(2).response).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringMatching(/r3 supports an unreported version/) } });
    report('r3', 1);
    expect(raise(2).response).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringMatching(/r3 supports version 1/) } });
    expect(h.sm.clusterVersion()).toBe(1);
    report('r3', 2);
    expect(raise(2).response).toEqual({ ok: true, result: { clusterVersion: 2 } });
    expect(raise(1).response).toEqual({ ok: true, result: { clusterVersion: 2 } });
    expect(h.sm.versions()).toEqual({ supported: SUPPORTED_VERSION, cluster: 2, members: new Map([['r1', 2], ['r2', 2], ['r3', 2]]) });
    expect(report('r9', 2).response).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    h.reopen();
    expect(h.sm.clusterVersion()).toBe(2);
  });

  it('below version 2, its commands are refused the same on every replica and change nothing, not even the clock', () => {
    h.user('ann');
    h.user('bob');
    const clock = h.sm.appliedClock();
    const hash = h.sm.stateHash('chat');
    const refusedClock = command({ kind: 'clock', at: clock + 5000 });
    expect(refusedClock.response).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_BY_CLUSTER' } });
    const stamped = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-s', seq: 1, startIndex: 2, at: clock + 9000 });
    expect(stamped.response).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_BY_CLUSTER', message: 'update every member to use session expiry (it needs Quorum version 2; the cluster runs version 1)' } });
    expect(stamped.session).toEqual({ clientId: 'client-s', seq: 1, startIndex: 2 });
    // A command of a version this build does not even know is refused too (it does not run in this cluster yet).
    const future = h.applyRaw(JSON.stringify({ kind: 'createGroup', at: clock + 9000, v: SUPPORTED_VERSION + 1, name: 'team' }));
    expect(future.response).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED_BY_CLUSTER', message: `update every member to use Quorum version ${SUPPORTED_VERSION + 1} (it needs Quorum version ${SUPPORTED_VERSION + 1}; the cluster runs version 1)` } });
    expect(h.sm.appliedClock()).toBe(clock);
    expect(h.sm.stateHash('chat')).toBe(hash);
    expect(h.sm.sessionResponse('client-s', 1)).toBeNull();
  });

  it('below version 2 the clock is not bounded (the older rule); from 2 on it is', () => {
    h.user('ann');
    const clock = h.sm.appliedClock();
    h.apply({ kind: 'delivered', tokenHash: tok('ann'), upTo: 1 }, { at: clock + 10 * MAX_CLOCK_STEP_MS });
    expect(h.sm.appliedClock()).toBe(clock + 10 * MAX_CLOCK_STEP_MS);
    for (const id of ['r1', 'r2', 'r3']) report(id, 2);
    raise(2);
    const now = h.sm.appliedClock();
    h.apply({ kind: 'delivered', tokenHash: tok('ann'), upTo: 1 }, { at: now + 10 * MAX_CLOCK_STEP_MS });
    expect(h.sm.appliedClock()).toBe(now + MAX_CLOCK_STEP_MS);
  });
});

describe('a replica older than its cluster', () => {
  function capped(dir: string): ChatStateMachine {
    return ChatStateMachine.open(dir, { supportedVersion: 1 });
  }

  it('stops at the entry that raises the cluster version past what it supports, applying nothing of it', () => {
    const dir = tempDir('quorum-capped-');
    const old = capped(dir);
    cleanup.push(() => {
      old.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    old.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
    const entries = [
      { index: 2, term: 1, type: 'normal' as const, data: encodeCommand({ kind: 'memberVersion', at: 1, id: 'r1', version: 2 }) },
      { index: 3, term: 1, type: 'normal' as const, data: encodeCommand({ kind: 'clusterVersion', at: 1, version: 2 }) },
    ];
    expect(() => old.applyEntries(entries)).toThrow(ReplicaStopError);
    expect(() => old.applyEntries(entries)).toThrow(/the cluster moved to Quorum version 2, but this replica supports only version 1: upgrade this replica/);
    expect(old.applied().index).toBe(1);
    expect(old.clusterVersion()).toBe(1);
  });

  it('refuses to open a data folder, or install a snapshot, of a cluster that runs a newer version', async () => {
    for (const id of ['r1', 'r2', 'r3']) report(id, 2);
    raise(2);
    const file = path.join(tempDir('quorum-snap-'), 'snap.db');
    cleanup.push(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
    await h.sm.snapshotTo(file);
    h.sm.close();
    expect(() => capped(h.dir)).toThrow(/runs Quorum version 2, but this replica supports only version 1: upgrade this replica/);
    h.sm = ChatStateMachine.open(h.dir);
    const target = tempDir('quorum-capped-');
    cleanup.push(() => fs.rmSync(target, { recursive: true, force: true }));
    const old = capped(target);
    expect(() => old.restoreFrom(file)).toThrow(ReplicaStopError);
  });
});

describe('versions a replica supports, and what the leader says when a command needs more', () => {
  it('reads QUORUM_MAX_VERSION, refusing what this build does not know', () => {
    expect(supportedVersion({})).toBe(SUPPORTED_VERSION);
    expect(supportedVersion({ QUORUM_MAX_VERSION: '1' })).toBe(1);
    expect(() => supportedVersion({ QUORUM_MAX_VERSION: '0' })).toThrow(/QUORUM_MAX_VERSION=0: this Quorum supports versions 1 to/);
    expect(() => supportedVersion({ QUORUM_MAX_VERSION: 'new' })).toThrow(/QUORUM_MAX_VERSION/);
    // Empty is unset; the newest this build knows is allowed; one past it, or a fraction, is not.
    expect(supportedVersion({ QUORUM_MAX_VERSION: '' })).toBe(SUPPORTED_VERSION);
    expect(supportedVersion({ QUORUM_MAX_VERSION: String(SUPPORTED_VERSION) })).toBe(SUPPORTED_VERSION);
    expect(() => supportedVersion({ QUORUM_MAX_VERSION: String(SUPPORTED_VERSION + 1) })).toThrow(
      `QUORUM_MAX_VERSION=${SUPPORTED_VERSION + 1}: this Quorum supports versions 1 to ${SUPPORTED_VERSION}`,
    );
    expect(() => supportedVersion({ QUORUM_MAX_VERSION: '1.5' })).toThrow(/QUORUM_MAX_VERSION=1.5/);
  });

  it('says, for every version, what it added and what a refusal calls it', () => {
    for (let v = FIRST_VERSION; v <= SUPPORTED_VERSION; v++) {
      expect(VERSION_HISTORY[v]?.adds, `version ${v}`).toMatch(/\w{4}/);
      expect(VERSION_HISTORY[v]?.feature, `version ${v}`).toMatch(/\w{4}/);
    }
    expect(Object.keys(VERSION_HISTORY).map(Number)).toEqual(Array.from({ length: SUPPORTED_VERSION }, (_, i) => i + 1));
  });

  it("a command needs its kind's version, or 2 for a session stamped with its start index", () => {
    const session = { clientId: 'c', seq: 1 };
    expect(requiredVersion({ kind: 'send', at: 1, session, tokenHash: tok('a'), to: 'b', text: 'x' })).toBe(1);
    expect(requiredVersion({ kind: 'send', at: 1, session: { ...session, startIndex: 4 }, tokenHash: tok('a'), to: 'b', text: 'x' })).toBe(2);
    expect(requiredVersion({ kind: 'edit', at: 1, session: { ...session, startIndex: 4 }, tokenHash: tok('a'), messageId: 5, text: 'x' })).toBe(3);
    expect(requiredVersion({ kind: 'clock', at: 1 })).toBe(2);
    expect(requiredVersion({ kind: 'send', at: 1, session: undefined, tokenHash: tok('a'), to: 'b', text: 'x' } as never)).toBe(1);
  });

  it('names the replicas to upgrade', () => {
    const reported = new Map([
      ['r1', 2],
      ['r2', 2],
      ['r3', 1],
    ]);
    expect(unsupportedReason(2, 1, ['r1', 'r2', 'r3', 'r4'], reported)).toBe(
      'update every member to use session expiry (it needs Quorum version 2; the cluster runs version 1); ' +
        'still to update: r3 (version 1), r4 (version 1 or unreported)',
    );
    // Everyone reported enough: the leader is about to raise the cluster version.
    expect(unsupportedReason(3, 2, ['r1', 'r2'], new Map([['r1', 3], ['r2', 3]]))).toBe(
      'update every member to use groups, message edits and search (it needs Quorum version 3; the cluster runs version 2); ' +
        'the cluster version is being raised: retry shortly',
    );
  });

  it('withholds a snapshot only from a peer whose release cannot read its schema and that can still rejoin', () => {
    const withheld = (peerVersion: number | undefined, schema: number, cluster: number) => snapshotUnreadableBy('r2', peerVersion, schema, cluster);
    // Versions 1 and 2 read schema 4 at most; version 3 reads 7.
    expect(withheld(2, 7, 2)).toBe(
      "r2 supports version 2, whose release cannot read this replica's state format (schema 7): it catches up once updated (or from a leader of its release)",
    );
    expect(withheld(1, 5, 1)).toMatch(/^r2 supports version 1, .*\(schema 5\)/);
    expect(withheld(2, 4, 2)).toBeNull();
    expect(withheld(1, 4, 1)).toBeNull();
    expect(withheld(3, 7, 3)).toBeNull();
    expect(withheld(3, STATE_SCHEMA_VERSION, 2)).toBeNull();
    // A version not known yet: not withheld.
    expect(withheld(undefined, 7, 2)).toBeNull();
    // The cluster already runs past the peer: it can never rejoin, so it is sent the snapshot (and stops with a line).
    expect(withheld(2, 7, 3)).toBeNull();
    // Equal versions are not past it.
    expect(withheld(1, 7, 1)).not.toBeNull();
    // A newer release than this build reads what this build writes; an unknown older one (0) reads nothing.
    expect(withheld(SUPPORTED_VERSION + 1, 9, SUPPORTED_VERSION)).toBeNull();
    expect(withheld(0, 1, 0)).not.toBeNull();
  });
});
