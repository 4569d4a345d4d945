/** Adapts the isomorphic client library (replica/client/) to the UI's ChatApi. The only file that imports it. */
import { QuorumClient } from '../../../replica/client/index.js';
import type { ApiEvents, ChatApi, ClusterActions, ConnState } from './api.js';

type Loose = Record<string, unknown>;

/** Finds membership actions on the client, whichever shape the library gives them. */
function clusterActions(client: QuorumClient): ClusterActions | null {
  const c = client as unknown as Loose;
  const ns = (typeof c.cluster === 'object' && c.cluster ? c.cluster : c) as Loose;
  const pick = (...names: string[]) => {
    for (const n of names) if (typeof ns[n] === 'function') return (ns[n] as (...a: unknown[]) => Promise<unknown>).bind(ns);
    return null;
  };
  const add = pick('add', 'addReplica', 'addLearner');
  const remove = pick('remove', 'removeReplica');
  const transfer = pick('transferLeadership', 'transfer');
  return add && remove && transfer ? { add, remove, transferLeadership: transfer } : null;
}

export function connectToCluster(servers: string[]): ChatApi {
  const client = new QuorumClient({ servers, WebSocket: globalThis.WebSocket as never });
  const cluster = clusterActions(client);
  return {
    get state(): ConnState {
      return client.state;
    },
    on<K extends keyof ApiEvents>(event: K, listener: (payload: ApiEvents[K]) => void) {
      return client.on(event, listener as never);
    },
    signup: (u, p) => client.signup(u, p),
    login: (u, p) => client.login(u, p),
    logout: () => client.logout(),
    accounts: (o) => client.accounts(o),
    send: (to, text) => client.send(to, text),
    history: (w, o) => client.history(w, o),
    conversations: (limit) => client.conversations(limit),
    markRead: (w, upTo) => client.markRead(w, upTo),
    delete: (ids) => client.delete(ids),
    deleteAccount: (p) => client.deleteAccount(p),
    status: () => client.status(),
    statusOf: (address, timeoutMs) => client.statusOf(address, { timeoutMs }),
    cluster,
    servers: () => client.servers,
    close: () => client.close(),
  };
}
