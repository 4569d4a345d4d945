// What ships runs: the bundles esbuild makes (scripts/replica-build.mjs → dist/replica/cli.js, what `npm run replica`
// runs; main/build.mjs → dist/main/replica-process.js, the desktop's utility process), here with TLS and certificates.
// Bundling changes how packages load (each is one CommonJS file, run with V8's code cache; a CommonJS package arrives as
// a default export), so each bundle forms a cluster with a secret — TLS peer links with certificates it issued itself —
// and serves its certificate to a client that trusts only the cluster CA.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:tls';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_REPLICA, Cluster, freePort, ROOT, waitFor } from '../helpers/cluster.js';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { TestDesktop } from '../helpers/desktop.js';
import { CLUSTER_CA_FILE } from '../../replica/security/replica-security.js';
import { REPLICA_SERVER_NAME } from '../../replica/security/certificate-names.js';

const PW = 'password-123';

/** The certificate a replica serves to a client that trusts only `caPem` and asks for the replica server name. */
function servedCertificate(address: string, caPem: string): Promise<{ authorized: boolean; error: string | null; subjectCN: string | undefined; fingerprint: string }> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), ca: caPem, servername: REPLICA_SERVER_NAME, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      resolve({ authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : null, subjectCN: cert.subject?.CN as string | undefined, fingerprint: cert.fingerprint256 });
      socket.end();
    });
    socket.once('error', reject);
  });
}

async function sendAndRead(servers: string[], user: string): Promise<string[]> {
  const c = client(servers);
  await c.signup(user, PW);
  await c.login(user, PW);
  await c.send(user, 'from a bundle');
  return conversationTexts(c, user);
}

// Both bundles are built before every test run (test/global-setup.ts), and the replicas, command lines and desktops the
// other tests spawn run them too; building again here would replace them under the tests running beside this one.

afterEach(() => closeClients());

describe('the built headless replica (dist/replica/cli.js)', () => {
  let cluster: Cluster | null = null;
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('three replicas with a secret form a cluster over TLS peer links and serve their certificates', async () => {
    // The web root is chosen when a replica starts: vitest's global setup has built it.
    cluster = await Cluster.start({ size: 3, built: true });
    const leader = await cluster.leader();
    expect(await sendAndRead([leader.address], 'builtann')).toEqual(['from a bundle']);
    const caPem = readFileSync(cluster.caFile, 'utf8');
    for (const r of cluster.replicas) expect(await servedCertificate(r.address, caPem)).toMatchObject({ authorized: true, error: null, subjectCN: r.id });
    // The web client it serves is the built one (dist/renderer), found from the bundle's folder (an earlier build ran
    // the replica's code from dist/replica/chunks/, and once looked for it from there in vain: "the web client is not
    // built").
    const page = await fetch(`http://${leader.address}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(readFileSync(join(ROOT, 'dist', 'renderer', 'index.html'), 'utf8'));
  }, 120_000);

  it('runs its CommonJS bundle, strict and named by its content, with the code cache its replicas wrote beside it', async () => {
    const entry = readFileSync(join(ROOT, 'dist', 'replica', 'cli.js'), 'utf8');
    const bundle = /"(replica-[A-Z0-9]+\.cjs)"/.exec(entry)?.[1];
    expect(bundle).toBeDefined();
    // Strict as the ES modules it is made of: the directive must come first (before the build's banner).
    expect(readFileSync(join(ROOT, 'dist', 'replica', bundle!), 'utf8').startsWith('"use strict";')).toBe(true);
    // The replicas above have served for a while: one of them (or of the other tests' built replicas) wrote it.
    await waitFor('the code cache', () => existsSync(join(ROOT, 'dist', 'replica', `${bundle}.replica.v8cache`)), 30_000);
    expect(cluster).not.toBeNull();
    // A new process of the same command, started as `npm run replica` starts it, loads it (V8 accepts it: same V8, same
    // flags, same source; a process without the replica's node flags would be refused it).
    const run = spawnSync(process.execPath, [...BUILT_REPLICA, 'replica', '--help'], { encoding: 'utf8', env: { ...process.env, QUORUM_CODE_CACHE_REPORT: '1' } });
    expect(run.stderr).toContain('code cache: accepted');
  }, 60_000);
});

describe('the built desktop replica process (dist/main/replica-process.js)', () => {
  const root = mkdtempSync(join(tmpdir(), 'quorum-built-desktop-'));
  let desktop: TestDesktop | null = null;
  afterAll(async () => {
    await desktop?.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it('a first install starts its one-member cluster, with a certificate from its cluster CA, takes messages, and a restart serves the certificate it kept', async () => {
    desktop = new TestDesktop({ name: 'a', userData: join(root, 'a'), port: await freePort(), logFile: join(root, 'a.log'), lanAddress: '127.0.0.1', built: true });
    desktop.start();
    const s = await desktop.waitRunning();
    expect(s).toMatchObject({ members: 1, role: 'leader' });
    expect(await sendAndRead([desktop.localAddress], 'deskann')).toEqual(['from a bundle']);
    // Its compiled code is kept in the user data folder main names (the app's folder may be read-only).
    const cacheFolder = join(root, 'a', 'code-cache');
    await waitFor('the code cache', () => existsSync(cacheFolder) && readdirSync(cacheFolder).find((f) => /^replica-process-[A-Z0-9]+\.cjs\.v8cache$/.test(f)), 30_000);
    expect(readFileSync(join(ROOT, 'dist', 'main', /"(replica-process-[A-Z0-9]+\.cjs)"/.exec(readFileSync(join(ROOT, 'dist', 'main', 'replica-process.js'), 'utf8'))![1]), 'utf8').startsWith('"use strict";')).toBe(true);
    const caFile = join(s.config.dataDir, CLUSTER_CA_FILE);
    const caPem = readFileSync(caFile, 'utf8');
    const served = await servedCertificate(desktop.localAddress, caPem);
    expect(served).toMatchObject({ authorized: true, error: null, subjectCN: s.replicaId });

    // The app restarts on the same machine (same keystore): the certificates kept sealed in the data folder are served
    // again, not made anew (a new CA certificate would differ too: ECDSA signatures are randomized).
    await desktop.destroy();
    desktop = new TestDesktop({ ...desktop.options, keyring: desktop.keyring });
    desktop.start();
    await desktop.waitRunning();
    expect(readFileSync(caFile, 'utf8')).toBe(caPem);
    expect(await servedCertificate(desktop.localAddress, caPem)).toEqual(served);
  }, 60_000);
});
