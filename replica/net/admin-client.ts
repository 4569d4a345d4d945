/**
 * Cluster administration from Node (the `cluster` CLI, a joining replica, the desktop main process): proves the
 * cluster secret on a /client connection, follows NOT_LEADER hints, and retries other replicas with backoff until a
 * deadline. Each call uses a fresh connection; the requests are idempotent or checked by the caller. Connections are
 * TLS, and the replica must present a certificate of the cluster CA derived from the secret (or of `trust`): the
 * secret pins the cluster. A replica that fails that check is not retried (UNTRUSTED).
 */
import WebSocket from 'ws';
import { QuorumError, type ErrorCode } from '../protocol/errors.js';
import type { ServerFrame } from '../protocol/client.js';
import { adminMac } from './peer-auth.js';
import { adminScope, type AdminOp } from '../protocol/admin.js';
import { backoffDelay, type BackoffOptions } from '../util/backoff.js';
import { clientUrl, explainTlsError, tlsClientOptions, trustFromSecrets, type ClientTrust } from '../security/client-tls.js';

/** Retries while the cluster elects a leader: 50 ms doubling to 1 s. */
const RETRY_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 1000 };
const RETRY: ReadonlySet<string> = new Set(['NOT_LEADER', 'NO_QUORUM', 'TIMEOUT', 'UNAVAILABLE', 'RATE_LIMITED', 'CLOSED', 'INTERNAL']);

export interface AdminOptions {
  /** Give up after this long (default 15 s). */
  timeoutMs?: number;
  onRetry?: (why: string) => void;
  /** Whose certificates to accept (default: the cluster CA of `secret`; during a rotation, of every accepted secret). */
  trust?: ClientTrust;
}

/** TLS errors that say the replica is not who it should be: retrying cannot help. */
const UNTRUSTED_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/** Sends one admin request to the leader of the cluster that `servers` belong to. */
export async function adminRequest<T = unknown>(servers: string[], secret: Buffer, req: Record<string, unknown>, o: AdminOptions = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  const trust = o.trust ?? (await trustFromSecrets([secret]));
  const queue = [...servers];
  let attempt = 0;
  let lastError: string;
  for (;;) {
    const address = queue[attempt % queue.length];
    attempt++;
    try {
      return (await once(address, secret, trust, req, Math.max(500, deadline - Date.now()))) as T;
    } catch (err) {
      const e = err as QuorumError & { code?: string };
      lastError = `${address}: ${e.code ?? 'ERROR'}: ${e.message}`;
      if (e.code && !RETRY.has(e.code)) throw err;
      if (e.code === 'NOT_LEADER' && e.leader?.address) {
        if (!queue.includes(e.leader.address)) queue.push(e.leader.address);
        attempt = queue.indexOf(e.leader.address);
      }
      o.onRetry?.(lastError);
    }
    if (Date.now() > deadline) throw new QuorumError('UNAVAILABLE', `cluster administration failed: ${lastError}`);
    const delay = backoffDelay(attempt, RETRY_BACKOFF, Math.random);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function once(address: string, secret: Buffer, trust: ClientTrust, req: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
  const scope = req.op === 'clusterChange' || req.op === 'transfer' || req.op === 'resync' ? adminScope(req as unknown as AdminOp) : null;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(clientUrl(trust, address), { ...tlsClientOptions(trust), handshakeTimeout: Math.min(timeoutMs, 3000) });
    const fail = (code: string, message: string, leader: { id: string; address: string } | null = null) => {
      clearTimeout(timer);
      ws.terminate();
      reject(Object.assign(new QuorumError((code as ErrorCode) ?? 'UNAVAILABLE', message, leader), { code }));
    };
    const timer = setTimeout(() => fail('TIMEOUT', `no answer from ${address}`), timeoutMs);
    ws.on('message', (data) => {
      let f: ServerFrame;
      try {
        f = JSON.parse(data.toString()) as ServerFrame;
      } catch {
        return fail('INTERNAL', 'malformed frame from the replica');
      }
      if (f.type === 'hello') {
        if (typeof f.nonce !== 'string') return fail('UNAVAILABLE', `${address} does not support cluster administration`);
        if (scope === null) {
          // Not an administration request (e.g. status): no proof needed.
          ws.send(JSON.stringify({ ...req, id: 2 }));
          return;
        }
        ws.send(JSON.stringify({ id: 1, op: 'admin', scope, mac: adminMac(secret, f.nonce, scope) }));
        return;
      }
      if (f.type !== 'response') return;
      if (!f.ok) return fail(f.error.code, f.error.message, f.error.leader ?? null);
      if (f.id === 1) {
        ws.send(JSON.stringify({ ...req, id: 2 }));
        return;
      }
      clearTimeout(timer);
      ws.close();
      resolve(f.result);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code && UNTRUSTED_CODES.has(err.code)) fail('UNTRUSTED', explainTlsError(err, address, trust));
      else fail('CLOSED', explainTlsError(err, address, trust));
    });
    ws.on('close', () => fail('CLOSED', `connection to ${address} closed`));
  });
}
