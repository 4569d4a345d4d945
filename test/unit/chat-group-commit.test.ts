// The state database commits applied batches in groups (GROUP_COMMIT_MS / GROUP_COMMIT_ENTRIES): what another
// connection (or a restart after a crash) sees is always a committed prefix, and everything is committed before the
// file is copied, checkpointed or closed.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatStateMachine, GROUP_COMMIT_MS } from '../../replica/chat/state-machine.js';
import { Harness, tempDir, tok } from '../helpers/chat-harness.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const f of cleanup.splice(0)) f();
});

/** The applied index another connection reads from the file (what a restart after a crash would find). */
function onDisk(dir: string): number {
  const db = new Database(path.join(dir, 'state.db'), { readonly: true });
  try {
    return (db.prepare('SELECT applied_index AS i FROM meta').get() as { i: number }).i;
  } finally {
    db.close();
  }
}

describe('state database group commit', () => {
  it('holds applies in one transaction until it is old enough, then commits them together', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const h = new Harness();
    cleanup.push(() => h.dispose());
    h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
    const before = onDisk(h.dir);
    h.user('ann');
    h.user('bob');
    h.send('ann', 'bob', 'hello');
    // Reads on the replica's own connection see everything applied; the file does not have it yet.
    expect(h.sm.history(h.sm.account('bob')!.id, 'ann', 10).length).toBe(1);
    expect(onDisk(h.dir)).toBe(before);
    h.sm.maybeCommitGroup();
    expect(onDisk(h.dir)).toBe(before);
    vi.advanceTimersByTime(GROUP_COMMIT_MS);
    h.sm.maybeCommitGroup();
    expect(onDisk(h.dir)).toBe(h.sm.applied().index);
  });

  it('after a crash the file holds a committed prefix, and replaying the rest gives the same state', () => {
    const a = new Harness();
    cleanup.push(() => a.dispose());
    a.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
    a.user('ann');
    a.user('bob');
    a.sm.commitGroup();
    const committed = a.sm.applied().index;
    const later = [];
    for (let i = 0; i < 20; i++) later.push(a.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: `m${i}` }));
    a.sm.applyEntries(later);
    // "Crash": copy the files as they are on disk while the group transaction is still open.
    const crashed = tempDir('quorum-crash-');
    cleanup.push(() => fs.rmSync(crashed, { recursive: true, force: true }));
    for (const f of ['state.db', 'state.db-wal']) if (fs.existsSync(path.join(a.dir, f))) fs.copyFileSync(path.join(a.dir, f), path.join(crashed, f));
    const b = ChatStateMachine.open(crashed);
    try {
      expect(b.applied().index).toBe(committed);
      b.applyEntries(later);
      expect(b.stateHash()).toBe(a.sm.stateHash());
    } finally {
      b.close();
    }
  });

  it('commits before a snapshot copy, a checkpoint and close', async () => {
    const h = new Harness();
    cleanup.push(() => h.dispose());
    h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
    h.user('ann');
    const out = tempDir('quorum-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const meta = await h.sm.snapshotTo(path.join(out, 'snap.db'));
    expect(meta.index).toBe(h.sm.applied().index);
    expect(onDisk(h.dir)).toBe(h.sm.applied().index);
    h.user('bob');
    h.sm.makeDurable();
    expect(onDisk(h.dir)).toBe(h.sm.applied().index);
    h.user('cat');
    const last = h.sm.applied().index;
    h.sm.close();
    expect(onDisk(h.dir)).toBe(last);
    h.sm = ChatStateMachine.open(h.dir);
  });
});
