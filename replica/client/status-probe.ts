/** Asks one replica for its status over a connection of its own (the status CLI, the UI's cluster view). */
import { QuorumError } from '../protocol/index.js';
import type { ReplicaStatus } from '../protocol/index.js';
import { Connection } from './connection.js';
import { checkStatus } from './results.js';
import type { ClientLogger, WebSocketConstructor } from './types.js';

export interface StatusProbeOptions {
  WebSocket: WebSocketConstructor;
  url: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  log?: ClientLogger;
}

export function fetchStatus(address: string, options: StatusProbeOptions): Promise<ReplicaStatus> {
  return new Promise<ReplicaStatus>((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      fn();
    };
    const conn = new Connection(
      0,
      address,
      {
        onHello: (c) => {
          if (!c.send({ id: 1, op: 'status' })) {
            c.close(`cannot send the status request to ${address}`);
            return;
          }
          timer = setTimeout(
            () => c.close(`no status from ${address} within ${options.requestTimeoutMs} ms`),
            options.requestTimeoutMs,
          );
        },
        onFrame: (c, frame) => {
          if (frame.type !== 'response' || frame.id !== 1) return;
          if (frame.ok) {
            try {
              const status = checkStatus(frame.result);
              settle(() => resolve(status));
            } catch (err) {
              settle(() => reject(err));
            }
          } else {
            const error = frame.error;
            settle(() => reject(new QuorumError(error.code, error.message, error.leader ?? null)));
          }
          c.close('status received');
        },
        onClose: (_c, reason) => settle(() => reject(new QuorumError('UNAVAILABLE', reason))),
      },
      options.log,
    );
    conn.open(options.WebSocket, options.url, options.connectTimeoutMs);
  });
}
