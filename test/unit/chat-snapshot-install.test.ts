// installSnapshot (replica/chat/snapshot.ts) against the crash images it must survive: an old state whose newest
// writes are only in its WAL, an install that stops before its rename, stale WAL files (of another database) beside
// the target or the staged copy, a file with no meta row. Real SQLite files, copied as a crash would leave them.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installSnapshot, snapshotMetaOf } from '../../replica/chat/snapshot.js';
import { STATE_SCHEMA_VERSION } from '../../replica/chat/schema.js';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { Harness, tempDir } from '../helpers/chat-harness.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0)) f();
});

function dir(): string {
  const d = tempDir('quorum-install-');
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A state with `users` signed up and one message each, its open transaction committed (the rows in its WAL). */
function state(users: string[]): Harness {
  const h = new Harness();
  cleanup.push(() => h.dispose());
  h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
  for (const u of users) h.user(u);
  for (const u of users) h.send(u, users[0], `hello from ${u}`);
  h.sm.commitGroup();
  return h;
}

/** Copies a state's files as a crash at this instant would leave them (main file and WAL, the WAL not checkpointed). */
function crashImage(h: Harness, into = dir()): string {
  expect(fs.statSync(path.join(h.dir, 'state.db-wal')).size).toBeGreaterThan(0);
  for (const f of ['state.db', 'state.db-wal']) fs.copyFileSync(path.join(h.dir, f), path.join(into, f));
  return into;
}

/** Opens a data folder's state and returns its hash and accounts, then closes it. */
function read(dataDir: string, ...users: string[]): { hash: string; accounts: boolean[] } {
  const sm = ChatStateMachine.open(dataDir);
  try {
    return { hash: sm.stateHash(), accounts: users.map((u) => sm.account(u) !== null) };
  } finally {
    sm.close();
  }
}

async function snapshotOf(h: Harness): Promise<string> {
  const file = path.join(dir(), 'snap.db');
  await h.sm.snapshotTo(file);
  return file;
}

describe('installSnapshot', () => {
  it('replaces an old state whose newest writes are only in its WAL', async () => {
    const source = state(['ann', 'bob']);
    const file = await snapshotOf(source);
    const target = crashImage(state(['zed']));
    installSnapshot(file, target);
    expect(read(target, 'ann', 'zed')).toEqual({ hash: source.sm.stateHash(), accounts: [true, false] });
    expect(fs.readdirSync(target).sort()).toEqual(['state.db']);
  });

  it('stopped before its rename (a crash), leaves the old state whole, WAL rows included', async () => {
    const file = await snapshotOf(state(['ann']));
    const old = state(['zed', 'yan']);
    const target = crashImage(old);
    const rename = vi.spyOn(fs, 'renameSync').mockImplementationOnce(() => {
      throw new Error('crash before the rename');
    });
    expect(() => installSnapshot(file, target)).toThrow('crash before the rename');
    expect(rename).toHaveBeenCalledOnce();
    expect(read(target, 'zed', 'yan', 'ann')).toEqual({ hash: old.sm.stateHash(), accounts: [true, true, false] });
    // The next install, after the restart, completes.
    installSnapshot(file, target);
    expect(read(target, 'ann', 'zed').accounts).toEqual([true, false]);
  });

  it('is not fooled by a stale WAL of another database beside the target or the staged copy', async () => {
    const source = state(['ann']);
    const file = await snapshotOf(source);
    const stale = crashImage(state(['mal', 'eve', 'oz']));
    // No state.db, only another database's WAL where state.db's would be; and a half-staged copy with its own.
    const target = dir();
    fs.copyFileSync(path.join(stale, 'state.db-wal'), path.join(target, 'state.db-wal'));
    fs.copyFileSync(path.join(stale, 'state.db'), path.join(target, 'state.db.restore'));
    fs.copyFileSync(path.join(stale, 'state.db-wal'), path.join(target, 'state.db.restore-wal'));
    installSnapshot(file, target);
    expect(read(target, 'ann', 'mal')).toEqual({ hash: source.sm.stateHash(), accounts: [true, false] });
  });

  it('refuses a file with no meta row, leaving the target alone and nothing staged', async () => {
    const old = state(['zed']);
    old.sm.close();
    old.sm = ChatStateMachine.open(old.dir);
    const before = old.sm.stateHash();
    old.sm.close();
    const bogus = path.join(dir(), 'no-meta.db');
    const db = new Database(bogus);
    db.exec('CREATE TABLE meta (id INTEGER PRIMARY KEY, applied_index INTEGER, applied_term INTEGER, conf TEXT, last_at INTEGER)');
    db.pragma(`user_version = ${STATE_SCHEMA_VERSION}`);
    db.close();
    expect(() => installSnapshot(bogus, old.dir)).toThrow(`snapshot ${bogus}: no meta row`);
    expect(fs.existsSync(path.join(old.dir, 'state.db.restore'))).toBe(false);
    old.sm = ChatStateMachine.open(old.dir);
    expect(old.sm.stateHash()).toBe(before);
  });

  it("a state that never applied a configuration has an empty one in its snapshot's metadata", () => {
    expect(snapshotMetaOf({ applied_index: 3, applied_term: 2, conf: null } as never)).toEqual({ index: 3, term: 2, conf: { voters: [], learners: [] } });
    expect(snapshotMetaOf({ applied_index: 9, applied_term: 4, conf: '{"voters":["a"],"learners":["b"]}' } as never)).toEqual({
      index: 9,
      term: 4,
      conf: { voters: ['a'], learners: ['b'] },
    });
  });
});

