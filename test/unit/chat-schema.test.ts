// Opening a state database of each kind of version (replica/chat/migration.ts): known versions, a new file, a newer
// release's file (a one-line stop that says to upgrade) and a version no release wrote.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { isKnownSchemaVersion, migrateSchema } from '../../replica/chat/migration.js';
import { STATE_SCHEMA_VERSION } from '../../replica/chat/schema.js';
import { VersionStopError } from '../../replica/util/replica-stop-error.js';

const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

function dbAt(version: number): Database.Database {
  const db = new Database(':memory:');
  open.push(db);
  db.pragma(`user_version = ${version}`);
  return db;
}

describe('state.db schema versions', () => {
  it('knows 0 (a new file) up to the current version, whole numbers only', () => {
    expect([0, 1, STATE_SCHEMA_VERSION].map(isKnownSchemaVersion)).toEqual([true, true, true]);
    expect([-1, STATE_SCHEMA_VERSION + 1, 2.5, '3', null, undefined, NaN].map(isKnownSchemaVersion)).toEqual([false, false, false, false, false, false, false]);
  });

  it('creates the whole schema in a new file, and leaves a current one at its version', () => {
    const db = dbAt(0);
    migrateSchema(db, 'new.db');
    expect(db.pragma('user_version', { simple: true })).toBe(STATE_SCHEMA_VERSION);
    expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'accounts', 'groups')").pluck().get()).toBe(3);
    migrateSchema(db, 'new.db');
    expect(db.pragma('user_version', { simple: true })).toBe(STATE_SCHEMA_VERSION);
  });

  it("stops on a newer release's file with the line that says to upgrade; refuses a version no release wrote", () => {
    const newer = STATE_SCHEMA_VERSION + 1;
    let stop: unknown;
    try {
      migrateSchema(dbAt(newer), '/data/state.db');
    } catch (err) {
      stop = err;
    }
    expect(stop).toBeInstanceOf(VersionStopError);
    expect((stop as Error).message).toBe(
      `/data/state.db: state.db schema version ${newer} is newer than this Quorum understands (${STATE_SCHEMA_VERSION}); upgrade this replica`,
    );
    let unknown: unknown;
    try {
      migrateSchema(dbAt(-1), '/data/state.db');
    } catch (err) {
      unknown = err;
    }
    expect(unknown).not.toBeInstanceOf(VersionStopError);
    expect((unknown as Error).message).toBe('/data/state.db: unknown state.db schema version -1');
  });
});
