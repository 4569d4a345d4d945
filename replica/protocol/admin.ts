/**
 * Cluster administration proofs are bound to one request: the `admin` frame carries the exact request it authorizes
 * (its scope) and a MAC over the connection's nonce and that scope, so a machine relaying the proof can neither reuse
 * it for another request nor on another connection. Isomorphic (the HMAC itself is computed by the caller).
 */
import type { ConfChangeRequest } from './client.js';

export type AdminOp = { op: 'clusterChange'; change: ConfChangeRequest } | { op: 'transfer'; to?: string } | { op: 'resync'; replica: string };

/** The canonical text of an admin request (field order fixed, no JSON ambiguity). */
export function adminScope(req: AdminOp): string {
  if (req.op === 'transfer') return `transfer|${req.to ?? ''}`;
  if (req.op === 'resync') return `resync|${req.replica}`;
  const c = req.change;
  return `clusterChange|${c.op}|${c.id}|${'address' in c ? c.address : ''}`;
}

/** The message the MAC covers: HMAC-SHA256(secret, adminMessage(nonce, scope)), hex. */
export function adminMessage(nonce: string, scope: string): string {
  return `quorum-admin-1|${nonce}|${scope}`;
}
