/** Test harness for the chat state machine: builds log entries the way a leader would. Not a test file itself. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChatStateMachine, MAX_CLOCK_STEP_MS, type ApplyOutcome } from '../../replica/chat/state-machine.js';
import { encodeCommand, type Command } from '../../replica/chat/commands.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import { hashToken } from '../../replica/chat/passwords.js';
import type { Entry } from '../../replica/raft/types.js';

export function tempDir(prefix = 'quorum-chat-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const tok = (name: string) => hashToken(`token-of-${name}`);
export const pw = (name: string) => `scrypt$16384$8$1$salt$${name}`;

/** How the harness fills in a client command: its session (startIndex only when given) and its clock. */
export interface EntryOptions {
  clientId?: string;
  seq?: number;
  at?: number;
  startIndex?: number;
}

export class Harness {
  readonly dir: string;
  sm: ChatStateMachine;
  index = 0;
  term = 1;
  at = 1_700_000_000_000;
  private readonly seqs = new Map<string, number>();

  constructor(dir = tempDir()) {
    this.dir = dir;
    this.sm = ChatStateMachine.open(dir);
    this.index = this.sm.applied().index;
  }

  /** The next entry carrying `body` as a client command (at and session filled in unless given). */
  entry(body: Record<string, unknown>, opts: EntryOptions = {}): Entry {
    const clientId = opts.clientId ?? 'client-default';
    const seq = opts.seq ?? (this.seqs.get(clientId) ?? 0) + 1;
    this.seqs.set(clientId, Math.max(seq, this.seqs.get(clientId) ?? 0));
    this.at += 1000;
    const session = opts.startIndex === undefined ? { clientId, seq } : { clientId, seq, startIndex: opts.startIndex };
    // Stamped with the version it needs (`v`, replica/chat/versions.ts), as a leader's would be.
    const cmd = { at: opts.at ?? this.at, session, ...body } as Command;
    return { index: this.nextIndex(), term: this.term, type: 'normal', data: encodeCommand(cmd) };
  }

  raw(data: string, type: Entry['type'] = 'normal'): Entry {
    return { index: this.nextIndex(), term: this.term, type, data };
  }

  /** The index after both the last entry made here and the state's applied index (bootstrap moves it). */
  private nextIndex(): number {
    this.index = Math.max(this.index, this.sm.applied().index) + 1;
    return this.index;
  }

  /**
   * Walks the applied clock forward to `at` as a leader does after an idle period: `clock` commands of at most one
   * MAX_CLOCK_STEP_MS each (apply moves the clock no further per command).
   */
  clockTo(at: number): void {
    if (this.sm.versions().cluster < 2) throw new Error('clockTo: clock commands need cluster version 2 (raiseClusterVersion first)');
    while (this.sm.appliedClock() < at) {
      const step = Math.min(at, this.sm.appliedClock() + MAX_CLOCK_STEP_MS);
      this.sm.applyEntries([this.raw(encodeCommand({ kind: 'clock', at: step }))]);
    }
    this.at = Math.max(this.at, at);
  }

  /**
   * Raises the cluster version as a leader would once every member supports it (versions.ts): reports the version of
   * each member of the configuration, then the raise. One entry each.
   */
  raiseClusterVersion(version = SUPPORTED_VERSION): void {
    const conf = this.sm.conf();
    for (const id of [...(conf?.voters ?? []), ...(conf?.learners ?? [])]) {
      this.sm.applyEntries([this.raw(encodeCommand({ kind: 'memberVersion', at: this.at, id, version }))]);
    }
    const [raised] = this.sm.applyEntries([this.raw(encodeCommand({ kind: 'clusterVersion', at: this.at, version }))]);
    if (!raised.response.ok) throw new Error(`raiseClusterVersion: ${JSON.stringify(raised.response)}`);
  }

  apply(body: Record<string, unknown>, opts: EntryOptions = {}): ApplyOutcome {
    const [o] = this.sm.applyEntries([this.entry(body, opts)]);
    return o;
  }

  applyRaw(data: string, type: Entry['type'] = 'normal'): ApplyOutcome {
    const [o] = this.sm.applyEntries([this.raw(data, type)]);
    return o;
  }

  /** Applies and expects success; returns the result. */
  ok<T = any>(body: Record<string, unknown>, opts: EntryOptions = {}): T {
    const outcome = this.apply(body, opts);
    if (!outcome.response.ok) throw new Error(`expected ok for ${JSON.stringify(body)}, got ${JSON.stringify(outcome.response.error)}`);
    return outcome.response.result as T;
  }

  /** Applies and expects a refusal; returns its code. */
  err(body: Record<string, unknown>, opts: EntryOptions = {}): string {
    const outcome = this.apply(body, opts);
    if (outcome.response.ok) throw new Error(`expected a refusal for ${JSON.stringify(body)}, got ${JSON.stringify(outcome.response.result)}`);
    return outcome.response.error.code;
  }

  signup(username: string): void {
    this.ok({ kind: 'signup', username, passwordHash: pw(username) });
  }

  /** Signs up (if asked) and logs in with token `tok(username)`; returns the account id. */
  user(username: string, signup = true): number {
    if (signup) this.signup(username);
    this.ok({ kind: 'login', username, passwordHash: pw(username), tokenHash: tok(username) });
    return this.sm.account(username)!.id;
  }

  send(from: string, to: string, text: string): number {
    return this.ok<{ id: number }>({ kind: 'send', tokenHash: tok(from), to, text }).id;
  }

  reopen(): void {
    this.sm.close();
    this.sm = ChatStateMachine.open(this.dir);
  }

  dispose(): void {
    this.sm.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
