/**
 * What the UI needs from a connection to the cluster. The store depends only on this interface; net/client.ts
 * adapts the isomorphic client library to it (a mismatch with replica/client/ is a one-file fix) and
 * renderer/dev/mock-client.ts fakes it for screenshots.
 */
import type { ChatMessage, ConversationSummary, ReplicaStatus, ReplicaStatusRow } from '../../../replica/protocol/client.js';
import type { ClientEvents, ClientState, KeptWrite, ReceiptEvent } from '../../../replica/client/index.js';

export type { ChatMessage, ClientEvents, ClientState, ConversationSummary, KeptWrite, ReceiptEvent, ReplicaStatus, ReplicaStatusRow };

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
  /** Every replica address the client knows. */
  servers(): string[];
  close(): void;
}
