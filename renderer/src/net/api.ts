/**
 * What the UI needs from a connection to the cluster. The store depends only on this interface; net/client.ts
 * adapts the isomorphic client library to it (a mismatch with replica/client/ is a one-file fix) and
 * renderer/dev/mock-client.ts fakes it for screenshots.
 */
import type { ChatMessage, ConversationSummary, GroupSummary, PresenceEntry, ReplicaStatus, ReplicaStatusRow, SearchHit } from '../../../replica/protocol/client.js';
import type { ClientEvents, ClientState, GroupReadEvent, KeptWrite, ReceiptEvent } from '../../../replica/client/index.js';

export type { ChatMessage, ClientEvents, ClientState, ConversationSummary, GroupReadEvent, GroupSummary, KeptWrite, PresenceEntry, ReceiptEvent, ReplicaStatus, ReplicaStatusRow, SearchHit };

/** The cluster version that brings groups, edits and search (replica/chat/versions.ts): the UI offers them from it on. */
export const TEAM_VERSION = 3;

/**
 * Team features: groups, edits, search, presence and typing (docs/protocol.md). Groups, edits and search need cluster
 * version TEAM_VERSION (refused with UNSUPPORTED_BY_CLUSTER below it); presence and typing are ephemeral.
 */
export interface TeamApi {
  groups(): Promise<{ groups: GroupSummary[] }>;
  groupHistory(group: string, o: { limit?: number; before?: number }): Promise<{ messages: ChatMessage[] }>;
  createGroup(name: string, members: string[]): Promise<{ group: GroupSummary }>;
  addMembers(group: string, members: string[]): Promise<{ group: GroupSummary }>;
  removeMembers(group: string, members: string[]): Promise<{ group: GroupSummary }>;
  leaveGroup(group: string): Promise<unknown>;
  renameGroup(group: string, name: string): Promise<{ group: GroupSummary }>;
  /** `kept`: as for ChatApi.send. */
  sendToGroup(group: string, text: string, kept?: KeptWrite): Promise<{ id: number; sentAt: number }>;
  markGroupRead(group: string, upTo: number): Promise<unknown>;
  edit(messageId: number, text: string): Promise<{ editedAt: number }>;
  search(query: string, o: { limit?: number }): Promise<{ messages: SearchHit[] }>;
  /** Who of `users` is online; their changes then arrive as 'presence' events (replaces what was watched). */
  presence(users: string[]): Promise<{ presence: PresenceEntry[] }>;
  typing(target: { to: string } | { group: string }): Promise<unknown>;
}

/** Membership changes; null until the client library and the replicas support them. */
export interface ClusterActions {
  add(inviteCode: string): Promise<unknown>;
  remove(id: string): Promise<unknown>;
  transferLeadership(id: string): Promise<unknown>;
}

export interface ChatApi {
  readonly state: ClientState;
  /** True while a reconnected connection receives the backlog it missed (a 'message' then is not a live arrival). */
  readonly replaying: boolean;
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void;
  signup(username: string, password: string): Promise<{ user: string }>;
  login(username: string, password: string): Promise<{ user: string; token: string; unread: number }>;
  /** Takes over a login kept from before a page reload; rejects when it has ended. */
  resume?(token: string): Promise<{ user: string }>;
  logout(): Promise<unknown>;
  accounts(o: { pattern?: string; limit?: number; pageToken?: string }): Promise<{ accounts: { username: string }[]; nextPageToken: string | null }>;
  /** `kept`: the session handed over before it goes out, or the one it was given in an earlier run (KeptWrite). */
  send(to: string, text: string, kept?: KeptWrite): Promise<{ id: number; sentAt: number }>;
  history(withUser: string, o: { limit?: number; before?: number }): Promise<{ messages: ChatMessage[] }>;
  conversations(limit?: number): Promise<{ conversations: ConversationSummary[] }>;
  markRead(withUser: string, upTo: number): Promise<unknown>;
  delete(ids: number[]): Promise<unknown>;
  deleteAccount(password: string): Promise<unknown>;
  status(): Promise<ReplicaStatus>;
  /** One replica's own view (role, term, log) over a separate short connection; null when not supported. */
  statusOf: ((address: string, timeoutMs: number) => Promise<ReplicaStatus>) | null;
  readonly cluster: ClusterActions | null;
  /** Groups, edits, search, presence and typing; null where the connection offers none (the mock). */
  readonly team: TeamApi | null;
  /** Every replica address the client knows. */
  servers(): string[];
  close(): void;
}
