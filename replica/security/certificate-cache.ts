/**
 * The replica's certificates kept between starts, sealed with the cluster secret: the cluster CA certificates and the
 * replica's own certificate with its key, in one file of the data folder, encrypted and authenticated with AES-256-GCM
 * under a key derived from the current cluster secret (HKDF-SHA256). A start that finds a cache it can open, for its
 * id and addresses and not yet due for renewal, serves that certificate without making one: making certificates
 * needs @peculiar/x509, which costs a start about 100 ms and 10 MB (test/bench/README.md, footprint).
 *
 * Nothing is given to a thief of the data folder: without the secret the file is noise, and whoever holds the secret
 * can issue certificates of the cluster anyway. A file that does not open (another secret, damaged, another format)
 * is replaced by the next certificate made. docs/security.md describes it.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';

/** The file in the data folder. */
export const CERTIFICATE_CACHE_FILE = 'certificates.sealed';

const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

const CachedCertificatesSchema = z.object({
  format: z.literal(FORMAT),
  /** CA certificates (PEM) by their key pin, for the accepted secrets. */
  cas: z.array(z.object({ pin: z.string(), pem: z.string() })),
  replica: z.object({
    id: z.string(),
    /** The names and addresses it was issued for, in the order they were asked for. */
    hosts: z.array(z.string()),
    keyPem: z.string(),
    certPem: z.string(),
    notAfter: z.iso.datetime(),
  }),
});
export type CachedCertificates = z.infer<typeof CachedCertificatesSchema>;

function sealingKey(secret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'quorum-certificate-cache', 'aes-256-gcm key 1', 32));
}

/** Writes the cache sealed with `secret` (the current one); replaced whole, never left half-written. */
export function writeCertificateCache(dataDir: string, secret: Buffer, content: CachedCertificates): void {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(content), 'utf8'), cipher.final()]);
  const file = join(dataDir, CERTIFICATE_CACHE_FILE);
  writeFileSync(`${file}.tmp`, Buffer.concat([iv, cipher.getAuthTag(), body]), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The cache sealed with `secret`, or why there is none to use (missing, another secret, damaged, another format). */
export function readCertificateCache(dataDir: string, secret: Buffer): { cache: CachedCertificates } | { problem: string } {
  let sealed: Buffer;
  try {
    sealed = readFileSync(join(dataDir, CERTIFICATE_CACHE_FILE));
  } catch {
    return { problem: 'no certificates kept from an earlier start' };
  }
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), sealed.subarray(0, IV_BYTES));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    plain = Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    return { problem: 'the kept certificates were sealed with another cluster secret, or are damaged' };
  }
  try {
    const parsed = CachedCertificatesSchema.safeParse(JSON.parse(plain.toString('utf8')));
    return parsed.success ? { cache: parsed.data } : { problem: 'the kept certificates are in another format' };
  } catch {
    return { problem: 'the kept certificates are in another format' };
  }
}
