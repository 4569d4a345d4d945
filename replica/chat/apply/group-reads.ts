/**
 * Live group read counts: when a member's read watermark in a group moves (markGroupRead, or `read` taking group
 * messages), the senders of the messages it newly read get each message's new count of readers ("read by 2 of 3"),
 * the same number a group history page shows (queries.ts groupHistory: other members whose watermark is at or past
 * the message). A push from applied state, like one-to-one receipts: no new command, no new state.
 */
import { IdsByAccount, type ApplyContext } from '../apply-context.js';
import type { Statements } from '../statements.js';

/** The first index in ascending `xs` whose value is >= x. */
function lowerBound(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A member's watermark in the group moved (already written) past `newlyRead`: the live messages from other members it
 * passed. Pushes `groupRead` to the sender of each, with its count of readers now.
 */
export function pushGroupReads(statements: Statements, ctx: ApplyContext, groupId: number, groupName: string, newlyRead: readonly { id: number; from_id: number }[]): void {
  if (newlyRead.length === 0) return;
  const members = statements.groupMembers.all(groupId);
  const watermarks = members.map((m) => m.read_upto).sort((a, b) => a - b);
  const own = new Map(members.map((m) => [m.account_id, m.read_upto]));
  const readBy = new Map<number, number>();
  const bySender = new IdsByAccount();
  for (const row of newlyRead) {
    // Members at or past the message, its sender left out (a sender who has since left the group is no member).
    const senderRead = (own.get(row.from_id) ?? -1) >= row.id ? 1 : 0;
    readBy.set(row.id, watermarks.length - lowerBound(watermarks, row.id) - senderRead);
    bySender.add(row.from_id, row.id);
  }
  ctx.pushToEach(
    bySender,
    (id) => statements.accountById.get(id),
    (ids) => ({ type: 'push', event: 'groupRead', group: groupName, messages: ids.map((id) => ({ id, readBy: readBy.get(id)! })) }),
  );
}
