/**
 * The security modules on their own: the secret file (private, one secret per line for rotations), the cluster CA
 * derived from the secret (same on every replica, another per secret), replica certificates (checked by issuer and
 * replica id), and the exposure rules of the port (origins, loopback, metrics).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretFile, SecretFileError } from '../../replica/security/secret-file.js';
import { deriveClusterCa } from '../../replica/security/cluster-ca.js';
import { isClusterCa, REPLICA_SERVER_NAME } from '../../replica/security/certificate-names.js';
import { issueReplicaCertificate, replicaCertificateProblem } from '../../replica/security/replica-certificate.js';
import { Exposure, isLoopback, normalizeOrigin } from '../../replica/net/exposure.js';
import { trustFromCaFile, TrustError } from '../../replica/security/client-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'quorum-security-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

describe('secret file', () => {
  it('is refused when other users can read it, with the chmod to run', () => {
    const path = file('open', 'abc\n', 0o644);
    expect(() => readSecretFile(path, 'linux')).toThrow(SecretFileError);
    expect(() => readSecretFile(path, 'linux')).toThrow(`chmod 600 ${path}`);
    expect(() => readSecretFile(file('group', 'abc\n', 0o640), 'linux')).toThrow(/mode 0640/);
    // Windows says nothing through the mode bits.
    expect(readSecretFile(path, 'win32').current.toString()).toBe('abc');
  });

  it('holds the current secret first and older ones still accepted', () => {
    const s = readSecretFile(file('two', '  new-secret \n\nold-secret\n', 0o600), 'linux');
    expect(s.current.toString()).toBe('new-secret');
    expect(s.accepted.map((b) => b.toString())).toEqual(['new-secret', 'old-secret']);
  });

  it('says what to do when empty or missing', () => {
    expect(() => readSecretFile(file('empty', '\n \n', 0o600), 'linux')).toThrow(/openssl rand -hex 32/);
    expect(() => readSecretFile(join(dir, 'missing'), 'linux')).toThrow(/cannot read it \(ENOENT\)/);
  });
});

describe('cluster CA and replica certificates', () => {
  it('derives the same CA key from the same secret and another from another secret', async () => {
    const a = await deriveClusterCa(Buffer.from('secret one'));
    const again = await deriveClusterCa(Buffer.from('secret one'));
    const b = await deriveClusterCa(Buffer.from('secret two'));
    expect(again.pin).toBe(a.pin);
    expect(b.pin).not.toBe(a.pin);
    expect(isClusterCa(a.certificate)).toBe(true);
    expect(a.certificate.ca).toBe(true);
  });

  it('accepts a replica certificate of this cluster for its own id only', async () => {
    const ca = await deriveClusterCa(Buffer.from('secret one'));
    const other = await deriveClusterCa(Buffer.from('secret two'));
    const cert = new X509Certificate((await issueReplicaCertificate(ca, 'r1', ['10.0.0.1', 'chat.lan'])).certPem);
    expect(cert.subjectAltName).toContain(`DNS:${REPLICA_SERVER_NAME}`);
    expect(cert.subjectAltName).toContain('IP Address:10.0.0.1');
    expect(replicaCertificateProblem(cert, [ca], 'r1')).toBeNull();
    expect(replicaCertificateProblem(cert, [other, ca], 'r1')).toBeNull();
    expect(replicaCertificateProblem(cert, [ca], 'r2')).toMatch(/certificate of replica "r1", not of "r2"/);
    expect(replicaCertificateProblem(cert, [other], 'r1')).toMatch(/not issued by this cluster's CA/);
    expect(replicaCertificateProblem(undefined, [ca], 'r1')).toMatch(/no certificate/);
    expect(replicaCertificateProblem(ca.certificate, [ca], 'r1')).toMatch(/CA certificate/);
  });

  it('a CA file that expired, or holds no certificate, says what to do', async () => {
    const ca = await deriveClusterCa(Buffer.from('secret one'));
    const path = file('ca.pem', ca.pem, 0o644);
    expect(trustFromCaFile(path).clusterCa).toBe(true);
    expect(() => trustFromCaFile(path, new Date('2200-01-01'))).toThrow(/expired on 2125-01-01/);
    expect(() => trustFromCaFile(file('junk.pem', 'hello', 0o644))).toThrow(TrustError);
  });
});

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('exposure', () => {
  const exposure = new Exposure({ allowPlainClients: false, allowedOrigins: ['https://Chat.Example.com'], hostNames: () => ['chat.lan'], metricsToken: 'tok', memberAddresses: () => ['127.0.0.2:7401', '', 'Node-B.lan:7402'] });

  it("lets the replica's own pages, the desktop app and allowed origins in, and no one else", () => {
    const ok = (origin: string | undefined, host: string) => exposure.originProblem(request({ host, ...(origin ? { origin } : {}) })) === null;
    expect(ok(undefined, '127.0.0.1:7400')).toBe(true);
    expect(ok('http://127.0.0.1:7400', '127.0.0.1:7400')).toBe(true);
    expect(ok('https://192.168.1.5:7400', '192.168.1.5:7400')).toBe(true);
    expect(ok('http://chat.lan:7400', 'chat.lan:7400')).toBe(true);
    expect(ok('app://quorum', '127.0.0.1:7400')).toBe(true);
    expect(ok('https://chat.example.com', 'backend:7400')).toBe(true);
    // Another site, another port, a page rebinding its own name to our address, an opaque origin.
    expect(ok('https://evil.example', '127.0.0.1:7400')).toBe(false);
    expect(ok('http://127.0.0.1:8080', '127.0.0.1:7400')).toBe(false);
    expect(ok('http://rebind.evil.example:7400', 'rebind.evil.example:7400')).toBe(false);
    expect(ok('null', '127.0.0.1:7400')).toBe(false);
    expect(ok('app://other', '127.0.0.1:7400')).toBe(false);
  });

  it("lets a page another member served use this replica (a follower's page talks to the leader), by exact host:port", () => {
    const ok = (origin: string) => exposure.originProblem(request({ host: '127.0.0.1:7400', origin })) === null;
    expect(ok('http://127.0.0.2:7401')).toBe(true);
    expect(ok('https://127.0.0.2:7401')).toBe(true);
    expect(ok('https://node-b.lan:7402')).toBe(true);
    expect(ok('http://127.0.0.2:7402')).toBe(false);
    expect(ok('http://127.0.0.3:7401')).toBe(false);
    expect(ok('http://127.0.0.2')).toBe(false);
    expect(ok('app://127.0.0.2:7401')).toBe(false);
  });

  it('serves metrics to loopback under our own name, or with the token', () => {
    expect(exposure.metricsProblem(request({ host: '127.0.0.1:7400' }), '127.0.0.1')).toBeNull();
    expect(exposure.metricsProblem(request({ host: 'localhost:7400' }), '::ffff:127.0.0.1')).toBeNull();
    expect(exposure.metricsProblem(request({ host: '10.0.0.2:7400' }), '10.0.0.9')).toMatch(/--metrics-listen/);
    expect(exposure.metricsProblem(request({ host: 'rebind.evil.example:7400' }), '127.0.0.1')).not.toBeNull();
    expect(exposure.metricsProblem(request({ host: '10.0.0.2:7400', authorization: 'Bearer tok' }), '10.0.0.9')).toBeNull();
    expect(exposure.metricsProblem(request({ host: '10.0.0.2:7400', authorization: 'Bearer tok2' }), '10.0.0.9')).not.toBeNull();
  });

  it('knows loopback addresses and normalizes origins', () => {
    expect(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', '::ffff:10.0.0.1', '1270.0.0.1', 'fe80::1'].some(isLoopback)).toBe(false);
    expect(normalizeOrigin('HTTPS://Chat.Example.com:443')).toBe('https://chat.example.com');
    expect(normalizeOrigin('http://a.b/path')).toBeNull();
  });
});
