/**
 * LAN discovery with mDNS/DNS-SD (bonjour-service): each replica advertises `_quorum._tcp` with its replica id, its
 * address and its public cluster id (never the secret: joining still takes the invite code), and `cluster discover`
 * browses for them. A replica advertises only on the interface of its own address, and only when that address is a
 * LAN IPv4 address: a replica on loopback (every test on 127.0.0.1, a headless replica left on its default) sends no
 * multicast at all.
 */
import { isIPv4 } from 'node:net';
import { createRequire } from 'node:module';
import type { Bonjour as BonjourInstance, Service } from 'bonjour-service';
import type { Logger } from 'pino';
import { isHostPort, isReplicaId, parseHostPort } from '../protocol/address.js';
import { CLUSTER_ID_RE } from './cluster-id.js';

/** DNS-SD service type: `_quorum._tcp`. */
const SERVICE_TYPE = 'quorum';

export interface DiscoveredCluster {
  clusterId: string;
  /** The replicas that answered, by id. */
  replicas: { id: string; address: string }[];
}

/** The interface IPv4 address to advertise `address` on, or why it is not advertised. */
export function advertisableHost(address: string): { host: string } | { reason: string } {
  const parsed = parseHostPort(address);
  if (!parsed) return { reason: `"${address}" is not HOST:PORT` };
  const { host } = parsed;
  if (!isIPv4(host)) return { reason: `${host} is not an IPv4 address` };
  if (host.startsWith('127.') || host === '0.0.0.0') return { reason: `${host} is not reachable from the LAN` };
  return { host };
}

export interface AdvertiseOptions {
  id: string;
  /** HOST:PORT this replica is reached at. */
  address: string;
  clusterId: string;
  log: Logger;
}

/**
 * bonjour-service, loaded when a replica first advertises or browses (a replica on loopback never does): it adds about
 * 7 MB to a replica's memory (test/bench/README.md, footprint).
 */
function Bonjour(): typeof BonjourInstance {
  return (createRequire(import.meta.url)('bonjour-service') as typeof import('bonjour-service')).Bonjour;
}

/** This replica's announcement on the LAN, until close(). */
export class LanAdvertisement {
  private constructor(
    private readonly bonjour: BonjourInstance,
    private readonly service: Service,
  ) {}

  /** Starts advertising; null (and a log line saying why) when the address is not one to advertise. */
  static start(options: AdvertiseOptions): LanAdvertisement | null {
    const where = advertisableHost(options.address);
    if ('reason' in where) {
      options.log.info({ address: options.address }, `LAN discovery: not advertising (${where.reason})`);
      return null;
    }
    const port = parseHostPort(options.address)!.port;
    // Multicast only on this replica's own interface; the socket binds the wildcard address so it hears queries.
    const bonjour = new (Bonjour())({ interface: where.host, bind: '0.0.0.0' } as never, (err: Error) =>
      options.log.warn({ err: err.message }, 'LAN discovery: advertising failed'),
    );
    const service = bonjour.publish({
      name: `quorum ${options.clusterId} ${options.id}`,
      type: SERVICE_TYPE,
      port,
      txt: { id: options.id, cluster: options.clusterId, address: options.address },
      disableIPv6: true,
    });
    options.log.info({ clusterId: options.clusterId, address: options.address }, 'LAN discovery: advertising _quorum._tcp');
    return new LanAdvertisement(bonjour, service);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.service.stop?.(() => this.bonjour.destroy(() => resolve()));
    });
  }
}

export interface DiscoverOptions {
  /** How long to listen for answers. */
  timeoutMs: number;
  /** IPv4 address of the interface to query on (default: the system's choice). */
  interfaceAddress?: string;
}

/** Browses the LAN for `_quorum._tcp` for `timeoutMs`; what answered, grouped by cluster (malformed answers dropped). */
export function discoverClusters(options: DiscoverOptions): Promise<DiscoveredCluster[]> {
  return new Promise((resolve, reject) => {
    let failed: Error | null = null;
    const bonjour = new (Bonjour())(
      (options.interfaceAddress ? { interface: options.interfaceAddress, bind: '0.0.0.0' } : {}) as never,
      (err: Error) => (failed ??= err),
    );
    const found = new Map<string, Map<string, string>>();
    const browser = bonjour.find({ type: SERVICE_TYPE }, (service) => {
      const txt = (service.txt ?? {}) as Record<string, unknown>;
      const { id, cluster, address } = txt;
      if (typeof id !== 'string' || !isReplicaId(id)) return;
      if (typeof cluster !== 'string' || !CLUSTER_ID_RE.test(cluster)) return;
      if (typeof address !== 'string' || !isHostPort(address)) return;
      let replicas = found.get(cluster);
      if (!replicas) found.set(cluster, (replicas = new Map()));
      replicas.set(id, address);
    });
    setTimeout(() => {
      browser.stop();
      bonjour.destroy(() => {
        if (failed) return reject(failed);
        resolve(
          [...found]
            .map(([clusterId, replicas]) => ({
              clusterId,
              replicas: [...replicas].map(([id, address]) => ({ id, address })).sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })),
            }))
            .sort((a, b) => a.clusterId.localeCompare(b.clusterId)),
        );
      });
    }, options.timeoutMs);
  });
}
