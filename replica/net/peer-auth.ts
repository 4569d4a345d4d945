/** Mutual HMAC challenge-response between peers, keyed by the cluster secret. */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { adminMessage } from '../protocol/admin.js';

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

/** MAC a connecting peer sends: binds the server's nonce, both ids and the direction. */
export function clientMac(secret: Buffer, serverNonce: string, clientId: string, serverId: string): string {
  return createHmac('sha256', secret).update(`quorum-peer-1|client|${serverNonce}|${clientId}|${serverId}`).digest('hex');
}

/** MAC the accepting server answers with, over the client's nonce. */
export function serverMac(secret: Buffer, clientNonce: string, clientId: string, serverId: string): string {
  return createHmac('sha256', secret).update(`quorum-peer-1|server|${clientNonce}|${clientId}|${serverId}`).digest('hex');
}

export function macEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Proof of the cluster secret for one administration request over a /client connection (see protocol/admin.ts). */
export function adminMac(secret: Buffer, connectionNonce: string, scope: string): string {
  return createHmac('sha256', secret).update(adminMessage(connectionNonce, scope)).digest('hex');
}
