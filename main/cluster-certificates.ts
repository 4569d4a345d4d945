/**
 * Which TLS certificates the renderer accepts when it connects to teammates' replicas over wss://: those a CA of this
 * machine's cluster issued (the CA is derived from the cluster secret, so the secret pins the cluster) for the name
 * every replica certificate carries (`quorum-replica`). Anything else is left to Chromium's own verdict, so an
 * operator's certificate from a public or company authority still works and a stranger's is refused.
 * Main installs it with session.setCertificateVerifyProc (main.ts); the renderer never sees a secret.
 */
import { X509Certificate } from 'node:crypto';
import { REPLICA_SERVER_NAME } from '../replica/security/certificate-names.js';
import { trustFromSecrets } from '../replica/security/client-tls.js';

/** Electron's answers to a certificate verification: accept, reject, or use Chromium's verdict. */
export const VERIFY_ACCEPT = 0;
export const VERIFY_USE_CHROMIUM = -3;

/** The part of Electron's certificate verify request used here. */
export interface VerifyRequest {
  hostname: string;
  /** The leaf certificate (`data`: PEM) and, when Chromium has it, its issuer chain. */
  certificate: { data: string; issuerCert?: { data: string } | null };
  /** Chromium's own verdict ('net::OK' when a system-trusted authority issued it). */
  verificationResult: string;
}

export class ClusterCertificateTrust {
  private cas: X509Certificate[] = [];
  private secretKey = '';

  /** Trusts the cluster CA of `secret` (this machine's cluster, or the team it is joining) instead of the previous one. */
  async useSecret(secret: Buffer): Promise<void> {
    const key = secret.toString('base64');
    if (key === this.secretKey) return;
    const trust = await trustFromSecrets([secret]);
    const pems = trust.ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    this.cas = pems.map((pem) => new X509Certificate(pem));
    this.secretKey = key;
  }

  /** True when a CA of this machine's cluster issued `certPem` as a replica certificate. */
  isClusterReplica(certPem: string): boolean {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certPem);
    } catch {
      // not a certificate we can read: not one of ours
      return false;
    }
    if (leaf.ca) return false;
    // Dates are not checked, as between replicas: the issuer is the pin, and a replica renews its own certificate.
    if (!this.cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return false;
    return (leaf.subjectAltName ?? '').split(/,\s*/).includes(`DNS:${REPLICA_SERVER_NAME}`);
  }

  /** Electron's verify proc: accept the cluster's replicas, otherwise Chromium decides. */
  verify(request: VerifyRequest): number {
    if (request.verificationResult === 'net::OK') return VERIFY_USE_CHROMIUM;
    return this.isClusterReplica(request.certificate.data) ? VERIFY_ACCEPT : VERIFY_USE_CHROMIUM;
  }
}
