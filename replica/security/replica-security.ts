/**
 * The security parts of one running replica, made from its options: TLS (cluster CA, own certificate, an operator's
 * certificate), the exposure rules of its port, and the login throttle. startReplica wires them into the transport
 * and the request handler; docs/security.md describes the defaults.
 */
import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ReplicaTls } from './replica-tls.js';
import { Exposure } from '../net/exposure.js';
import { DEFAULT_THROTTLE, LoginThrottle, loginThrottleMetrics } from './login-throttle.js';
import type { OperatorCertificateFiles } from './operator-certificate.js';

export type PeerLinkMode = 'tls' | 'tls-or-plain' | 'plain';
export const PEER_LINK_MODES: readonly PeerLinkMode[] = ['tls', 'tls-or-plain', 'plain'];

/** What a host may set about TLS and exposure (ReplicaOptions.security). Every field is optional; defaults are safe. */
export interface ReplicaSecurityOptions {
  /** An operator's certificate and key (PEM files) served to browsers on the port (`--tls-cert`, `--tls-key`). */
  operatorCertificate?: OperatorCertificateFiles | null;
  /** Serve pages and /client in plain text to other machines too (default false: loopback only). */
  allowPlainClients?: boolean;
  /**
   * Links between replicas: 'tls' (default: TLS both ways, plain refused); 'tls-or-plain' (TLS, falling back to plain
   * text for a peer that does not speak it, and plain accepted: only while upgrading from a version without TLS);
   * 'plain' (plain text: only on a network that is encrypted already, e.g. WireGuard, or to measure what TLS costs).
   */
  peerLinks?: PeerLinkMode;
  /** Origins allowed to open /client besides the replica's own and the desktop app's (exact, e.g. https://chat.example.com). */
  allowedOrigins?: readonly string[];
  /** A bearer token that lets other machines read /metrics and /debug/state on the port. */
  metricsToken?: string | null;
  /** HOST:PORT of a separate plain port serving /metrics, /debug/state and /healthz to anyone who reaches it. */
  metricsListen?: string | null;
}

export interface ReplicaSecurity {
  tls: ReplicaTls;
  exposure: Exposure;
  loginThrottle: LoginThrottle;
  close(): void;
}

export interface ReplicaSecurityContext {
  id: string;
  dataDir: string;
  /** The accepted cluster secrets, current first (none for a lone replica without a secret). */
  secrets: readonly Buffer[];
  /** The listen host and the advertised host (names or addresses). */
  hosts: readonly string[];
  /** The members' addresses now (host:port): pages they serve may use this replica. */
  memberAddresses: () => Iterable<string>;
  options: ReplicaSecurityOptions;
  registry: Registry;
  log: Logger;
}

/** Name of the file in the data folder holding the cluster CA(s), for clients' --ca-file. */
export const CLUSTER_CA_FILE = 'cluster-ca.pem';

export async function startReplicaSecurity(context: ReplicaSecurityContext): Promise<ReplicaSecurity> {
  const wildcard = context.hosts.some((h) => h === '0.0.0.0' || h === '::' || h === '');
  const hosts = [...context.hosts, ...(wildcard ? interfaceAddresses() : [])];
  const tls = await ReplicaTls.create({
    id: context.id,
    secrets: context.secrets,
    hosts,
    operator: context.options.operatorCertificate ?? null,
    keepIn: context.dataDir,
    log: context.log,
  });
  if (tls.cas.length) {
    // Public: what a CLI user or a browser needs to trust this cluster's replicas (docs/security.md).
    writeFileSync(join(context.dataDir, CLUSTER_CA_FILE), tls.caBundlePem, { mode: 0o644 });
  }
  const names = hosts.filter((h) => h && isIP(h) === 0);
  const exposure = new Exposure({
    allowPlainClients: context.options.allowPlainClients ?? false,
    allowedOrigins: context.options.allowedOrigins ?? [],
    hostNames: () => names,
    metricsToken: context.options.metricsToken ?? null,
    memberAddresses: context.memberAddresses,
  });
  const loginThrottle = new LoginThrottle(DEFAULT_THROTTLE, Date.now, loginThrottleMetrics(context.registry));
  return { tls, exposure, loginThrottle, close: () => tls.close() };
}

function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.push(a.address.replace(/%.*$/, ''));
  return out;
}
