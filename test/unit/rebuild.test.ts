// `replica --rebuild` without a cluster: the arguments it refuses (usage errors), the new id it derives, the refusals
// that leave the data folder as it was (a healthy log, no raft.db, a folder in use, a cluster that does not answer), the
// markers that keep a rebuilt folder to its new id and a backup from ever being started, and an interrupted move
// resumed. The whole rebuild against real replicas: test/cluster/rebuild.test.ts.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseReplicaArgs } from '../../replica/cli/replica.js';
import { UsageError } from '../../replica/cli/usage.js';
import { checkFolderIdentity, nextReplicaId, rebuildDataFolder, RebuildError, type RebuildOptions } from '../../replica/node/rebuild.js';
import { SqliteLogStore } from '../../replica/storage/log-store.js';
import { DataFolderLock } from '../../replica/storage/folder-lock.js';

let root: string;
let dataDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'quorum-rebuild-'));
  dataDir = join(root, 'r2');
  mkdirSync(dataDir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A raft.db of five entries; `damage` alters one byte of entry 3. */
function makeLog(damage: boolean): void {
  const store = SqliteLogStore.open(dataDir);
  store.save({ hardState: { term: 1, vote: 'r1', commit: 5 }, entries: [1, 2, 3, 4, 5].map((index) => ({ index, term: 1, type: 'normal' as const, data: `{"n":${index}}` })) });
  store.close();
  if (!damage) return;
  const db = new Database(join(dataDir, 'raft.db'));
  const [{ name }] = db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'entries_*'").all() as { name: string }[];
  expect(db.prepare(`UPDATE "${name}" SET data = '{"n":7}' WHERE idx = 3`).run().changes).toBe(1);
  db.close();
}

function options(o: Partial<RebuildOptions> = {}): RebuildOptions {
  // Port 1 on loopback: nothing listens, so any cluster request fails (and nothing is changed before one succeeds).
  return { dataDir, oldId: 'r2', newId: 'r2-2', newIdGiven: false, force: false, via: ['127.0.0.1:1'], secret: Buffer.from('s3cret'), log: pino({ level: 'silent' }), timeoutMs: 1000, ...o };
}

async function refusal(o: RebuildOptions): Promise<RebuildError> {
  const err = await rebuildDataFolder(o).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RebuildError);
  return err as RebuildError;
}

// LOCK: the lock file every start (and the rebuild) takes; it holds nothing.
const listing = () => ({ folder: readdirSync(dataDir).filter((n) => n !== 'LOCK').sort(), parent: readdirSync(root).sort() });

describe('replica --rebuild arguments', () => {
  const base = ['--id', 'r2', '--data', '/tmp/x', '--join', '127.0.0.1:7401,127.0.0.1:7403', '--secret-file', '/tmp/s'];

  it('derives the new id from the old one, or takes --new-id', () => {
    expect(nextReplicaId('r2')).toBe('r2-2');
    expect(nextReplicaId('r2-2')).toBe('r2-3');
    expect(nextReplicaId('r2-9')).toBe('r2-10');
    expect(nextReplicaId('desk-a1b2')).toBe('desk-a1b2-2');
    expect(nextReplicaId('x'.repeat(63))).toBeNull();
    expect(parseReplicaArgs([...base, '--rebuild']).rebuild).toEqual({ newId: 'r2-2', newIdGiven: false, force: false });
    expect(parseReplicaArgs([...base, '--rebuild', '--new-id', 'r7', '--force-rebuild']).rebuild).toEqual({ newId: 'r7', newIdGiven: true, force: true });
    expect(parseReplicaArgs(base).rebuild).toBeUndefined();
  });

  it('refuses what does not fit, with a usage error', () => {
    const cases: [string[], RegExp][] = [
      [[...base, '--new-id', 'r7'], /--new-id goes with --rebuild/],
      [[...base, '--force-rebuild'], /--force-rebuild goes with --rebuild/],
      [['--data', '/tmp/x', '--join', '127.0.0.1:7401', '--secret-file', '/tmp/s', '--rebuild'], /--rebuild needs --id/],
      [['--id', 'r2', '--rebuild'], /--rebuild joins the cluster again: give --join/],
      [['--id', 'r2', '--rebuild', '--initial-cluster', 'r1=127.0.0.1:7401,r2=127.0.0.1:7402', '--secret-file', '/tmp/s'], /--rebuild joins the cluster again/],
      [['--id', 'r2', '--rebuild', '--force-new-cluster'], /--rebuild joins the cluster again|exclude/],
      [[...base, '--rebuild', '--new-id', 'r2'], /--new-id must differ from --id r2/],
      [[...base, '--rebuild', '--new-id', 'bad id'], /--new-id "bad id": replica ids are/],
      [['--id', 'x'.repeat(63), '--join', '127.0.0.1:7401', '--secret-file', '/tmp/s', '--rebuild'], /too long to derive a new id from: give one with --new-id/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseReplicaArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseReplicaArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});

describe('rebuildDataFolder refusals change nothing', () => {
  it('a log that passes its checksums: nothing to rebuild (resync, or --force-rebuild)', async () => {
    makeLog(false);
    const before = listing();
    const err = await refusal(options());
    expect(err.code).toBe('INVALID');
    expect(err.message).toBe(
      `${join(dataDir, 'raft.db')} passes its checksums, nothing changed: a replica whose state diverged needs \`cluster resync r2\`; ` +
        'to rebuild anyway (a replica stopped for a log divergence) add --force-rebuild',
    );
    expect(listing()).toEqual(before);
  });

  it('a folder without raft.db, a missing folder, a folder in use', async () => {
    expect((await refusal(options())).message).toMatch(/holds no raft\.db: nothing to rebuild/);
    expect((await refusal(options({ dataDir: join(root, 'nope') }))).message).toMatch(/does not exist: give the data folder of the damaged replica with --data/);
    makeLog(true);
    const lock = DataFolderLock.acquire(dataDir, 'r2');
    try {
      const before = listing();
      const err = await refusal(options());
      expect(err.code).toBe('DATA_FOLDER_IN_USE');
      expect(err.message).toMatch(/is in use by process \d+ \(replica r2/);
      expect(listing()).toEqual(before);
    } finally {
      lock.release();
    }
  });

  it('a damaged log but no cluster answering: nothing is moved, and the line says what to do', async () => {
    makeLog(true);
    const before = listing();
    const err = await refusal(options());
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/^cannot reach the cluster's leader through 127\.0\.0\.1:1: .*; nothing was moved: check --join and the secret, then run the same command again$/);
    expect(err.message).not.toContain('\n');
    expect(listing()).toEqual(before);
  });

  it('the folder of another replica rebuilt before, and a backup folder', async () => {
    writeFileSync(join(dataDir, 'rebuild.json'), JSON.stringify({ from: 'r5', id: 'r5-2', backup: '/x', at: 'then', state: 'moved' }));
    expect((await refusal(options())).message).toBe(`${dataDir} was rebuilt as replica r5-2 (from r5): it is not r2's folder; check --id`);
    rmSync(join(dataDir, 'rebuild.json'));
    writeFileSync(join(dataDir, 'moved-aside.json'), JSON.stringify({ replica: 'r2', rebuiltAs: 'r2-2', folder: '/d/r2', at: 'then' }));
    expect((await refusal(options())).message).toMatch(/holds the files of replica r2, moved aside when it was rebuilt as r2-2 \(then\): never start a replica on them/);
  });
});

describe('the markers', () => {
  it('a rebuilt folder starts only under its new id; a backup and an interrupted move never', () => {
    expect(() => checkFolderIdentity(dataDir, 'r2')).not.toThrow();
    writeFileSync(join(dataDir, 'rebuild.json'), JSON.stringify({ from: 'r2', id: 'r2-2', backup: '/b', at: '2026-12-05T12:00:00.000Z', state: 'moved' }));
    expect(() => checkFolderIdentity(dataDir, 'r2-2')).not.toThrow();
    expect(() => checkFolderIdentity(dataDir, 'r2')).toThrow(`data folder ${dataDir} was rebuilt as replica r2-2 (from r2, 2026-12-05T12:00:00.000Z): start it with --id r2-2`);
    writeFileSync(join(dataDir, 'rebuild.json'), JSON.stringify({ from: 'r2', id: 'r2-2', backup: '/b', at: 'then', state: 'moving' }));
    expect(() => checkFolderIdentity(dataDir, 'r2-2')).toThrow(/was interrupted: run it again \(the same command, with --rebuild\)/);
    writeFileSync(join(dataDir, 'moved-aside.json'), JSON.stringify({ replica: 'r2', rebuiltAs: 'r2-2', folder: '/d/r2', at: 'then' }));
    expect(() => checkFolderIdentity(dataDir, 'r2')).toThrow(/never start a replica on them/);
  });

  it('an interrupted move is finished by running the rebuild again (no cluster needed: the removal was done)', async () => {
    const backup = join(root, 'r2.damaged-20261205T120000Z');
    mkdirSync(backup);
    writeFileSync(join(backup, 'raft.db'), 'moved already');
    writeFileSync(join(dataDir, 'state.db'), 'not moved yet');
    writeFileSync(join(dataDir, 'cluster.secret'), 'stays');
    writeFileSync(join(dataDir, 'rebuild.json'), JSON.stringify({ from: 'r2', id: 'r2-2', backup, at: 'then', state: 'moving' }));
    expect((await refusal(options({ newId: 'r9', newIdGiven: true }))).message).toMatch(/is being rebuilt as r2-2 already; drop --new-id r9/);
    await expect(rebuildDataFolder(options())).resolves.toEqual({ id: 'r2-2', backup, resumed: true });
    expect(readdirSync(backup).sort()).toEqual(['raft.db', 'state.db']);
    expect(readdirSync(dataDir).sort()).toEqual(['LOCK', 'cluster.secret', 'rebuild.json']);
    expect(JSON.parse(readFileSync(join(dataDir, 'rebuild.json'), 'utf8')).state).toBe('moved');
  });
});
