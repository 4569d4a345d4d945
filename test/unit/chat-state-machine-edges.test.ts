// The chat state machine (replica/chat/state-machine.ts) at its edges: bootstrap once, forced configurations,
// durability before log compaction (a reader on an older snapshot), entries handed over again, an apply that hits a
// constraint (a deterministic refusal) and what must stop a replica instead, commits while a snapshot is copied, the
// clock's first value, and a closed state.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeCommand } from '../../replica/chat/commands.js';
import { ChatStateMachine, clampClock, GROUP_COMMIT_ENTRIES, isEnvironmentalError, MAX_CLOCK_STEP_MS } from '../../replica/chat/state-machine.js';
import { Harness, pw, tempDir, tok } from '../helpers/chat-harness.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
});
afterEach(() => {
  vi.useRealTimers();
  h.dispose();
});

const boot = () => h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);

/** The applied index another connection reads from the file (what a restart after a crash would find). */
function onDisk(): number {
  const db = new Database(path.join(h.dir, 'state.db'), { readonly: true });
  try {
    return (db.prepare('SELECT applied_index AS i FROM meta').get() as { i: number }).i;
  } finally {
    db.close();
  }
}

describe('the state machine at its edges', () => {
  it('bootstraps once, and not after anything was applied', () => {
    boot();
    expect(() => boot()).toThrow('bootstrap: the state machine already has a configuration');
    const other = new Harness();
    try {
      other.sm.applyEntries([other.raw('')]);
      expect(() => other.sm.bootstrap({ voters: ['n1'], learners: [] }, [])).toThrow('bootstrap: the state machine already has a configuration');
    } finally {
      other.dispose();
    }
  });

  it('forceConf replaces the configuration and keeps the state, across a restart', () => {
    boot();
    h.user('ann');
    h.sm.forceConf({ voters: ['n9'], learners: [] });
    expect(h.sm.conf()).toEqual({ voters: ['n9'], learners: [] });
    h.reopen();
    expect(h.sm.conf()).toEqual({ voters: ['n9'], learners: [] });
    expect(h.sm.account('ann')).not.toBeNull();
  });

  it('makeDurable is false while another connection reads an older snapshot (the log must not be compacted), true after', () => {
    boot();
    h.user('ann');
    expect(h.sm.makeDurable()).toBe(true);
    const reader = new Database(path.join(h.dir, 'state.db'), { readonly: true });
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM accounts').get();
      h.user('bob');
      expect(h.sm.makeDurable()).toBe(false);
      reader.exec('COMMIT');
      expect(h.sm.makeDurable()).toBe(true);
    } finally {
      reader.close();
    }
  });

  it('answers an entry handed over again with what it returned, or says that is no longer known', () => {
    boot();
    h.user('ann');
    h.user('bob');
    const send = h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'once' }, { clientId: 'client-x', seq: 1 });
    const noop = h.raw('');
    const clock = h.raw(encodeCommand({ kind: 'clock', at: h.at }));
    const conf = h.raw(JSON.stringify({ op: 'addLearner', id: 'n2', address: 'h2:1' }), 'conf');
    const first = h.sm.applyEntries([send, noop, clock, conf]);
    expect(first[1]).toEqual({ index: noop.index, response: { ok: true, result: null }, events: [] });
    const hash = h.sm.stateHash();
    const again = h.sm.applyEntries([send, noop, clock, conf]);
    expect(again[0]).toEqual({ ...first[0], events: [] });
    expect(again[1]).toEqual({ index: noop.index, response: { ok: true, result: null }, events: [] });
    for (const [i, entry] of [
      [2, clock],
      [3, conf],
    ] as const) {
      expect(again[i]).toEqual({
        index: entry.index,
        response: { ok: false, error: { code: 'INTERNAL', message: `entry ${entry.index} was applied before; its response is no longer known` } },
        events: [],
      });
    }
    expect(h.sm.stateHash()).toBe(hash);
  });

  it('an apply that breaks a constraint is refused the same everywhere (INTERNAL) and changes nothing; the next applies', () => {
    boot();
    h.user('ann');
    h.user('bob');
    h.sm.commitGroup();
    const entry = h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'clash' }, { clientId: 'client-y', seq: 1 });
    // A row already holding the id this send would take (as a bug in an earlier apply could leave one).
    const db = new Database(path.join(h.dir, 'state.db'));
    db.prepare('INSERT INTO messages (id, from_id, to_id, text, sent_at) VALUES (?, 1, 1, ?, 0)').run(entry.index, 'squatter');
    db.close();
    const hash = h.sm.stateHash('chat');
    const [o] = h.sm.applyEntries([entry]);
    expect(o).toEqual({
      index: entry.index,
      session: { clientId: 'client-y', seq: 1 },
      response: { ok: false, error: { code: 'INTERNAL', message: 'apply failed: UNIQUE constraint failed: messages.id' } },
      events: [],
    });
    expect(h.sm.stateHash('chat')).toBe(hash);
    expect(h.sm.applied().index).toBe(entry.index);
    expect(h.send('ann', 'bob', 'next')).toBeGreaterThan(entry.index);
  });

  it('refusals decided before a command runs carry no pushes: malformed, newer than this build, above the cluster version', () => {
    boot();
    h.user('ann');
    const session = { clientId: 'client-z', seq: 1 };
    const malformed = h.raw(JSON.stringify({ kind: 'send', at: h.at, session, tokenHash: tok('ann'), to: 'bob' }));
    const newer = h.raw(JSON.stringify({ kind: 'teleport', at: h.at, v: 99, session: { ...session, seq: 2 } }));
    const above = h.entry({ kind: 'edit', tokenHash: tok('ann'), messageId: 1, text: 'x' }, { clientId: 'client-z', seq: 3 });
    const [a, b, c] = h.sm.applyEntries([malformed, newer, above]);
    expect(a).toEqual({ index: malformed.index, session, response: { ok: false, error: { code: 'INVALID', message: expect.any(String) } }, events: [] });
    expect(b).toEqual({
      index: newer.index,
      session: { ...session, seq: 2 },
      response: { ok: false, error: { code: 'UNSUPPORTED_BY_CLUSTER', message: expect.stringContaining('Quorum version 99') } },
      events: [],
    });
    expect(c).toEqual({
      index: above.index,
      session: { ...session, seq: 3 },
      response: { ok: false, error: { code: 'UNSUPPORTED_BY_CLUSTER', message: expect.stringContaining('it needs Quorum version 3; the cluster runs version 1') } },
      events: [],
    });
  });

  it(`commits once ${GROUP_COMMIT_ENTRIES} entries are applied in a group, however little time passed`, () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    boot();
    h.sm.commitGroup();
    const start = onDisk();
    const batch = () => Array.from({ length: 1000 }, () => h.raw(''));
    for (let i = 0; i < GROUP_COMMIT_ENTRIES / 1000 - 1; i++) h.sm.applyEntries(batch());
    const noops = Array.from({ length: 999 }, () => h.raw(''));
    h.sm.applyEntries(noops);
    expect(onDisk()).toBe(start);
    h.sm.applyEntries([h.raw('')]);
    expect(onDisk()).toBe(start + GROUP_COMMIT_ENTRIES);
  });

  it('restoreFrom (static) installs a snapshot into a folder no instance has open, returning its metadata', async () => {
    boot();
    h.user('ann');
    const out = tempDir('quorum-snap-');
    const target = tempDir('quorum-restore-');
    try {
      const meta = await h.sm.snapshotTo(path.join(out, 'snap.db'));
      expect(ChatStateMachine.restoreFrom(path.join(out, 'snap.db'), target)).toEqual(meta);
      const restored = ChatStateMachine.open(target);
      expect(restored.stateHash()).toBe(h.sm.stateHash());
      restored.close();
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
      fs.rmSync(target, { recursive: true, force: true });
    }
  });

  it('SQLite errors of this machine (disk, locks, corruption) stop the replica; a constraint does not', () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_BUSY', 'SQLITE_CORRUPT']) {
      expect(isEnvironmentalError(new Database.SqliteError('x', code)), code).toBe(true);
    }
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT']) {
      expect(isEnvironmentalError(new Database.SqliteError('x', code)), code).toBe(false);
    }
    expect(isEnvironmentalError(new Error('SQLITE_FULL'))).toBe(false);
  });

  it('commits every apply at once while a snapshot is being copied, in groups again after', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    boot();
    h.user('ann');
    const out = tempDir('quorum-snap-');
    const copying = h.sm.snapshotTo(path.join(out, 'snap.db'));
    h.user('bob');
    expect(onDisk()).toBe(h.sm.applied().index);
    await copying;
    fs.rmSync(out, { recursive: true, force: true });
    h.user('cy');
    expect(onDisk()).toBeLessThan(h.sm.applied().index);
  });

  it('the first command sets the clock, however far ahead; after that it moves one step at most', () => {
    expect(clampClock(10 * MAX_CLOCK_STEP_MS, 0, 2)).toBe(10 * MAX_CLOCK_STEP_MS);
    expect(clampClock(10 * MAX_CLOCK_STEP_MS, 1, 2)).toBe(1 + MAX_CLOCK_STEP_MS);
    expect(clampClock(10 * MAX_CLOCK_STEP_MS, 1, 1)).toBe(10 * MAX_CLOCK_STEP_MS);
    expect(clampClock(5, 9, 2)).toBe(9);
  });

  it('pushes to several accounts go in account id order, whatever order their messages came in', () => {
    boot();
    const ids = ['ann', 'bob', 'cy'].map((u) => h.user(u));
    h.send('cy', 'ann', 'first, from the highest id');
    h.send('bob', 'ann', 'then bob');
    h.send('cy', 'ann', 'cy again');
    const [o] = h.sm.applyEntries([h.entry({ kind: 'deleteAccount', tokenHash: tok('ann'), passwordHash: pw('ann') })]);
    const deleted = o.events.filter((e) => (e.frame as { event: string }).event === 'deleted');
    expect(deleted.map((e) => e.toAccount)).toEqual([ids[1], ids[2]]);
    expect(deleted.map((e) => (e.frame as { ids: number[] }).ids.length)).toEqual([1, 2]);
  });

  it('hashes everything by default; a closed state refuses to be used, and closing twice is harmless', () => {
    boot();
    h.user('ann');
    expect(h.sm.stateHash()).toBe(h.sm.stateHash('all'));
    expect(h.sm.stateHash()).not.toBe(h.sm.stateHash('chat'));
    h.sm.close();
    h.sm.close();
    const file = path.join(h.dir, 'state.db');
    expect(() => h.sm.applyEntries([h.raw('')])).toThrow(`${file}: state machine is closed`);
    expect(() => h.sm.makeDurable()).toThrow(`${file}: state machine is closed`);
    h.reopen();
  });
});
