// Why a replica stops by itself, and the exit status each reason gives its process (replica/node/exit-status.ts):
// a full disk is recognised wherever it surfaces (SQLite or the filesystem, wrapped by the driver's stop), and the
// free-space warning starts below its threshold and ends only clearly above it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_STATUS, ReplicaStop, exitStatusOf, replicaStopFor } from '../../replica/node/exit-status.js';
import { isDiskFull } from '../../replica/storage/disk-full.js';
import { DataFolderLock } from '../../replica/storage/folder-lock.js';
import { DamagedLogError } from '../../replica/storage/log-segments.js';
import { LogDivergenceError } from '../../replica/raft/log.js';
import { DiskSpace } from '../../replica/node/disk-space.js';
import { startReplica } from '../../replica/node/replica.js';
import { VersionStopError } from '../../replica/util/replica-stop-error.js';
import pino from 'pino';

const full = () => new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('isDiskFull', () => {
  it('recognises SQLITE_FULL and ENOSPC, also as the cause of the driver’s stop, and the DISK_FULL stop itself', () => {
    expect(isDiskFull(full())).toBe(true);
    expect(isDiskFull(enospc())).toBe(true);
    const wrapped = new Error('replica driver failed; stopping to protect durability: database or disk is full', { cause: full() });
    expect(isDiskFull(wrapped)).toBe(true);
    expect(isDiskFull(new Error('outer', { cause: wrapped }))).toBe(true);
    expect(isDiskFull(replicaStopFor(wrapped, '/data'))).toBe(true);
  });

  it('does not take other failures for a full disk', () => {
    expect(isDiskFull(new Database.SqliteError('constraint failed', 'SQLITE_CONSTRAINT'))).toBe(false);
    expect(isDiskFull(Object.assign(new Error('denied'), { code: 'EACCES' }))).toBe(false);
    expect(isDiskFull(null)).toBe(false);
    expect(isDiskFull('disk full')).toBe(false);
    // An I/O error counts only when the data folder's filesystem has no room left: this one has.
    const dir = mkdtempSync(join(tmpdir(), 'quorum-exit-'));
    dirs.push(dir);
    expect(isDiskFull(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE'), dir)).toBe(false);
  });
});

describe('replicaStopFor and exit statuses', () => {
  it('a full disk: DISK_FULL, the one line, exit status 3', () => {
    const stop = replicaStopFor(new Error('committing applied state failed; stopping', { cause: full() }), '/srv/quorum/r1');
    expect(stop).toBeInstanceOf(ReplicaStop);
    expect(stop!.code).toBe('DISK_FULL');
    expect(stop!.message).toBe('disk full at /srv/quorum/r1: stopped; free space and restart');
    expect(exitStatusOf(stop)).toBe(3);
  });

  it('a data folder held by another process: DATA_FOLDER_IN_USE, the refusal as the message, exit status 4', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-exit-'));
    dirs.push(dir);
    const lock = DataFolderLock.acquire(dir, 'r1');
    let err: unknown;
    try {
      DataFolderLock.acquire(dir, 'r1');
    } catch (e) {
      err = e;
    } finally {
      lock.release();
    }
    const stop = replicaStopFor(err, dir);
    expect(stop?.code).toBe('DATA_FOLDER_IN_USE');
    expect(stop?.message).toBe((err as Error).message);
    expect(exitStatusOf(stop)).toBe(4);
  });

  it('a damaged or diverged log: DAMAGED with the message that says so, exit status 5', () => {
    const damaged = new DamagedLogError('/d/raft.db', 12);
    expect(replicaStopFor(damaged, '/d')).toMatchObject({ code: 'DAMAGED', message: damaged.message });
    const diverged = new Error('log divergence: entry 7 conflicts with committed entry; rebuild the replica', { cause: new LogDivergenceError(7, 9) });
    const stop = replicaStopFor(diverged, '/d');
    expect(stop).toMatchObject({ code: 'DAMAGED', message: diverged.message });
    expect(exitStatusOf(stop)).toBe(5);
  });

  it('anything else is a failure (exit status 1); no error is a stop on request (0)', () => {
    const bug = new TypeError('x is undefined');
    expect(replicaStopFor(bug, '/d')).toBeNull();
    expect(exitStatusOf(bug)).toBe(EXIT_STATUS.failed);
    expect(exitStatusOf(null)).toBe(EXIT_STATUS.stopped);
    expect(EXIT_STATUS).toEqual({ stopped: 0, failed: 1, invalid: 2, DISK_FULL: 3, DATA_FOLDER_IN_USE: 4, DAMAGED: 5, VERSION: 6 });
  });

  it('a replica too old for its data or its cluster: VERSION with the one line, exit status 6', () => {
    const tooOld = new VersionStopError('the cluster moved to Quorum version 9, but this replica supports only version 3: upgrade this replica');
    const stop = replicaStopFor(new Error('replica driver failed; stopping to protect durability', { cause: tooOld }), '/d');
    expect(stop).toMatchObject({ code: 'VERSION', message: tooOld.message });
    expect(exitStatusOf(stop)).toBe(6);
  });

  for (const file of ['state.db', 'raft.db']) {
    it(`a data folder whose ${file} a newer Quorum wrote: the replica does not start, VERSION, exit status 6`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'quorum-exit-'));
      dirs.push(dir);
      const r = await startReplica({ id: 'r1', dataDir: dir, listen: '127.0.0.1:0', webRoot: null, log: pino({ level: 'silent' }) });
      await r.stop();
      const db = new Database(join(dir, file));
      db.pragma('user_version = 99');
      db.close();
      const err = await startReplica({ id: 'r1', dataDir: dir, listen: '127.0.0.1:0', webRoot: null, log: pino({ level: 'silent' }) }).then(
        (again) => again.stop().then(() => null),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ReplicaStop);
      expect((err as ReplicaStop).code).toBe('VERSION');
      expect((err as ReplicaStop).message).toMatch(new RegExp(`${file} schema version 99 is newer than this Quorum understands \\(\\d+\\); upgrade this replica$`));
      expect((err as ReplicaStop).message).not.toContain('\n');
      expect(exitStatusOf(err as ReplicaStop)).toBe(EXIT_STATUS.VERSION);
    });
  }
});

describe('DiskSpace', () => {
  it('warns once below the threshold, and ends the warning only clearly above it', () => {
    const lines: string[] = [];
    const gauges = { free: -1, low: -1 };
    const log = { warn: (_: unknown, msg: string) => lines.push(`warn ${msg}`), info: (_: unknown, msg: string) => lines.push(`info ${msg}`) };
    const space = new DiskSpace({
      dataDir: '/srv/r1',
      warnBelowBytes: 100,
      log: log as never,
      metrics: { storageFreeBytes: { set: (v) => (gauges.free = v) }, storageLowSpace: { set: (v) => (gauges.low = v) } },
    });
    expect(space.status).toBeNull();
    space.record(150, 1000);
    expect(space.status).toEqual({ freeBytes: 150, totalBytes: 1000, warnBelowBytes: 100, lowSpace: false });
    expect(gauges).toEqual({ free: 150, low: 0 });
    space.record(99, 1000);
    space.record(90, 1000);
    space.record(105, 1000);
    expect(space.status?.lowSpace).toBe(true);
    expect(gauges).toEqual({ free: 105, low: 1 });
    space.record(120, 1000);
    expect(space.status?.lowSpace).toBe(false);
    expect(lines).toEqual([
      'warn low disk space at /srv/r1: 0 MB free; free space before the disk fills (a replica on a full disk stops)',
      'info disk space is no longer low',
    ]);
  });
});
