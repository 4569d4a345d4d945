/** Applying the message commands: send and delete. A message's id is its send's log index. */
import type { ChatMessage, PushFrame } from '../../protocol/client.js';
import { IdsByAccount, refuse, type ApplyContext } from '../apply-context.js';
import type { CommandOf } from '../commands.js';
import type { GroupCommands } from './groups.js';
import type { IdentityCache } from '../identities.js';
import { accountLookup, chatMessageOf } from '../message-view.js';
import type { MessageRow, Statements } from '../statements.js';

/** Re-derives last_id of both conversation rows of a pair after deletions; drops them when nothing is left. */
export function refreshConversation(statements: Statements, lo: number, hi: number): void {
  const last = statements.lastInPair.get(lo, hi, hi, lo)?.id ?? 0;
  for (const [owner, peer] of lo === hi ? [[lo, hi]] : [[lo, hi], [hi, lo]]) {
    if (last) statements.convSetLast.run(last, owner, peer);
    else statements.convDelete.run(owner, peer);
  }
}

export class MessageCommands {
  constructor(
    private readonly statements: Statements,
    private readonly identities: IdentityCache,
    private readonly groups: GroupCommands,
  ) {}

  /**
   * Refuses (NOT_FOUND, UNAUTHENTICATED) before its first write; its writes (a new row under a fresh id, then upserts
   * and counters) cannot fail but for the environment. So it needs no savepoint of its own.
   */
  send(cmd: CommandOf<'send'>, ctx: ApplyContext) {
    const from = this.identities.sender(cmd.tokenHash);
    const recipient = this.identities.liveAccount(cmd.to) ?? refuse('NOT_FOUND', `no account named "${cmd.to}"`);
    const toSelf = recipient.id === from.id;
    const id = ctx.index;
    // A note to self is born delivered and read.
    const doneAt = toSelf ? ctx.at : null;
    this.statements.insertMessage.run(id, from.id, recipient.id, cmd.text, ctx.at, doneAt, doneAt);
    this.statements.convUpsert.run(from.id, recipient.id, id);
    if (!toSelf) {
      if (this.statements.convBumpUnread.run(id, recipient.id, from.id).changes === 0) {
        this.statements.convFirstUnread.run(recipient.id, from.id, id, id);
      }
      this.statements.accountAddUnread.run(1, recipient.id);
    }
    const message: ChatMessage = {
      id,
      from: from.username,
      to: recipient.username,
      text: cmd.text,
      sentAt: ctx.at,
      deliveredAt: doneAt,
      readAt: doneAt,
    };
    const frame: PushFrame = { type: 'push', event: 'message', message };
    ctx.push(recipient, frame);
    ctx.push(from, frame);
    return { id, sentAt: ctx.at };
  }

  /**
   * Replaces the text of a live message the account sent (the search index follows by trigger), marks it edited at
   * the command's clock, and pushes the new version to both sides.
   */
  edit(cmd: CommandOf<'edit'>, accountId: number, ctx: ApplyContext) {
    const row = this.statements.messageById.get(cmd.messageId);
    if (!row || row.deleted) refuse('NOT_FOUND', `no message ${cmd.messageId}`);
    if (row.from_id !== accountId || row.event !== null) refuse('FORBIDDEN', `message ${cmd.messageId} is not yours to edit: only its sender may`);
    if (row.group_id !== null && !this.statements.groupMember.get(row.group_id, accountId)) {
      refuse('FORBIDDEN', `message ${cmd.messageId} is in a group you are no longer a member of`);
    }
    this.statements.editMessage.run(cmd.text, ctx.at, row.id);
    const accounts = accountLookup(this.statements);
    const frame: PushFrame = { type: 'push', event: 'edited', message: chatMessageOf({ ...row, text: cmd.text, edited_at: ctx.at }, accounts) };
    if (row.group_id !== null) {
      this.groups.pushToMembers(row.group_id, frame, ctx);
      return { edited: true as const, editedAt: ctx.at };
    }
    for (const id of new Set([row.from_id, row.to_id])) {
      const to = accounts(id);
      if (to) ctx.push(to, frame);
    }
    return { edited: true as const, editedAt: ctx.at };
  }

  /** Tombstones messages the account sent or received; checks every id first, so a refusal changes nothing. */
  delete(cmd: CommandOf<'delete'>, accountId: number, ctx: ApplyContext) {
    const unique = [...new Set(cmd.ids)].sort((a, b) => a - b);
    const rows: MessageRow[] = [];
    for (const id of unique) {
      const row = this.statements.messageById.get(id) ?? refuse('NOT_FOUND', `no message ${id}`);
      // A group message (or event) only its sender may delete; a one-to-one message either side.
      const mayDelete = row.group_id === null ? row.from_id === accountId || row.to_id === accountId : row.from_id === accountId && row.event === null;
      if (!mayDelete) refuse('FORBIDDEN', `message ${id} is not yours to delete`);
      rows.push(row);
    }
    const byAccount = new IdsByAccount();
    const pairs = new Map<string, [number, number]>();
    const groupIds = new Set<number>();
    let count = 0;
    for (const row of rows) {
      if (row.deleted) continue; // already gone: deleting twice is harmless
      this.statements.tombstone.run(row.id);
      count++;
      if (row.group_id !== null) {
        this.groups.dropUnread(row.group_id, row.from_id, row.id);
        groupIds.add(row.group_id);
        continue;
      }
      if (row.read_at === null && row.from_id !== row.to_id) this.dropUnread(row);
      byAccount.add(row.from_id, row.id);
      if (row.to_id !== row.from_id) byAccount.add(row.to_id, row.id);
      const lo = Math.min(row.from_id, row.to_id);
      const hi = Math.max(row.from_id, row.to_id);
      pairs.set(`${lo}:${hi}`, [lo, hi]);
    }
    for (const [lo, hi] of pairs.values()) refreshConversation(this.statements, lo, hi);
    for (const groupId of groupIds) {
      this.statements.groupSetLast.run(this.statements.groupLast.get(groupId)?.id ?? groupId, groupId);
      const ids = rows.filter((r) => r.group_id === groupId).map((r) => r.id);
      this.groups.pushToMembers(groupId, { type: 'push', event: 'deleted', ids }, ctx);
    }
    ctx.pushToEach(byAccount, (id) => this.statements.accountById.get(id), (ids) => ({ type: 'push', event: 'deleted', ids }));
    return { deleted: count };
  }

  /** An unread message was deleted: the recipient's counters drop; first_unread moves on if it was this one. */
  private dropUnread(row: MessageRow): void {
    const conv = this.statements.convGet.get(row.to_id, row.from_id);
    if (conv) {
      const next =
        conv.unread <= 1
          ? null
          : conv.first_unread === row.id
            ? (this.statements.nextIn.get(row.to_id, row.from_id, row.id)?.id ?? null)
            : conv.first_unread;
      this.statements.convSetUnread.run(1, next, row.to_id, row.from_id);
    }
    this.statements.accountAddUnread.run(-1, row.to_id);
  }
}
