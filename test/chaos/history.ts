/**
 * The run's history: every client operation as invoke → ok | fail | unknown, every fault and every leader
 * observation, kept in memory for the checker and appended to history.jsonl as it happens (for replay and reading
 * after a failed run).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { FaultRecord, LeaderObservation, OpKind, OpRecord } from './types.js';

export class History {
  readonly ops: OpRecord[] = [];
  readonly faults: FaultRecord[] = [];
  readonly observations: LeaderObservation[] = [];
  private readonly t0 = performance.now();
  /** The wall clock (ms since the epoch) at which the history's times are 0. */
  readonly startedAt = Date.now();
  private n = 0;
  private readonly out: WriteStream | null;

  constructor(file: string | null) {
    this.out = file ? createWriteStream(file, { flags: 'a' }) : null;
  }

  /** Milliseconds since the run began. */
  now(): number {
    return Math.round((performance.now() - this.t0) * 10) / 10;
  }

  invoke(worker: number, user: string, op: OpKind, phase: OpRecord['phase'], args: OpRecord['args']): OpRecord {
    const rec: OpRecord = { n: ++this.n, worker, user, op, phase, start: this.now(), end: -1, outcome: 'unknown', args };
    this.write({ type: 'invoke', n: rec.n, worker, user, op, phase, t: rec.start, args });
    return rec;
  }

  complete(rec: OpRecord, outcome: OpRecord['outcome'], extra: Partial<Pick<OpRecord, 'id' | 'sentAt' | 'messages' | 'deleted' | 'groups' | 'error'>> = {}): void {
    rec.end = this.now();
    rec.outcome = outcome;
    Object.assign(rec, extra);
    this.ops.push(rec);
    this.write({ type: outcome, n: rec.n, t: rec.end, ...extra });
  }

  fault(f: Omit<FaultRecord, 'start' | 'end'>): FaultRecord {
    const rec: FaultRecord = { ...f, start: this.now(), end: null };
    this.faults.push(rec);
    this.write({ type: 'fault', t: rec.start, ...f });
    return rec;
  }

  healed(f: FaultRecord, note?: string): void {
    f.end = this.now();
    if (note) f.note = f.note ? `${f.note}; ${note}` : note;
    this.write({ type: 'heal', t: f.end, kind: f.kind, variant: f.variant, targets: f.targets, note });
  }

  observe(o: Omit<LeaderObservation, 't'>): void {
    const rec = { t: this.now(), ...o };
    this.observations.push(rec);
    this.write({ type: 'observe', ...rec });
  }

  event(what: string, fields: Record<string, unknown> = {}): void {
    this.write({ type: 'event', t: this.now(), what, ...fields });
  }

  private write(obj: Record<string, unknown>): void {
    this.out?.write(JSON.stringify(obj) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.out ? this.out.end(resolve) : resolve()));
  }
}
