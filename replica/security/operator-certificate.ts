/**
 * An operator's certificate for browsers (`--tls-cert FILE --tls-key FILE`): issued by an authority the browsers on
 * the LAN trust (an internal CA, mkcert, a public CA by DNS challenge). Read and checked at start and whenever the
 * files change; a problem is reported with what to do.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';

export interface OperatorCertificateFiles {
  /** PEM certificate chain (the server's certificate first). */
  certFile: string;
  /** PEM private key of that certificate. */
  keyFile: string;
}

export interface OperatorCertificate {
  cert: Buffer;
  key: Buffer;
  /** When the certificate expires (ISO 8601). */
  notAfter: string;
  /** Modification times of the two files when read (a change triggers a reload). */
  mtimes: [number, number];
}

export class OperatorCertificateError extends Error {}

export function readOperatorCertificate(files: OperatorCertificateFiles, platform: NodeJS.Platform = process.platform): OperatorCertificate {
  const [cert, certMtime] = readPrivateOrPublic(files.certFile, '--tls-cert', null);
  // Debian keeps keys group-readable by ssl-cert (0640), so only access by everyone is refused here.
  const [key, keyMtime] = readPrivateOrPublic(files.keyFile, '--tls-key', platform === 'win32' ? null : 0o007);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new OperatorCertificateError(`--tls-cert ${files.certFile} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new OperatorCertificateError(`--tls-key ${files.keyFile} holds no unencrypted PEM private key (decrypt it first, e.g. openssl pkey -in KEY -out KEY.plain)`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new OperatorCertificateError(`--tls-key ${files.keyFile} is not the key of the certificate in --tls-cert ${files.certFile}; give the matching pair`);
  }
  return { cert, key, notAfter: new Date(leaf.validTo).toISOString(), mtimes: [certMtime, keyMtime] };
}

function readPrivateOrPublic(file: string, flag: string, forbiddenBits: number | null): [Buffer, number] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new OperatorCertificateError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (forbiddenBits !== null && (st.mode & forbiddenBits) !== 0) {
      throw new OperatorCertificateError(`${flag} ${file} is a private key every user of this machine can read (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
    }
    return [readFileSync(fd), st.mtimeMs];
  } finally {
    closeSync(fd);
  }
}
