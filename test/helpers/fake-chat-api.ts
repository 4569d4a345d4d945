/** A fake ChatApi and AppEnv for the renderer store tests (not a test file itself). */
import { FakeApiEvents } from './fake-api-events.js';
import type { AppEnv } from '../../renderer/src/store/store-deps.js';
import type { ChatApi, ChatMessage, ClientState, ConversationSummary, GroupSummary, KeptWrite, PresenceEntry, ReplicaStatus, SearchHit, TeamApi } from '../../renderer/src/net/api.js';
import { QuorumError } from '../../replica/protocol/errors.js';

export interface Deferred<T> {
  resolve(v: T): void;
  reject(e: unknown): void;
}

/** A ChatApi whose sends stay pending until the test settles them, like the client library during failover. */
export class FakeApi extends FakeApiEvents implements ChatApi {
  state: ClientState = { status: 'connected', replica: { id: 'r1', address: 'a:1' }, leader: { id: 'r1', address: 'a:1' }, readOnly: false };
  /** Every send, with what the store passed for keeping it (KeptWrite), settled by the test. */
  sends: { to: string; text: string; kept?: KeptWrite; d: Deferred<{ id: number; sentAt: number }> }[] = [];
  /** The conversation list answers; a test may replace it (e.g. with one it settles later). */
  conversationList: () => Promise<{ conversations: ConversationSummary[] }> = async () => ({ conversations: [] });
  /** Resume answers; a test may replace it (e.g. with one that never settles: no majority). */
  resumeLogin: (token: string) => Promise<{ user: string }> = async () => ({ user: 'alice' });
  marks: [string, number][] = [];
  history_: ChatMessage[] = [];
  statusOf = null;
  replaying = false;
  cluster = null;
  /** Groups, edits, search, presence, typing: recorded; answers set by the test. */
  team: FakeTeam | null = new FakeTeam();
  setConn(c: Partial<ClientState>) {
    this.state = { ...this.state, ...c };
    this.emit('state', this.state);
  }
  signup = async (u: string) => ({ user: u });
  login = async (u: string, p: string) => {
    if (p === 'wrong-password') throw new QuorumError('BAD_CREDENTIALS', 'bad');
    return { user: u, token: 't'.repeat(32), unread: 0 };
  };
  logout = async () => ({ loggedOut: true });
  accounts = async (o: { pattern?: string; pageToken?: string }) =>
    o.pageToken ? { accounts: [{ username: 'bob2' }], nextPageToken: null } : { accounts: [{ username: 'bob' }, { username: 'bobby' }], nextPageToken: 'p2' };
  send = (to: string, text: string, kept?: KeptWrite) =>
    new Promise<{ id: number; sentAt: number }>((resolve, reject) => this.sends.push({ to, text, kept, d: { resolve, reject } }));
  resume = (token: string) => this.resumeLogin(token);
  history = async (_w: string, o: { before?: number; limit?: number }) => {
    const older = this.history_.filter((m) => o.before === undefined || m.id < o.before);
    return { messages: older.slice(-(o.limit ?? 50)) };
  };
  conversations = () => this.conversationList();
  markRead = async (w: string, upTo: number) => {
    this.marks.push([w, upTo]);
    return { marked: 1 };
  };
  delete = async () => ({ deleted: 1 });
  deleteAccount = async () => ({ deleted: true });
  status = async (): Promise<ReplicaStatus> => {
    throw new Error('no');
  };
  servers = () => ['a:1'];
  close() {}
}

/** The team half of the fake: every call recorded in `calls`; answers from the fields a test sets. */
export class FakeTeam implements TeamApi {
  calls: [string, ...unknown[]][] = [];
  groupList: GroupSummary[] = [];
  groupPages: Record<string, ChatMessage[]> = {};
  hits: SearchHit[] = [];
  online: PresenceEntry[] = [];
  /** A refusal for the next call of this op (e.g. createGroup: CONFLICT). */
  refuse: Record<string, Error> = {};
  groupSends: { group: string; text: string; kept?: KeptWrite; d: Deferred<{ id: number; sentAt: number }> }[] = [];
  private answer<T>(op: string, args: unknown[], value: () => T): Promise<T> {
    this.calls.push([op, ...args]);
    const refusal = this.refuse[op];
    if (refusal) {
      delete this.refuse[op];
      return Promise.reject(refusal);
    }
    return Promise.resolve(value());
  }
  private summary(name: string, members: string[]): GroupSummary {
    return { name, members: [...members].sort(), admins: [members[0]], unread: 0 };
  }
  groups = () => this.answer('groups', [], () => ({ groups: this.groupList }));
  groupHistory = (group: string, o: { before?: number; limit?: number }) =>
    this.answer('groupHistory', [group], () => ({ messages: (this.groupPages[group] ?? []).filter((m) => o.before === undefined || m.id < o.before).slice(-(o.limit ?? 50)) }));
  createGroup = (name: string, members: string[]) => this.answer('createGroup', [name, members], () => ({ group: this.summary(name, ['alice', ...members]) }));
  addMembers = (group: string, members: string[]) => this.answer('addMembers', [group, members], () => ({ group: this.summary(group, ['alice', ...members]) }));
  removeMembers = (group: string, members: string[]) => this.answer('removeMembers', [group, members], () => ({ group: this.summary(group, ['alice']) }));
  leaveGroup = (group: string) => this.answer('leaveGroup', [group], () => ({ left: true }));
  renameGroup = (group: string, name: string) => this.answer('renameGroup', [group, name], () => ({ group: this.summary(name, ['alice']) }));
  sendToGroup = (group: string, text: string, kept?: KeptWrite) =>
    new Promise<{ id: number; sentAt: number }>((resolve, reject) => this.groupSends.push({ group, text, kept, d: { resolve, reject } }));
  markGroupRead = (group: string, upTo: number) => this.answer('markGroupRead', [group, upTo], () => ({ marked: 1 }));
  edit = (id: number, text: string) => this.answer('edit', [id, text], () => ({ edited: true, editedAt: 1_700_000_009_000 }));
  search = (query: string, o: { limit?: number }) => this.answer('search', [query, o.limit], () => ({ messages: this.hits }));
  presence = (users: string[]) => this.answer('presence', [users], () => ({ presence: this.online.filter((p) => users.includes(p.user)) }));
  typing = (target: { to: string } | { group: string }) => this.answer('typing', [target], () => ({ sent: true }));
}

export function env(attentive = true): AppEnv & { unread: number[]; incoming: string[] } {
  const e = {
    unread: [] as number[],
    incoming: [] as string[],
    now: () => 1_700_000_000_000,
    isAttentive: () => attentive,
    onUnreadTotal: (n: number) => e.unread.push(n),
    onIncoming: (m: ChatMessage) => e.incoming.push(m.text),
    setTimeout: (fn: () => void) => (queueMicrotask(fn), 0),
    clearTimeout: () => {},
  };
  return e;
}

export const msg = (id: number, from: string, to: string, text = `m${id}`): ChatMessage => ({ id, from, to, text, sentAt: 1_700_000_000_000 + id, deliveredAt: null, readAt: null });

