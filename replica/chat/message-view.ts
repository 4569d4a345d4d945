/** Stored rows as clients see them: messages with usernames, page sizes within the limits. */
import type { ChatMessage } from '../protocol/client.js';
import { LIMITS } from '../protocol/limits.js';
import type { AccountRow, MessageRow, Statements } from './statements.js';

/** A page size within [1, LIMITS.pageMax]; LIMITS.pageDefault for anything that is not a number. */
export function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return LIMITS.pageDefault;
  return Math.min(LIMITS.pageMax, Math.max(1, Math.floor(limit)));
}

/** Accounts by id, looked up once each (for one answer that names the same accounts many times). */
export type AccountLookup = (id: number) => AccountRow | undefined;

export function accountLookup(statements: Statements): AccountLookup {
  const seen = new Map<number, AccountRow | undefined>();
  return (id) => {
    if (!seen.has(id)) seen.set(id, statements.accountById.get(id));
    return seen.get(id);
  };
}

export function chatMessageOf(row: MessageRow, accounts: AccountLookup): ChatMessage {
  const from = accounts(row.from_id);
  const to = accounts(row.to_id);
  const message: ChatMessage = {
    id: row.id,
    from: from?.username ?? '',
    to: to?.username ?? '',
    text: row.text,
    sentAt: row.sent_at,
    deliveredAt: row.delivered_at,
    readAt: row.read_at,
  };
  if (from?.deleted) message.fromDeleted = true;
  if (row.edited_at !== null) message.editedAt = row.edited_at;
  return message;
}
