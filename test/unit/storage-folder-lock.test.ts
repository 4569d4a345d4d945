// The data-folder lock: one process per folder. The second holder is a real child process (the case that matters:
// an orphaned replica beside its own restart), and a holder killed with SIGKILL leaves no stale lock behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataFolderInUseError, DataFolderLock } from '../../replica/storage/folder-lock.js';

const ROOT = resolve(import.meta.dirname, '../..');

let dir: string;
let child: ChildProcess | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quorum-lock-'));
});

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a process that takes the lock on `folder` and keeps it; resolves once it holds it. */
async function holdInChild(folder: string): Promise<ChildProcess> {
  const script = join(dir, 'hold.ts');
  writeFileSync(
    script,
    `import { DataFolderLock } from ${JSON.stringify(join(ROOT, 'replica/storage/folder-lock.ts'))};\n` +
      // Kept referenced: a lock left to the garbage collector closes its connection, and the lock with it.
      `const held = DataFolderLock.acquire(${JSON.stringify(folder)}, 'r9');\nprocess.stdout.write('locked\\n');\nsetInterval(() => void held, 1000);\n`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('locked')) {
    if (proc.exitCode !== null) throw new Error(`the lock holder exited with ${proc.exitCode}`);
    await once(proc.stdout!, 'data');
  }
  return proc;
}

describe('DataFolderLock', () => {
  it('refuses a second holder in the same process, naming the first; free again once released', () => {
    const first = DataFolderLock.acquire(dir, 'r1');
    let refusal: unknown;
    try {
      DataFolderLock.acquire(dir, 'r1');
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(DataFolderInUseError);
    expect((refusal as DataFolderInUseError).holder).toMatchObject({ pid: process.pid, id: 'r1' });
    expect((refusal as Error).message).toMatch(new RegExp(`^data folder ${dir} is in use by process ${process.pid} \\(replica r1, since .+\\): one replica process per data folder; stop that one first$`));
    first.release();
    first.release();
    expect(existsSync(join(dir, 'LOCK.holder'))).toBe(false);
    DataFolderLock.acquire(dir, 'r1').release();
  });

  it('refuses while another process holds the folder, and not after that process is killed', async () => {
    child = await holdInChild(dir);
    expect(() => DataFolderLock.acquire(dir, 'r1')).toThrow(`is in use by process ${child.pid} (replica r9, since `);
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The OS dropped the dead holder's lock; its LOCK.holder is stale and is simply overwritten.
    const lock = DataFolderLock.acquire(dir, 'r1');
    lock.release();
  });

  it('leaves only LOCK and LOCK.holder in the folder while held', () => {
    const lock = DataFolderLock.acquire(dir, 'r1');
    expect(readdirSync(dir).sort()).toEqual(['LOCK', 'LOCK.holder']);
    lock.release();
  });

  it('a holder file that is missing, not JSON or incomplete names "another process"; the error says which folder', () => {
    const held = DataFolderLock.acquire(dir, 'r1');
    const holderFile = join(dir, 'LOCK.holder');
    const refusal = (): DataFolderInUseError => {
      try {
        DataFolderLock.acquire(dir, 'r2');
      } catch (err) {
        return err as DataFolderInUseError;
      }
      throw new Error('the second acquire did not refuse');
    };
    const bad = ['', 'not json', '{"pid":"12","id":"r1","since":"x"}', '{"pid":12,"id":7,"since":"x"}', '{"pid":12,"id":"r1","since":3}', '{"pid":12,"id":"r1"}'];
    for (const content of bad) {
      writeFileSync(holderFile, content);
      const err = refusal();
      expect(err).toBeInstanceOf(DataFolderInUseError);
      expect(err.name).toBe('DataFolderInUseError');
      expect(err.holder).toBeNull();
      expect(err.dataDir).toBe(dir);
      expect(err.message).toBe(`data folder ${dir} is in use by another process: one replica process per data folder; stop that one first`);
    }
    rmSync(holderFile);
    expect(refusal().holder).toBeNull();
    writeFileSync(holderFile, '{"pid":12,"id":"r7","since":"2026-12-06T00:00:00.000Z","extra":1}');
    expect(refusal().holder).toEqual({ pid: 12, id: 'r7', since: '2026-12-06T00:00:00.000Z' });
    // Released although its holder file is already gone.
    rmSync(holderFile);
    held.release();
    DataFolderLock.acquire(dir, 'r3').release();
  });

  it('a folder that cannot hold a lock is an error of its own, not "in use"', () => {
    const missing = join(dir, 'missing');
    expect(() => DataFolderLock.acquire(missing, 'r1')).toThrow(expect.not.objectContaining({ name: 'DataFolderInUseError' }));
    // A folder whose LOCK is not a database: refused with SQLite's own error, the folder left as it was.
    writeFileSync(join(dir, 'LOCK'), 'this is not a database, and it is long enough to be read as a header........');
    let err: unknown;
    try {
      DataFolderLock.acquire(dir, 'r1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(DataFolderInUseError);
    expect(existsSync(join(dir, 'LOCK.holder'))).toBe(false);
  });

  it('the holder file says who holds the folder, readable by its owner only', () => {
    const held = DataFolderLock.acquire(dir, 'r5');
    const holderFile = join(dir, 'LOCK.holder');
    expect(JSON.parse(readFileSync(holderFile, 'utf8'))).toMatchObject({ pid: process.pid, id: 'r5' });
    expect(statSync(holderFile).mode & 0o777).toBe(0o600);
    held.release();
  });
});
