/**
 * Applying the receipt commands: read (the oldest unread messages, marked read), markRead (a conversation up to an
 * id), delivered (the inbox up to an id). Each sends receipts to the senders. Read and delivered state are
 * watermarks (schema.ts): a conversation's unread messages are a suffix from first_unread; an account's messages up
 * to delivered_upto are delivered, and above it exactly the read ones.
 */
import { IdsByAccount, refuse, type ApplyContext } from '../apply-context.js';
import type { CommandOf } from '../commands.js';
import { pushGroupReads } from './group-reads.js';
import { resolvePeer } from '../identities.js';
import { accountLookup, chatMessageOf, clampLimit } from '../message-view.js';
import type { AccountRow, MessageRow, Statements } from '../statements.js';

export class ReceiptCommands {
  constructor(private readonly statements: Statements) {}

  /**
   * The oldest `limit` unread messages across the account's conversations. They lie in the `limit` conversations
   * whose first unread messages are oldest (each conversation's unread messages are a suffix of it), so those are
   * merged, each read only below the current limit-th oldest candidate. Unread group messages (from cluster version
   * 3) are merged in too, each group's oldest first, so each member's read watermark moves over a prefix.
   */
  read(cmd: CommandOf<'read'>, account: AccountRow, ctx: ApplyContext) {
    const n = clampLimit(cmd.limit);
    const convs = this.statements.convUnread.all(account.id, n);
    let rows: MessageRow[] = [];
    for (const conv of convs) {
      const bound = rows.length === n ? rows[n - 1].id : Number.MAX_SAFE_INTEGER;
      if (conv.first_unread >= bound) break;
      const found = this.statements.unreadIn.all(account.id, conv.peer_id, conv.first_unread, bound, n);
      rows = rows.length ? rows.concat(found).sort((a, b) => a.id - b.id).slice(0, n) : found;
    }
    const memberships = this.statements.groupsOf.all(account.id).filter((m) => m.unread > 0);
    for (const m of memberships) {
      rows = rows.concat(this.statements.groupUnread.all(m.group_id, m.read_upto, account.id, n)).sort((a, b) => a.id - b.id).slice(0, n);
    }
    const groupRows = rows.filter((r) => r.group_id !== null);
    rows = rows.filter((r) => r.group_id === null);
    const bySender = new IdsByAccount();
    for (const row of rows) {
      this.statements.markRead.run(ctx.at, ctx.at, row.id);
      row.read_at = ctx.at;
      row.delivered_at ??= ctx.at;
      bySender.add(row.from_id, row.id);
    }
    for (const conv of convs) {
      const ids = bySender.get(conv.peer_id);
      if (ids) this.takeUnread(account.id, conv.peer_id, conv.unread, ids);
    }
    if (rows.length) this.statements.accountAddUnread.run(-rows.length, account.id);
    this.pushReceipts(ctx, bySender, 'read');
    for (const m of memberships) {
      const taken = groupRows.filter((r) => r.group_id === m.group_id);
      if (!taken.length) continue;
      const upTo = taken[taken.length - 1].id;
      this.statements.groupSetRead.run(upTo, taken.length, m.group_id, account.id);
      pushGroupReads(this.statements, ctx, m.group_id, this.statements.groupById.get(m.group_id)!.name, taken);
    }
    const accounts = accountLookup(this.statements);
    return { messages: rows.concat(groupRows).sort((a, b) => a.id - b.id).map((row) => chatMessageOf(row, accounts)) };
  }

  markRead(cmd: CommandOf<'markRead'>, account: AccountRow, ctx: ApplyContext) {
    const peerId = resolvePeer(this.statements, account.id, cmd.with) ?? refuse('NOT_FOUND', `no conversation with "${cmd.with}"`);
    const conv = this.statements.convGet.get(account.id, peerId);
    if (!conv || conv.first_unread === null || conv.first_unread > cmd.upTo) return { marked: 0 };
    const ids = this.statements.unreadInUpTo.all(account.id, peerId, conv.first_unread, cmd.upTo).map((r) => r.id);
    for (const id of ids) this.statements.markRead.run(ctx.at, ctx.at, id);
    if (ids.length) {
      this.takeUnread(account.id, peerId, conv.unread, ids);
      this.statements.accountAddUnread.run(-ids.length, account.id);
      const bySender = new IdsByAccount();
      for (const id of ids) bySender.add(peerId, id);
      this.pushReceipts(ctx, bySender, 'read');
    }
    return { marked: ids.length };
  }

  /**
   * Marks the messages to the account up to `upTo` delivered. Those at or below its delivered watermark are, and
   * above it exactly the read ones are, so only the range between is looked at; then the watermark moves to upTo
   * (never past this entry's index: later messages are not delivered yet).
   */
  delivered(cmd: CommandOf<'delivered'>, account: AccountRow, ctx: ApplyContext) {
    const upTo = Math.min(cmd.upTo, ctx.index);
    if (upTo <= account.delivered_upto) return { marked: 0 };
    const bySender = new IdsByAccount();
    let marked = 0;
    for (const row of this.statements.inboxRange.all(account.id, account.delivered_upto, upTo)) {
      if (row.delivered_at !== null) continue;
      this.statements.markDelivered.run(ctx.at, row.id);
      bySender.add(row.from_id, row.id);
      marked++;
    }
    this.statements.setDeliveredUpto.run(upTo, account.id);
    this.pushReceipts(ctx, bySender, 'delivered');
    return { marked };
  }

  /** `ids`, the oldest unread messages of conversation (owner, peer) in order, were read: moves first_unread past them. */
  private takeUnread(owner: number, peer: number, unread: number, ids: number[]): void {
    const next = ids.length >= unread ? null : (this.statements.nextIn.get(owner, peer, ids[ids.length - 1])?.id ?? null);
    this.statements.convSetUnread.run(ids.length, next, owner, peer);
  }

  private pushReceipts(ctx: ApplyContext, bySender: IdsByAccount, kind: 'delivered' | 'read'): void {
    ctx.pushToEach(bySender, (id) => this.statements.accountById.get(id), (ids) => ({ type: 'push', event: 'receipt', ids, kind, at: ctx.at }));
  }
}
