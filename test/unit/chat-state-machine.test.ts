import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Harness, pw, tok } from '../helpers/chat-harness.js';
import { encodeCommand } from '../../replica/chat/commands.js';
import { SESSION_WINDOW } from '../../replica/protocol/limits.js';
import { MAX_CLOCK_STEP_MS, SESSION_EVICT_EVERY, SESSION_IDLE_MS, SESSION_TOUCH_MS, type PushEvent } from '../../replica/chat/state-machine.js';

let h: Harness;

beforeEach(() => {
  h = new Harness();
});
afterEach(() => {
  h.dispose();
});

/** Asserts the command is refused with `code` and leaves the user-visible state unchanged. */
function refused(body: Record<string, unknown>, code: string): void {
  const before = h.sm.stateHash('chat');
  const o = h.apply(body);
  expect(o.response.ok).toBe(false);
  if (!o.response.ok) expect(o.response.error.code).toBe(code);
  expect(o.events).toEqual([]);
  expect(h.sm.stateHash('chat')).toBe(before);
  expect(h.sm.applied().index).toBe(o.index);
  expect(h.sm.audit()).toEqual([]);
}

const pushesTo = (events: PushEvent[], account: number) => events.filter((e) => e.toAccount === account).map((e) => e.frame);

describe('accounts and logins', () => {
  it('signs up; usernames are unique case-insensitively; the id is the log index', () => {
    const o = h.apply({ kind: 'signup', username: 'Alice', passwordHash: pw('Alice') });
    expect(o.response).toEqual({ ok: true, result: { user: 'Alice' } });
    expect(h.sm.account('alice')).toEqual({ id: o.index, username: 'Alice', passwordHash: pw('Alice') });
    refused({ kind: 'signup', username: 'ALICE', passwordHash: pw('x') }, 'USERNAME_TAKEN');
    refused({ kind: 'signup', username: 'alice', passwordHash: pw('x') }, 'USERNAME_TAKEN');
  });

  it('logs in with the verified hash; refuses unknown users and a changed hash', () => {
    h.signup('bob');
    refused({ kind: 'login', username: 'nobody', passwordHash: pw('nobody'), tokenHash: tok('x') }, 'BAD_CREDENTIALS');
    refused({ kind: 'login', username: 'bob', passwordHash: pw('stale'), tokenHash: tok('x') }, 'BAD_CREDENTIALS');
    const r = h.ok({ kind: 'login', username: 'BOB', passwordHash: pw('bob'), tokenHash: tok('bob') });
    expect(r).toEqual({ user: 'bob', unread: 0, lastMessageId: 0 });
    expect(h.sm.accountByToken(tok('bob'))).toEqual({ id: h.sm.account('bob')!.id, username: 'bob' });
    expect(h.sm.accountByToken(tok('nope'))).toBeNull();
  });

  it('refuses a token hash already bound to another account', () => {
    h.user('ann');
    h.signup('bob');
    refused({ kind: 'login', username: 'bob', passwordHash: pw('bob'), tokenHash: tok('ann') }, 'INVALID');
  });

  it('logout ends that login only, with a sessionEnded push to its connections', () => {
    const ann = h.user('ann');
    h.ok({ kind: 'login', username: 'ann', passwordHash: pw('ann'), tokenHash: tok('ann-laptop') });
    h.user('bob');
    const o = h.apply({ kind: 'logout', tokenHash: tok('ann') });
    expect(o.response).toEqual({ ok: true, result: { loggedOut: true } });
    expect(o.events).toEqual([
      { toAccount: ann, toUser: 'ann', tokenHash: tok('ann'), frame: { type: 'push', event: 'sessionEnded', reason: 'logged out' } },
    ]);
    expect(h.sm.accountByToken(tok('ann'))).toBeNull();
    expect(h.sm.accountByToken(tok('ann-laptop'))?.id).toBe(ann);
    refused({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'hi' }, 'UNAUTHENTICATED');
    refused({ kind: 'logout', tokenHash: tok('ann') }, 'UNAUTHENTICATED');
    h.ok({ kind: 'send', tokenHash: tok('ann-laptop'), to: 'bob', text: 'still here' });
  });
});

describe('messages', () => {
  it('sends: id = log index, sentAt = command clock, pushed to the recipient and the sender', () => {
    const ann = h.user('ann');
    const bob = h.user('bob');
    const e = h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'BOB', text: 'hello' });
    const at = JSON.parse(e.data).at;
    const [o] = h.sm.applyEntries([e]);
    expect(o.response).toEqual({ ok: true, result: { id: e.index, sentAt: at } });
    const message = { id: e.index, from: 'ann', to: 'bob', text: 'hello', sentAt: at, deliveredAt: null, readAt: null };
    expect(pushesTo(o.events, bob)).toEqual([{ type: 'push', event: 'message', message }]);
    expect(pushesTo(o.events, ann)).toEqual([{ type: 'push', event: 'message', message }]);
    expect(h.sm.unreadCount(bob)).toBe(1);
    expect(h.sm.unreadCount(ann)).toBe(0);
    expect(h.sm.history(ann, 'bob', 10)).toEqual([message]);
    expect(h.sm.history(bob, 'Ann', 10)).toEqual([message]);
    // The state check's size bound: the highest message id and account id.
    expect(h.sm.stateHashRows()).toBe(e.index + bob);
  });

  it('refuses sending to an unknown account or without a valid login', () => {
    h.user('ann');
    refused({ kind: 'send', tokenHash: tok('ann'), to: 'ghost', text: 'hi' }, 'NOT_FOUND');
    refused({ kind: 'send', tokenHash: tok('ghost'), to: 'ann', text: 'hi' }, 'UNAUTHENTICATED');
  });

  it('a note to self is born read and pushed once', () => {
    const ann = h.user('ann');
    const e = h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'ann', text: 'memo' });
    const [o] = h.sm.applyEntries([e]);
    expect(o.events).toHaveLength(1);
    expect(h.sm.unreadCount(ann)).toBe(0);
    const [c] = h.sm.conversations(ann, 10);
    expect(c).toMatchObject({ with: 'ann', unread: 0, lastMessage: { id: e.index, text: 'memo' } });
    expect(h.sm.messagesAfter(ann, 0, 10).map((m) => m.id)).toEqual([e.index]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('read returns unread messages oldest first, marks them read and sends read receipts', () => {
    const ann = h.user('ann');
    const bob = h.user('bob');
    const cat = h.user('cat');
    const m1 = h.send('ann', 'bob', 'one');
    const m2 = h.send('cat', 'bob', 'two');
    const m3 = h.send('ann', 'bob', 'three');
    expect(h.sm.unreadCount(bob)).toBe(3);
    const e = h.entry({ kind: 'read', tokenHash: tok('bob'), limit: 2 });
    const at = JSON.parse(e.data).at;
    const [o] = h.sm.applyEntries([e]);
    expect(o.response.ok).toBe(true);
    const msgs = (o.response as { result: { messages: any[] } }).result.messages;
    expect(msgs.map((m) => m.id)).toEqual([m1, m2]);
    expect(msgs.every((m) => m.readAt === at && m.deliveredAt === at)).toBe(true);
    expect(pushesTo(o.events, ann)).toEqual([{ type: 'push', event: 'receipt', ids: [m1], kind: 'read', at }]);
    expect(pushesTo(o.events, cat)).toEqual([{ type: 'push', event: 'receipt', ids: [m2], kind: 'read', at }]);
    expect(h.sm.unreadCount(bob)).toBe(1);
    expect(h.ok({ kind: 'read', tokenHash: tok('bob'), limit: 50 }).messages.map((m: any) => m.id)).toEqual([m3]);
    expect(h.ok({ kind: 'read', tokenHash: tok('bob'), limit: 50 }).messages).toEqual([]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('markRead marks messages from one account up to an id', () => {
    const ann = h.user('ann');
    const bob = h.user('bob');
    h.user('cat');
    const a1 = h.send('ann', 'bob', '1');
    const a2 = h.send('ann', 'bob', '2');
    h.send('cat', 'bob', 'x');
    const a3 = h.send('ann', 'bob', '3');
    const o = h.apply({ kind: 'markRead', tokenHash: tok('bob'), with: 'Ann', upTo: a2 });
    expect(o.response).toEqual({ ok: true, result: { marked: 2 } });
    expect(pushesTo(o.events, ann)).toEqual([{ type: 'push', event: 'receipt', ids: [a1, a2], kind: 'read', at: expect.any(Number) }]);
    expect(h.sm.unreadCount(bob)).toBe(2);
    expect(h.sm.conversations(bob, 10).map((c) => [c.with, c.unread])).toEqual([
      ['ann', 1],
      ['cat', 1],
    ]);
    expect(h.ok({ kind: 'markRead', tokenHash: tok('bob'), with: 'ann', upTo: a2 })).toEqual({ marked: 0 });
    expect(h.ok({ kind: 'markRead', tokenHash: tok('bob'), with: 'ann', upTo: a3 })).toEqual({ marked: 1 });
    refused({ kind: 'markRead', tokenHash: tok('bob'), with: 'ghost', upTo: a3 }, 'NOT_FOUND');
    expect(h.sm.audit()).toEqual([]);
  });

  it('delivered marks incoming messages up to an id and sends delivered receipts', () => {
    const ann = h.user('ann');
    const bob = h.user('bob');
    const a1 = h.send('ann', 'bob', '1');
    const a2 = h.send('ann', 'bob', '2');
    const o = h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: a1 });
    expect(o.response).toEqual({ ok: true, result: { marked: 1 } });
    expect(pushesTo(o.events, ann)).toEqual([{ type: 'push', event: 'receipt', ids: [a1], kind: 'delivered', at: expect.any(Number) }]);
    expect(h.ok({ kind: 'delivered', tokenHash: tok('bob'), upTo: a2 })).toEqual({ marked: 1 });
    expect(h.ok({ kind: 'delivered', tokenHash: tok('bob'), upTo: a2 })).toEqual({ marked: 0 });
    const [m1, m2] = h.sm.history(bob, 'ann', 10);
    expect(m1.deliveredAt).not.toBeNull();
    expect(m2.deliveredAt).toBeGreaterThan(m1.deliveredAt!);
    expect(m2.readAt).toBeNull();
    expect(h.sm.unreadCount(bob)).toBe(2); // delivered is not read
  });

  it('delete: by either party, pushed to both, refusals change nothing, repeats are harmless', () => {
    const ann = h.user('ann');
    const bob = h.user('bob');
    h.user('eve');
    const a1 = h.send('ann', 'bob', '1');
    const b1 = h.send('bob', 'ann', '2');
    const a2 = h.send('ann', 'bob', '3');
    refused({ kind: 'delete', tokenHash: tok('eve'), ids: [a1] }, 'FORBIDDEN');
    refused({ kind: 'delete', tokenHash: tok('ann'), ids: [a1, 999999] }, 'NOT_FOUND');
    refused({ kind: 'delete', tokenHash: tok('ghost'), ids: [a1] }, 'UNAUTHENTICATED');
    const o = h.apply({ kind: 'delete', tokenHash: tok('bob'), ids: [a2, a1, a2] });
    expect(o.response).toEqual({ ok: true, result: { deleted: 2 } });
    expect(pushesTo(o.events, ann)).toEqual([{ type: 'push', event: 'deleted', ids: [a1, a2] }]);
    expect(pushesTo(o.events, bob)).toEqual([{ type: 'push', event: 'deleted', ids: [a1, a2] }]);
    expect(h.sm.unreadCount(bob)).toBe(0);
    expect(h.sm.history(ann, 'bob', 10).map((m) => m.id)).toEqual([b1]);
    expect(h.sm.conversations(bob, 10)[0].lastMessage.id).toBe(b1);
    expect(h.ok({ kind: 'delete', tokenHash: tok('ann'), ids: [a1] })).toEqual({ deleted: 0 });
    h.ok({ kind: 'delete', tokenHash: tok('ann'), ids: [b1] });
    expect(h.sm.conversations(ann, 10)).toEqual([]);
    expect(h.sm.conversations(bob, 10)).toEqual([]);
    expect(h.sm.messagesAfter(ann, 0, 10)).toEqual([]);
    expect(h.sm.audit()).toEqual([]);
  });
});

describe('deleting an account', () => {
  it('keeps what it sent (fromDeleted), deletes its inbox, ends its logins and frees its name', () => {
    const ann = h.user('ann');
    const bob = h.user('bob');
    h.ok({ kind: 'login', username: 'bob', passwordHash: pw('bob'), tokenHash: tok('bob-2') });
    const toBob = h.send('ann', 'bob', 'to bob');
    const fromBob = h.send('bob', 'ann', 'from bob');
    refused({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('wrong') }, 'BAD_CREDENTIALS');
    const o = h.apply({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('bob') });
    expect(o.response).toEqual({ ok: true, result: { deleted: true } });
    expect(pushesTo(o.events, bob)).toEqual([{ type: 'push', event: 'sessionEnded', reason: 'account deleted' }]);
    expect(pushesTo(o.events, ann)).toEqual([{ type: 'push', event: 'deleted', ids: [toBob] }]);
    expect(h.sm.accountByToken(tok('bob'))).toBeNull();
    expect(h.sm.accountByToken(tok('bob-2'))).toBeNull();
    expect(h.sm.account('bob')).toBeNull();
    // The survivor keeps bob's message, marked, and sees the conversation as with a deleted account.
    const hist = h.sm.history(ann, 'bob', 10);
    expect(hist).toEqual([expect.objectContaining({ id: fromBob, from: 'bob', fromDeleted: true })]);
    expect(h.sm.conversations(ann, 10)).toEqual([
      { with: 'bob', deleted: true, unread: 1, lastMessage: expect.objectContaining({ id: fromBob }) },
    ]);
    expect(h.ok({ kind: 'markRead', tokenHash: tok('ann'), with: 'bob', upTo: fromBob })).toEqual({ marked: 1 });
    refused({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'hello?' }, 'NOT_FOUND');
    expect(h.sm.audit()).toEqual([]);

    // The name is free again; the new bob is a different account with an empty history.
    const bob2 = h.user('BOB');
    expect(bob2).not.toBe(bob);
    expect(h.sm.history(ann, 'bob', 10)).toEqual([]);
    expect(h.sm.history(bob2, 'ann', 10)).toEqual([]);
    h.send('ann', 'bob', 'new bob');
    expect(h.sm.unreadCount(bob2)).toBe(1);
    expect(h.sm.conversations(ann, 10).map((c) => [c.with, !!c.deleted])).toEqual([
      ['BOB', false],
      ['bob', true],
    ]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('a deleted account cannot act even with a token the leader still had cached', () => {
    h.user('ann');
    h.user('bob');
    h.ok({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('bob') });
    refused({ kind: 'send', tokenHash: tok('bob'), to: 'ann', text: 'x' }, 'UNAUTHENTICATED');
    refused({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('bob') }, 'UNAUTHENTICATED');
  });
});

describe('identities cached for send', () => {
  it('a login that ended, an account deleted or a name taken again is seen at once', () => {
    h.user('ann');
    const bob = h.user('bob');
    h.ok({ kind: 'login', username: 'ann', passwordHash: pw('ann'), tokenHash: tok('ann-2') });
    h.send('ann', 'bob', 'cached now');
    h.ok({ kind: 'send', tokenHash: tok('ann-2'), to: 'bob', text: 'and this login' });
    h.ok({ kind: 'logout', tokenHash: tok('ann') });
    refused({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, 'UNAUTHENTICATED');
    h.ok({ kind: 'send', tokenHash: tok('ann-2'), to: 'bob', text: 'still here' });
    h.send('bob', 'ann', 'reply');
    h.ok({ kind: 'deleteAccount', tokenHash: tok('bob'), passwordHash: pw('bob') });
    refused({ kind: 'send', tokenHash: tok('bob'), to: 'ann', text: 'x' }, 'UNAUTHENTICATED');
    refused({ kind: 'send', tokenHash: tok('ann-2'), to: 'bob', text: 'x' }, 'NOT_FOUND');
    const bob2 = h.user('Bob');
    expect(bob2).not.toBe(bob);
    const id = h.ok<{ id: number }>({ kind: 'send', tokenHash: tok('ann-2'), to: 'BOB', text: 'new bob' }).id;
    expect(h.sm.history(bob2, 'ann', 10).map((m) => m.id)).toEqual([id]);
    expect(h.sm.audit()).toEqual([]);
  });

  it('a batch that fails forgets what it read: a login it made does not let a later send through', () => {
    h.user('ann');
    h.user('bob');
    const login = h.entry({ kind: 'login', username: 'ann', passwordHash: pw('ann'), tokenHash: tok('ann-new') });
    const send = h.entry({ kind: 'send', tokenHash: tok('ann-new'), to: 'bob', text: 'inside the failed batch' });
    const gap = { index: send.index + 5, term: 1, type: 'normal' as const, data: '' };
    expect(() => h.sm.applyEntries([login, send, gap])).toThrow(/does not follow/);
    h.index = h.sm.applied().index;
    refused({ kind: 'send', tokenHash: tok('ann-new'), to: 'bob', text: 'x' }, 'UNAUTHENTICATED');
  });
});

describe('reads', () => {
  it('history pages from the newest, each page oldest first', () => {
    const ann = h.user('ann');
    h.user('bob');
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) ids.push(i % 2 ? h.send('bob', 'ann', `m${i}`) : h.send('ann', 'bob', `m${i}`));
    expect(h.sm.history(ann, 'bob', 3).map((m) => m.id)).toEqual(ids.slice(4));
    expect(h.sm.history(ann, 'bob', 3, ids[4]).map((m) => m.id)).toEqual(ids.slice(1, 4));
    expect(h.sm.history(ann, 'bob', 3, ids[1]).map((m) => m.id)).toEqual(ids.slice(0, 1));
    expect(() => h.sm.history(ann, 'ghost', 3)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('conversations: most recent first, with unread counts and the last message', () => {
    const ann = h.user('ann');
    h.user('bob');
    h.user('cat');
    h.send('bob', 'ann', 'b1');
    h.send('cat', 'ann', 'c1');
    const b2 = h.send('bob', 'ann', 'b2');
    const cs = h.sm.conversations(ann, 10);
    expect(cs.map((c) => [c.with, c.unread, c.lastMessage.id])).toEqual([
      ['bob', 2, b2],
      ['cat', 1, b2 - 1],
    ]);
    expect(h.sm.conversations(ann, 1)).toHaveLength(1);
  });

  it('messagesAfter: everything to or from the account after an id, oldest first', () => {
    const ann = h.user('ann');
    h.user('bob');
    h.user('cat');
    const ids = [h.send('ann', 'bob', '1'), h.send('bob', 'ann', '2'), h.send('cat', 'bob', 'not ann'), h.send('ann', 'cat', '3')];
    expect(h.sm.messagesAfter(ann, 0, 10).map((m) => m.id)).toEqual([ids[0], ids[1], ids[3]]);
    expect(h.sm.messagesAfter(ann, ids[0], 10).map((m) => m.id)).toEqual([ids[1], ids[3]]);
    expect(h.sm.messagesAfter(ann, 0, 2).map((m) => m.id)).toEqual([ids[0], ids[1]]);
  });

  it('accounts: wildcard, case-insensitive, live only, keyset pages', () => {
    h.user('ann');
    for (const n of ['Anna', 'anne', 'bob', 'ANDY', 'zed', 'a.b-c_d']) h.signup(n);
    h.user('gone');
    h.ok({ kind: 'deleteAccount', tokenHash: tok('gone'), passwordHash: pw('gone') });
    expect(h.sm.accounts('', 50, null)).toEqual({
      accounts: ['a.b-c_d', 'ANDY', 'ann', 'Anna', 'anne', 'bob', 'zed'].map((username) => ({ username })),
      nextPageToken: null,
    });
    expect(h.sm.accounts('AN*', 50, null).accounts.map((a) => a.username)).toEqual(['ANDY', 'ann', 'Anna', 'anne']);
    expect(h.sm.accounts('ann?', 50, null).accounts.map((a) => a.username)).toEqual(['Anna', 'anne']);
    expect(h.sm.accounts('*n', 50, null).accounts.map((a) => a.username)).toEqual(['ann']);
    expect(h.sm.accounts('a.b-c_d', 50, null).accounts.map((a) => a.username)).toEqual(['a.b-c_d']);
    expect(h.sm.accounts('a_b*', 50, null).accounts).toEqual([]); // '_' is literal, not a LIKE wildcard
    expect(h.sm.accounts('gone', 50, null).accounts).toEqual([]);
    const p1 = h.sm.accounts('a*', 2, null);
    expect(p1.accounts.map((a) => a.username)).toEqual(['a.b-c_d', 'ANDY']);
    const p2 = h.sm.accounts('a*', 2, p1.nextPageToken);
    expect(p2.accounts.map((a) => a.username)).toEqual(['ann', 'Anna']);
    const p3 = h.sm.accounts('a*', 2, p2.nextPageToken);
    expect(p3).toEqual({ accounts: [{ username: 'anne' }], nextPageToken: null });
    expect(() => h.sm.accounts('*', 2, 'garbage')).toThrow(expect.objectContaining({ code: 'INVALID' }));
    expect(() => h.sm.accounts('[a]', 2, null)).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });
});

describe('exactly-once client sessions', () => {
  it('a retried (clientId, seq) returns the stored response and applies nothing', () => {
    h.user('ann');
    const bob = h.user('bob');
    const first = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'once' }, { clientId: 'client-x', seq: 7 });
    const hash = h.sm.stateHash('chat');
    // Retried under a new leader: different clock, same session.
    const again = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'once' }, { clientId: 'client-x', seq: 7 });
    expect(again.response).toEqual(first.response);
    expect(again.session).toEqual({ clientId: 'client-x', seq: 7 });
    expect(again.events).toEqual([]);
    expect(h.sm.stateHash('chat')).toBe(hash);
    expect(h.sm.unreadCount(bob)).toBe(1);
    expect(h.sm.sessionResponse('client-x', 7)).toEqual(first.response);
    expect(h.sm.sessionResponse('client-x', 8)).toBeNull();
  });

  it('a retry returns the original outcome even after the state changed (logout, refusal)', () => {
    h.user('ann');
    h.user('bob');
    const sent = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-y', seq: 1 });
    const bad = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'ghost', text: 'x' }, { clientId: 'client-y', seq: 2 });
    h.ok({ kind: 'logout', tokenHash: tok('ann') });
    h.signup('ghost');
    expect(h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-y', seq: 1 }).response).toEqual(
      sent.response,
    );
    expect(h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'ghost', text: 'x' }, { clientId: 'client-y', seq: 2 }).response).toEqual(
      bad.response,
    );
  });

  it('a retried read returns the same messages without marking anything again', () => {
    h.user('ann');
    const bob = h.user('bob');
    h.send('ann', 'bob', '1');
    h.send('ann', 'bob', '2');
    const r1 = h.apply({ kind: 'read', tokenHash: tok('bob'), limit: 1 }, { clientId: 'client-r', seq: 1 });
    const r2 = h.apply({ kind: 'read', tokenHash: tok('bob'), limit: 1 }, { clientId: 'client-r', seq: 1 });
    expect(r2.response).toEqual(r1.response);
    expect(h.sm.unreadCount(bob)).toBe(1);
    expect(h.sm.sessionResponse('client-r', 1)).toEqual(r1.response);
  });

  it('a retried login (client-chosen token) binds the same token once', () => {
    h.signup('ann');
    const body = { kind: 'login', username: 'ann', passwordHash: pw('ann'), tokenHash: tok('t1') };
    const a = h.apply(body, { clientId: 'client-l', seq: 1 });
    const b = h.apply(body, { clientId: 'client-l', seq: 1 });
    expect(b.response).toEqual(a.response);
    expect(h.sm.accountByToken(tok('t1'))?.username).toBe('ann');
  });

  it(`keeps at least the latest ${SESSION_WINDOW} responses per client, evicted in batches; older seqs are refused, not re-applied`, () => {
    h.user('ann');
    h.user('bob');
    const write = (seq: number) => h.entry({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-w', seq });
    const entries = [];
    for (let seq = 1; seq < SESSION_WINDOW + SESSION_EVICT_EVERY; seq++) entries.push(write(seq));
    h.sm.applyEntries(entries);
    // Not a whole batch past the window yet: everything is kept.
    expect(h.sm.sessionResponse('client-w', 1)).not.toBeNull();
    h.sm.applyEntries([write(SESSION_WINDOW + SESSION_EVICT_EVERY)]);
    // Now the batch went in one range: the latest SESSION_WINDOW are kept, nothing older.
    expect(h.sm.sessionResponse('client-w', SESSION_EVICT_EVERY)).toBeNull();
    expect(h.sm.sessionResponse('client-w', SESSION_EVICT_EVERY + 1)).not.toBeNull();
    const before = h.sm.stateHash('chat');
    const stale = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'late retry' }, { clientId: 'client-w', seq: 2 });
    expect(stale.response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(h.sm.stateHash('chat')).toBe(before);
    // Between batches the window only grows: a retry of any kept seq returns its answer and applies nothing.
    for (let seq = SESSION_WINDOW + SESSION_EVICT_EVERY + 1; seq < SESSION_WINDOW + 2 * SESSION_EVICT_EVERY; seq++) h.sm.applyEntries([write(seq)]);
    const retry = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-w', seq: SESSION_EVICT_EVERY + 1 });
    expect(retry.response).toEqual({ ok: true, result: { marked: 0 } });
    expect(h.sm.stateHash('chat')).toBe(before);
  });

  it('a new client starts with the window behind its first seq', () => {
    h.user('ann');
    h.user('bob');
    h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-late', seq: SESSION_WINDOW + 10 });
    const stale = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-late', seq: 10 });
    expect(stale.response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-late', seq: 11 }).response.ok).toBe(true);
  });

  it('expires clients idle for more than 24 hours, deterministically at every 1000th index', () => {
    h.raiseClusterVersion();
    h.user('ann');
    h.apply({ kind: 'delivered', tokenHash: tok('ann'), upTo: 1 }, { clientId: 'client-idle', seq: 1 });
    const later = h.at + 25 * 3600 * 1000;
    // A command from another client 25 hours later, then no-ops up to the next multiple of 1000.
    h.clockTo(later);
    h.apply({ kind: 'delivered', tokenHash: tok('ann'), upTo: 1 }, { clientId: 'client-busy', seq: 1, at: later });
    expect(h.sm.sessionResponse('client-idle', 1)).not.toBeNull();
    const noops = [];
    while (h.index < 999) noops.push(h.raw(''));
    h.sm.applyEntries(noops);
    expect(h.sm.sessionResponse('client-idle', 1)).not.toBeNull();
    h.sm.applyEntries([h.raw('')]); // index 1000
    expect(h.sm.sessionResponse('client-idle', 1)).toBeNull();
    expect(h.sm.sessionResponse('client-busy', 1)).not.toBeNull();
  });
  it('moves last_at only when SESSION_TOUCH_MS old, and never expires a client that wrote within 24 hours', () => {
    h.raiseClusterVersion();
    h.user('ann');
    const body = { kind: 'delivered', tokenHash: tok('ann'), upTo: 1 };
    const t0 = h.at + 1000;
    h.apply(body, { clientId: 'client-lag', seq: 1, at: t0 });
    const last = t0 + SESSION_TOUCH_MS - 1000; // recorded last_at stays t0
    h.apply(body, { clientId: 'client-lag', seq: 2, at: last });
    // Another client almost 24 hours after client-lag's last write, then the check at index 1000.
    h.clockTo(last + SESSION_IDLE_MS - 1000);
    h.apply(body, { clientId: 'client-other', seq: 1, at: last + SESSION_IDLE_MS - 1000 });
    const noops = [];
    while (h.index < 1000) noops.push(h.raw(''));
    h.sm.applyEntries(noops);
    expect(h.sm.sessionResponse('client-lag', 2)).not.toBeNull();
    // More than 24 hours (and the touch slack) later it goes at the next check.
    h.clockTo(last + SESSION_IDLE_MS + SESSION_TOUCH_MS);
    h.apply(body, { clientId: 'client-other', seq: 2, at: last + SESSION_IDLE_MS + SESSION_TOUCH_MS });
    const more = [];
    while (h.index < 2000) more.push(h.raw(''));
    h.sm.applyEntries(more);
    expect(h.sm.sessionResponse('client-lag', 2)).toBeNull();
    expect(h.sm.sessionResponse('client-other', 2)).not.toBeNull();
  });
});

describe('expired sessions and the clock (issue 11, finding 2)', () => {
  const DAY = 24 * 3600 * 1000;
  beforeEach(() => h.raiseClusterVersion());

  /** No-ops up to the next multiple of 1000, where idle clients expire. */
  function toExpiryCheck(): void {
    const noops = [];
    while (h.index % 1000 !== 999) noops.push(h.raw(''));
    noops.push(h.raw(''));
    h.sm.applyEntries(noops);
  }

  for (const stamped of [true, false]) {
    it(`a write retried after its ${stamped ? 'stamped' : 'unstamped (older client)'} session expired gets SESSION_EXPIRED and applies nothing`, () => {
      h.user('ann');
      const bob = h.user('bob');
      // The send (client C, seq 1) applies as the message with its entry's index.
      const frame = h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'once' }, { clientId: 'client-c', seq: 1, ...(stamped ? { startIndex: 4 } : {}) });
      const [sent] = h.sm.applyEntries([frame]);
      expect(sent.response).toEqual({ ok: true, result: { id: frame.index, sentAt: expect.any(Number) } });
      // A day and an hour pass (the cluster clock moves in steps), then the expiry runs.
      h.clockTo(h.at + DAY + 3600 * 1000);
      h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-other', seq: 1 });
      toExpiryCheck();
      expect(h.sm.sessionResponse('client-c', 1)).toBeNull();
      const before = h.sm.stateHash('chat');
      // The same frame retried.
      const [retried] = h.sm.applyEntries([h.raw(frame.data)]);
      expect(retried.response).toMatchObject({ ok: false, error: { code: 'SESSION_EXPIRED' } });
      expect(retried.events).toEqual([]);
      expect(h.sm.stateHash('chat')).toBe(before);
      expect(h.sm.unreadCount(bob)).toBe(1);
      // So is a later write of that session (its earlier writes may still be retried): the client starts a new one.
      const next = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'later' }, { clientId: 'client-c', seq: 2, ...(stamped ? { startIndex: 4 } : {}) });
      expect(next.response).toMatchObject({ ok: false, error: { code: 'SESSION_EXPIRED' } });
      // A session begun after the expiry is new.
      const fresh = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'new' }, { clientId: 'client-d', seq: 1, startIndex: h.sm.applied().index });
      expect(fresh.response.ok).toBe(true);
      expect(h.sm.unreadCount(bob)).toBe(2);
      h.reopen();
      expect(h.sm.applyEntries([h.raw(frame.data)])[0].response).toMatchObject({ ok: false, error: { code: 'SESSION_EXPIRED' } });
    });
  }

  it('one command from a leader whose clock is a day fast moves the clock one step: no session expires early', () => {
    h.user('ann');
    h.user('bob');
    const frame = h.entry({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'once' }, { clientId: 'client-c', seq: 1, startIndex: 4 });
    const [sent] = h.sm.applyEntries([frame]);
    const clock = h.sm.appliedClock();
    const skewed = h.apply({ kind: 'delivered', tokenHash: tok('bob'), upTo: 1 }, { clientId: 'client-skewed', seq: 1, at: clock + DAY + 3600 * 1000 });
    expect(skewed.response.ok).toBe(true);
    expect(h.sm.appliedClock()).toBe(clock + MAX_CLOCK_STEP_MS);
    toExpiryCheck();
    const hash = h.sm.stateHash('chat');
    const [retried] = h.sm.applyEntries([h.raw(frame.data)]);
    expect(retried.response).toEqual(sent.response);
    expect(h.sm.stateHash('chat')).toBe(hash);
  });

  it('the clock never goes backwards and moves at most one step per command; `clock` commands only move it', () => {
    h.user('ann');
    h.user('bob');
    const start = h.sm.appliedClock();
    const hash = h.sm.stateHash('chat');
    h.sm.applyEntries([h.raw(encodeCommand({ kind: 'clock', at: start - 5000 }))]);
    expect(h.sm.appliedClock()).toBe(start);
    h.sm.applyEntries([h.raw(encodeCommand({ kind: 'clock', at: start + 10 * MAX_CLOCK_STEP_MS }))]);
    expect(h.sm.appliedClock()).toBe(start + MAX_CLOCK_STEP_MS);
    expect(h.sm.stateHash('chat')).toBe(hash);
    const sent = h.ok<{ sentAt: number }>({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { at: start + 10 * MAX_CLOCK_STEP_MS });
    expect(sent.sentAt).toBe(start + 2 * MAX_CLOCK_STEP_MS);
  });

  it('a session stamped at or after its own write is refused as invalid', () => {
    h.user('ann');
    h.user('bob');
    const index = h.sm.applied().index + 1;
    const o = h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'x' }, { clientId: 'client-f', seq: 1, startIndex: index });
    expect(o.response).toMatchObject({ ok: false, error: { code: 'INVALID', message: expect.stringMatching(/start index/) } });
    expect(h.sm.messagesAfter(h.sm.account('bob')!.id, 0, 10)).toEqual([]);
  });
});

describe('entries, configuration and durability', () => {
  it('no-ops and malformed commands advance the applied index and change nothing else', () => {
    h.user('ann');
    const before = h.sm.stateHash('chat');
    const noop = h.applyRaw('');
    expect(noop.response).toEqual({ ok: true, result: null });
    const bad1 = h.applyRaw('{not json');
    expect(bad1.response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    const bad2 = h.applyRaw(JSON.stringify({ kind: 'send', at: 1, session: { clientId: 'client-m', seq: 3 }, to: 'ann' }));
    expect(bad2.response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(bad2.session).toEqual({ clientId: 'client-m', seq: 3 });
    const bad3 = h.applyRaw(JSON.stringify({ kind: 'explode', at: 1 }));
    expect(bad3.response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(h.sm.applied().index).toBe(bad3.index);
    expect(h.sm.stateHash('chat')).toBe(before);
    expect(h.sm.sessionResponse('client-m', 3)).toBeNull();
  });

  it('entries already applied change nothing and report their stored response; a gap is refused', () => {
    const e1 = h.raw('');
    const e2 = h.raw('');
    expect(h.sm.applyEntries([e1, e2]).map((o) => o.index)).toEqual([1, 2]);
    expect(h.sm.applyEntries([e1, e2])).toEqual([
      { index: 1, response: { ok: true, result: null }, events: [] },
      { index: 2, response: { ok: true, result: null }, events: [] },
    ]);
    const e3 = h.entry({ kind: 'signup', username: 'ann', passwordHash: pw('ann') }, { clientId: 'client-re', seq: 1 });
    const [first] = h.sm.applyEntries([e3]);
    const hash = h.sm.stateHash();
    const [again, next] = h.sm.applyEntries([e3, h.raw('')]);
    expect(again).toEqual({ ...first, events: [] });
    expect(next.index).toBe(4);
    h.sm.applyEntries([{ index: 5, term: 1, type: 'normal', data: '' }]);
    expect(h.sm.applyEntries([{ index: 5, term: 1, type: 'normal', data: '' }])).toHaveLength(1);
    expect(hash).not.toBe(h.sm.stateHash()); // only the two new no-ops moved the applied index
    h.index = 5;
    expect(() => h.sm.applyEntries([{ index: 9, term: 1, type: 'normal', data: '' }])).toThrow(/does not follow/);
    expect(h.sm.applied()).toEqual({ index: 5, term: 1 });
  });

  it('a failed batch rolls back completely, cached state included', () => {
    h.user('ann');
    const applied = h.sm.applied();
    const hash = h.sm.stateHash();
    const good = h.entry({ kind: 'signup', username: 'bob', passwordHash: pw('bob') });
    const gap = { index: good.index + 5, term: 1, type: 'normal' as const, data: '' };
    expect(() => h.sm.applyEntries([good, gap])).toThrow();
    expect(h.sm.applied()).toEqual(applied);
    expect(h.sm.stateHash()).toBe(hash);
    expect(h.sm.account('bob')).toBeNull();
  });

  it('conf entries: confApply decides the configuration; addresses are recorded; failures are reported', () => {
    const seen: unknown[] = [];
    const confApply = (cc: any) => {
      seen.push(cc);
      if (cc.id === 'bad') throw new Error('not allowed');
      return { voters: ['n1', cc.id], learners: [] };
    };
    const e = h.raw(JSON.stringify({ op: 'addVoter', id: 'n2', address: '10.0.0.2:7000' }), 'conf');
    const [o] = h.sm.applyEntries([e], confApply);
    expect(o.response).toEqual({ ok: true, result: { conf: { voters: ['n1', 'n2'], learners: [] } } });
    expect(seen).toEqual([{ op: 'addVoter', id: 'n2', address: '10.0.0.2:7000' }]);
    expect(h.sm.conf()).toEqual({ voters: ['n1', 'n2'], learners: [] });
    expect(h.sm.members()).toEqual([{ id: 'n2', address: '10.0.0.2:7000' }]);
    const [bad] = h.sm.applyEntries([h.raw(JSON.stringify({ op: 'addVoter', id: 'bad', address: 'x:1' }), 'conf')], confApply);
    expect(bad.response).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    const [junk] = h.sm.applyEntries([h.raw('{"op":"nope"}', 'conf')], confApply);
    expect(junk.response).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    expect(h.sm.conf()).toEqual({ voters: ['n1', 'n2'], learners: [] });
    // Without confApply the built-in single-server rules apply.
    h.sm.applyEntries([h.raw(JSON.stringify({ op: 'addLearner', id: 'n3', address: 'h3:1' }), 'conf')]);
    h.sm.applyEntries([h.raw(JSON.stringify({ op: 'remove', id: 'n2' }), 'conf')]);
    expect(h.sm.conf()).toEqual({ voters: ['n1'], learners: ['n3'] });
    expect(h.sm.members()).toEqual([{ id: 'n3', address: 'h3:1' }]);
    h.ok({ kind: 'member', id: 'n1', address: 'h1:1' });
    expect(h.sm.members().map((m) => m.id)).toEqual(['n1', 'n3']);
  });

  it('bootstrap records the initial configuration once', () => {
    h.sm.bootstrap({ voters: ['a', 'b'], learners: [] }, [
      { id: 'a', address: 'a:1' },
      { id: 'b', address: 'b:1' },
    ]);
    expect(h.sm.conf()).toEqual({ voters: ['a', 'b'], learners: [] });
    expect(() => h.sm.bootstrap({ voters: ['z'], learners: [] }, [])).toThrow();
    h.reopen();
    expect(h.sm.members()).toEqual([
      { id: 'a', address: 'a:1' },
      { id: 'b', address: 'b:1' },
    ]);
  });

  it('timestamps come from the command clock, clamped to never go backwards', () => {
    const ann = h.user('ann');
    h.user('bob');
    const t = h.at + 10_000;
    h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'a' }, { at: t });
    h.apply({ kind: 'send', tokenHash: tok('ann'), to: 'bob', text: 'b' }, { at: t - 5000 }); // new leader, slow clock
    const [a, b] = h.sm.history(ann, 'bob', 10);
    expect(a.sentAt).toBe(t);
    expect(b.sentAt).toBe(t);
  });

  it('everything survives close and reopen', () => {
    const ann = h.user('ann');
    h.user('bob');
    h.send('bob', 'ann', 'persisted');
    h.sm.applyEntries([h.raw(JSON.stringify({ op: 'addVoter', id: 'n9', address: 'h:9' }), 'conf')]);
    const hash = h.sm.stateHash();
    const applied = h.sm.applied();
    h.reopen();
    expect(h.sm.stateHash()).toBe(hash);
    expect(h.sm.applied()).toEqual(applied);
    expect(h.sm.conf()).toEqual({ voters: ['n9'], learners: [] });
    expect(h.sm.unreadCount(ann)).toBe(1);
    expect(h.sm.accountByToken(tok('ann'))?.id).toBe(ann);
    h.send('ann', 'bob', 'after restart');
    expect(h.sm.audit()).toEqual([]);
  });
});
