/** Brings a state database (a data folder's or a snapshot's) to the current schema version (PRAGMA user_version). */
import type { Db } from '../storage/sqlite.js';
import { VersionStopError } from '../util/replica-stop-error.js';
import { MIGRATIONS, STATE_SCHEMA, STATE_SCHEMA_VERSION } from './schema.js';

/** The versions migrateSchema can open: 0 (a new file) up to STATE_SCHEMA_VERSION. */
export function isKnownSchemaVersion(version: unknown): boolean {
  return typeof version === 'number' && Number.isInteger(version) && version >= 0 && version <= STATE_SCHEMA_VERSION;
}

/**
 * Creates the schema in a new file or brings a file of an older version up to STATE_SCHEMA_VERSION, in one
 * transaction (a crash leaves the old version, migrated again at the next open). Refuses unknown versions.
 */
export function migrateSchema(db: Db, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === STATE_SCHEMA_VERSION) {
    db.exec(STATE_SCHEMA);
    return;
  }
  if (version > STATE_SCHEMA_VERSION) {
    throw new VersionStopError(`${file}: state.db schema version ${version} is newer than this Quorum understands (${STATE_SCHEMA_VERSION}); upgrade this replica`);
  }
  if (!isKnownSchemaVersion(version)) throw new Error(`${file}: unknown state.db schema version ${version}`);
  db.transaction(() => {
    // A new file (version 0) gets the whole schema below; an older one each migration from its version on.
    if (version > 0) for (let from = version; from < STATE_SCHEMA_VERSION; from++) db.exec(MIGRATIONS[from]);
    db.exec(STATE_SCHEMA);
    db.pragma(`user_version = ${STATE_SCHEMA_VERSION}`);
  })();
}
