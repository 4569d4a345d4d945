/**
 * Free space on the data folder's filesystem, sampled every few seconds: a metric, part of `status`, and a warning
 * (log line, metric, status field a UI turns into a banner) once it falls below a threshold, so an operator frees
 * space before the replica has to stop on a full disk.
 */
import type { Logger } from 'pino';
import type { ReplicaStorageStatus } from '../protocol/client.js';
import { filesystemSpace } from '../storage/disk-full.js';

/** Default warning threshold (--disk-warn-mb): a few hours of heavy chat traffic, and room for a snapshot copy. */
export const DISK_WARN_DEFAULT_BYTES = 512 * 1024 * 1024;

/** Leaving the warning takes this much more than the threshold, so a value hovering at it does not flap. */
const HYSTERESIS = 1.1;

export interface DiskSpaceOptions {
  dataDir: string;
  /** Warn below this many free bytes. */
  warnBelowBytes: number;
  log: Logger;
  metrics: { storageFreeBytes: { set(v: number): void }; storageLowSpace: { set(v: number): void } };
}

export class DiskSpace {
  private last: ReplicaStorageStatus | null = null;

  constructor(private readonly options: DiskSpaceOptions) {}

  /** The latest sample (null before the first one, or when the filesystem cannot be asked). */
  get status(): ReplicaStorageStatus | null {
    return this.last;
  }

  /** Takes a sample (one statfs call; where the filesystem cannot be asked, the status stays absent). */
  sample(): void {
    const space = filesystemSpace(this.options.dataDir);
    if (space) this.record(space.freeBytes, space.totalBytes);
  }

  /** Records a sample: updates the metrics, and logs when the warning begins or ends. */
  record(freeBytes: number, totalBytes: number): void {
    const { warnBelowBytes, log, metrics, dataDir } = this.options;
    const wasLow = this.last?.lowSpace ?? false;
    const lowSpace = wasLow ? freeBytes < warnBelowBytes * HYSTERESIS : freeBytes < warnBelowBytes;
    this.last = { freeBytes, totalBytes, warnBelowBytes, lowSpace };
    metrics.storageFreeBytes.set(freeBytes);
    metrics.storageLowSpace.set(lowSpace ? 1 : 0);
    if (lowSpace && !wasLow) {
      log.warn(
        { dataDir, freeMB: mb(freeBytes), warnBelowMB: mb(warnBelowBytes) },
        `low disk space at ${dataDir}: ${mb(freeBytes)} MB free; free space before the disk fills (a replica on a full disk stops)`,
      );
    } else if (!lowSpace && wasLow) {
      log.info({ dataDir, freeMB: mb(freeBytes) }, 'disk space is no longer low');
    }
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
