/**
 * A replica's own certificate: a fresh P-256 key made in memory at every start (nothing to steal from the disk),
 * signed by the cluster CA, naming the replica id (subject CN) and the addresses it answers on. It serves TLS to
 * clients and peers, and is the client certificate of the replica's outbound peer links.
 * Verification of a peer's certificate checks who issued it and whom it names, not its dates: peers' clocks may
 * disagree, and anyone able to issue one (a holder of the secret) could issue a fresh one anyway.
 */
import { isIP } from 'node:net';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import type { JsonGeneralName } from '@peculiar/x509';
import { x509Lib } from './x509-lib.js';
import type { ClusterCa } from './cluster-ca.js';
import { commonName, pinOf, REPLICA_SERVER_NAME } from './certificate-names.js';

export interface ReplicaCertificate {
  /** PEM of the private key (PKCS#8). */
  keyPem: string;
  /** PEM of the certificate. */
  certPem: string;
  notAfter: Date;
}

/** A replica certificate is valid this long; a running replica issues a new one well before (see ReplicaTls). */
export const REPLICA_CERT_DAYS = 30;
/** Backdated this much so a peer or client whose clock runs behind still accepts it. */
const BACKDATE_MS = 24 * 3600 * 1000;

export async function issueReplicaCertificate(ca: ClusterCa, id: string, hosts: readonly string[], now = new Date()): Promise<ReplicaCertificate> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const x509 = await x509Lib();
  const names: JsonGeneralName[] = [{ type: 'dns', value: REPLICA_SERVER_NAME }];
  for (const host of new Set(hosts)) {
    if (!host || host === '0.0.0.0' || host === '::') continue;
    names.push(isIP(host) ? { type: 'ip', value: host } : { type: 'dns', value: host });
  }
  const notAfter = new Date(now.getTime() + REPLICA_CERT_DAYS * 24 * 3600 * 1000);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    subject: `CN=${id}, O=Quorum`,
    issuer: new x509.X509Certificate(ca.pem).subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(new x509.X509Certificate(ca.pem)),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { keyPem, certPem: cert.toString('pem'), notAfter };
}

/**
 * Why a certificate a peer presented is not the certificate of replica `expectedId` of this cluster, or null when it
 * is. `cas` are the CAs of every accepted secret (two during a rotation).
 */
export function replicaCertificateProblem(certificate: X509Certificate | undefined, cas: readonly ClusterCa[], expectedId: string): string | null {
  if (!certificate) return `it presented no certificate (replicas present the certificate their cluster CA issued them)`;
  const issuer = cas.find((ca) => certificate.checkIssued(ca.certificate) && certificate.verify(ca.certificate.publicKey));
  if (!issuer) {
    return (
      `its certificate (key pin ${pinOf(certificate).slice(0, 16)}…, issuer "${certificate.issuer.replace(/\n/g, ', ')}") was not issued by this ` +
      `cluster's CA (pin ${cas.map((ca) => ca.pin.slice(0, 16) + '…').join(' or ')}): it belongs to another cluster or holds another cluster ` +
      `secret. If the secret was rotated, give every replica the new secret (docs/security.md)`
    );
  }
  if (certificate.ca) return 'it presented a CA certificate instead of its own';
  const name = commonName(certificate);
  if (name !== expectedId) return `it presented the certificate of replica "${name ?? '?'}", not of "${expectedId}"`;
  return null;
}
