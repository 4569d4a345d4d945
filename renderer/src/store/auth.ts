/** Signing up, logging in (and resuming a kept login after a reload), logging out, deleting the account. */
import { LIMITS } from '../../../replica/protocol/limits.js';
import { Username } from '../../../replica/protocol/client.js';
import type { ConversationSummary } from '../net/api.js';
import { readableError } from '../errors.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export interface AuthState {
  /** The logged-in account; null on the login screen. */
  user: string | null;
  authBusy: boolean;
  authError: string | null;
  /** A message for the login screen (session ended, account deleted). */
  notice: string | null;
}

export interface AuthActions {
  signup(username: string, password: string): Promise<void>;
  login(username: string, password: string): Promise<void>;
  /** Resumes a login kept from before a reload, if any. */
  restore(): Promise<void>;
  logout(): Promise<void>;
  deleteAccount(password: string): Promise<void>;
}

export interface AuthOps {
  endLogin(notice: string | null): void;
}

export function createAuthSlice(set: SetState, get: GetState, { api, env, login, ops }: SliceDeps): [AuthState & AuthActions, AuthOps] {
  /** A new login starts from nothing, then loads its conversation list. */
  const startLogin = async (user: string) => {
    login.epoch++;
    login.inFlight = null;
    ops.forgetMarks();
    set({ ...ops.loggedOutState(), user, authBusy: false, authError: null, notice: null });
    try {
      const r = await api.conversations(LIMITS.pageMax);
      const conversations: Record<string, ConversationSummary> = {};
      for (const c of r.conversations) conversations[c.with] = c;
      set((s) => {
        // Keep anything that arrived live in the meantime.
        const merged = { ...conversations };
        for (const [k, v] of Object.entries(s.conversations)) if (!merged[k] || merged[k].lastMessage.id < v.lastMessage.id) merged[k] = v;
        return { conversations: merged };
      });
      ops.reportUnread();
    } catch (err) {
      get().toast(`Could not load conversations. ${readableError(err)}`, 'error');
    }
  };

  const endLogin = (notice: string | null) => {
    env.keptLogin?.clear();
    login.epoch++;
    login.inFlight = null;
    ops.forgetMarks();
    set({ ...ops.loggedOutState(), notice, authBusy: false });
    env.onUnreadTotal?.(0);
  };

  const slice: AuthState & AuthActions = {
    user: null,
    authBusy: false,
    authError: null,
    notice: null,

    async signup(username, password) {
      const u = Username.safeParse(username);
      if (!u.success) return void set({ authError: 'Usernames are 1–32 letters, digits, “_”, “.” or “-”.' });
      if (password.length < LIMITS.passwordMin) return void set({ authError: `Passwords have at least ${LIMITS.passwordMin} characters.` });
      set({ authBusy: true, authError: null, notice: null });
      try {
        await api.signup(username, password);
        const r = await api.login(username, password);
        env.keptLogin?.save(r.token);
        await startLogin(r.user);
      } catch (err) {
        set({ authBusy: false, authError: readableError(err) });
      }
    },

    async login(username, password) {
      if (!username || !password) return void set({ authError: 'Enter your username and password.' });
      set({ authBusy: true, authError: null, notice: null });
      try {
        const r = await api.login(username, password);
        env.keptLogin?.save(r.token);
        await startLogin(r.user);
      } catch (err) {
        set({ authBusy: false, authError: readableError(err) });
      }
    },

    async restore() {
      const token = env.keptLogin?.load();
      if (!token || !api.resume) return;
      set({ authBusy: true, authError: null });
      try {
        const r = await api.resume(token);
        await startLogin(r.user);
      } catch {
        // The login ended meanwhile (logged out elsewhere, account deleted): back to the login screen.
        env.keptLogin?.clear();
        set({ authBusy: false });
      }
    },

    async logout() {
      const unsent = get().outbox.length;
      try {
        await api.logout();
      } catch (err) {
        get().toast(readableError(err), 'error');
        return;
      }
      endLogin(unsent > 0 ? `Logged out. ${unsent} unsent ${unsent === 1 ? 'message was' : 'messages were'} discarded.` : null);
    },

    async deleteAccount(password) {
      await api.deleteAccount(password);
      endLogin('Your account was deleted.');
    },
  };
  return [slice, { endLogin }];
}
