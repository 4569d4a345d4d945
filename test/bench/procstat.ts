/**
 * Per-process resource readings from /proc (Linux): CPU seconds (utime + stime of /proc/<pid>/stat) and resident
 * memory (VmRSS of /proc/<pid>/status). Used to charge CPU to the replica (or etcd member) processes only.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU seconds (user + system) the process has used so far; 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / clockTicks();
  } catch {
    return 0;
  }
}

export function totalCpuSeconds(pids: (number | undefined)[]): number {
  return pids.reduce<number>((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** Resident set size in MB (VmRSS), or null when the process is gone. */
export function rssMB(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Bytes the process has caused to be written to storage so far (/proc/<pid>/io write_bytes); 0 when gone. */
export function ioWriteBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const m = /^write_bytes:\s+(\d+)/m.exec(io);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export function totalIoWriteBytes(pids: (number | undefined)[]): number {
  return pids.reduce<number>((sum, pid) => sum + ioWriteBytes(pid), 0);
}
