/** Signing up, logging in (and resuming a kept login after a reload), logging out, deleting the account. */
import { LIMITS } from '../../../replica/protocol/limits.js';
import { Username } from '../../../replica/protocol/client.js';
import { readableError } from '../errors.js';
import type { GetState, SetState, SliceDeps } from './store-deps.js';

export interface AuthState {
  /** The logged-in account; null on the login screen. */
  user: string | null;
  authBusy: boolean;
  authError: string | null;
  /** A message for the login screen (session ended, account deleted). */
  notice: string | null;
  /** Signed in from a kept login the cluster has not taken back yet (e.g. no majority): nothing can be read yet. */
  resuming: boolean;
}

export interface AuthActions {
  /** `staySignedIn`: keep the login on this device beyond this tab (the person asked to stay signed in). */
  signup(username: string, password: string, staySignedIn?: boolean): Promise<void>;
  login(username: string, password: string, staySignedIn?: boolean): Promise<void>;
  /** Resumes a login kept from before a reload, if any. */
  restore(): Promise<void>;
  logout(): Promise<void>;
  deleteAccount(password: string): Promise<void>;
}

export interface AuthOps {
  endLogin(notice: string | null, discardOutbox: boolean): void;
}

export function createAuthSlice(set: SetState, get: GetState, { api, env, login, ops }: SliceDeps): [AuthState & AuthActions, AuthOps] {
  /** A new login starts from nothing but the outbox kept on the device, then loads its conversation list. */
  const startLogin = async (user: string) => {
    void beginLogin(user);
    await loadConversations();
  };

  /** Shows `user` signed in: a fresh state, with the outbox kept on the device (loaded when the result resolves). */
  const beginLogin = (user: string): Promise<void> => {
    login.epoch++;
    login.inFlight = null;
    login.resuming = null;
    login.keptLoaded = false;
    ops.forgetMarks();
    ops.forgetPresence();
    set({ ...ops.loggedOutState(), user, authBusy: false, authError: null, notice: null, resuming: false });
    ops.loadMutes(user);
    return ops.loadKept(user);
  };

  const loadConversations = async () => {
    try {
      await ops.loadConversations();
    } catch (err) {
      get().toast(`Could not load conversations. ${readableError(err)}`, 'error');
    }
  };

  const endLogin = (notice: string | null, discardOutbox: boolean) => {
    const user = get().user;
    env.keptLogin?.clear();
    if (discardOutbox && user) void env.outboxStore?.clear(user).catch((err: unknown) => env.onStorageError?.(err));
    login.epoch++;
    login.inFlight = null;
    login.resuming = null;
    ops.forgetMarks();
    ops.forgetPresence();
    set({ ...ops.loggedOutState(), notice, authBusy: false, resuming: false });
    env.onUnreadTotal?.(0);
  };

  const slice: AuthState & AuthActions = {
    user: null,
    authBusy: false,
    authError: null,
    notice: null,
    resuming: false,

    async signup(username, password, staySignedIn = false) {
      const u = Username.safeParse(username);
      if (!u.success) return void set({ authError: 'Usernames are 1–32 letters, digits, “_”, “.” or “-”.' });
      if (password.length < LIMITS.passwordMin) return void set({ authError: `Passwords have at least ${LIMITS.passwordMin} characters.` });
      set({ authBusy: true, authError: null, notice: null });
      try {
        await api.signup(username, password);
        const r = await api.login(username, password);
        env.keptLogin?.save({ token: r.token, user: r.user }, staySignedIn);
        await startLogin(r.user);
      } catch (err) {
        set({ authBusy: false, authError: readableError(err) });
      }
    },

    async login(username, password, staySignedIn = false) {
      if (!username || !password) return void set({ authError: 'Enter your username and password.' });
      set({ authBusy: true, authError: null, notice: null });
      try {
        const r = await api.login(username, password);
        env.keptLogin?.save({ token: r.token, user: r.user }, staySignedIn);
        await startLogin(r.user);
      } catch (err) {
        set({ authBusy: false, authError: readableError(err) });
      }
    },

    async restore() {
      const kept = env.keptLogin?.load();
      if (!kept || !api.resume) return;
      // Signed in at once, with the kept outbox: while the cluster has no majority the resume waits (read-only), and
      // the person sees their account and queued messages instead of a login screen.
      const keptLoaded = beginLogin(kept.user);
      const epoch = login.epoch;
      let bound!: () => void;
      login.resuming = new Promise<void>((resolve) => (bound = resolve));
      set({ resuming: true });
      try {
        const r = await api.resume(kept.token);
        if (epoch !== login.epoch) return;
        if (r.user !== kept.user) throw new Error(`the kept login belongs to ${r.user}`);
      } catch (err) {
        if (epoch !== login.epoch) return;
        // The login ended meanwhile (logged out elsewhere, expired, account deleted): log in again; the outbox stays
        // kept for the next login of this account. The notice counts it, so wait for the device (the cluster may
        // answer before the device has read it).
        await keptLoaded;
        if (epoch !== login.epoch) return;
        const queued = get().outbox.length;
        endLogin(
          `Your login has ended (${readableError(err)}). Log in again${queued ? `; your ${queued} unsent ${queued === 1 ? 'message is kept and goes' : 'messages are kept and go'} out after you log in` : ''}.`,
          false,
        );
        return;
      } finally {
        bound();
      }
      login.resuming = null;
      set({ resuming: false });
      ops.sendNext();
      const active = get().active;
      await Promise.all([loadConversations(), active ? get().loadOlder(active) : undefined]);
    },

    async logout() {
      const unsent = get().outbox.length;
      try {
        await api.logout();
      } catch (err) {
        get().toast(readableError(err), 'error');
        return;
      }
      endLogin(unsent > 0 ? `Logged out. ${unsent} unsent ${unsent === 1 ? 'message was' : 'messages were'} discarded.` : null, true);
    },

    async deleteAccount(password) {
      await api.deleteAccount(password);
      endLogin('Your account was deleted.', true);
    },
  };
  return [slice, { endLogin }];
}
