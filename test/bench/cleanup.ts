/**
 * If the bench is interrupted (Ctrl-C, SIGTERM) the replica and etcd processes it spawned would outlive it: kill
 * them, by pid — only this process's own children (found through /proc/<pid>/stat's parent pid field).
 */
import { readdirSync, readFileSync } from 'node:fs';

export function ownChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function killOwnChildren(): void {
  for (const pid of ownChildren()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function killChildrenOnSignal(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`bench: ${sig}: stopping the processes it started\n`);
      killOwnChildren();
      process.exit(130);
    });
  }
}
