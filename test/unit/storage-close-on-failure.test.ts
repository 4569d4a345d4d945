// A replica that stops on a full disk cannot write its last state when it closes its stores. The close must still
// close the database files (a stop ends with every file closed and the folder unlocked) and report the write's
// failure, instead of leaving the connection open; what the last write held is replayed from the log at restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { isDiskFull } from '../../replica/storage/disk-full.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quorum-close-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const diskFull = () => {
  throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
};

/** The store's database connection (private: the test looks at whether it is still open). */
function connectionOf(store: object, field: string): Database.Database {
  return (store as Record<string, unknown>)[field] as Database.Database;
}

describe('closing a store whose last write fails', () => {
  it('SqliteLogStore: the commit index it kept in memory cannot be written; the file is closed all the same', () => {
    const store = SqliteLogStore.open(dir);
    store.save({ hardState: { term: 1, vote: 'a', commit: 0 }, entries: [{ index: 1, term: 1, type: 'normal', data: 'x' }] });
    store.save({ hardState: { term: 1, vote: 'a', commit: 1 }, entries: [] });
    (store as unknown as { st: { putHard: { run: () => never } } }).st.putHard = { run: diskFull };
    expect(() => store.close()).toThrow(expect.objectContaining({ code: 'SQLITE_FULL' }));
    expect(connectionOf(store, 'db').open).toBe(false);
    const reopened = SqliteLogStore.open(dir);
    expect(reopened.initialState().hardState).toEqual({ term: 1, vote: 'a', commit: 0 });
    expect(reopened.lastIndex()).toBe(1);
    reopened.close();
  });

  it('ChatStateMachine: its group commit fails; the file is closed all the same', () => {
    const sm = ChatStateMachine.open(dir);
    (sm as unknown as { commitGroup: () => never }).commitGroup = diskFull;
    let err: unknown;
    try {
      sm.close();
    } catch (e) {
      err = e;
    }
    expect(isDiskFull(err)).toBe(true);
    expect(connectionOf((sm as unknown as { open: object }).open, 'db').open).toBe(false);
  });
});
