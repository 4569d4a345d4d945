/**
 * Whole-state checks for tests, chaos runs and replica comparison. Both are O(n) over the state: never on the apply
 * path.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../storage/sqlite.js';
import { HASHED_TABLES } from './schema.js';

/** What a state hash covers: 'all' the replicated tables; 'chat' what users see (a refusal leaves it unchanged). */
export type HashScope = 'all' | 'chat';

/**
 * sha256 (hex) over a canonical dump of the replicated tables. 'all' covers everything (applied index, conf,
 * sessions); 'chat' covers accounts, messages, conversations, tokens and members.
 */
export function stateHash(db: Db, scope: HashScope, clusterVersion: number): string {
  const steps = stateHashSteps(db, scope, clusterVersion, Number.POSITIVE_INFINITY);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * stateHash in steps: pauses after every `chunk` rows, so a caller can spread a large state's hash over event-loop
 * turns (the statement stays open across the pauses: `db` must be a connection nothing else uses meanwhile).
 */
export function* stateHashSteps(db: Db, scope: HashScope, clusterVersion: number, chunk: number): Generator<void, string> {
  const hash = createHash('sha256');
  let rows = 0;
  for (const t of HASHED_TABLES) {
    if ((scope === 'chat' && !t.chat) || (t.since !== undefined && clusterVersion < t.since)) continue;
    hash.update(`#${t.table}\n`);
    const columns = t.before && clusterVersion < t.before.version ? t.before.columns : (t.columns ?? '*');
    for (const row of db.prepare(`SELECT ${columns} FROM ${t.table} ORDER BY ${t.order}`).raw().iterate()) {
      hash.update(JSON.stringify(row));
      hash.update('\n');
      if (++rows % chunk === 0) yield;
    }
  }
  return hash.digest('hex');
}

/**
 * Recomputes the derived state (conversation rows, unread counts, first_unread, the read and delivered watermarks)
 * from the messages and returns every mismatch. An empty array means consistent.
 */
export function auditState(db: Db): string[] {
  const problems: string[] = [];
  const all = <T>(sql: string) => db.prepare(sql).all() as T[];
  for (const r of all<{ id: number; unread: number; actual: number }>(
    `SELECT a.id, a.unread, (SELECT count(*) FROM messages m WHERE m.to_id = a.id AND m.read_at IS NULL AND m.deleted = 0) AS actual
     FROM accounts a WHERE a.deleted = 0`,
  )) {
    if (r.unread !== r.actual) problems.push(`account ${r.id}: unread ${r.unread}, actually ${r.actual}`);
  }
  const expected = all<{ owner: number; peer: number; last_id: number; unread: number; first_unread: number | null }>(
    `SELECT owner, peer, max(id) AS last_id, sum(CASE WHEN to_id = owner AND read_at IS NULL THEN 1 ELSE 0 END) AS unread,
            min(CASE WHEN to_id = owner AND read_at IS NULL THEN id END) AS first_unread
     FROM (SELECT id, from_id AS owner, to_id AS peer, to_id, read_at FROM messages WHERE deleted = 0 AND group_id IS NULL
           UNION ALL SELECT id, to_id AS owner, from_id AS peer, to_id, read_at FROM messages WHERE deleted = 0 AND to_id <> from_id AND group_id IS NULL)
     WHERE owner IN (SELECT id FROM accounts WHERE deleted = 0)
     GROUP BY owner, peer ORDER BY owner, peer`,
  );
  const actual = all<{ owner_id: number; peer_id: number; last_id: number; unread: number; first_unread: number | null }>(
    'SELECT owner_id, peer_id, last_id, unread, first_unread FROM conversations ORDER BY owner_id, peer_id',
  );
  const key = (owner: number, peer: number) => `${owner}:${peer}`;
  const have = new Map(actual.map((c) => [key(c.owner_id, c.peer_id), c]));
  for (const e of expected) {
    const c = have.get(key(e.owner, e.peer));
    have.delete(key(e.owner, e.peer));
    if (!c) problems.push(`conversation ${key(e.owner, e.peer)} missing`);
    else if (c.last_id !== e.last_id || c.unread !== e.unread || c.first_unread !== e.first_unread) {
      problems.push(
        `conversation ${key(e.owner, e.peer)}: last ${c.last_id}/unread ${c.unread}/first unread ${c.first_unread}, ` +
          `expected ${e.last_id}/${e.unread}/${e.first_unread}`,
      );
    }
  }
  for (const k of have.keys()) problems.push(`conversation ${k} should not exist`);
  // The unread messages of a conversation are exactly its messages from the peer from first_unread on.
  for (const r of all<{ id: number }>(
    `SELECT m.id FROM messages m JOIN conversations c ON c.owner_id = m.to_id AND c.peer_id = m.from_id
     WHERE m.deleted = 0 AND m.to_id <> m.from_id
       AND (m.read_at IS NULL) <> (c.first_unread IS NOT NULL AND m.id >= c.first_unread) ORDER BY m.id`,
  )) {
    problems.push(`message ${r.id}: read state disagrees with its conversation's first_unread`);
  }
  // Delivered: everything up to the account's watermark, and everything read.
  for (const r of all<{ id: number }>(
    `SELECT m.id FROM messages m JOIN accounts a ON a.id = m.to_id
     WHERE m.deleted = 0 AND a.deleted = 0 AND m.delivered_at IS NULL AND (m.id <= a.delivered_upto OR m.read_at IS NOT NULL) ORDER BY m.id`,
  )) {
    problems.push(`message ${r.id}: not delivered, but read or below its recipient's delivered watermark`);
  }
  // A group member's unread count is what its watermark says: live messages from others above it.
  for (const r of all<{ group_id: number; account_id: number; unread: number; actual: number }>(
    `SELECT gm.group_id, gm.account_id, gm.unread, (SELECT count(*) FROM messages m WHERE m.group_id = gm.group_id AND m.deleted = 0
       AND m.event IS NULL AND m.from_id <> gm.account_id AND m.id > gm.read_upto) AS actual FROM group_members gm ORDER BY 1, 2`,
  )) {
    if (r.unread !== r.actual) problems.push(`group ${r.group_id} member ${r.account_id}: unread ${r.unread}, actually ${r.actual}`);
  }
  // The search index holds exactly the live messages (not group events), with their current text: FTS5 checks its
  // index against its content (the view of the live messages), word by word.
  try {
    db.prepare("INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)").run();
  } catch (err) {
    problems.push(`the search index disagrees with the messages (${(err as Error).message})`);
  }
  return problems;
}
