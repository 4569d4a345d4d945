/** Stored rows as clients see them: messages with usernames, page sizes within the limits. */
import type { ChatMessage, GroupEventKind } from '../protocol/client.js';
import { LIMITS } from '../protocol/limits.js';
import type { AccountRow, GroupRow, MessageRow, Statements } from './statements.js';

/** A page size within [1, LIMITS.pageMax]; LIMITS.pageDefault for anything that is not a number. */
export function clampLimit(limit: number): number {
  if (!Number.isFinite(limit)) return LIMITS.pageDefault;
  return Math.min(LIMITS.pageMax, Math.max(1, Math.floor(limit)));
}

/**
 * Accounts by id, looked up once each (for one answer that names the same accounts many times); `group` does the
 * same for groups.
 */
export type AccountLookup = ((id: number) => AccountRow | undefined) & {
  group: (id: number) => GroupRow | undefined;
  /** A group's members' usernames by lowercase name. */
  memberNames: (groupId: number) => Map<string, string>;
};

export function accountLookup(statements: Statements): AccountLookup {
  const seen = new Map<number, AccountRow | undefined>();
  const groups = new Map<number, GroupRow | undefined>();
  const lookup = (id: number) => {
    if (!seen.has(id)) seen.set(id, statements.accountById.get(id));
    return seen.get(id);
  };
  const members = new Map<number, Map<string, string>>();
  return Object.assign(lookup, {
    group: (id: number) => {
      if (!groups.has(id)) groups.set(id, statements.groupById.get(id));
      return groups.get(id);
    },
    memberNames: (groupId: number) => {
      let names = members.get(groupId);
      if (!names) members.set(groupId, (names = new Map(statements.groupMembers.all(groupId).map((m) => [m.username.toLowerCase(), m.username]))));
      return names;
    },
  });
}

export function chatMessageOf(row: MessageRow, accounts: AccountLookup): ChatMessage {
  const from = accounts(row.from_id);
  const group = row.group_id === null ? undefined : accounts.group(row.group_id);
  const to = row.group_id === null ? accounts(row.to_id)?.username : `#${group?.name ?? ''}`;
  const message: ChatMessage = {
    id: row.id,
    from: from?.username ?? '',
    to: to ?? '',
    text: row.text,
    sentAt: row.sent_at,
    deliveredAt: row.delivered_at,
    readAt: row.read_at,
  };
  if (from?.deleted) message.fromDeleted = true;
  if (row.edited_at !== null) message.editedAt = row.edited_at;
  if (row.group_id !== null) {
    message.group = group?.name ?? '';
    if (row.event === null) {
      const mentioned = mentionsIn(row.text, accounts.memberNames(row.group_id));
      if (mentioned.length) message.mentions = mentioned;
    }
  }
  if (row.event !== null) message.event = row.event as GroupEventKind;
  return message;
}

/** The members `@name`d in a text (as their usernames are written), each once, in order of first mention. */
export function mentionsIn(text: string, memberNames: Map<string, string>): string[] {
  const found: string[] = [];
  for (const [, raw] of text.matchAll(/(?:^|[^A-Za-z0-9_.-])@([A-Za-z0-9_.-]{1,32})/g)) {
    // "@bob." at the end of a sentence names bob.
    const name = memberNames.get(raw.toLowerCase()) ?? memberNames.get(raw.replace(/[.-]+$/, '').toLowerCase());
    if (name !== undefined && !found.includes(name)) found.push(name);
  }
  return found;
}
