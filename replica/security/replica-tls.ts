/**
 * Everything TLS a running replica holds: the CAs of its accepted cluster secrets, its own certificate (renewed before
 * it expires), an operator's certificate for browsers (re-read when its files change), the server options of the
 * single port and the client options of outbound peer links.
 *
 * Which certificate the port serves: clients that trust the cluster CA (peers, the CLI with the cluster's
 * cluster-ca.pem, the desktop) ask for the server name `quorum-replica` and get the replica certificate; anyone else
 * (a browser) gets the operator's certificate when one is configured, else the replica certificate too.
 */
import { statSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TlsOptions, type ConnectionOptions } from 'node:tls';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { deriveClusterCa, type ClusterCa } from './cluster-ca.js';
import { REPLICA_SERVER_NAME } from './certificate-names.js';
import { issueReplicaCertificate, replicaCertificateProblem, REPLICA_CERT_DAYS, type ReplicaCertificate } from './replica-certificate.js';
import { readOperatorCertificate, type OperatorCertificate, type OperatorCertificateFiles } from './operator-certificate.js';
import { readCertificateCache, writeCertificateCache, type CachedCertificates } from './certificate-cache.js';

export interface ReplicaTlsOptions {
  id: string;
  /** The accepted cluster secrets, current first; empty for a replica without a secret (no cluster CA). */
  secrets: readonly Buffer[];
  /** Host names and addresses the replica certificate names (listen and advertised hosts). */
  hosts: readonly string[];
  /** An operator's certificate for browsers (`--tls-cert`, `--tls-key`), or null. */
  operator: OperatorCertificateFiles | null;
  /** Where the certificates are kept between starts, sealed with the secret (the data folder); none: made at every start. */
  keepIn?: string;
  log: Logger;
  /** Clock for certificate dates (tests). */
  now?: () => Date;
}

/** How often a running replica checks whether its certificate is due for renewal and the operator's files changed. */
const CHECK_MS = 60_000;

/** A replica certificate with less than half its validity left is renewed (at start, or by the minute's check). */
function dueForRenewal(notAfter: Date, now: Date): boolean {
  return notAfter.getTime() - now.getTime() < (REPLICA_CERT_DAYS / 2) * 24 * 3600 * 1000;
}

export class ReplicaTls {
  private replicaCert: ReplicaCertificate | null = null;
  private replicaContext: SecureContext | null = null;
  private operator: OperatorCertificate | null = null;
  private operatorContext: SecureContext | null = null;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> | null = null;

  private constructor(
    private readonly o: ReplicaTlsOptions,
    /** The CAs of the accepted secrets, the current secret's first. */
    readonly cas: readonly ClusterCa[],
  ) {}

  static async create(o: ReplicaTlsOptions): Promise<ReplicaTls> {
    const kept = o.keepIn && o.secrets.length ? readCertificateCache(o.keepIn, o.secrets[0]) : null;
    const cache = kept && 'cache' in kept ? kept.cache : null;
    const cas = await Promise.all(o.secrets.map((s) => deriveClusterCa(s, cache?.cas)));
    const tls = new ReplicaTls(o, cas);
    if (o.operator) tls.setOperator(readOperatorCertificate(o.operator));
    if (cas.length) {
      const problem = cache ? tls.keptCertificateProblem(cache) : kept && 'problem' in kept ? kept.problem : 'certificates are not kept';
      if (problem === null) tls.use(cache!.replica.keyPem, cache!.replica.certPem, new Date(cache!.replica.notAfter));
      else {
        o.log.debug({ why: problem }, 'making a replica certificate');
        await tls.renew();
      }
    }
    tls.timer = setInterval(() => tls.check(), CHECK_MS);
    tls.timer.unref();
    return tls;
  }

  /** True when the port can speak TLS (a cluster secret or an operator certificate). */
  get enabled(): boolean {
    return this.replicaContext !== null || this.operatorContext !== null;
  }

  /** The accepted cluster CAs as one PEM bundle (what `--ca-file` takes). */
  get caBundlePem(): string {
    return this.cas.map((ca) => ca.pem).join('');
  }

  /** Options of the port's TLS server. Peers are asked for their certificate; browsers and the CLI present none. */
  serverOptions(): TlsOptions {
    return {
      ...this.defaultContextOptions(),
      SNICallback: (name, done) => done(null, this.contextFor(name)),
      requestCert: this.cas.length > 0,
      // Checked per connection where it matters (/peer): clients without a certificate are welcome elsewhere.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: 10_000,
    };
  }

  /** The options of the context served when a client names no server (or a name other than `quorum-replica`). */
  defaultContextOptions(): SecureContextOptions {
    if (this.operator) return this.operatorOptions(this.operator);
    if (this.replicaCert) return this.replicaOptions(this.replicaCert);
    return {};
  }

  /** Called after the served certificates changed (the port's default context must be replaced). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** TLS options of an outbound peer link: our certificate, verified by the peer; the peer's checked by peerProblem. */
  peerClientOptions(): ConnectionOptions {
    const cert = this.replicaCert;
    if (!cert) throw new Error('this replica has no cluster secret, so it has no certificate for peer links');
    return {
      key: cert.keyPem,
      cert: cert.certPem,
      servername: REPLICA_SERVER_NAME,
      // Verified against the cluster CAs by peerProblem once the handshake is done (without the dates: see
      // replica-certificate.ts); nothing is sent before that.
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    };
  }

  /** Why the certificate a peer presented is not replica `id`'s of this cluster, or null when it is. */
  peerProblem(certificate: X509Certificate | undefined, id: string): string | null {
    return replicaCertificateProblem(certificate, this.cas, id);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  private contextFor(name: string): SecureContext | undefined {
    if (name === REPLICA_SERVER_NAME && this.replicaContext) return this.replicaContext;
    return this.operatorContext ?? this.replicaContext ?? undefined;
  }

  private replicaOptions(cert: ReplicaCertificate): SecureContextOptions {
    return { key: cert.keyPem, cert: cert.certPem, ca: this.caBundlePem };
  }

  private operatorOptions(cert: OperatorCertificate): SecureContextOptions {
    // The cluster CAs name whom a client certificate may come from, so browsers holding other client certificates
    // are not asked to pick one.
    return { key: cert.key, cert: cert.cert, ...(this.cas.length ? { ca: this.caBundlePem } : {}) };
  }

  private setOperator(cert: OperatorCertificate): void {
    this.operatorContext = createSecureContext(this.operatorOptions(cert));
    this.operator = cert;
  }

  /** The names and addresses the replica certificate is issued for. */
  private get certificateHosts(): string[] {
    return [...this.o.hosts, 'localhost', '127.0.0.1', '::1'];
  }

  /** Why the kept replica certificate cannot be served now (other addresses, due, not this CA's for this id), or null. */
  private keptCertificateProblem(cache: CachedCertificates): string | null {
    const kept = cache.replica;
    if (JSON.stringify(kept.hosts) !== JSON.stringify(this.certificateHosts)) return 'the addresses changed since the kept certificate was made';
    const now = this.o.now?.() ?? new Date();
    if (dueForRenewal(new Date(kept.notAfter), now)) return 'the kept certificate is due for renewal';
    try {
      const certificate = new X509Certificate(kept.certPem);
      if (new Date(certificate.validFrom) > now) return 'the kept certificate is not valid yet (the clock went back)';
      if (!certificate.checkPrivateKey(createPrivateKey(kept.keyPem))) return 'the kept key does not match the kept certificate';
      return replicaCertificateProblem(certificate, this.cas.slice(0, 1), this.o.id);
    } catch (err) {
      return `the kept certificate cannot be read: ${(err as Error).message}`;
    }
  }

  private use(keyPem: string, certPem: string, notAfter: Date): void {
    const cert = { keyPem, certPem, notAfter };
    this.replicaContext = createSecureContext(this.replicaOptions(cert));
    const renewed = this.replicaCert !== null;
    this.replicaCert = cert;
    if (renewed) this.o.log.info({ notAfter: notAfter.toISOString() }, 'replica certificate renewed');
    this.changed();
  }

  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const now = this.o.now?.() ?? new Date();
      const hosts = this.certificateHosts;
      const cert = await issueReplicaCertificate(this.cas[0], this.o.id, hosts, now);
      this.use(cert.keyPem, cert.certPem, cert.notAfter);
      this.keep(hosts);
    })().finally(() => (this.renewing = null));
    return this.renewing;
  }

  /** Keeps the CA and replica certificates for the next start (best effort: without them it makes new ones). */
  private keep(hosts: string[]): void {
    if (!this.o.keepIn || !this.replicaCert) return;
    const cert = this.replicaCert;
    try {
      writeCertificateCache(this.o.keepIn, this.o.secrets[0], {
        format: 1,
        cas: this.cas.map((ca) => ({ pin: ca.pin, pem: ca.pem })),
        replica: { id: this.o.id, hosts, keyPem: cert.keyPem, certPem: cert.certPem, notAfter: cert.notAfter.toISOString() },
      });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'keeping the replica certificate for the next start failed; the next start makes a new one');
    }
  }

  private check(): void {
    const now = this.o.now?.() ?? new Date();
    if (this.replicaCert && dueForRenewal(this.replicaCert.notAfter, now)) {
      this.renew().catch((err) => this.o.log.error({ err: (err as Error).message }, 'renewing the replica certificate failed; retrying in a minute'));
    }
    const files = this.o.operator;
    if (files && this.operator) {
      const changed = [files.certFile, files.keyFile].some((f, i) => mtimeOf(f) !== this.operator!.mtimes[i]);
      if (!changed) return;
      try {
        this.setOperator(readOperatorCertificate(files));
        this.o.log.info({ cert: files.certFile, notAfter: this.operator.notAfter }, 'operator certificate reloaded');
        this.changed();
      } catch (err) {
        // Half-written files during a renewal are common: keep serving the old certificate and try again.
        this.o.log.warn({ err: (err as Error).message }, 'operator certificate changed but cannot be used yet; still serving the previous one');
      }
    }
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.o.log.error({ err: (err as Error).message }, 'applying new TLS certificates failed');
      }
    }
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}
