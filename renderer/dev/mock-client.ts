/**
 * An in-memory ChatApi for UI work and screenshots (`vite --mode mock`): a pretend 3-replica cluster, a few
 * accounts, and a conversation of 100,000 messages generated on demand. Never part of the production bundle.
 * window.__mock drives it from a test: failover(ms), recover(), readOnly(on), incoming(from, text), killReplica(id).
 */
import { QuorumError } from '../../replica/protocol/errors.js';
import type { ClientEvents, ChatApi, ChatMessage, ClientState, ConversationSummary, ReplicaStatus } from '../src/net/api.js';

const NOW = Date.now();
const BIG = 100_000;
const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'walter'];
const accounts = [...names, ...Array.from({ length: 140 }, (_, i) => `user${String(i + 1).padStart(3, '0')}`)];
const lines = [
  'Did the deploy go out?',
  'Yes, all three replicas are on the new build.',
  'Great. I killed r2 on purpose to see the failover 😄',
  'Saw it — the bar went to Reconnecting for a second and came back.',
  'Lunch?',
  'In 10 minutes, by the stairs.',
  'Can you review the snapshot change when you have a moment? It touches InstallSnapshot and the compaction threshold.',
  'Sure, after standup.',
];

/** Message i (1-based) of the long conversation with bob: one every ~40 s, going back about 46 days. */
function bigMessage(i: number, me: string): ChatMessage {
  const fromMe = (i * 7) % 3 === 0;
  const sentAt = NOW - (BIG - i) * 40_000 - 60_000;
  return {
    id: i * 10,
    from: fromMe ? me : 'bob',
    to: fromMe ? 'bob' : me,
    text: i === BIG ? 'Here is the latest: the cluster view now draws every replica live.' : `${lines[i % lines.length]}${i % 11 === 0 ? `\n(${i})` : ''}`,
    sentAt,
    deliveredAt: sentAt + 500,
    readAt: i > BIG - 3 ? null : sentAt + 2000,
  };
}

export function createMockApi(): ChatApi {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const emit = <K extends keyof ClientEvents>(e: K, p: ClientEvents[K]) => {
    for (const l of listeners.get(e) ?? []) l(p);
  };
  const replicas = [
    { id: 'r1', address: '10.0.0.11:7420', up: true },
    { id: 'r2', address: '10.0.0.12:7420', up: true },
    { id: 'r3', address: '10.0.0.13:7420', up: true },
    { id: 'r4', address: '10.0.0.14:7420', up: true },
    { id: 'r5', address: '10.0.0.15:7420', up: true, learner: true },
  ];
  let leader = 0;
  let term = 7;
  let lastIndex = 120_450;
  let state: ClientState = { status: 'connecting', replica: null, leader: null, readOnly: false };
  const setState = (s: Partial<ClientState>) => {
    state = { ...state, ...s };
    emit('state', state);
  };
  let me: string | null = null;
  let nextId = BIG * 10 + 10;
  const extra: ChatMessage[] = [];
  const deleted = new Set<number>();
  const held: (() => void)[] = [];
  const small: Record<string, ChatMessage[]> = {};
  const seedSmall = (user: string) => {
    small.carol = [
      { id: 50, from: 'carol', to: user, text: 'Are you joining the retro?', sentAt: NOW - 86_400_000 * 2, deliveredAt: NOW, readAt: null },
      { id: 999_990, from: 'carol', to: user, text: 'Retro moved to 3pm, same room.', sentAt: NOW - 3_600_000, deliveredAt: NOW, readAt: null },
    ];
    small.dave = [{ id: 40, from: user, to: 'dave', text: 'Thanks for the invite code!', sentAt: NOW - 86_400_000 * 3, deliveredAt: NOW, readAt: NOW }];
  };
  const leaderRow = () => replicas[leader];
  const writable = () => replicas.filter((r) => r.up && !('learner' in r)).length >= 3;

  setTimeout(() => setState({ status: 'connected', replica: { id: 'r1', address: replicas[0].address }, leader: { id: 'r1', address: replicas[0].address } }), 300);

  const delay = <T,>(v: () => T, ms = 60): Promise<T> =>
    new Promise((resolve, reject) => {
      const run = () =>
        setTimeout(() => {
          try {
            resolve(v());
          } catch (e) {
            reject(e);
          }
        }, ms);
      if (state.status === 'connected' && !state.readOnly) run();
      else held.push(run);
    });
  const release = () => {
    const h = held.splice(0);
    for (const r of h) r();
  };

  let recovery: ReturnType<typeof setTimeout> | null = null;
  const mock = {
    /** The leader goes away; another takes over after `ms` (or at once when recover() is called). */
    failover(ms = 2500) {
      replicas[leader].up = false;
      setState({ status: 'reconnecting', replica: null });
      recovery = setTimeout(() => mock.recover(), ms);
    },
    /** Ends a failover now: the next replica up leads and the held requests go through. */
    recover() {
      if (recovery === null) return;
      clearTimeout(recovery);
      recovery = null;
      leader = replicas.findIndex((r) => r.up);
      term++;
      const l = replicas[leader];
      setState({ status: 'connected', replica: { id: l.id, address: l.address }, leader: { id: l.id, address: l.address } });
      release();
    },
    readOnly(on: boolean) {
      setState({ readOnly: on });
      if (!on) release();
    },
    incoming(from: string, text: string) {
      if (!me) return;
      const m: ChatMessage = { id: nextId++, from, to: me, text, sentAt: Date.now(), deliveredAt: Date.now(), readAt: null };
      (small[from] ??= []).push(m);
      emit('message', m);
    },
    killReplica(id: string) {
      const r = replicas.find((x) => x.id === id);
      if (r) r.up = false;
    },
  };
  (globalThis as { __mock?: typeof mock }).__mock = mock;

  const history = (w: string, before?: number, limit = 50): ChatMessage[] => {
    if (w === 'bob') {
      const all: ChatMessage[] = [];
      let hi = before === undefined ? BIG : Math.min(BIG, Math.floor((before - 1) / 10));
      const later = extra.filter((m) => (m.from === 'bob' || m.to === 'bob') && (before === undefined || m.id < before));
      while (hi >= 1 && all.length < limit - later.length) {
        const m = bigMessage(hi--, me!);
        if (!deleted.has(m.id)) all.push(m);
      }
      return [...all.reverse(), ...later].slice(-limit);
    }
    return (small[w] ?? []).filter((m) => (before === undefined || m.id < before) && !deleted.has(m.id)).slice(-limit);
  };

  return {
    get state() {
      return state;
    },
    replaying: false,
    on(event, l) {
      const s = listeners.get(event) ?? new Set();
      s.add(l as (p: unknown) => void);
      listeners.set(event, s);
      return () => s.delete(l as (p: unknown) => void);
    },
    signup: (u) =>
      delay(() => {
        if (accounts.includes(u)) throw new QuorumError('USERNAME_TAKEN', 'taken');
        accounts.push(u);
        return { user: u };
      }),
    login: (u, p) =>
      delay(() => {
        if (!accounts.includes(u) || p.length < 8) throw new QuorumError('BAD_CREDENTIALS', 'bad');
        me = u;
        seedSmall(u);
        return { user: u, token: 'x'.repeat(32), unread: 3 };
      }),
    logout: () => delay(() => ((me = null), { loggedOut: true })),
    accounts: ({ pattern = '*', limit = 50, pageToken }) =>
      delay(() => {
        const re = new RegExp(`^${pattern.replace(/[.-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
        const all = accounts.filter((a) => re.test(a)).sort();
        const start = pageToken ? all.findIndex((a) => a > pageToken) : 0;
        const page = start < 0 ? [] : all.slice(start, start + limit);
        return { accounts: page.map((username) => ({ username })), nextPageToken: start >= 0 && start + limit < all.length ? page[page.length - 1] : null };
      }),
    send: (to, text) =>
      delay(() => {
        const m: ChatMessage = { id: nextId++, from: me!, to, text, sentAt: Date.now(), deliveredAt: null, readAt: null };
        lastIndex++;
        if (to === 'bob') extra.push(m);
        else (small[to] ??= []).push(m);
        setTimeout(() => emit('receipt', { ids: [m.id], kind: 'delivered', at: Date.now() }), 700);
        return { id: m.id, sentAt: m.sentAt };
      }, 120),
    history: (w, { before, limit }) => delay(() => ({ messages: history(w, before, limit) }), 80),
    conversations: () =>
      delay(() => {
        const convs: ConversationSummary[] = [{ with: 'bob', lastMessage: bigMessage(BIG, me!), unread: 2 }];
        for (const [w, list] of Object.entries(small)) if (list.length) convs.push({ with: w, lastMessage: list[list.length - 1], unread: list.filter((m) => m.from === w && !m.readAt).length });
        return { conversations: convs };
      }),
    markRead: () => delay(() => ({ marked: 1 })),
    delete: (ids) =>
      delay(() => {
        for (const id of ids) deleted.add(id);
        return { deleted: ids.length };
      }),
    deleteAccount: (p) =>
      delay(() => {
        if (p.length < 8) throw new QuorumError('BAD_CREDENTIALS', 'bad');
        return { deleted: true };
      }),
    status: () =>
      new Promise<ReplicaStatus>((resolve) =>
        setTimeout(() => {
          const l = leaderRow();
          resolve({
            id: l.id,
            address: l.address,
            role: 'leader',
            term,
            leader: { id: l.id, address: l.address },
            commitIndex: lastIndex,
            appliedIndex: lastIndex,
            lastIndex,
            voter: true,
            quorum: writable(),
            members: replicas.map((r, i) => ({
              id: r.id,
              address: r.address,
              voter: !('learner' in r),
              match: r.up ? lastIndex - (i === 3 ? 12 : i === 4 ? 340 : 0) : lastIndex - 5210,
              reachable: r.up,
            })),
          });
        }, 30),
      ),
    statusOf: (address) =>
      new Promise<ReplicaStatus>((resolve, reject) =>
        setTimeout(() => {
          const r = replicas.find((x) => x.address === address);
          if (!r || !r.up) return reject(new QuorumError('UNAVAILABLE', 'down'));
          const l = leaderRow();
          resolve({
            id: r.id,
            address: r.address,
            role: r === l ? 'leader' : 'learner' in r ? 'learner' : 'follower',
            term,
            leader: { id: l.id, address: l.address },
            commitIndex: lastIndex,
            appliedIndex: lastIndex,
            lastIndex,
            voter: !('learner' in r),
            quorum: true,
            members: [],
          });
        }, 40),
      ),
    cluster: null,
    team: null,
    servers: () => replicas.map((r) => r.address),
    close() {},
  };
}
