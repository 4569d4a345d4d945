/** Fakes of the electron pieces main/ modules take as parameters (shared by test/unit/main-*.test.ts). */
import type { ReplicaChild } from '../../main/replica-host.js';
import type { ToReplicaProcess } from '../../main/ipc-contract.js';

/** A manual clock: timers fire only when the test advances time. */
export class FakeClock {
  t = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  setTimeout = (fn: () => void, ms: number): number => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  now = (): number => this.t;
  pendingDelays(): number[] {
    return [...this.timers.values()].map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

export class FakeChild implements ReplicaChild {
  sent: ToReplicaProcess[] = [];
  killed = false;
  private handlers: { message: ((m: unknown) => void)[]; exit: ((c: number) => void)[] } = { message: [], exit: [] };
  postMessage(m: ToReplicaProcess): void {
    this.sent.push(m);
  }
  kill(): boolean {
    this.killed = true;
    this.exit(-9);
    return true;
  }
  on(event: 'message' | 'exit', listener: (x: never) => void): this {
    (this.handlers[event] as unknown[]).push(listener);
    return this;
  }
  emit(m: unknown): void {
    for (const h of this.handlers.message) h(m);
  }
  exit(code: number): void {
    for (const h of this.handlers.exit) h(code);
  }
}

export const silentLog = { info() {}, warn() {}, error() {} };
