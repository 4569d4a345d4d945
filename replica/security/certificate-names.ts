/**
 * Names and fingerprints of Quorum certificates, without the certificate builder (@peculiar/x509 takes half a second
 * to load; the CLI only needs these).
 */
import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';

/** The name every replica certificate carries besides its addresses: clients that trust the cluster CA ask for it. */
export const REPLICA_SERVER_NAME = 'quorum-replica';
/** Subject prefix of a cluster CA (how the CLI tells a cluster CA file from an operator's authority). */
export const CLUSTER_CA_NAME = 'Quorum cluster CA';

/** The pin (SHA-256 of the public key, hex) of any certificate: how errors name what was presented. */
export function pinOf(certificate: X509Certificate): string {
  return spkiPin(certificate.publicKey);
}

export function spkiPin(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** True when the certificate is a Quorum cluster CA (its subject names it so and it may sign certificates). */
export function isClusterCa(certificate: X509Certificate): boolean {
  return certificate.ca && commonName(certificate)?.startsWith(CLUSTER_CA_NAME) === true;
}

/** The subject's common name, or null. */
export function commonName(certificate: X509Certificate): string | null {
  for (const line of certificate.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return null;
}
