/**
 * The app's log files, in the app's logs folder (Help → Open logs folder): structured lines (pino's JSON, one event
 * a line) appended to `<name>.log`, rotated by size so they never fill a disk: when a write would take the file past
 * `maxBytes`, `<name>.log` becomes `<name>.1.log` (`.1` becomes `.2`, …, the oldest beyond `keep` is deleted) and a
 * new file starts. main.ts writes main's own log to main.log and the replica process's output to replica.log.
 * A write that fails (the disk is full, the folder was removed) is dropped: logging never stops the app.
 */
import { appendFileSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface RotatingLogOptions {
  dir: string;
  name: string;
  /** Rotate before a file grows past this many bytes (default 5 MiB). */
  maxBytes?: number;
  /** Older files kept besides the current one (default 3; at least 1). */
  keep?: number;
}

export class RotatingLog {
  private size: number;
  private readonly maxBytes: number;
  private readonly keep: number;

  constructor(private readonly options: RotatingLogOptions) {
    this.maxBytes = options.maxBytes ?? 5 * 2 ** 20;
    this.keep = Math.max(1, options.keep ?? 3);
    try {
      mkdirSync(options.dir, { recursive: true });
    } catch {
      // writes will fail and be dropped
    }
    this.size = Math.max(0, sizeOf(this.file(0)));
  }

  /** `<name>.log` (n = 0) or the n-th older file `<name>.n.log`. */
  file(n: number): string {
    return join(this.options.dir, n === 0 ? `${this.options.name}.log` : `${this.options.name}.${n}.log`);
  }

  /** Appends text (whole lines); pino calls this as its destination stream. */
  write(text: string | Uint8Array): boolean {
    const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.byteLength;
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    try {
      appendFileSync(this.file(0), text);
      this.size += bytes;
    } catch {
      // dropped (see the module comment)
    }
    return true;
  }

  private rotate(): void {
    try {
      rmSync(this.file(this.keep), { force: true });
      for (let n = this.keep - 1; n >= 0; n--) {
        if (sizeOf(this.file(n)) >= 0) renameSync(this.file(n), this.file(n + 1));
      }
    } catch {
      // a rename that failed leaves the file to grow a little; the next write tries again
    }
    this.size = Math.max(0, sizeOf(this.file(0)));
  }
}

/** The file's size; -1 when it does not exist. */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
}
