// replica/storage/disk-full.ts on real filesystems: a tmpfs of a known size (root only; skipped with the reason
// otherwise) nearly filled, and the test's own temporary folder with room to spare.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { causeChain, diskFullMessage, filesystemSpace, isDiskFull } from '../../replica/storage/disk-full.js';
import { describeUnless } from '../helpers/skip.js';
import { Tmpfs, tmpfsUnavailableReason } from '../helpers/tmpfs.js';

const ioError = () => new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE');

describe('disk-full recognition from the error alone', () => {
  it('follows the cause chain, outermost first, at most 8 deep (a cycle ends)', () => {
    const inner = Object.assign(new Error('inner'), { code: 'ENOSPC' });
    const outer = new Error('outer', { cause: new Error('middle', { cause: inner }) });
    expect(causeChain(outer).map((e) => (e as Error).message)).toEqual(['outer', 'middle', 'inner']);
    expect(causeChain(null)).toEqual([]);
    expect(causeChain(undefined)).toEqual([]);
    const loop = new Error('loop') as Error & { cause?: unknown };
    loop.cause = loop;
    expect(causeChain(loop)).toHaveLength(8);
  });

  it('says full for ENOSPC, EDQUOT, SQLITE_FULL and a DISK_FULL stop, anywhere in the chain; nothing else', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'SQLITE_FULL', 'DISK_FULL']) {
      expect(isDiskFull(Object.assign(new Error(code), { code }))).toBe(true);
      expect(isDiskFull(new Error('wrapped', { cause: Object.assign(new Error(code), { code }) }))).toBe(true);
    }
    expect(isDiskFull(new Database.SqliteError('full', 'SQLITE_FULL'))).toBe(true);
    for (const err of [null, undefined, 'ENOSPC', new Error('EACCES'), { code: 28 }, Object.assign(new Error('x'), { code: 'EACCES' })]) {
      expect(isDiskFull(err)).toBe(false);
    }
    // An I/O error is not taken for a full disk without a folder to look at.
    expect(isDiskFull(ioError())).toBe(false);
    expect(diskFullMessage('/data/r1')).toBe('disk full at /data/r1: stopped; free space and restart');
  });

  it('an I/O error on a filesystem with room is not a full disk, nor where the folder cannot be asked', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-disk-full-'));
    try {
      expect(isDiskFull(ioError(), dir)).toBe(false);
      expect(isDiskFull(ioError(), path.join(dir, 'missing'))).toBe(false);
      expect(filesystemSpace(path.join(dir, 'missing'))).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeUnless(tmpfsUnavailableReason(), 'disk-full recognition on a nearly full filesystem', () => {
  const SIZE = 8 * 1024 * 1024;
  let tmpfs: Tmpfs;
  beforeAll(() => {
    tmpfs = Tmpfs.mount(fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-disk-full-fs-')), SIZE);
  });
  afterAll(() => tmpfs?.unmount());

  it("reports the filesystem's size and the room left", () => {
    const space = filesystemSpace(tmpfs.dir)!;
    expect(space.totalBytes).toBe(SIZE);
    expect(space.freeBytes).toBeGreaterThan(SIZE - 64 * 1024);
    expect(space.freeBytes).toBeLessThanOrEqual(SIZE);
  });

  it('takes a SQLite I/O error (even as a cause) for a full disk below 1 MiB free, other SQLite errors not', () => {
    tmpfs.fill(512 * 1024);
    const free = filesystemSpace(tmpfs.dir)!.freeBytes;
    expect(free).toBeLessThan(1024 * 1024);
    expect(free).toBeGreaterThan(64 * 1024);
    expect(isDiskFull(ioError(), tmpfs.dir)).toBe(true);
    expect(isDiskFull(new Error('apply failed', { cause: ioError() }), tmpfs.dir)).toBe(true);
    expect(isDiskFull(new Database.SqliteError('busy', 'SQLITE_BUSY'), tmpfs.dir)).toBe(false);
    expect(isDiskFull(Object.assign(new Error('not sqlite'), { code: 'SQLITE_IOERR_WRITE' }), tmpfs.dir)).toBe(false);
    tmpfs.empty();
    expect(isDiskFull(ioError(), tmpfs.dir)).toBe(false);
  });
});
