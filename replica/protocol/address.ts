/** Replica ids and HOST:PORT addresses, one definition for every place that accepts them. Isomorphic. */
import { z } from 'zod';

export const REPLICA_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
export const ReplicaIdSchema = z.string().regex(REPLICA_ID_RE, 'replica ids are 1-64 letters, digits, "_", "." or "-"');

const HOST_PORT_RE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

/** True for HOST:PORT (host name, IPv4, or [IPv6]) with a port in 1..65535. */
export function isHostPort(s: string): boolean {
  const m = HOST_PORT_RE.exec(s);
  if (!m) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535;
}

export const HostPortSchema = z.string().max(262).refine(isHostPort, 'addresses are HOST:PORT with a port from 1 to 65535');

/**
 * Splits a listen address HOST:PORT (host name, IPv4 or [IPv6]; port 0..65535, 0 picks a free one) into host (without
 * brackets) and port. Throws `"…" is not HOST:PORT` otherwise.
 */
export function splitHostPort(s: string): [host: string, port: number] {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new Error(`"${s}" is not HOST:PORT`);
  return [m[1].replace(/^\[|\]$/g, ''), Number(m[2])];
}
