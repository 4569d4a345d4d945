// Exactly-once client sessions (replica/chat/sessions.ts) at their edges: the exact refusals a client shows, expiry
// from cluster version 2 exactly, a replayed read that answers without what was deleted since, and what an expired
// client leaves behind (a watermark for stamped sessions, its id only for unstamped ones).
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SESSION_EVICT_EVERY, SESSION_IDLE_MS, SESSION_TOUCH_MS } from '../../replica/chat/state-machine.js';
import { SESSION_WINDOW } from '../../replica/protocol/limits.js';
import { openSqlite } from '../../replica/storage/sqlite.js';
import { Harness, tok } from '../helpers/chat-harness.js';

let h: Harness;
beforeEach(() => {
  h = new Harness();
  h.sm.bootstrap({ voters: ['r1'], learners: [] }, [{ id: 'r1', address: 'r1:1' }]);
  h.user('ann');
  h.user('bob');
});
afterEach(() => h.dispose());

const send = (text: string) => ({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text });
const EXPIRED = {
  code: 'SESSION_EXPIRED',
  message:
    "this client's session expired after 24 hours without writes: the outcome of this write is unknown (check before sending it again); start a new session",
};

/** A day and an hour on, another client writes, then no-ops up to the next multiple of 1000 (where idle clients expire). */
function expireIdle(): void {
  h.clockTo(h.at + SESSION_IDLE_MS + 3600 * 1000);
  h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-busy', seq: 1 });
  const noops = [];
  while (h.index % 1000 !== 999) noops.push(h.raw(''));
  noops.push(h.raw(''));
  h.sm.applyEntries(noops);
}

describe('client sessions', () => {
  it('says why a write is refused: a seq below the window, a start index not below its own', () => {
    h.raiseClusterVersion();
    for (let seq = 1; seq <= SESSION_WINDOW + SESSION_EVICT_EVERY; seq++) h.ok(send(`m${seq}`), { clientId: 'client-long', seq });
    expect(h.apply(send('old'), { clientId: 'client-long', seq: 1 }).response).toEqual({
      ok: false,
      error: { code: 'INVALID', message: `session seq 1 is older than the last ${SESSION_WINDOW} writes of this client; its outcome is unknown` },
    });
    const next = h.index + 1;
    expect(h.apply(send('x'), { clientId: 'client-new', seq: 1, startIndex: next }).response).toEqual({
      ok: false,
      error: { code: 'INVALID', message: `session start index ${next} is not below this write's index ${next}` },
    });
    expect(h.apply(send('x'), { clientId: 'client-new', seq: 1, startIndex: next }).response.ok).toBe(true);
  });

  for (const version of [1, 2]) {
    it(`at cluster version ${version}, a write of an expired session ${version === 1 ? 'applies (the older rule)' : 'gets SESSION_EXPIRED'}`, () => {
      h.raiseClusterVersion(version);
      // Unstamped: a session's start index needs version 2.
      expect(h.apply(send('once'), { clientId: 'client-c', seq: 1 }).response.ok).toBe(true);
      if (version === 1) {
        // Version 1 has no bounded clock or clock commands: the command itself carries the clock a day on.
        h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-busy', seq: 1, at: h.at + SESSION_IDLE_MS + 3600 * 1000 });
        const noops = [];
        while (h.index % 1000 !== 999) noops.push(h.raw(''));
        noops.push(h.raw(''));
        h.sm.applyEntries(noops);
      } else expireIdle();
      expect(h.sm.sessionResponse('client-c', 1)).toBeNull();
      const later = h.apply(send('later'), { clientId: 'client-c', seq: 2 });
      expect(later.response).toEqual(version === 1 ? { ok: true, result: expect.objectContaining({ id: expect.any(Number) }) } : { ok: false, error: EXPIRED });
    });
  }

  it('an expired stamped session leaves a watermark, an unstamped one its id; a stamped session begun after it is new', () => {
    h.raiseClusterVersion();
    h.ok(send('a'), { clientId: 'client-stamped', seq: 1, startIndex: 5 });
    h.ok(send('b'), { clientId: 'client-unstamped', seq: 1 });
    expireIdle();
    h.sm.commitGroup();
    const db = openSqlite(path.join(h.dir, 'state.db'), { readonly: true });
    try {
      // The harness's own unstamped client (signups, logins) expired too.
      expect(db.prepare('SELECT client_id FROM expired_clients ORDER BY 1').pluck().all()).toEqual(['client-default', 'client-unstamped']);
      expect(db.prepare('SELECT expired_upto FROM meta').pluck().get()).toBe(5);
    } finally {
      db.close();
    }
    expect(h.apply(send('c'), { clientId: 'client-other', seq: 1, startIndex: 5 }).response).toEqual({ ok: false, error: EXPIRED });
    expect(h.apply(send('d'), { clientId: 'client-other', seq: 1, startIndex: 6 }).response.ok).toBe(true);
    expect(h.apply(send('e'), { clientId: 'client-unstamped', seq: 2 }).response).toEqual({ ok: false, error: EXPIRED });
  });

  it('a write exactly SESSION_TOUCH_MS after the last recorded one moves the idle clock: the client outlives the first', () => {
    h.raiseClusterVersion();
    const t0 = h.at + 1000;
    h.clockTo(t0);
    h.ok(send('a'), { clientId: 'client-t', seq: 1, at: t0 });
    h.clockTo(t0 + SESSION_TOUCH_MS);
    h.ok(send('b'), { clientId: 'client-t', seq: 2, at: t0 + SESSION_TOUCH_MS });
    // Idle for a day since its second write, but more than a day and a touch since its first.
    const now = t0 + SESSION_IDLE_MS + SESSION_TOUCH_MS + 60_000;
    h.clockTo(now);
    h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-busy', seq: 1, at: now });
    const noops = [];
    while (h.index % 1000 !== 999) noops.push(h.raw(''));
    noops.push(h.raw(''));
    h.sm.applyEntries(noops);
    expect(h.sm.sessionResponse('client-t', 2)).not.toBeNull();
  });

  it('a replayed read answers with the messages it read, less those deleted since', () => {
    const ids = [h.ok<{ id: number }>(send('one')).id, h.ok<{ id: number }>(send('two')).id, h.ok<{ id: number }>(send('three')).id];
    const read = h.ok<{ messages: { id: number; text: string }[] }>({ kind: 'read', tokenHash: tok('bob'), limit: 10 }, { clientId: 'client-r', seq: 1 });
    expect(read.messages.map((m) => m.id)).toEqual(ids);
    h.ok({ kind: 'delete', tokenHash: tok('ann'), ids: [ids[1]] });
    const replay = h.sm.sessionResponse('client-r', 1) as { ok: true; result: { messages: { id: number; text: string }[] } };
    expect(replay.result.messages.map((m) => [m.id, m.text])).toEqual([
      [ids[0], 'one'],
      [ids[2], 'three'],
    ]);
    // A send's stored answer is its id and time.
    const sent = h.apply(send('four'), { clientId: 'client-s', seq: 1 });
    expect(h.sm.sessionResponse('client-s', 1)).toEqual(sent.response);
  });
});
