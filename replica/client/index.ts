/** The isomorphic Quorum client library. No Node or DOM imports: inject a WebSocket constructor. */
export { QuorumClient } from './client.js';
export { fetchStatus } from './status-probe.js';
export type { StatusProbeOptions } from './status-probe.js';
export type {
  ClientEvents,
  ClientLogger,
  ClientState,
  ConnectionStatus,
  KeptWrite,
  QuorumClientOptions,
  ReceiptEvent,
  GroupReadEvent,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js';
export { QuorumError } from '../protocol/index.js';
