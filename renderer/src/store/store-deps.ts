/**
 * What every slice of the store is given (store.ts composes the slices): the connection to the cluster, the
 * environment, the bookkeeping of the current login, and the operations slices offer one another.
 */
import type { StoreApi } from 'zustand/vanilla';
import type { ChatApi, ChatMessage } from '../net/api.js';
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
  /** Keeps the login across a page reload (the tab's session storage); absent: every reload logs out. */
  keptLogin?: { save(token: string): void; load(): string | null; clear(): void };
}

/** Bookkeeping of the current login that the UI does not show. */
export class LoginBookkeeping {
  /** Bumped on login and logout, so answers that arrive for an older login are dropped. */
  epoch = 0;
  /** The outbox entry handed to the client library and not answered yet (one at a time, in order). */
  inFlight: string | null = null;
}

/** What slices call on one another; createAppStore fills it in once every slice exists. */
export interface SliceOps {
  /** threads: adds a committed message to its conversation (summary always; thread when loaded). */
  addCommitted(m: ChatMessage): void;
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
  /** auth: ends the login (logout, session ended elsewhere, account deleted) with a notice for the login screen. */
  endLogin(notice: string | null): void;
  /** Every field a login owns, as it is while nobody is logged in. */
  loggedOutState(): LoginOwnedState;
}

export interface SliceDeps {
  api: ChatApi;
  env: AppEnv;
  login: LoginBookkeeping;
  ops: SliceOps;
}
