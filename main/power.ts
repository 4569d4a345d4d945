/**
 * Leadership moves off a machine that is about to sleep (or whose user locked the screen and walked away): a leader
 * that sleeps stalls every write until the others notice and elect (an election timeout at least, more if the laptop
 * half-wakes), while a hand-over costs a short pause. Autopilot then moves the sleeping machine's vote on if it stays
 * away for longer than its dead-after time.
 */
import { drop } from './drop.js';

/** The part of Electron's powerMonitor used here. */
export interface PowerMonitorLike {
  on(event: 'suspend' | 'lock-screen', listener: () => void): unknown;
}

export interface PowerHost {
  isLeader(): boolean;
  transferLeadership(timeoutMs: number): Promise<boolean>;
}

export interface PowerLogger {
  info(obj: object, msg?: string): void;
}

/** Short: the system gives an app about a second before it sleeps. */
const SUSPEND_TRANSFER_TIMEOUT_MS = 1_500;

export function handOverBeforeSleep(powerMonitor: PowerMonitorLike, host: PowerHost, log: PowerLogger, timeoutMs = SUSPEND_TRANSFER_TIMEOUT_MS): void {
  const handOver = (why: 'suspend' | 'lock-screen') => {
    if (!host.isLeader()) return;
    log.info({ why }, 'this machine leads and is about to sleep: handing leadership over');
    drop(host.transferLeadership(timeoutMs).then((ok) => log.info({ why, ok }, ok ? 'leadership handed over' : 'leadership hand-over did not complete')));
  };
  powerMonitor.on('suspend', () => handOver('suspend'));
  powerMonitor.on('lock-screen', () => handOver('lock-screen'));
}
