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
import type { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { deriveClusterCa, type ClusterCa } from './cluster-ca.js';
import { REPLICA_SERVER_NAME } from './certificate-names.js';
import { issueReplicaCertificate, replicaCertificateProblem, REPLICA_CERT_DAYS, type ReplicaCertificate } from './replica-certificate.js';
import { readOperatorCertificate, type OperatorCertificate, type OperatorCertificateFiles } from './operator-certificate.js';

export interface ReplicaTlsOptions {
  id: string;
  /** The accepted cluster secrets, current first; empty for a replica without a secret (no cluster CA). */
  secrets: readonly Buffer[];
  /** Host names and addresses the replica certificate names (listen and advertised hosts). */
  hosts: readonly string[];
  /** An operator's certificate for browsers (`--tls-cert`, `--tls-key`), or null. */
  operator: OperatorCertificateFiles | null;
  log: Logger;
  /** Clock for certificate dates (tests). */
  now?: () => Date;
}

/** How often a running replica checks whether its certificate is due for renewal and the operator's files changed. */
const CHECK_MS = 60_000;

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
    const cas = await Promise.all(o.secrets.map((s) => deriveClusterCa(s)));
    const tls = new ReplicaTls(o, cas);
    if (o.operator) tls.setOperator(readOperatorCertificate(o.operator));
    if (cas.length) await tls.renew();
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

  private renew(): Promise<void> {
    this.renewing ??= (async () => {
      const now = this.o.now?.() ?? new Date();
      const hosts = [...this.o.hosts, 'localhost', '127.0.0.1', '::1'];
      const cert = await issueReplicaCertificate(this.cas[0], this.o.id, hosts, now);
      this.replicaContext = createSecureContext(this.replicaOptions(cert));
      const renewed = this.replicaCert !== null;
      this.replicaCert = cert;
      if (renewed) this.o.log.info({ notAfter: cert.notAfter.toISOString() }, 'replica certificate renewed');
      this.changed();
    })().finally(() => (this.renewing = null));
    return this.renewing;
  }

  private check(): void {
    const now = (this.o.now?.() ?? new Date()).getTime();
    if (this.replicaCert && this.replicaCert.notAfter.getTime() - now < (REPLICA_CERT_DAYS / 2) * 24 * 3600 * 1000) {
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
