/**
 * Small real filesystems for disk-full tests: a tmpfs of a given size mounted by the test (root only), filled with a
 * file of zeros until it has a given number of bytes left (or none), emptied again, unmounted at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why tmpfs cannot be mounted here (null: it can). */
export function tmpfsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'mounting a tmpfs needs Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (run as root to include the disk-full tests)';
  const probe = mkdtempSync(join(tmpdir(), 'quorum-tmpfs-probe-'));
  try {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { encoding: 'utf8' });
    if (r.error || r.status !== 0) return `cannot mount a tmpfs here: ${r.error?.message ?? r.stderr.trim()}`;
    spawnSync('umount', [probe]);
    return null;
  } finally {
    rmdirSync(probe);
  }
}

/** Free bytes for an unprivileged writer on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

export class Tmpfs {
  private constructor(readonly dir: string) {}

  /** Mounts a tmpfs of `sizeBytes` at `dir` (created when missing; must be empty). */
  static mount(dir: string, sizeBytes: number): Tmpfs {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir]);
    return new Tmpfs(dir);
  }

  private get filler(): string {
    return join(this.dir, 'filler');
  }

  get freeBytes(): number {
    return freeBytes(this.dir);
  }

  /** Appends zeros to a filler file until at most `leaveBytes` are free (0: until the filesystem refuses more). */
  fill(leaveBytes = 0): void {
    const fd = openSync(this.filler, 'a');
    try {
      const chunk = Buffer.alloc(1024 * 1024);
      for (let size = chunk.length; size >= 1; ) {
        const free = this.freeBytes;
        if (free <= leaveBytes) return;
        try {
          writeSync(fd, chunk, 0, Math.min(size, free - leaveBytes));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          size = Math.floor(size / 16);
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes the filler: the space it took is free again. */
  empty(): void {
    rmSync(this.filler, { force: true });
  }

  /** Unmounts (lazily, so a process still holding a file cannot keep the mount) and removes the mount point. */
  unmount(): void {
    spawnSync('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
