/**
 * TLS between real replica processes and their clients (docs/security.md):
 * - a loopback capture (tcpdump, root only) of a 3-replica cluster while CLI clients sign up, log in and send a
 *   marker over TLS holds no password, token, request or marker in clear (and the same capture of one plain client
 *   does: the check can fail);
 * - a peer presenting a certificate the cluster CA did not issue, or one for another replica id, is refused with a
 *   reason, though it proves the secret; a plain peer is refused;
 * - CLI clients meeting the wrong certificate (another cluster's CA, a rotated secret, an expired operator
 *   certificate) fail with a message that says what to do;
 * - a secret file others can read is refused with the chmod to run; /metrics answers this machine's names only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac, randomBytes, webcrypto } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import WebSocket, { type ClientOptions } from 'ws';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipBecause } from '../helpers/skip.js';
import { Cluster, ReplicaProc, REPLICA_CLI, ROOT, freePort, waitFor } from '../helpers/cluster.js';
import { deriveClusterCa } from '../../replica/security/cluster-ca.js';
import { issueReplicaCertificate } from '../../replica/security/replica-certificate.js';
import { encodeInvite } from '../../replica/node/invite.js';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], stdin = ''): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REPLICA_CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

async function chat(servers: string[], caFile: string | null, user: string, password: string, args: string[]): Promise<CliRun> {
  return cli(['chat', '--servers', servers.join(','), ...(caFile ? ['--ca-file', caFile] : []), '--user', user, '--password-stdin', '--json', '--timeout', '8', ...args], `${password}\n`);
}

/** Runs tcpdump on lo for the given ports until stop(); resolves with the captured bytes. */
async function capture(ports: number[], file: string): Promise<{ stop(): Promise<Buffer> }> {
  const filter = ports.map((p) => `tcp port ${p}`).join(' or ');
  const proc: ChildProcess = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-s', '0', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await waitFor('tcpdump listening', () => /listening on/.test(err) || proc.exitCode !== null, 10_000);
  if (proc.exitCode !== null) throw new Error(`tcpdump failed: ${err}`);
  return {
    stop: async () => {
      proc.kill('SIGINT');
      await new Promise((r) => proc.once('close', r));
      return readFileSync(file);
    },
  };
}

/** Why a packet capture cannot run here, or null. */
const captureSkipReason =
  process.getuid?.() !== 0 ? 'capturing packets needs root (tcpdump on loopback)' : existsSync('/usr/bin/tcpdump') ? null : 'no /usr/bin/tcpdump (Debian: apt-get install tcpdump)';

describe('TLS on a 3-replica cluster', () => {
  let cluster: Cluster;
  const dir = mkdtempSync(join(tmpdir(), 'quorum-tls-'));

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
  }, 120_000);
  afterAll(async () => {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a loopback capture of TLS clients and peers holds no password, token, request or message text', async (ctx) => {
    if (captureSkipReason) skipBecause(ctx, captureSkipReason);
    const servers = cluster.addresses;
    const ports = servers.map((a) => Number(a.split(':')[1]));
    const password = `pw-${randomBytes(6).toString('hex')}`;
    const marker = `marker-${randomBytes(8).toString('hex')}`;
    const tap = await capture(ports, join(dir, 'tls.pcap'));
    for (const user of ['tlsann', 'tlsbob']) expect((await chat(servers, cluster.caFile, user, password, ['signup'])).code).toBe(0);
    expect((await chat(servers, cluster.caFile, 'tlsann', password, ['login'])).code).toBe(0);
    const sent = await chat(servers, cluster.caFile, 'tlsann', password, ['send', 'tlsbob', marker]);
    expect(sent.code, sent.stderr).toBe(0);
    const read = await chat(servers, cluster.caFile, 'tlsbob', password, ['read']);
    expect(JSON.parse(read.stdout).messages.map((m: { text: string }) => m.text)).toEqual([marker]);
    const bytes = await tap.stop();
    // The capture saw the traffic: TLS handshakes (their server name travels in clear) and replication, none of it
    // readable.
    expect(bytes.length).toBeGreaterThan(20_000);
    expect(bytes.includes(Buffer.from('quorum-replica'))).toBe(true);
    for (const secret of [password, marker, 'tlsann', '"token"', '"password"', '"op"', 'quorum-peer-1', '"msgs"']) {
      expect(bytes.includes(Buffer.from(secret)), `"${secret}" in the TLS capture`).toBe(false);
    }

    // The same capture of a plain client on loopback shows the message it reads (answers are not masked as a
    // client's frames are): the check above can fail.
    const plainMarker = `plain-${randomBytes(8).toString('hex')}`;
    expect((await chat(servers, cluster.caFile, 'tlsann', password, ['send', 'tlsbob', plainMarker])).code).toBe(0);
    const plainTap = await capture(ports, join(dir, 'plain.pcap'));
    const plainRead = await chat(servers, null, 'tlsbob', password, ['read']);
    expect(plainRead.stdout).toContain(plainMarker);
    const plainBytes = await plainTap.stop();
    expect(plainBytes.includes(Buffer.from(plainMarker))).toBe(true);
    expect(plainBytes.includes(Buffer.from('"op"'))).toBe(false);
    expect(plainBytes.includes(Buffer.from('"type":"response"'))).toBe(true);
  }, 180_000);

  it('a peer that proves the secret but presents a certificate the cluster CA did not issue for its id is refused', async () => {
    const secret = Buffer.from(readFileSync(cluster.secretFile, 'utf8').trim());
    const ca = await deriveClusterCa(secret);
    const stranger = await deriveClusterCa(Buffer.from('another cluster'));
    const target = cluster.replicas[0];
    const attempt = async (claim: string, cert: { keyPem: string; certPem: string } | null): Promise<{ code: number; reason: string; welcomed: boolean }> => {
      const tls: ClientOptions & ConnectionOptions = cert ? { key: cert.keyPem, cert: cert.certPem, rejectUnauthorized: false, servername: 'quorum-replica' } : {};
      const ws = new WebSocket(`${cert ? 'wss' : 'ws'}://${target.address}/peer`, tls);
      const nonce = randomBytes(32).toString('hex');
      let welcomed = false;
      ws.on('message', (data) => {
        const f = JSON.parse(data.toString());
        if (f.t === 'challenge') {
          const mac = createHmac('sha256', secret).update(`quorum-peer-1|client|${f.nonce}|${claim}|${target.id}`).digest('hex');
          ws.send(JSON.stringify({ t: 'auth', id: claim, address: '127.0.0.1:9', nonce, mac }));
        } else if (f.t === 'welcome') {
          welcomed = true;
          ws.close();
        }
      });
      ws.on('error', () => {});
      const [code, reason] = await new Promise<[number, Buffer]>((r) => ws.once('close', (c, why) => r([c, why])));
      return { code, reason: reason.toString(), welcomed };
    };
    const r9 = await issueReplicaCertificate(ca, 'r9', ['127.0.0.1']);
    // The control: the cluster's certificate for the id it claims is welcomed.
    expect((await attempt('r9', r9)).welcomed).toBe(true);
    const strangers = await issueReplicaCertificate(stranger, 'r9', ['127.0.0.1']);
    expect(await attempt('r9', strangers)).toMatchObject({ code: 4403, welcomed: false, reason: expect.stringMatching(/certificate refused/) });
    expect(await attempt('r2', r9)).toMatchObject({ code: 4403, welcomed: false });
    expect(await attempt('r9', null)).toMatchObject({ code: 4426, welcomed: false, reason: expect.stringMatching(/TLS/) });
    // The replica's log says why (written asynchronously: wait for the lines).
    await waitFor('the refusals in the log', () => {
      const log = readFileSync(join(cluster.root, `${target.id}.log`), 'utf8');
      return /not issued by this cluster's CA/.test(log) && /presented the certificate of replica \\"r9\\", not of \\"r2\\"/.test(log);
    }, 10_000);
    // The cluster is unharmed.
    await cluster.leader();
  }, 60_000);

  it("CLI clients meeting another cluster's certificate, or a rotated secret, refuse it and say what to do", async () => {
    const stranger = await deriveClusterCa(Buffer.from('another cluster'));
    const strangerCa = join(dir, 'stranger-ca.pem');
    writeFileSync(strangerCa, stranger.pem);
    const r = await chat(cluster.addresses, strangerCa, 'nobody', 'password-123', ['login']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/presented a certificate that --ca-file .*stranger-ca\.pem does not vouch for/);
    expect(r.stderr).toMatch(/secret was rotated/);

    const st = await cli(['status', '--servers', cluster.addresses[0], '--ca-file', strangerCa, '--timeout', '3']);
    expect(st.code).toBe(1);
    expect(st.stderr).toMatch(/does not vouch for/);

    // `cluster` is pinned by its secret: an invite code of a rotated (other) secret is refused at once.
    const staleInvite = join(dir, 'stale-invite');
    writeFileSync(staleInvite, encodeInvite({ servers: cluster.addresses, secret: Buffer.from('the secret before a rotation') }), { mode: 0o600 });
    const admin = await cli(['cluster', '--invite-file', staleInvite, '--timeout', '10', 'transfer', 'r2']);
    expect(admin.code).toBe(1);
    expect(admin.stderr).toMatch(/^UNTRUSTED: .*the cluster secret does not vouch for.*new invite code/m);

    const wrongCa = await cli(['chat', '--servers', cluster.addresses[0], '--ca-file', join(dir, 'missing.pem'), '--user', 'x', '--password-stdin', 'login'], 'password-123\n');
    expect(wrongCa.code).toBe(2);
    expect(wrongCa.stderr).toMatch(/^INVALID: --ca-file .*missing\.pem: cannot read it \(ENOENT\)/);
  }, 120_000);

  it('serves /metrics and /debug/state to this machine under its own names only', async () => {
    const address = cluster.addresses[0];
    const get = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        const [h, p] = address.split(':');
        const req = httpRequest({ host: h, port: Number(p), path, headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get('/metrics', address)).toBe(200);
    expect(await get('/debug/state', `localhost:${address.split(':')[1]}`)).toBe(200);
    // A page that rebinds its own DNS name to 127.0.0.1 reaches the port with its name in Host.
    expect(await get('/metrics', 'rebind.attacker.example:80')).toBe(403);
    expect(await get('/debug/state', 'rebind.attacker.example')).toBe(403);
  });
});

describe('replica start-up refusals', () => {
  it('refuses a secret file that other users can read, with the chmod to run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-secret-mode-'));
    try {
      const secretFile = join(dir, 'secret');
      writeFileSync(secretFile, 'a-long-random-secret\n');
      chmodSync(secretFile, 0o644);
      const port = await freePort();
      const r = await cli(['replica', '--id', 'r1', '--data', join(dir, 'r1'), '--listen', `127.0.0.1:${port}`, '--initial-cluster', `r1=127.0.0.1:${port},r2=127.0.0.1:1`, '--secret-file', secretFile]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`INVALID: --secret-file ${secretFile} holds the cluster secret but other users can access it (mode 0644); make it private and start again: chmod 600 ${secretFile}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('an operator certificate for browsers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorum-operator-'));
  let replica: ReplicaProc;
  let operatorCa: string;

  beforeAll(async () => {
    // An operator's own authority (not a Quorum cluster CA) and a certificate for 127.0.0.1 that expired yesterday.
    const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
    const caKeys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
    const caCert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=Test operator CA',
      keys: caKeys,
      notBefore: new Date(Date.now() - 86400_000 * 10),
      notAfter: new Date(Date.now() + 86400_000 * 10),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    const leafKeys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
    const leaf = await x509.X509CertificateGenerator.create({
      subject: 'CN=127.0.0.1',
      issuer: caCert.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore: new Date(Date.now() - 86400_000 * 5),
      notAfter: new Date(Date.now() - 86400_000),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
    });
    operatorCa = join(dir, 'operator-ca.pem');
    writeFileSync(operatorCa, caCert.toString('pem'));
    writeFileSync(join(dir, 'cert.pem'), leaf.toString('pem'));
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', leafKeys.privateKey as webcrypto.CryptoKey)).toString('base64');
    writeFileSync(join(dir, 'key.pem'), `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/.{64}/g, '$&\n')}\n-----END PRIVATE KEY-----\n`, { mode: 0o600 });
    replica = new ReplicaProc({
      id: 'r1',
      port: await freePort(),
      dataDir: join(dir, 'r1'),
      logFile: join(dir, 'r1.log'),
      extraArgs: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
    });
    replica.start();
    await replica.waitHealthy();
  }, 60_000);
  afterAll(async () => {
    await replica?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an expired operator certificate is refused by the CLI with what to do', async () => {
    const r = await chat([replica.address], operatorCa, 'nobody', 'password-123', ['login']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/presented an expired certificate.*operator's certificate \(--tls-cert\) must be renewed/);
  }, 60_000);
});
