/** Replica ids and HOST:PORT addresses, one definition for every place that accepts them. Isomorphic. */
import * as z from 'zod';

const REPLICA_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** What a user is told when a replica id is refused. */
export const REPLICA_ID_RULE = 'replica ids are 1-64 letters, digits, "_", "." or "-"';
export const ReplicaIdSchema = z.string().regex(REPLICA_ID_RE, REPLICA_ID_RULE);

export function isReplicaId(s: string): boolean {
  return REPLICA_ID_RE.test(s);
}

const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

/**
 * HOST:PORT (host name, IPv4, or [IPv6]) split into its host (without brackets) and port (0..65535; 0 asks the system
 * for a free port when listening); null if it is not that shape.
 */
export function parseHostPort(s: string): { host: string; port: number } | null {
  const m = HOST_PORT_RE.exec(s);
  if (!m) return null;
  const port = Number(m[2]);
  if (port > 65535) return null;
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** True for HOST:PORT with a port in 1..65535: an address others can connect to. */
export function isHostPort(s: string): boolean {
  const parsed = parseHostPort(s);
  return parsed !== null && parsed.port >= 1;
}

export const HostPortSchema = z.string().max(262).refine(isHostPort, 'addresses are HOST:PORT with a port from 1 to 65535');
