/** Adapts the isomorphic client library (replica/client/) to the UI's ChatApi. The only file that imports it. */
import { QuorumClient } from '../../../replica/client/index.js';
import { isHostPort, isReplicaId } from '../../../replica/protocol/address.js';
import type { ClientEvents, ChatApi, ClusterActions, ClientState } from './api.js';
import { call, desktop } from '../desktop.js';
import { desktopReplicaUrl } from './replica-url.js';


/**
 * Membership actions need the cluster secret, which only the desktop app holds (its replica makes the change);
 * a browser gets none. `add` takes "ID HOST:PORT" (or ID=HOST:PORT): the replica is pre-registered as a learner
 * and the new machine then joins with this cluster's invite code.
 */
function clusterActions(): ClusterActions | null {
  if (!desktop) return null;
  return {
    add: async (text: string) => {
      const [id, address, ...extra] = text.trim().split(/\s*=\s*|\s+/);
      if (!isReplicaId(id) || address === undefined || !isHostPort(address) || extra.length > 0) {
        throw Object.assign(new Error('write the new replica as ID HOST:PORT, e.g. r4 10.0.0.4:7400'), { code: 'INVALID' });
      }
      return call('cluster:change', { change: { op: 'addLearner', id, address } });
    },
    remove: (id: string) => call('cluster:change', { change: { op: 'remove', id } }),
    transferLeadership: (id: string) => call('cluster:transfer', { to: id }),
  };
}

export function connectToCluster(servers: string[]): ChatApi {
  const client = new QuorumClient({ servers, WebSocket: globalThis.WebSocket as never, ...(desktop ? { url: desktopReplicaUrl } : {}) });
  const cluster = clusterActions();
  return {
    get state(): ClientState {
      return client.state;
    },
    get replaying(): boolean {
      return client.replaying;
    },
    on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void) {
      return client.on(event, listener as never);
    },
    signup: (u, p) => client.signup(u, p),
    login: (u, p) => client.login(u, p),
    resume: (t) => client.resumeLogin(t),
    logout: () => client.logout(),
    accounts: (query) => client.accounts(query),
    send: (to, text, kept) => client.send(to, text, kept),
    history: (w, o) => client.history(w, o),
    conversations: (limit) => client.conversations(limit),
    markRead: (w, upTo) => client.markRead(w, upTo),
    delete: (ids) => client.delete(ids),
    deleteAccount: (p) => client.deleteAccount(p),
    status: () => client.status(),
    statusOf: (address, timeoutMs) => client.statusOf(address, { timeoutMs }),
    cluster,
    team: {
      groups: () => client.groups(),
      groupHistory: (g, o) => client.groupHistory(g, o),
      createGroup: (name, members) => client.createGroup(name, members),
      addMembers: (g, members) => client.addMembers(g, members),
      removeMembers: (g, members) => client.removeMembers(g, members),
      leaveGroup: (g) => client.leaveGroup(g),
      renameGroup: (g, name) => client.renameGroup(g, name),
      sendToGroup: (g, text, kept) => client.sendToGroup(g, text, kept),
      markGroupRead: (g, upTo) => client.markGroupRead(g, upTo),
      edit: (id, text) => client.edit(id, text),
      search: (query, o) => client.search(query, o),
      presence: (users) => client.presence(users),
      typing: (target) => client.typing(target),
    },
    servers: () => client.servers,
    close: () => client.close(),
  };
}
