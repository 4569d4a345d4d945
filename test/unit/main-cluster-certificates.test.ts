// The certificate check main installs with session.setCertificateVerifyProc, run under Node against the certificates
// real replicas present on their port: the window accepts a replica of its own cluster (CA derived from the secret,
// name quorum-replica) whatever address it is reached at, and leaves everything else to Chromium, which refuses a
// certificate no system authority issued.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import pino from 'pino';
import { startReplica, type ReplicaHandle } from '../../replica/node/replica.js';
import { parseHostPort } from '../../replica/protocol/address.js';
import { ClusterCertificateTrust, VERIFY_ACCEPT, VERIFY_USE_CHROMIUM } from '../../main/cluster-certificates.js';

const OURS = Buffer.from('our-cluster-secret-0123456789abcdef');
const THEIRS = Buffer.from('their-cluster-secret-0123456789abcdef');

let root: string;
const replicas: ReplicaHandle[] = [];

async function replica(id: string, secret: Buffer): Promise<ReplicaHandle> {
  const r = await startReplica({ id, dataDir: join(root, id), listen: '127.0.0.1:0', webRoot: null, secret, log: pino({ level: 'silent' }) });
  replicas.push(r);
  return r;
}

/** The leaf certificate a replica presents to a TLS client, as PEM (what Electron hands the verify proc). */
function presentedCertificate(address: string): Promise<string> {
  const { host, port } = parseHostPort(address)!;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername: 'quorum-replica', rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw).toString());
    });
    socket.on('error', reject);
  });
}

const CHROMIUM_REFUSED = 'net::ERR_CERT_AUTHORITY_INVALID';

describe('the window’s check of replica certificates', () => {
  let ours: string;
  let theirs: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'quorum-certs-'));
    ours = await presentedCertificate((await replica('ours', OURS)).address);
    theirs = await presentedCertificate((await replica('theirs', THEIRS)).address);
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  it('accepts a replica of this machine’s cluster, at any address', async () => {
    const trust = new ClusterCertificateTrust();
    await trust.useSecret(OURS);
    for (const hostname of ['127.0.0.1', '192.168.1.20', 'desk-7.local']) {
      expect(trust.verify({ hostname, certificate: { data: ours }, verificationResult: CHROMIUM_REFUSED })).toBe(VERIFY_ACCEPT);
    }
  });

  it('leaves another cluster’s replica, a stranger and garbage to Chromium (which refuses them)', async () => {
    const trust = new ClusterCertificateTrust();
    await trust.useSecret(OURS);
    expect(trust.verify({ hostname: '10.0.0.9', certificate: { data: theirs }, verificationResult: CHROMIUM_REFUSED })).toBe(VERIFY_USE_CHROMIUM);
    expect(trust.verify({ hostname: '10.0.0.9', certificate: { data: 'not a certificate' }, verificationResult: CHROMIUM_REFUSED })).toBe(VERIFY_USE_CHROMIUM);
  });

  it('trusts nothing before it knows a secret, and follows the secret when it changes (a join)', async () => {
    const trust = new ClusterCertificateTrust();
    expect(trust.verify({ hostname: '127.0.0.1', certificate: { data: ours }, verificationResult: CHROMIUM_REFUSED })).toBe(VERIFY_USE_CHROMIUM);
    await trust.useSecret(THEIRS);
    expect(trust.verify({ hostname: '10.0.0.9', certificate: { data: theirs }, verificationResult: CHROMIUM_REFUSED })).toBe(VERIFY_ACCEPT);
    expect(trust.verify({ hostname: '127.0.0.1', certificate: { data: ours }, verificationResult: CHROMIUM_REFUSED })).toBe(VERIFY_USE_CHROMIUM);
  });

  it('keeps Chromium’s own acceptance of a certificate a system authority issued', async () => {
    const trust = new ClusterCertificateTrust();
    await trust.useSecret(OURS);
    expect(trust.verify({ hostname: 'chat.example.com', certificate: { data: theirs }, verificationResult: 'net::OK' })).toBe(VERIFY_USE_CHROMIUM);
  });
});
