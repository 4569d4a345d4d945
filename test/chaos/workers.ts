/**
 * Client workers: each is one account with its own QuorumClient (leader following, same-seq resend, exactly-once
 * sessions) and its own seeded PRNG. A worker does one operation at a time (send, read, history, delete) and records
 * each as invoke → ok | fail | unknown:
 * - ok: the cluster answered with a result;
 * - fail: a definite refusal that, by the protocol, changed nothing (NOT_FOUND, FORBIDDEN, INVALID, ...), or any
 *   error of a read-only operation;
 * - unknown: a write whose outcome the client could not learn (gave up after giveUpAfterMs: timeouts, lost
 *   connections, no leader). It may have been applied, once.
 * Texts are unique (`w<worker>-<n>`), so the checker can identify every message; an edit keeps that prefix and adds
 * `-e<k>` (k counts the worker's edits), so every version of a message's text is unique too. Groups are named
 * `g<worker>-<k>` and keep the members they were created with (the checker knows who must read each group message).
 */
import WebSocket from 'ws';
import { clientUrl, trustedWebSocket, type ClientTrust } from '../../replica/security/client-tls.js';
import { QuorumClient } from '../../replica/client/client.js';
import { QuorumError, type ChatMessage } from '../../replica/protocol/index.js';
import type { Rng } from '../helpers/random.js';
import type { History } from './history.js';
import type { GroupRecord, OpKind, OpRecord, Outcome, SeenMessage } from './types.js';

export const PASSWORD = 'chaos-password-1';

/** Refusals the state machine or the request handler gives before anything changes (and that a retry would repeat). */
// UNSUPPORTED_BY_CLUSTER (a group or an edit while a replica runs the previous release: the rollingUpgrade fault) is
// refused at the leader or, deterministically, at apply: nothing changed.
const DEFINITE: ReadonlySet<string> = new Set(['NOT_FOUND', 'FORBIDDEN', 'INVALID', 'USERNAME_TAKEN', 'BAD_CREDENTIALS', 'UNAUTHENTICATED', 'TOO_LARGE', 'CONFLICT', 'UNSUPPORTED_BY_CLUSTER']);

export interface WorkerOptions {
  index: number;
  users: string[];
  servers: string[];
  rng: Rng;
  history: History;
  giveUpAfterMs: number;
  requestTimeoutMs: number;
  /** Think time between operations, uniform in [min, max] ms. */
  thinkMs: [number, number];
  /** Share of sends with a long text (grows the state so snapshots span several chunks). */
  bigTextShare: number;
  clientIdPrefix: string;
  /** wss:// trusting these authorities; null: plain ws:// (the replicas then allow plain clients). */
  trust: ClientTrust | null;
}

export function seen(m: ChatMessage): SeenMessage {
  const out: SeenMessage = { id: m.id, from: m.from, to: m.to, text: m.text, readAt: m.readAt, sentAt: m.sentAt };
  if (m.group !== undefined) out.group = m.group;
  if (m.editedAt !== undefined) out.editedAt = m.editedAt;
  return out;
}

function errorText(err: unknown): { code: string; text: string } {
  if (err instanceof QuorumError) return { code: err.code, text: `${err.code}: ${err.message}` };
  const e = err as Error;
  return { code: 'ERROR', text: e?.message ?? String(err) };
}

export class Worker {
  readonly user: string;
  readonly client: QuorumClient;
  private n = 0;
  private edits = 0;
  private groupsMade = 0;
  /** One-to-one messages this account sent (delete candidates). */
  private readonly sent: number[] = [];
  /** One-to-one messages it read. */
  private readonly received: number[] = [];
  /** Its own acknowledged messages (one-to-one and group): edit candidates, with their key. */
  private readonly editable: { id: number; key: string }[] = [];
  /** Groups it knows it is in (created, listed, or read from), name → members. */
  readonly groups = new Map<string, string[]>();
  ops = 0;

  constructor(readonly o: WorkerOptions) {
    this.user = o.users[o.index];
    this.client = new QuorumClient({
      servers: o.servers,
      WebSocket: (o.trust ? trustedWebSocket(o.trust) : WebSocket) as never,
      url: (address) => clientUrl(o.trust, address),
      clientId: `${o.clientIdPrefix}w${o.index}`,
      random: o.rng.fn(),
      requestTimeoutMs: o.requestTimeoutMs,
      connectTimeoutMs: 2000,
      giveUpAfterMs: o.giveUpAfterMs,
      backoff: { initialMs: 50, maxMs: 1000 },
      autoDelivered: false,
    });
  }

  /** Runs one recorded operation. Read-only operations never end unknown. */
  private async recorded<T>(
    op: OpKind,
    phase: OpRecord['phase'],
    args: OpRecord['args'],
    write: boolean,
    run: () => Promise<T>,
    done: (r: T) => Partial<Pick<OpRecord, 'id' | 'sentAt' | 'messages' | 'deleted' | 'groups'>>,
  ): Promise<{ outcome: Outcome; value?: T; code?: string }> {
    const rec = this.o.history.invoke(this.o.index, this.user, op, phase, args);
    this.ops++;
    try {
      const value = await run();
      this.o.history.complete(rec, 'ok', done(value));
      return { outcome: 'ok', value };
    } catch (err) {
      const { code, text } = errorText(err);
      const outcome: Outcome = !write || DEFINITE.has(code) ? 'fail' : 'unknown';
      this.o.history.complete(rec, outcome, { error: text });
      if (code === 'UNAUTHENTICATED' && phase === 'run') await this.login('run').catch(() => {});
      return { outcome, code };
    }
  }

  /** Signs up (retrying until the account exists) and logs in; before the nemesis starts. */
  async setup(deadline: number): Promise<void> {
    for (;;) {
      const r = await this.recorded('signup', 'setup', {}, true, () => this.client.signup(this.user, PASSWORD), () => ({}));
      if (r.outcome === 'ok' || r.code === 'USERNAME_TAKEN') break;
      if (Date.now() > deadline) throw new Error(`${this.user}: signup did not succeed before the deadline`);
    }
    for (;;) {
      if (await this.login('setup')) return;
      if (Date.now() > deadline) throw new Error(`${this.user}: login did not succeed before the deadline`);
    }
  }

  private async login(phase: OpRecord['phase']): Promise<boolean> {
    const r = await this.recorded('login', phase, {}, true, () => this.client.login(this.user, PASSWORD), () => ({}));
    return r.outcome === 'ok';
  }

  async run(stop: () => boolean): Promise<void> {
    const rng = this.o.rng;
    while (!stop()) {
      const x = rng.next();
      if (x < 0.35) await this.send();
      else if (x < 0.5) await this.groupSend();
      else if (x < 0.52) await this.createGroup();
      else if (x < 0.55) await this.listGroups();
      else if (x < 0.67) await this.read(rng.pick([5, 20, 50]));
      else if (x < 0.8) await this.history(rng.pick(this.others()), rng.pick([20, 50, 100]));
      else if (x < 0.85) await this.groupHistory(rng.pick([20, 50]));
      else if (x < 0.92) await this.edit();
      else await this.delete();
      const [lo, hi] = this.o.thinkMs;
      if (hi > 0) await new Promise((r) => setTimeout(r, rng.range(lo, hi)));
    }
  }

  private others(): string[] {
    return this.o.users.filter((u) => u !== this.user);
  }

  async send(): Promise<void> {
    const rng = this.o.rng;
    const to = rng.pick(this.others());
    const n = ++this.n;
    const text = rng.chance(this.o.bigTextShare) ? `w${this.o.index}-${n}-${'x'.repeat(rng.range(500, 3500))}` : `w${this.o.index}-${n}`;
    const r = await this.recorded('send', 'run', { to, text }, true, () => this.client.send(to, text), (v) => ({ id: v.id, sentAt: v.sentAt }));
    if (r.outcome === 'ok') {
      this.sent.push(r.value!.id);
      this.editable.push({ id: r.value!.id, key: `w${this.o.index}-${n}` });
    }
  }

  /** A new group with one or more of the others (they learn of it from `groups` or by reading its messages). */
  async createGroup(): Promise<void> {
    const rng = this.o.rng;
    const others = this.others().filter(() => rng.chance(0.6));
    if (others.length === 0) others.push(rng.pick(this.others()));
    const name = `g${this.o.index}-${++this.groupsMade}`;
    const r = await this.recorded('createGroup', 'run', { group: name, members: others }, true, () => this.client.createGroup(name, others), () => ({}));
    // Unknown: it may exist; a send to it then answers NOT_FOUND (definite) if it does not.
    if (r.outcome !== 'fail') this.groups.set(name, [this.user, ...others].sort());
  }

  /** The account's groups, as the cluster lists them (read-only). */
  async listGroups(phase: OpRecord['phase'] = 'run'): Promise<GroupRecord[] | null> {
    const r = await this.recorded('groups', phase, {}, false, () => this.client.groups(), (v) => ({ groups: v.groups.map((g) => ({ name: g.name, members: [...g.members].sort() })) }));
    if (r.outcome !== 'ok') return null;
    const listed = r.value!.groups.map((g) => ({ name: g.name, members: [...g.members].sort() }));
    for (const g of listed) this.groups.set(g.name, g.members);
    return listed;
  }

  async groupSend(): Promise<void> {
    const rng = this.o.rng;
    if (this.groups.size === 0) return rng.chance(0.5) ? this.createGroup() : this.send();
    const group = rng.pick([...this.groups.keys()]);
    const n = ++this.n;
    const text = rng.chance(this.o.bigTextShare) ? `w${this.o.index}-${n}-${'x'.repeat(rng.range(500, 3500))}` : `w${this.o.index}-${n}`;
    const r = await this.recorded('groupSend', 'run', { group, text }, true, () => this.client.sendToGroup(group, text), (v) => ({ id: v.id, sentAt: v.sentAt }));
    if (r.outcome === 'ok') this.editable.push({ id: r.value!.id, key: `w${this.o.index}-${n}` });
    if (r.code === 'NOT_FOUND') this.groups.delete(group);
  }

  /** Replaces the text of one of its own messages with a new version (`<key>-e<k>`). */
  async edit(): Promise<void> {
    const rng = this.o.rng;
    if (this.editable.length === 0) return this.send();
    const { id, key } = rng.pick(this.editable);
    const text = `${key}-e${++this.edits}`;
    const r = await this.recorded('edit', 'run', { messageId: id, text }, true, () => this.client.edit(id, text), () => ({}));
    const i = this.editable.findIndex((e) => e.id === id);
    if (r.code === 'NOT_FOUND' && i >= 0) this.editable.splice(i, 1);
  }

  async groupHistory(limit: number): Promise<void> {
    if (this.groups.size === 0) return this.listGroups().then(() => {});
    await this.groupPage(this.o.rng.pick([...this.groups.keys()]), limit, undefined, 'run');
  }

  /**
   * One page of a group's history: its messages (membership events left out), how many entries the page held and the
   * oldest entry's id (to page on); null if it could not be read.
   */
  private async groupPage(group: string, limit: number, before: number | undefined, phase: OpRecord['phase']): Promise<{ messages: SeenMessage[]; entries: number; oldest: number | undefined } | null> {
    const args = before === undefined ? { group, limit } : { group, limit, before };
    const r = await this.recorded('groupHistory', phase, args, false, () => this.client.groupHistory(group, before === undefined ? { limit } : { limit, before }), (v) => ({
      messages: v.messages.filter((m) => m.event === undefined).map(seen),
    }));
    if (r.outcome !== 'ok') return null;
    const all = r.value!.messages;
    return { messages: all.filter((m) => m.event === undefined).map(seen), entries: all.length, oldest: all[0]?.id };
  }

  /** Every message of a group, all pages (oldest first); null if it could not be read before the deadline. */
  async fullGroupHistory(group: string, deadline: number): Promise<SeenMessage[] | null> {
    const out: SeenMessage[] = [];
    let before: number | undefined;
    while (Date.now() < deadline) {
      const page = await this.groupPage(group, 500, before, 'final');
      if (!page) continue;
      out.unshift(...page.messages);
      if (page.entries < 500) return out;
      before = page.oldest;
    }
    return null;
  }

  async read(limit: number, phase: OpRecord['phase'] = 'run'): Promise<{ outcome: Outcome; count: number }> {
    const r = await this.recorded('read', phase, { limit }, true, () => this.client.read(limit), (v) => ({ messages: v.messages.map(seen) }));
    if (r.outcome === 'ok') {
      for (const m of r.value!.messages) {
        if (m.group === undefined) this.received.push(m.id);
        else if (!this.groups.has(m.group)) this.groups.set(m.group, []);
      }
    }
    return { outcome: r.outcome, count: r.value?.messages.length ?? 0 };
  }

  async history(withUser: string, limit: number, before?: number, phase: OpRecord['phase'] = 'run'): Promise<SeenMessage[] | null> {
    const args = before === undefined ? { with: withUser, limit } : { with: withUser, limit, before };
    const r = await this.recorded('history', phase, args, false, () => this.client.history(withUser, before === undefined ? { limit } : { limit, before }), (v) => ({
      messages: v.messages.map(seen),
    }));
    return r.outcome === 'ok' ? r.value!.messages.map(seen) : null;
  }

  async delete(): Promise<void> {
    const rng = this.o.rng;
    const ids: number[] = [];
    const take = (list: number[]) => {
      if (list.length === 0) return;
      const i = rng.int(list.length);
      ids.push(list[i]);
      list.splice(i, 1);
    };
    const x = rng.next();
    const forget = (id: number) => {
      const i = this.editable.findIndex((e) => e.id === id);
      if (i >= 0) this.editable.splice(i, 1);
    };
    if (x < 0.6) take(this.sent);
    else if (x < 0.85) take(this.received);
    else ids.push(10_000_000 + rng.int(1_000_000)); // no such message: a definite NOT_FOUND
    if (rng.chance(0.2)) take(this.sent);
    if (ids.length === 0) return this.send();
    for (const id of ids) forget(id);
    await this.recorded('delete', 'run', { ids }, true, () => this.client.delete(ids), (v) => ({ deleted: v.deleted }));
  }

  /** Reads until the inbox is empty; retries failed reads. True when a read came back short (the inbox was empty). */
  async drain(deadline: number): Promise<boolean> {
    while (Date.now() < deadline) {
      const r = await this.read(500, 'final');
      if (r.outcome === 'ok' && r.count < 500) return true;
    }
    return false;
  }

  /** Every message between this account and `other`, all pages (oldest first); null if it could not be read. */
  async fullHistory(other: string, deadline: number): Promise<SeenMessage[] | null> {
    const out: SeenMessage[] = [];
    let before: number | undefined;
    while (Date.now() < deadline) {
      const page = await this.history(other, 500, before, 'final');
      if (!page) continue;
      out.unshift(...page);
      if (page.length < 500) return out;
      before = page[0].id;
    }
    return null;
  }

  close(): void {
    this.client.close();
  }
}
