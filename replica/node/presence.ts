/**
 * Presence and typing: ephemeral, from the connections of the replica that serves clients (the leader), never
 * through the log. An account is online while at least one connection is logged in as it; going offline records when
 * it was last seen. After a failover the new leader starts empty and fills in within a second or two, as clients
 * reconnect and re-subscribe (the client library does both by itself); a last-seen time from before the failover is
 * lost (the account shows offline, never seen, until it comes back).
 */
import type { ClientConn } from '../net/client-endpoint.js';
import type { PresenceEntry, PushFrame } from '../protocol/client.js';

/** Most accounts one connection may watch at once. */
export const PRESENCE_WATCH_MAX = 500;

export class Presence {
  private readonly online = new Set<number>();
  private readonly lastSeen = new Map<number, number>();
  /** Accounts whose change is still to be pushed (by id: their username), and whether a push is scheduled. */
  private readonly changedSince = new Map<number, string>();
  private flushScheduled = false;
  /** Who watches each account, and what each connection watches (to unsubscribe it). */
  private readonly watchers = new Map<number, Set<ClientConn>>();
  private readonly watching = new WeakMap<ClientConn, { id: number; username: string }[]>();

  constructor(
    /** The connections logged in as an account (ClientEndpoint.connectionsOf). */
    private readonly connectionsOf: (accountId: number) => ClientConn[],
    private readonly now: () => number = Date.now,
    /** Runs the push of changes once the current turn of the event loop is done (tests run it by hand). */
    private readonly defer: (push: () => void) => void = setImmediate,
  ) {}

  /**
   * The first connection of an account logged in (online) or its last one went (offline). Watchers are pushed the
   * account's state as it is after this turn of the event loop, never from inside it: a `presence` answer is computed
   * when the watch begins but sent some promise steps later, and a login finishing in those steps (its write and the
   * watch's read barrier settle in the same turn) would push "online" ahead of an answer that says "offline", which the
   * client, taking the later frame for the newer, would keep. Changes within one turn are pushed once.
   */
  changed(accountId: number, username: string, online: boolean): void {
    if (online) this.online.add(accountId);
    else {
      this.online.delete(accountId);
      this.lastSeen.set(accountId, this.now());
    }
    this.changedSince.set(accountId, username);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.defer(() => this.pushChanges());
  }

  private pushChanges(): void {
    this.flushScheduled = false;
    for (const [accountId, username] of this.changedSince) {
      const frame: PushFrame = { type: 'push', event: 'presence', ...this.entry(accountId, username) };
      for (const conn of this.watchers.get(accountId) ?? []) conn.push(frame);
    }
    this.changedSince.clear();
  }

  /** What `accounts` are now; `conn` is told of their changes from now on (replacing what it watched before). */
  watch(conn: ClientConn, accounts: { id: number; username: string }[]): PresenceEntry[] {
    this.unwatch(conn);
    const list = accounts.slice(0, PRESENCE_WATCH_MAX);
    this.watching.set(conn, list);
    for (const a of list) {
      let set = this.watchers.get(a.id);
      if (!set) this.watchers.set(a.id, (set = new Set()));
      set.add(conn);
    }
    return list.map((a) => this.entry(a.id, a.username));
  }

  /** The connection closed or logged out: it watches nothing any more. */
  unwatch(conn: ClientConn): void {
    for (const a of this.watching.get(conn) ?? []) {
      const set = this.watchers.get(a.id);
      set?.delete(conn);
      if (set?.size === 0) this.watchers.delete(a.id);
    }
    this.watching.delete(conn);
  }

  /** Tells the connections of each account in `to` (the typist's own excepted) that `frame`'s sender is typing. */
  typing(fromAccountId: number, to: number[], frame: PushFrame): void {
    for (const id of to) if (id !== fromAccountId) for (const conn of this.connectionsOf(id)) conn.push(frame);
  }

  private entry(accountId: number, username: string): PresenceEntry {
    return { user: username, online: this.online.has(accountId), lastSeenAt: this.online.has(accountId) ? null : (this.lastSeen.get(accountId) ?? null) };
  }
}
