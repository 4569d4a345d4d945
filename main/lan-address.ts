/**
 * This machine's address on the LAN: what teammates' replicas and apps use to reach its replica. The address of the
 * interface that carries the default route (on Linux read from /proc/net/route), not merely the first non-internal
 * one, which may be docker0, a bridge or a VPN; elsewhere, or without a default route, the first address of an
 * interface whose name is not a known virtual one (and only then any non-internal IPv4). Read at every start of the
 * replica, so a machine that moved to another network advertises its new address after the next restart.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { readFileSync } from 'node:fs';

export interface LanAddressDeps {
  interfaces(): NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** The text of /proc/net/route; null where there is none (not Linux). */
  routeTable(): string | null;
}

const SYSTEM: LanAddressDeps = {
  interfaces: networkInterfaces,
  routeTable: () => {
    try {
      return readFileSync('/proc/net/route', 'utf8');
    } catch {
      return null;
    }
  },
};

/** Interfaces of containers, VMs, bridges and VPNs: never the LAN a teammate shares. */
const VIRTUAL = /^(docker|br-|veth|virbr|vboxnet|vmnet|tun|tap|utun|wg|tailscale|zt|lxc|lxd|podman|cni|flannel|kube)/i;

/** The interface of the default route with the lowest metric in a /proc/net/route table, or null. */
export function defaultRouteInterface(table: string): string | null {
  let best: { iface: string; metric: number } | null = null;
  for (const line of table.split('\n').slice(1)) {
    const [iface, destination, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (!iface || destination !== '00000000' || mask !== '00000000') continue;
    // RTF_UP (0x1): only a route that is up.
    if ((parseInt(flags, 16) & 1) === 0) continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface ?? null;
}

function ipv4(list: NetworkInterfaceInfo[] | undefined): string | null {
  return list?.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? null;
}

/** The LAN address (see the module comment), or null on a machine without a LAN. */
export function lanAddress(deps: LanAddressDeps = SYSTEM): string | null {
  const interfaces = deps.interfaces();
  const table = deps.routeTable();
  const viaDefault = table ? defaultRouteInterface(table) : null;
  if (viaDefault) {
    const address = ipv4(interfaces[viaDefault]);
    if (address) return address;
  }
  const names = Object.keys(interfaces);
  for (const name of names) {
    if (VIRTUAL.test(name)) continue;
    const address = ipv4(interfaces[name]);
    if (address) return address;
  }
  for (const name of names) {
    const address = ipv4(interfaces[name]);
    if (address) return address;
  }
  return null;
}
