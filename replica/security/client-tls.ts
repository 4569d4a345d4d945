/**
 * TLS for Node clients of a replica (the CLI's `chat`, `status` and `cluster`, a joining replica, the desktop's main
 * process): what they trust, the socket options, and errors that say what went wrong and what to do.
 *
 * Trust comes from a CA file (`--ca-file`: a cluster's cluster-ca.pem, or the authority of an operator's
 * certificate) or from the cluster secret (`cluster`, a join: the cluster CA derived from it, so the secret of an
 * invite pins the cluster). Verification is Node's own (chain, dates, name) with rejectUnauthorized: nothing is sent to
 * a server that failed it.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { ClientOptions } from 'ws';
import WebSocket from 'ws';
import { isClusterCa, pinOf, REPLICA_SERVER_NAME } from './certificate-names.js';

export interface ClientTrust {
  /** PEM bundle of the authorities trusted. */
  ca: string;
  /** The bundle holds cluster CAs: ask for the replica certificate, whose name is `quorum-replica` on every replica. */
  clusterCa: boolean;
  /** Where the trust came from, for errors ("--ca-file quorum-ca.pem", "the cluster secret"). */
  source: string;
  /** Key pins (SHA-256 of the public key, hex) of the authorities, for errors. */
  pins: string[];
}

export class TrustError extends Error {}

/** Trust in the authorities of a PEM file (`--ca-file FILE`). */
export function trustFromCaFile(file: string, now = new Date()): ClientTrust {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TrustError(`--ca-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certificates: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      throw new TrustError(`--ca-file ${file} holds a damaged certificate; copy it again`);
    }
  }
  if (certificates.length === 0) {
    throw new TrustError(`--ca-file ${file} holds no PEM certificate; give the cluster-ca.pem of a replica's data folder or the authority of the replicas' certificate`);
  }
  const usable = certificates.filter((c) => new Date(c.validTo) > now);
  if (usable.length === 0) {
    throw new TrustError(`--ca-file ${file}: its certificate expired on ${new Date(certificates[0].validTo).toISOString()}; get the current one (a replica's cluster-ca.pem, or from the operator)`);
  }
  return {
    ca: blocks.join('\n') + '\n',
    clusterCa: certificates.every(isClusterCa),
    source: `--ca-file ${file}`,
    pins: certificates.map(pinOf),
  };
}

/** Trust in the cluster CA(s) of these secrets (the `cluster` command, a join, the desktop). */
export async function trustFromSecrets(secrets: readonly Buffer[]): Promise<ClientTrust> {
  // Loaded on demand: the certificate builder is slow to load and `chat`/`status` never need it.
  const { deriveClusterCa } = await import('./cluster-ca.js');
  const cas = await Promise.all(secrets.map((s) => deriveClusterCa(s)));
  return { ca: cas.map((ca) => ca.pem).join(''), clusterCa: true, source: 'the cluster secret', pins: cas.map((ca) => ca.pin) };
}

/** Socket options of a TLS connection to a replica under this trust. */
export function tlsClientOptions(trust: ClientTrust): ClientOptions {
  return {
    ca: trust.ca,
    ...(trust.clusterCa ? { servername: REPLICA_SERVER_NAME } : {}),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

/** ws:// without trust, wss:// with it. */
export function clientUrl(trust: ClientTrust | null, address: string, path = '/client'): string {
  return `${trust ? 'wss' : 'ws'}://${address}${path}`;
}

/** What a failed TLS connection to `address` means, and what to do. */
export function explainTlsError(err: { code?: string; message: string }, address: string, trust: ClientTrust): string {
  const pins = trust.pins.map((p) => p.slice(0, 16) + '…').join(', ');
  switch (err.code) {
    case 'CERT_HAS_EXPIRED':
      return (
        `${address} presented an expired certificate: a replica renews its own certificate by itself (check the replica's clock, ` +
        `or restart it); an operator's certificate (--tls-cert) must be renewed by the operator`
      );
    case 'CERT_NOT_YET_VALID':
      return `${address} presented a certificate that is not valid yet: this machine's clock or the replica's is wrong; fix the clock`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return (
        `${address} presented a certificate that ${trust.source} does not vouch for (trusted key pin ${pins}): it is not a replica of the ` +
        `cluster you meant, or the cluster's secret was rotated. Check the address; after a rotation get the new cluster-ca.pem ` +
        `(a replica's data folder) or a new invite code`
      );
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return (
        `${address} presented a certificate for other names (${err.message.replace(/^.*?: /, '')}): connect by a name the certificate lists, ` +
        `or trust the cluster's cluster-ca.pem instead of the operator's authority`
      );
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `${address} does not answer TLS (a replica of a version without TLS?); upgrade it, or connect without --ca-file on a network you trust`;
    default:
      if (/wrong version number|packet length too long/i.test(err.message)) {
        return `${address} does not answer TLS (a replica of a version without TLS?); upgrade it, or connect without --ca-file on a network you trust`;
      }
      return `${address}: ${err.message}`;
  }
}

type CloseHandler = ((event: { code: number; reason: string }) => void) | null;

/**
 * The WebSocket constructor the client library gets (it passes only a URL): TLS options under `trust`, and a close
 * whose reason explains a TLS failure (the library reports the close reason when it gives up).
 */
export function trustedWebSocket(trust: ClientTrust): new (url: string) => WebSocket {
  return class TrustedWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, tlsClientOptions(trust));
      let failure = '';
      let closeHandler: CloseHandler = null;
      this.on('error', (err: Error) => {
        failure ||= explainTlsError(err as NodeJS.ErrnoException, new URL(url).host, trust);
      });
      this.on('close', (code: number, reason: Buffer) => closeHandler?.({ code, reason: reason.toString('utf8') || failure }));
      // Shadows ws's own onclose (which would report an empty reason after a TLS failure).
      Object.defineProperty(this, 'onclose', {
        configurable: true,
        get: () => closeHandler,
        set: (handler: CloseHandler) => (closeHandler = handler),
      });
    }
  };
}
