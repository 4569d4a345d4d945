/**
 * What the UI needs from a connection to the cluster. The store depends only on this interface; net/client.ts
 * adapts the isomorphic client library to it (a mismatch with replica/client/ is a one-file fix) and
 * renderer/dev/mock-client.ts fakes it for screenshots.
 */
import type { ChatMessage, ConversationSummary, ReplicaStatus, ReplicaStatusRow } from '../../../replica/protocol/client.js';

export type { ChatMessage, ConversationSummary, ReplicaStatus, ReplicaStatusRow };

export interface ConnState {
  status: 'connecting' | 'connected' | 'reconnecting' | 'closed';
  replica: { id: string; address: string } | null;
  leader: { id: string; address: string } | null;
  readOnly: boolean;
  lastError?: string;
}

export interface ReceiptEvent {
  ids: number[];
  kind: 'delivered' | 'read';
  at: number;
}

export interface ApiEvents {
  state: ConnState;
  message: ChatMessage;
  deleted: number[];
  receipt: ReceiptEvent;
  sessionEnded: { reason: string };
  members: ReplicaStatusRow[];
}

/** Membership changes; null until the client library and the replicas support them. */
export interface ClusterActions {
  add(inviteCode: string): Promise<unknown>;
  remove(id: string): Promise<unknown>;
  transferLeadership(id: string): Promise<unknown>;
}

export interface ChatApi {
  readonly state: ConnState;
  on<K extends keyof ApiEvents>(event: K, listener: (payload: ApiEvents[K]) => void): () => void;
  signup(username: string, password: string): Promise<{ user: string }>;
  login(username: string, password: string): Promise<{ user: string; token: string; unread: number }>;
  /** Takes over a login kept from before a page reload; rejects when it has ended. */
  resume?(token: string): Promise<{ user: string }>;
  logout(): Promise<unknown>;
  accounts(o: { pattern?: string; limit?: number; pageToken?: string }): Promise<{ accounts: { username: string }[]; nextPageToken: string | null }>;
  send(to: string, text: string): Promise<{ id: number; sentAt: number }>;
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
