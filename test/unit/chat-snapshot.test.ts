import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { Harness, tempDir, tok } from '../helpers/chat-harness.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function harness(): Harness {
  const h = new Harness();
  cleanup.push(() => h.dispose());
  return h;
}

function populated(): Harness {
  const h = harness();
  h.sm.bootstrap({ voters: ['n1'], learners: [] }, [{ id: 'n1', address: 'h1:1' }]);
  h.user('ann');
  h.user('bob');
  for (let i = 0; i < 50; i++) h.send(i % 2 ? 'ann' : 'bob', i % 2 ? 'bob' : 'ann', `message ${i}`);
  h.ok({ kind: 'read', tokenHash: tok('bob'), limit: 10 });
  return h;
}

describe('snapshots', () => {
  it('snapshotTo writes a consistent, self-contained copy and returns its metadata', async () => {
    const h = populated();
    const out = tempDir('quorum-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const file = path.join(out, 'snap.db');
    const meta = await h.sm.snapshotTo(file);
    expect(meta).toEqual({ index: h.sm.applied().index, term: 1, conf: { voters: ['n1'], learners: [] } });
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    db.close();

    const target = tempDir('quorum-restore-');
    cleanup.push(() => fs.rmSync(target, { recursive: true, force: true }));
    expect(ChatStateMachine.restoreFrom(file, target)).toEqual(meta);
    const restored = ChatStateMachine.open(target);
    expect(restored.stateHash()).toBe(h.sm.stateHash());
    expect(restored.applied()).toEqual(h.sm.applied());
    expect(restored.conf()).toEqual(h.sm.conf());
    restored.close();
  });

  it('keeps applying while the backup runs; the copy is a state some prefix of the log produced', async () => {
    const h = populated();
    // Big enough that the backup takes several steps (100 pages each) with the event loop running in between.
    const big = [];
    for (let i = 0; i < 1500; i++) big.push(h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x'.repeat(1000) }));
    h.sm.applyEntries(big);
    const start = h.sm.applied().index;
    const out = tempDir('quorum-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const file = path.join(out, 'snap.db');
    const p = h.sm.snapshotTo(file);
    const hashes = new Map<number, string>([[h.sm.applied().index, h.sm.stateHash()]]);
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setImmediate(r));
      h.send('ann', 'bob', `during ${i}`);
      hashes.set(h.sm.applied().index, h.sm.stateHash());
    }
    const meta = await p;
    expect(meta.index).toBeGreaterThan(start); // writes during the backup were folded into the copy
    const target = tempDir('quorum-restore-');
    cleanup.push(() => fs.rmSync(target, { recursive: true, force: true }));
    ChatStateMachine.restoreFrom(file, target);
    const restored = ChatStateMachine.open(target);
    expect(restored.applied().index).toBe(meta.index);
    expect(restored.stateHash()).toBe(hashes.get(meta.index));
    restored.close();
  });

  it('the instance restoreFrom replaces a live state (with a WAL) and reopens', async () => {
    const src = populated();
    const out = tempDir('quorum-snap-');
    cleanup.push(() => fs.rmSync(out, { recursive: true, force: true }));
    const file = path.join(out, 'snap.db');
    const meta = await src.sm.snapshotTo(file);

    const dst = harness();
    dst.user('zed');
    dst.send('zed', 'zed', 'will be replaced');
    expect(fs.existsSync(path.join(dst.dir, 'state.db-wal'))).toBe(true);
    expect(dst.sm.restoreFrom(file)).toEqual(meta);
    expect(dst.sm.stateHash()).toBe(src.sm.stateHash());
    expect(dst.sm.account('zed')).toBeNull();
    expect(fs.existsSync(path.join(dst.dir, 'state.db.restore'))).toBe(false);
    // It keeps applying from the snapshot on, like the source.
    const next = src.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'after snapshot' });
    expect(src.sm.applyEntries([next])[0].response.ok).toBe(true);
    expect(dst.sm.applyEntries([next])[0].response.ok).toBe(true);
    dst.reopen();
    expect(dst.sm.stateHash()).toBe(src.sm.stateHash());
  });

  it('refuses a file that is not a state snapshot and leaves the state alone', () => {
    const h = populated();
    const bogus = path.join(h.dir, 'bogus.db');
    const db = new Database(bogus);
    db.exec('CREATE TABLE x (y)');
    db.close();
    const hash = h.sm.stateHash();
    expect(() => h.sm.restoreFrom(bogus)).toThrow(/schema version/);
    expect(h.sm.stateHash()).toBe(hash);
    fs.writeFileSync(bogus, 'not a database at all');
    expect(() => h.sm.restoreFrom(bogus)).toThrow();
    expect(h.sm.stateHash()).toBe(hash);
  });
});
