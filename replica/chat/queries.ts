/**
 * Reads of the applied chat state (no log entry): what the leader serves after a ReadIndex barrier. Each is bounded:
 * index range scans with a page limit.
 */
import { QuorumError } from '../protocol/errors.js';
import { Pattern, type ChatMessage, type ConversationSummary } from '../protocol/client.js';
import { resolvePeer } from './identities.js';
import { accountLookup, chatMessageOf, clampLimit } from './message-view.js';
import type { MessageRow, Statements } from './statements.js';

export interface AccountInfo {
  id: number;
  username: string;
}

const PAGE_TOKEN = /^a:([a-z0-9_.-]{1,32})$/;

/** Translates an account pattern (`*` any run, `?` one character) into a lowercase SQLite GLOB with escaping. */
export function patternToGlob(pattern: string): { glob: string; prefix: string } {
  let glob = '';
  let prefix = '';
  let literal = true;
  for (const ch of pattern.toLowerCase()) {
    if (ch === '*' || ch === '?') {
      literal = false;
      glob += ch;
    } else {
      if (literal) prefix += ch;
      glob += ch === '[' ? '[[]' : ch === ']' ? '[]]' : ch;
    }
  }
  return { glob: glob === '' ? '*' : glob, prefix };
}

export class ChatQueries {
  constructor(private readonly statements: Statements) {}

  /** The live account with this username (case-insensitive). */
  account(username: string): { id: number; username: string; passwordHash: string } | null {
    const row = this.statements.accountLive.get(username.toLowerCase());
    return row ? { id: row.id, username: row.username, passwordHash: row.password_hash } : null;
  }

  /** The live account a login token hash belongs to. */
  accountByToken(tokenHash: string): AccountInfo | null {
    const row = this.statements.tokenAccount.get(tokenHash);
    return row ? { id: row.id, username: row.username } : null;
  }

  unreadCount(accountId: number): number {
    const row = this.statements.accountById.get(accountId);
    return row && !row.deleted ? row.unread : 0;
  }

  /** The highest id of a live message to or from the account (0 if none): where live delivery starts after login. */
  lastMessageId(accountId: number): number {
    return this.statements.lastMessageId.get(accountId, accountId)!.id;
  }

  /**
   * Live accounts whose username matches `pattern` (`*`, `?`; case-insensitive; '' means all), ordered by lowercase
   * username, with keyset pagination. Bounded work: one call examines at most max(1000, 4 * limit) accounts, so a
   * sparse pattern may return a short (even empty) page with a nextPageToken; keep paging until it is null.
   */
  accounts(pattern: string, limit: number, pageToken: string | null): { accounts: { username: string }[]; nextPageToken: string | null } {
    if (!Pattern.safeParse(pattern).success) throw new QuorumError('INVALID', 'patterns use username characters plus "*" and "?"');
    let after = '';
    if (pageToken) {
      const match = PAGE_TOKEN.exec(pageToken);
      if (!match) throw new QuorumError('INVALID', 'bad page token');
      after = match[1];
    }
    const n = clampLimit(limit);
    const budget = Math.max(1000, 4 * n);
    const { glob, prefix } = patternToGlob(pattern);
    const hits: { username: string; lower: string }[] = [];
    let lastScanned: string | null = null;
    let scanned = 0;
    let more = false;
    for (const row of this.statements.accountsScan.iterate(glob, prefix, after, prefix + '\uffff')) {
      if (row.hit) {
        if (hits.length === n) {
          more = true;
          break;
        }
        hits.push({ username: row.username, lower: row.username_lower });
      }
      lastScanned = row.username_lower;
      if (++scanned >= budget) {
        more = true;
        break;
      }
    }
    const resumeAt = hits.length === n ? hits[n - 1].lower : lastScanned;
    return {
      accounts: hits.map((h) => ({ username: h.username })),
      nextPageToken: more && resumeAt ? `a:${resumeAt}` : null,
    };
  }

  /**
   * One page of the conversation between `accountId` and `withUsername`: the newest `limit` messages with
   * id < before, returned oldest first. NOT_FOUND when there is no such account (a deleted account counts while
   * a conversation with it remains and no live account took its name).
   */
  history(accountId: number, withUsername: string, limit: number, before?: number | null): ChatMessage[] {
    const peer = resolvePeer(this.statements, accountId, withUsername);
    if (peer === null) throw new QuorumError('NOT_FOUND', `no account named "${withUsername}"`);
    const below = before ?? Number.MAX_SAFE_INTEGER;
    const n = clampLimit(limit);
    const rows =
      peer === accountId
        ? this.statements.historySelf.all(peer, peer, below, n)
        : this.statements.history.all(accountId, peer, below, peer, accountId, below, n);
    const accounts = accountLookup(this.statements);
    return rows.reverse().map((row) => chatMessageOf(row, accounts));
  }

  /** The account's conversations, most recent first, with unread counts and the last message. */
  conversations(accountId: number, limit: number): ConversationSummary[] {
    const accounts = accountLookup(this.statements);
    const summaries: ConversationSummary[] = [];
    for (const conv of this.statements.convRecent.all(accountId, clampLimit(limit))) {
      const row = this.statements.messageById.get(conv.last_id);
      if (!row) continue;
      const lastMessage = chatMessageOf(row, accounts);
      const peer = accounts(conv.peer_id);
      const summary: ConversationSummary = { with: peer?.username ?? '', lastMessage, unread: conv.unread };
      if (peer?.deleted) summary.deleted = true;
      summaries.push(summary);
    }
    return summaries;
  }

  /** Every live message to or from the account with id > afterId, oldest first (resuming live delivery). */
  messagesAfter(accountId: number, afterId: number, limit: number): ChatMessage[] {
    const n = clampLimit(limit);
    const received = this.statements.toAfter.all(accountId, afterId, n);
    const sent = this.statements.fromAfter.all(accountId, accountId, afterId, n);
    const merged: MessageRow[] = [];
    let i = 0;
    let j = 0;
    while (merged.length < n && (i < received.length || j < sent.length)) {
      if (j >= sent.length || (i < received.length && received[i].id < sent[j].id)) merged.push(received[i++]);
      else merged.push(sent[j++]);
    }
    const accounts = accountLookup(this.statements);
    return merged.map((row) => chatMessageOf(row, accounts));
  }
}
