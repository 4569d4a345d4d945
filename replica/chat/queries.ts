/**
 * Reads of the applied chat state (no log entry): what the leader serves after a ReadIndex barrier. Each is bounded:
 * index range scans with a page limit.
 */
import { QuorumError } from '../protocol/errors.js';
import { Pattern, type ChatMessage, type ConversationSummary, type GroupSummary, type SearchHit } from '../protocol/client.js';
import { LIMITS } from '../protocol/limits.js';
import { resolvePeer } from './identities.js';
import { accountLookup, chatMessageOf, clampLimit } from './message-view.js';
import type { GroupRow, MessageRow, Statements } from './statements.js';

export interface AccountInfo {
  id: number;
  username: string;
}

const PAGE_TOKEN = /^a:([a-z0-9_.-]{1,32})$/;

/** Where highlight() marks a match (statements.ts search): private-use characters no tokenizer treats as a word. */
const MARK_START = '\uE000';
const MARK_END = '\uE001';

/** A last word expanded into at most this many index terms; one with more stays a prefix query. */
export const PREFIX_TERMS_MAX = 16;

/**
 * The FTS5 expression for what a person typed: its words (letters and digits, as the unicode61 tokenizer splits
 * them), each quoted (so no word is read as FTS5 syntax), all required, the last one also as a prefix (results while
 * typing). Null when the query has no words.
 *
 * `termsWithPrefix` (the index's terms that begin with a word, or null when there are more than PREFIX_TERMS_MAX)
 * lets the last word be written as those terms, `("deploy" OR "deployed")`, rather than `"deploy"*`: the same
 * messages match, but FTS5 reads a prefix query by merging the whole doclist of every term so begun (the most common
 * word's is most of the index) before it can skip to the searcher's messages, while exact terms are seeked. Only for
 * ASCII words longer than 3 characters: shorter ones have their own prefix index (`prefix = '1 2 3'`), and ASCII
 * folds to the tokenizer's terms by lowercasing alone.
 */
export function searchExpression(query: string, termsWithPrefix?: (prefix: string) => string[] | null): string | null {
  const words = (query.match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, LIMITS.searchWordsMax);
  if (words.length === 0) return null;
  const last = (w: string) => {
    const folded = w.toLowerCase();
    const terms = termsWithPrefix && folded.length > 3 && /^[a-z0-9]+$/.test(folded) ? termsWithPrefix(folded) : null;
    return terms?.length ? `(${terms.map((t) => `"${t}"`).join(' OR ')})` : `"${w}"*`;
  };
  const phrases = words.map((w, i) => (i === words.length - 1 ? last(w) : `"${w}"`));
  return `text : (${phrases.join(' AND ')})`;
}

/** The index's terms that begin with an ASCII prefix (at most PREFIX_TERMS_MAX; null when there are more). */
function termsWithPrefix(statements: Statements, prefix: string): string[] | null {
  // Every term that begins with the prefix sorts at or after it and before the prefix with its last character bumped.
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const terms = statements.searchTerms
    .all(prefix, end, PREFIX_TERMS_MAX + 1)
    .map((r) => r.term)
    .filter((t) => t.startsWith(prefix));
  return terms.length > PREFIX_TERMS_MAX ? null : terms;
}

/** The text without its match marks, and the [start, end) offsets of the marked runs in it. */
export function unmark(marked: string): { text: string; matches: [number, number][] } {
  let text = '';
  const matches: [number, number][] = [];
  let start = -1;
  for (const ch of marked) {
    if (ch === MARK_START) start = text.length;
    else if (ch === MARK_END) {
      if (start >= 0) matches.push([start, text.length]);
      start = -1;
    } else text += ch;
  }
  return { text, matches };
}

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

  /**
   * Full-text search over the live messages to or from the account: best matches first (bm25), each with where its
   * text matched. INVALID when the query has no words.
   */
  search(accountId: number, query: string, limit: number): SearchHit[] {
    const words = searchExpression(query, (prefix) => termsWithPrefix(this.statements, prefix));
    if (words === null) throw new QuorumError('INVALID', 'the search has no words: type letters or digits');
    const accounts = accountLookup(this.statements);
    const parties = [`"a${accountId}"`, ...this.statements.groupsOf.all(accountId).map((m) => `"g${m.group_id}"`)];
    return this.statements.search.all(`${words} AND parties : (${parties.join(' OR ')})`, clampLimit(limit)).map(({ marked, ...row }) => {
      const message = chatMessageOf(row, accounts);
      const { text, matches } = unmark(marked);
      // A text holding the mark characters itself cannot be unmarked reliably: no marks then, rather than wrong ones.
      return text === message.text ? { ...message, matches } : { ...message, matches: [] };
    });
  }

  /**
   * Every live message to or from the account, or in its groups, with id > afterId, oldest first (resuming live
   * delivery).
   */
  messagesAfter(accountId: number, afterId: number, limit: number): ChatMessage[] {
    const n = clampLimit(limit);
    const received = this.statements.toAfter.all(accountId, afterId, n);
    // The account's own group messages come with its groups' below (fromAfter leaves them out).
    const sent = this.statements.fromAfter.all(accountId, accountId, afterId, n);
    const merged: MessageRow[] = [];
    let i = 0;
    let j = 0;
    while (merged.length < n && (i < received.length || j < sent.length)) {
      if (j >= sent.length || (i < received.length && received[i].id < sent[j].id)) merged.push(received[i++]);
      else merged.push(sent[j++]);
    }
    let rows = merged;
    for (const m of this.statements.groupsOf.all(accountId)) {
      rows = rows.concat(this.statements.groupAfter.all(m.group_id, afterId, n)).sort((a, b) => a.id - b.id).slice(0, n);
    }
    const accounts = accountLookup(this.statements);
    return rows.map((row) => chatMessageOf(row, accounts));
  }

  /** The account's groups, most recently active first. */
  groups(accountId: number, summary: (group: GroupRow, viewerId: number) => GroupSummary): GroupSummary[] {
    return this.statements.groupsOf
      .all(accountId)
      .map((m) => this.statements.groupById.get(m.group_id)!)
      .sort((a, b) => b.last_id - a.last_id)
      .map((g) => summary(g, accountId));
  }

  /** A group's name and member ids, for one of its members (NOT_FOUND for no such group, FORBIDDEN for a non-member). */
  groupMemberIds(accountId: number, name: string): { name: string; memberIds: number[] } {
    const group = this.statements.groupByName.get(name.toLowerCase());
    if (!group) throw new QuorumError('NOT_FOUND', `no group named "#${name}"`);
    const memberIds = this.statements.groupMembers.all(group.id).map((m) => m.account_id);
    if (!memberIds.includes(accountId)) throw new QuorumError('FORBIDDEN', `you are not a member of #${group.name}`);
    return { name: group.name, memberIds };
  }

  /**
   * One page of a group's history (messages and events): the newest `limit` with id < before, oldest first, each
   * message with how many other members have read it. NOT_FOUND for no such group, FORBIDDEN for a non-member.
   */
  groupHistory(accountId: number, name: string, limit: number, before?: number | null): ChatMessage[] {
    const group = this.statements.groupByName.get(name.toLowerCase());
    if (!group) throw new QuorumError('NOT_FOUND', `no group named "#${name}"`);
    const members = this.statements.groupMembers.all(group.id);
    if (!members.some((m) => m.account_id === accountId)) throw new QuorumError('FORBIDDEN', `you are not a member of #${group.name}`);
    const rows = this.statements.groupHistory.all(group.id, before ?? Number.MAX_SAFE_INTEGER, clampLimit(limit));
    const accounts = accountLookup(this.statements);
    return rows.reverse().map((row) => {
      const message = chatMessageOf(row, accounts);
      if (row.event === null) message.readBy = members.filter((m) => m.account_id !== row.from_id && m.read_upto >= row.id).length;
      return message;
    });
  }
}
