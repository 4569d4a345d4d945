/**
 * What every slice of the store is given (store.ts composes the slices): the connection to the cluster, the
 * environment, the bookkeeping of the current login, and the operations slices offer one another.
 */
import type { StoreApi } from 'zustand/vanilla';
import type { ChatApi, ChatMessage } from '../net/api.js';
import type { OutboxEntry } from './outbox.js';
import type { AppActions, AppState, LoginOwnedState } from './store.js';

export type SetState = StoreApi<AppState & AppActions>['setState'];
export type GetState = StoreApi<AppState & AppActions>['getState'];

/** Things outside the store the app tells about (desktop badge, notifications) or asks (is the window seen?). */
export interface AppEnv {
  now(): number;
  /** The window is visible and focused: messages in the open conversation count as read. */
  isAttentive(): boolean;
  onUnreadTotal?(total: number): void;
  onIncoming?(m: ChatMessage, conversation: string): void;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
  /**
   * Keeps the login across a page reload (the tab's session storage, or the device's when the person asked to stay
   * signed in); absent: every reload logs out.
   */
  keptLogin?: KeptLoginStore;
  /** Keeps the outbox across a reload or restart (IndexedDB); absent: the outbox lives in memory only. */
  outboxStore?: OutboxStore;
  /** Says once that the outbox cannot be kept on this device (storage refused). */
  onStorageError?(err: unknown): void;
  /** Keeps which conversations the account muted on this device; absent: mutes last until logout. */
  mutes?: MutesStore;
}

/** The muted conversations of each account on this device (names and `#group` keys). */
export interface MutesStore {
  load(user: string): string[];
  save(user: string, names: string[]): void;
}

/** A login kept across a reload: the token, and the account it belongs to (shown at once, before the cluster answers). */
export interface KeptLogin {
  token: string;
  user: string;
}

export interface KeptLoginStore {
  /** `staySignedIn`: keep it on this device beyond the tab (the person asked); otherwise for this tab only. */
  save(login: KeptLogin, staySignedIn: boolean): void;
  load(): KeptLogin | null;
  clear(): void;
}

/** An outbox entry as kept on the device (what a later run needs to send it exactly once). */
export type KeptOutboxEntry = Omit<OutboxEntry, 'handedOver'>;

/** The outbox kept on this device, per account (renderer/src/storage/outbox-db.ts). */
export interface OutboxStore {
  /** The account's kept entries this window may send, in order (entries of a window that is gone are taken over). */
  load(owner: string): Promise<KeptOutboxEntry[]>;
  put(owner: string, entry: KeptOutboxEntry): Promise<void>;
  remove(owner: string, localId: string): Promise<void>;
  /** Forgets this window's entries of the account (logout, account deleted). */
  clear(owner: string): Promise<void>;
}

/** Bookkeeping of the current login that the UI does not show. */
export class LoginBookkeeping {
  /** Bumped on login and logout, so answers that arrive for an older login are dropped. */
  epoch = 0;
  /** The outbox entry handed to the client library and not answered yet (one at a time, in order). */
  inFlight: string | null = null;
  /**
   * A login kept from before a reload that the cluster has not taken back yet (resume pending, e.g. no majority):
   * the person is shown signed in, read-only; requests that need the login wait for this.
   */
  resuming: Promise<void> | null = null;
  /** The outbox kept on the device has been loaded into the store (entries go out only after it, in order). */
  keptLoaded = false;
}

/** What slices call on one another; createAppStore fills it in once every slice exists. */
export interface SliceOps {
  /** threads: adds a committed message to its conversation (summary always; thread when loaded). */
  addCommitted(m: ChatMessage): void;
  /** threads: reads the conversation list and merges it into the local one (rejects when it cannot be read). */
  loadConversations(): Promise<void>;
  /** threads: drops deleted messages from threads, selection and conversation previews. */
  forget(ids: readonly number[]): void;
  /** threads: after a reconnect, re-reads what the connection's gap may have changed. */
  resync(): Promise<void>;
  /** threads: forgets the read marks of the login that ended, and cancels pending ones. */
  forgetMarks(): void;
  /** threads: tells the environment the total of unread messages. */
  reportUnread(): void;
  /** outbox: hands the next queued message to the client library, unless one is in flight. */
  sendNext(): void;
  /**
   * auth: ends the login (logout, session ended elsewhere, account deleted) with a notice for the login screen.
   * `discardOutbox`: forget the outbox kept on the device too (logout, account deleted); otherwise it waits for the
   * next login of the account.
   */
  endLogin(notice: string | null, discardOutbox: boolean): void;
  /** outbox: loads the outbox kept on the device for the account now logged in, then sends what is queued. */
  loadKept(user: string): Promise<void>;
  /** Every field a login owns, as it is while nobody is logged in. */
  loggedOutState(): LoginOwnedState;
  /** threads: re-reads the group list (members, admins, names). */
  loadGroups(): Promise<void>;
  /** threads: shows a message's new text wherever it is. */
  applyEdit(m: ChatMessage): void;
  /** threads: one page of a conversation (a person's or a `#group`'s). */
  historyPage(name: string, o: { limit?: number; before?: number }): Promise<ChatMessage[]>;
  /** threads: reads the account's muted conversations kept on this device. */
  loadMutes(user: string): void;
  /** threads: the cluster runs groups, edits and search, and the connection offers them. */
  teamOn(): boolean;
  /** presence: asks for the presence of everyone in the conversations and groups, when that set changed. */
  watchPresence(): void;
  /** presence: `user` no longer types in `name` (their message arrived). */
  stopTyping(name: string, user: string): void;
  /** presence: this account sent a message in `name`, so its next keystroke there is told at once. */
  sentIn(name: string): void;
  /** presence: forgets presence and typing, and cancels their timers (logout). */
  forgetPresence(): void;
}

export interface SliceDeps {
  api: ChatApi;
  env: AppEnv;
  login: LoginBookkeeping;
  ops: SliceOps;
}
