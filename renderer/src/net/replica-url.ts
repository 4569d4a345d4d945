/**
 * The WebSocket URL the desktop app uses for a replica address: plain ws:// to this machine's own replica (loopback:
 * nothing crosses the network), wss:// to every other machine. Teammates' replicas answer with certificates of the
 * cluster CA, which main accepts for this window (main/cluster-certificates.ts); a replica refuses plain clients from
 * other machines. A web page keeps the client library's default (it is served by a replica, over whatever the
 * operator set up).
 */
import { parseHostPort } from '../../../replica/protocol/address.js';

/** True for 127.0.0.0/8, ::1 and localhost: this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export function desktopReplicaUrl(address: string): string {
  // Not HOST:PORT: the encrypted URL, so nothing ever goes out in plain text by mistake.
  const parsed = parseHostPort(address);
  return `${parsed && isLoopbackHost(parsed.host) ? 'ws' : 'wss'}://${address}/client`;
}
