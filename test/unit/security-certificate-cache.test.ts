/**
 * Certificates kept between starts (replica/security/certificate-cache.ts, used by ReplicaTls): a restart serves the
 * certificate it kept, sealed with the cluster secret; anything that makes the kept one wrong (another id, other
 * addresses, due for renewal, another secret, a damaged file) makes a new one instead, and a kept CA certificate is
 * used only for the key the secret derives.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes, X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ReplicaTls } from '../../replica/security/replica-tls.js';
import { CERTIFICATE_CACHE_FILE, readCertificateCache, writeCertificateCache } from '../../replica/security/certificate-cache.js';
import { replicaCertificateProblem } from '../../replica/security/replica-certificate.js';

const root = mkdtempSync(join(tmpdir(), 'quorum-certificate-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });
let folders = 0;

interface Start {
  secret?: Buffer;
  secrets?: Buffer[];
  id?: string;
  hosts?: string[];
  now?: Date;
}

/** A replica's TLS as one start makes it, keeping its certificates in `dir`; returns the certificate it serves. */
async function start(dir: string, o: Start): Promise<{ tls: ReplicaTls; certPem: string; keyPem: string }> {
  const tls = await ReplicaTls.create({
    id: o.id ?? 'r1',
    secrets: o.secrets ?? [o.secret!],
    hosts: o.hosts ?? ['10.0.0.1'],
    operator: null,
    keepIn: dir,
    log,
    now: o.now ? () => o.now! : undefined,
  });
  tls.close();
  const served = tls.peerClientOptions();
  return { tls, certPem: String(served.cert), keyPem: String(served.key) };
}

function folder(): string {
  const dir = join(root, `f${++folders}`);
  mkdirSync(dir);
  return dir;
}

describe('kept replica certificates', () => {
  it('a restart serves the certificate the first start made, kept sealed: no key or certificate in clear, private file', async () => {
    const dir = folder();
    const secret = randomBytes(32);
    const first = await start(dir, { secret });
    const again = await start(dir, { secret });
    expect(again.certPem).toBe(first.certPem);
    expect(again.keyPem).toBe(first.keyPem);
    const file = join(dir, CERTIFICATE_CACHE_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const sealed = readFileSync(file);
    for (const clear of ['PRIVATE KEY', 'CERTIFICATE', first.keyPem.split('\n')[1], '"replica"']) expect(sealed.includes(clear), clear).toBe(false);
    expect(replicaCertificateProblem(new X509Certificate(again.certPem), again.tls.cas, 'r1')).toBeNull();
  });

  it('makes a new one for another id, other addresses, a certificate due for renewal, or a clock that went back', async () => {
    const dir = folder();
    const secret = randomBytes(32);
    const now = new Date();
    const day = 24 * 3600 * 1000;
    const first = await start(dir, { secret, now });
    const otherId = await start(dir, { secret, id: 'r2', now });
    expect(otherId.certPem).not.toBe(first.certPem);
    expect(new X509Certificate(otherId.certPem).subject).toContain('CN=r2');
    const kept = await start(dir, { secret, id: 'r2', now: new Date(now.getTime() + 14 * day) });
    expect(kept.certPem).toBe(otherId.certPem); // 16 days left of 30: not due yet
    const due = await start(dir, { secret, id: 'r2', now: new Date(now.getTime() + 16 * day) });
    expect(due.certPem).not.toBe(otherId.certPem);
    const back = await start(dir, { secret, id: 'r2', now: new Date(now.getTime() + 14 * day) });
    expect(back.certPem).not.toBe(due.certPem); // the kept one starts a day before +16 days
    const moved = await start(dir, { secret, id: 'r2', hosts: ['10.0.0.2'], now: new Date(now.getTime() + 14 * day) });
    expect(moved.certPem).not.toBe(back.certPem);
    expect(new X509Certificate(moved.certPem).subjectAltName).toContain('IP Address:10.0.0.2');
  });

  it('another secret or a damaged file cannot open it: a new certificate of the current CA, and the file replaced', async () => {
    const dir = folder();
    const one = randomBytes(32);
    const two = randomBytes(32);
    const first = await start(dir, { secret: one });
    const rotated = await start(dir, { secrets: [two, one] });
    expect(rotated.certPem).not.toBe(first.certPem);
    expect(replicaCertificateProblem(new X509Certificate(rotated.certPem), rotated.tls.cas.slice(0, 1), 'r1')).toBeNull();
    expect(readCertificateCache(dir, one)).toEqual({ problem: expect.stringMatching(/another cluster secret, or are damaged/) });
    expect('cache' in readCertificateCache(dir, two)).toBe(true);

    const file = join(dir, CERTIFICATE_CACHE_FILE);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    const repaired = await start(dir, { secrets: [two, one] });
    expect(repaired.certPem).not.toBe(rotated.certPem);
    expect('cache' in readCertificateCache(dir, two)).toBe(true);
  });

  it('a kept certificate whose key does not fit it, or that the current CA did not issue, is not served', async () => {
    const one = randomBytes(32);
    const two = randomBytes(32);
    const dirOne = folder();
    const dirTwo = folder();
    await start(dirOne, { secret: one });
    const second = await start(dirTwo, { secret: two });
    const keptOne = (readCertificateCache(dirOne, one) as { cache: Parameters<typeof writeCertificateCache>[2] }).cache;
    const keptTwo = (readCertificateCache(dirTwo, two) as { cache: Parameters<typeof writeCertificateCache>[2] }).cache;
    // Sealed with secret two: secret one's certificate, then secret two's certificate with secret one's key.
    writeCertificateCache(dirTwo, two, { ...keptTwo, replica: { ...keptOne.replica } });
    const notIssued = await start(dirTwo, { secret: two });
    expect([keptOne.replica.certPem, second.certPem]).not.toContain(notIssued.certPem);
    expect(replicaCertificateProblem(new X509Certificate(notIssued.certPem), notIssued.tls.cas, 'r1')).toBeNull();
    writeCertificateCache(dirTwo, two, { ...keptTwo, replica: { ...keptTwo.replica, keyPem: keptOne.replica.keyPem } });
    const otherKey = await start(dirTwo, { secret: two });
    expect(otherKey.certPem).not.toBe(keptTwo.replica.certPem);
    expect(otherKey.keyPem).not.toBe(keptOne.replica.keyPem);
  });
});

describe('kept CA certificates', () => {
  /** cluster-ca.ts afresh (its CAs are memoized per secret for the life of a process, as one replica runs). */
  async function freshClusterCa(): Promise<typeof import('../../replica/security/cluster-ca.js')> {
    vi.resetModules();
    return import('../../replica/security/cluster-ca.js');
  }

  it("is used for its own key's pin only: another CA's certificate under that pin is ignored and a right one made", async () => {
    const secret = randomBytes(32);
    const made = await (await freshClusterCa()).deriveClusterCa(secret);
    const reused = await (await freshClusterCa()).deriveClusterCa(secret, [{ pin: made.pin, pem: made.pem }]);
    expect(reused.pem).toBe(made.pem);
    const other = await (await freshClusterCa()).deriveClusterCa(randomBytes(32));
    const refused = await (await freshClusterCa()).deriveClusterCa(secret, [{ pin: made.pin, pem: other.pem }]);
    expect(refused.pem).not.toBe(other.pem);
    expect(refused.pem).not.toBe(made.pem); // made again (ECDSA signatures differ), for the same key
    expect(refused.pin).toBe(made.pin);
    expect(new X509Certificate(refused.pem).verify(made.certificate.publicKey)).toBe(true);
  });
});
