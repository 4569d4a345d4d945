/**
 * The cluster's certificate authority, derived from the cluster secret: every holder of the secret computes the same
 * P-256 key (HKDF-SHA256 over the secret), so each replica can issue its own certificate and verify every other
 * replica's without any key being handed around, and a newcomer trusts exactly what its invite's secret pins.
 * docs/security.md explains the choice. Certificates are built with @peculiar/x509 (no hand-made ASN.1).
 */
import { createECDH, createHash, hkdfSync, webcrypto, X509Certificate } from 'node:crypto';
// @peculiar/x509 is loaded on first use (x509-lib.ts).
import { x509Lib } from './x509-lib.js';
import { CLUSTER_CA_NAME } from './certificate-names.js';

export interface ClusterCa {
  /** Signs replica certificates. Never leaves memory: it is derived again from the secret on every start. */
  signingKey: CryptoKey;
  /** The CA certificate, PEM (what `--ca-file` takes: a replica writes it to `cluster-ca.pem` in its data folder). */
  pem: string;
  /** The same certificate for node:crypto (verification of presented certificates). */
  certificate: X509Certificate;
  /** SHA-256 of the CA's public key (SubjectPublicKeyInfo, DER), hex: the cluster's pin, shown in errors and docs. */
  pin: string;
}


/** Order of the P-256 group. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/**
 * Fixed validity: the CA is the same key on every replica and is derived again on every start, so its certificate
 * carries no dates that could differ between replicas or expire under a running cluster.
 */
const CA_NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
const CA_NOT_AFTER = new Date('2125-01-01T00:00:00Z');

const cache = new Map<string, Promise<ClusterCa>>();

/**
 * The CA of the cluster whose secret this is (memoized per secret). `kept`: CA certificates kept from an earlier start
 * (certificate-cache.ts), by key pin; one for this secret's key is used as it is, so no certificate is made.
 */
export function deriveClusterCa(secret: Buffer, kept: readonly { pin: string; pem: string }[] = []): Promise<ClusterCa> {
  if (secret.length === 0) throw new Error('a cluster CA needs a non-empty secret');
  const key = createHash('sha256').update(secret).digest('hex');
  let ca = cache.get(key);
  if (!ca) {
    ca = build(secret, kept);
    cache.set(key, ca);
  }
  return ca;
}

async function build(secret: Buffer, kept: readonly { pin: string; pem: string }[]): Promise<ClusterCa> {
  // 48 bytes reduced mod n-1 (+1): a uniform scalar in [1, n-1] up to a 2^-128 bias.
  const okm = Buffer.from(hkdfSync('sha256', secret, 'quorum-cluster-ca', 'p-256 signing key 1', 48));
  const scalar = (BigInt(`0x${okm.toString('hex')}`) % (P256_N - 1n)) + 1n;
  const d = Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 0x04 || x || y
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  const subtle = webcrypto.subtle;
  const signingKey = (await subtle.importKey('jwk', { ...jwk, d: d.toString('base64url') }, algorithm, false, ['sign'])) as CryptoKey;
  const publicKey = (await subtle.importKey('jwk', jwk, algorithm, true, ['verify'])) as CryptoKey;
  const spki = Buffer.from(await subtle.exportKey('spki', publicKey as webcrypto.CryptoKey));
  const pin = createHash('sha256').update(spki).digest('hex');
  const keptPem = kept.find((k) => k.pin === pin)?.pem;
  const keptCertificate = keptPem ? caCertificateOf(keptPem, spki) : null;
  if (keptPem && keptCertificate) return { signingKey, pem: keptPem, certificate: keptCertificate, pin };
  const x509 = await x509Lib();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    // Positive and stable: derived from the key.
    serialNumber: `01${pin.slice(0, 30)}`,
    name: `CN=${CLUSTER_CA_NAME} ${pin.slice(0, 16)}, O=Quorum`,
    notBefore: CA_NOT_BEFORE,
    notAfter: CA_NOT_AFTER,
    keys: { privateKey: signingKey, publicKey },
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  const pem = cert.toString('pem');
  return { signingKey, pem, certificate: new X509Certificate(pem), pin };
}

/** The kept PEM as this key's CA certificate (a self-signed CA certificate of exactly this public key), or null. */
function caCertificateOf(pem: string, spki: Buffer): X509Certificate | null {
  try {
    const certificate = new X509Certificate(pem);
    const sameKey = certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(spki);
    return sameKey && certificate.ca && certificate.verify(certificate.publicKey) ? certificate : null;
  } catch {
    return null;
  }
}
