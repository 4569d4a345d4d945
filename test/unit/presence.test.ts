// Presence and typing bookkeeping (replica/node/presence.ts) over recorded connections: online while any connection
// is logged in, last seen when the last one goes, changes pushed to the connections that watch, typing to the
// recipients' connections only, nothing to connections that stopped watching; changes pushed after the turn.
import { describe, expect, it } from 'vitest';
import type { ClientConn } from '../../replica/net/client-endpoint.js';
import type { PushFrame } from '../../replica/protocol/client.js';
import { Presence } from '../../replica/node/presence.js';

function conn(id: number): ClientConn & { pushed: PushFrame[] } {
  const pushed: PushFrame[] = [];
  return { connId: id, remote: 'test', nonce: 'n', closed: false, adminScope: null, account: null, push: (f) => pushed.push(f), close: () => {}, pushed };
}

describe('presence', () => {
  it('online, last seen, pushed to watchers only while they watch', () => {
    let clock = 1000;
    const byAccount = new Map<number, ClientConn[]>();
    const deferred: (() => void)[] = [];
    const endOfTurn = () => deferred.splice(0).forEach((f) => f());
    const presence = new Presence((id) => byAccount.get(id) ?? [], () => clock, (f) => deferred.push(f));
    const watcher = conn(1);
    expect(presence.watch(watcher, [{ id: 7, username: 'ann' }])).toEqual([{ user: 'ann', online: false, lastSeenAt: null }]);
    presence.changed(7, 'ann', true);
    // Pushed after the turn, never from inside it (presence-order.test.ts says why).
    expect(watcher.pushed).toEqual([]);
    endOfTurn();
    clock = 5000;
    presence.changed(7, 'ann', false);
    endOfTurn();
    expect(watcher.pushed).toEqual([
      { type: 'push', event: 'presence', user: 'ann', online: true, lastSeenAt: null },
      { type: 'push', event: 'presence', user: 'ann', online: false, lastSeenAt: 5000 },
    ]);
    expect(presence.watch(conn(2), [{ id: 7, username: 'ann' }])).toEqual([{ user: 'ann', online: false, lastSeenAt: 5000 }]);
    presence.unwatch(watcher);
    presence.changed(7, 'ann', true);
    endOfTurn();
    expect(watcher.pushed).toHaveLength(2);
  });

  it('changes within one turn are pushed once, as they stand at its end, to whoever watches then', () => {
    let clock = 1000;
    const deferred: (() => void)[] = [];
    const presence = new Presence(() => [], () => clock, (f) => deferred.push(f));
    const early = conn(1);
    presence.watch(early, [{ id: 7, username: 'ann' }, { id: 8, username: 'bob' }]);
    presence.changed(7, 'ann', true);
    clock = 2000;
    presence.changed(7, 'ann', false);
    presence.changed(8, 'bob', true);
    // A watch begun later in the same turn answers the state as it is, and is pushed the same after the turn.
    const late = conn(2);
    expect(presence.watch(late, [{ id: 7, username: 'ann' }])).toEqual([{ user: 'ann', online: false, lastSeenAt: 2000 }]);
    expect(deferred).toHaveLength(1);
    deferred.splice(0).forEach((f) => f());
    expect(early.pushed).toEqual([
      { type: 'push', event: 'presence', user: 'ann', online: false, lastSeenAt: 2000 },
      { type: 'push', event: 'presence', user: 'bob', online: true, lastSeenAt: null },
    ]);
    expect(late.pushed).toEqual([{ type: 'push', event: 'presence', user: 'ann', online: false, lastSeenAt: 2000 }]);
  });

  it('typing reaches the recipients\' connections, never the typist\'s', () => {
    const bob = [conn(1), conn(2)];
    const ann = [conn(3)];
    const presence = new Presence((id) => (id === 2 ? bob : id === 1 ? ann : []));
    const frame: PushFrame = { type: 'push', event: 'typing', from: 'ann', group: 'team' };
    presence.typing(1, [1, 2], frame);
    expect(bob.map((c) => c.pushed)).toEqual([[frame], [frame]]);
    expect(ann[0].pushed).toEqual([]);
  });
});
