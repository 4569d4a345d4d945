/** This machine's address on the LAN: what teammates' replicas and apps use to reach its replica. */
import { networkInterfaces } from 'node:os';

/** The first non-internal IPv4 address, or null on a machine without a LAN. */
export function lanAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}
