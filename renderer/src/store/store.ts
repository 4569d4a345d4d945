/**
 * The UI's state and everything that changes it (zustand, vanilla so it runs in unit tests without a DOM), composed
 * of one slice per feature, as Signal Desktop keeps one module per feature in ts/state/ducks/: auth.ts, threads.ts,
 * outbox.ts, directory.ts, cluster.ts, toasts.ts. Slices share the connection and the login's bookkeeping through
 * store-deps.ts. Talks to the cluster only through the ChatApi given to createAppStore.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ChatApi } from '../net/api.js';
import { createAuthSlice, type AuthActions, type AuthState } from './auth.js';
import { createClusterSlice, type ClusterActions, type ClusterState } from './cluster.js';
import { createDirectorySlice, emptyDirectory, type DirectoryActions, type DirectoryState } from './directory.js';
import { createEditsSlice, initialEditsState, type EditsActions, type EditsState } from './edits.js';
import { createGroupsSlice, type GroupsActions } from './groups.js';
import { createPresenceSlice, initialPresenceState, type PresenceActions, type PresenceState } from './presence.js';
import { createSearchSlice, emptySearch, type SearchActions, type SearchState } from './search.js';
import { TEAM_VERSION } from '../net/api.js';
import { createOutboxSlice, type OutboxActions, type OutboxState } from './outbox.js';
import { LoginBookkeeping, type AppEnv, type SliceDeps, type SliceOps } from './store-deps.js';
import { createThreadsSlice, initialThreadsState, type ThreadsActions, type ThreadsState } from './threads.js';
import { createToastsSlice, type ToastsActions, type ToastsState } from './toasts.js';

export type AppState = AuthState & ThreadsState & OutboxState & DirectoryState & ClusterState & ToastsState & EditsState & SearchState & PresenceState;

export type AppActions = AuthActions &
  ThreadsActions &
  OutboxActions &
  DirectoryActions &
  ClusterActions &
  ToastsActions &
  GroupsActions &
  EditsActions &
  SearchActions &
  PresenceActions & {
    /** Stops listening to the connection and cancels pending timers. */
    dispose(): void;
  };

export type AppStore = StoreApi<AppState & AppActions>;

/** What a login owns; cleared on login and logout. */
export type LoginOwnedState = Pick<
  AppState,
  | 'user'
  | 'conversations'
  | 'threads'
  | 'outbox'
  | 'drafts'
  | 'active'
  | 'view'
  | 'directory'
  | 'selection'
  | 'groups'
  | 'muted'
  | 'focus'
  | 'editing'
  | 'editError'
  | 'messageSearch'
  | 'presence'
  | 'typing'
>;

export function createAppStore(api: ChatApi, env: AppEnv): AppStore {
  const ops = {} as SliceOps;
  const deps: SliceDeps = { api, env, login: new LoginBookkeeping(), ops };
  let unsubscribe: (() => void)[] = [];

  const store = createStore<AppState & AppActions>()((set, get) => {
    const [auth, authOps] = createAuthSlice(set, get, deps);
    const [threads, threadsOps] = createThreadsSlice(set, get, deps);
    const [outbox, outboxOps] = createOutboxSlice(set, get, deps);
    const [presence, presenceOps] = createPresenceSlice(set, get, deps);
    Object.assign(ops, {
      addCommitted: threadsOps.addCommitted,
      loadConversations: threadsOps.loadConversations,
      forget: threadsOps.forget,
      resync: threadsOps.resync,
      forgetMarks: threadsOps.forgetMarks,
      reportUnread: threadsOps.reportUnread,
      sendNext: outboxOps.sendNext,
      loadKept: outboxOps.loadKept,
      endLogin: authOps.endLogin,
      loggedOutState: (): LoginOwnedState => ({
        user: null,
        ...initialThreadsState(),
        outbox: [],
        directory: emptyDirectory(),
        ...initialEditsState(),
        messageSearch: emptySearch(),
        ...initialPresenceState(),
      }),
      loadGroups: threadsOps.loadGroups,
      applyEdit: threadsOps.applyEdit,
      historyPage: threadsOps.historyPage,
      loadMutes: threadsOps.loadMutes,
      teamOn: threadsOps.teamOn,
      watchPresence: presenceOps.watchPresence,
      stopTyping: presenceOps.stopTyping,
      sentIn: presenceOps.sentIn,
      forgetPresence: presenceOps.forgetPresence,
    } satisfies SliceOps);

    let wasConnected = api.state.status === 'connected';
    unsubscribe = [
      api.on('state', (conn) => {
        const reconnected = conn.status === 'connected' && !wasConnected;
        wasConnected = conn.status === 'connected';
        // The cluster moved to the version with groups, edits and search: read the groups now.
        const teamNow = (conn.clusterVersion ?? 0) >= TEAM_VERSION && (get().conn.clusterVersion ?? 0) < TEAM_VERSION;
        set({ conn: { ...conn } });
        if (conn.status === 'connected' && !conn.readOnly) ops.sendNext();
        if (reconnected && get().user) void ops.resync();
        else if (teamNow && get().user && !deps.login.resuming) void ops.loadGroups().catch(() => {});
      }),
      api.on('message', (m) => {
        outboxOps.dropEcho(m);
        ops.addCommitted(m);
      }),
      api.on('deleted', (ids) => ops.forget(ids)),
      api.on('edited', (m) => ops.applyEdit(m)),
      api.on('presence', (e) => presenceOps.onPresence(e)),
      api.on('typing', (t) => presenceOps.onTyping(t)),
      api.on('receipt', (receipt) => threadsOps.applyReceipt(receipt)),
      api.on('groupRead', (ev) => threadsOps.applyGroupRead(ev)),
      api.on('sessionEnded', ({ reason }) => {
        if (!get().user) return;
        const queued = get().outbox.length;
        const kept = queued && deps.env.outboxStore ? ` Your ${queued} unsent ${queued === 1 ? 'message is kept and goes' : 'messages are kept and go'} out after you log in again.` : '';
        ops.endLogin(`You were logged out: ${reason}.${kept}`, false);
      }),
    ];

    return {
      ...auth,
      ...threads,
      ...outbox,
      ...createDirectorySlice(set, get, deps),
      ...createClusterSlice(set, deps),
      ...createToastsSlice(set, get, deps),
      ...createGroupsSlice(set, get, deps),
      ...createEditsSlice(set, get, deps),
      ...createSearchSlice(set, get, deps),
      ...presence,

      dispose() {
        for (const stop of unsubscribe) stop();
        ops.forgetMarks();
        ops.forgetPresence();
      },
    };
  });
  return store;
}
