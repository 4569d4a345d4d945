/**
 * Invite codes: one copy-pasteable string holding a cluster's replica addresses and its secret, so a new install can
 * join with nothing else. Format: "quorum1." + base64url(JSON {"servers": [...], "secret": base64url(secret)}).
 * Anyone holding the code can join a replica and so read the whole chat history: share it like a password.
 */
import { isHostPort } from '../protocol/address.js';

const PREFIX = 'quorum1.';

export interface Invite {
  servers: string[];
  secret: Buffer;
}

export function encodeInvite(inv: Invite): string {
  if (!inv.servers.length) throw new Error('an invite needs at least one replica address');
  if (!inv.secret.length) throw new Error('an invite needs the cluster secret');
  const body = JSON.stringify({ servers: inv.servers, secret: inv.secret.toString('base64url') });
  return PREFIX + Buffer.from(body, 'utf8').toString('base64url');
}

export function decodeInvite(code: string): Invite {
  const text = code.trim();
  if (!text.startsWith(PREFIX)) throw new Error('not a Quorum invite code (it starts with "quorum1.")');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text.slice(PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw new Error('the invite code is damaged (copy it again, whole)');
  }
  const o = raw as { servers?: unknown; secret?: unknown };
  if (
    !Array.isArray(o.servers) ||
    o.servers.length === 0 ||
    o.servers.length > 64 ||
    !o.servers.every((s) => typeof s === 'string' && isHostPort(s)) ||
    typeof o.secret !== 'string' ||
    !/^[A-Za-z0-9_-]{1,1024}$/.test(o.secret)
  ) {
    throw new Error('the invite code is damaged (copy it again, whole)');
  }
  return { servers: o.servers as string[], secret: Buffer.from(o.secret, 'base64url') };
}
