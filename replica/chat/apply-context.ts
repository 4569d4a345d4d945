/** What applying one command sees (its entry's index and clamped clock) and what it produces besides its answer. */
import { QuorumError, type ErrorCode } from '../protocol/errors.js';
import type { PushFrame } from '../protocol/client.js';
import type { PushEvent } from './outcome.js';
import type { AccountIdentity, AccountRow } from './statements.js';

/** Ends a command with a refusal: its savepoint rolls back whatever it touched, and the client gets `code`. */
export function refuse(code: ErrorCode, message: string): never {
  throw new QuorumError(code, message);
}

export class ApplyContext {
  /** Pushes emitted so far, in order; dropped when the command is refused. */
  events: PushEvent[] = [];

  constructor(
    /** The command's log index: the id of whatever it creates (an account, a message). */
    readonly index: number,
    /** The command's clock (the leader's, clamped to be monotonic): every timestamp it writes. */
    readonly at: number,
  ) {}

  /** Queues `frame` for the live connections of `to` (of one login only, with `tokenHash`); once per frame and account. */
  push(to: AccountIdentity, frame: PushFrame, tokenHash?: string): void {
    if (to.deleted) return; // nobody is logged in there
    if (this.events.some((e) => e.toAccount === to.id && e.frame === frame)) return;
    this.events.push({ toAccount: to.id, toUser: to.username_lower, frame, ...(tokenHash ? { tokenHash } : {}) });
  }

  /** One push per account of `groups`, in account id order (the same order on every replica). */
  pushToEach(groups: IdsByAccount, accountById: (id: number) => AccountRow | undefined, frameOf: (ids: number[]) => PushFrame): void {
    for (const [accountId, ids] of groups.inAccountOrder()) {
      const to = accountById(accountId);
      if (to) this.push(to, frameOf(ids));
    }
  }
}

/** Message ids grouped by an account (whom a receipt or a deletion concerns), each list in insertion order. */
export class IdsByAccount {
  private readonly lists = new Map<number, number[]>();

  add(accountId: number, id: number): void {
    const list = this.lists.get(accountId);
    if (list) list.push(id);
    else this.lists.set(accountId, [id]);
  }

  get(accountId: number): number[] | undefined {
    return this.lists.get(accountId);
  }

  inAccountOrder(): [number, number[]][] {
    return [...this.lists].sort((a, b) => a[0] - b[0]);
  }
}
