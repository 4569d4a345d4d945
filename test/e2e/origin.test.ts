/**
 * No cross-site access, in Chromium against a real 3-replica cluster: a page of another origin cannot open /client
 * (the handshake gets 403) and nothing changes in the cluster; nor can a page that rebinds its own DNS name to the
 * replica's address (its name is not the replica's), which also cannot read /metrics. The replica's own page can.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeUnless } from '../helpers/skip.js';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { Cluster, freePort, stateDigest, waitFor } from '../helpers/cluster.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import { CHROMIUM, chromiumSkipReason } from './support.js';


/** What a page's attempt to use the replica came to: opened (and what it was told) or refused. */
interface Attempt {
  opened: boolean;
  frames: string[];
  closeCode: number | null;
}

/** In the page: opens `url`, tries to sign up `user` if it opens, and reports what happened. */
async function tryWebSocket(page: Page, url: string, user: string): Promise<{ attempt: Attempt; socketErrors: string[] }> {
  const socketErrors: string[] = [];
  page.on('websocket', (ws) => ws.on('socketerror', (message) => socketErrors.push(message)));
  const attempt = await page.evaluate(
    ([target, name]) =>
      new Promise<Attempt>((resolve) => {
        const result: Attempt = { opened: false, frames: [], closeCode: null };
        const ws = new WebSocket(target);
        ws.onopen = () => {
          result.opened = true;
          ws.send(JSON.stringify({ id: 1, op: 'signup', username: name, password: 'password-123', session: { clientId: 'page', seq: 1 } }));
        };
        ws.onmessage = (e) => {
          result.frames.push(String(e.data));
          if (result.frames.length >= 2) ws.close();
        };
        ws.onclose = (e) => {
          result.closeCode = e.code;
          resolve(result);
        };
      }),
    [url, user] as const,
  );
  return { attempt, socketErrors };
}

describeUnless(chromiumSkipReason, 'cross-site access (Chromium)', () => {
  let cluster: Cluster;
  let browser: Browser;
  let evil: Server;
  let evilOrigin: string;

  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3 });
    await cluster.leader();
    // A new cluster still writes entries of its own after it has a leader (each member's version, then the cluster
    // version): "nothing changes" is judged once every replica has applied them and they all agree.
    await waitFor('every replica at the cluster version, with one state', async () => {
      const statuses = await Promise.all(cluster.replicas.map((r) => r.status()));
      if (!statuses.every((s) => s.clusterVersion === SUPPORTED_VERSION)) return false;
      const digests = await Promise.all(cluster.addresses.map((a) => stateDigest(a)));
      return digests.every((d) => d.appliedIndex === digests[0].appliedIndex && d.stateHash === digests[0].stateHash);
    }, 60_000);
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>another site</title><p>nothing to see</p>');
    });
    const port = await freePort();
    await new Promise<void>((r) => evil.listen(port, '127.0.0.1', r));
    evilOrigin = `http://127.0.0.1:${port}`;
    // rebind.test resolves to the replicas' address, as a DNS-rebinding attacker's name would.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
    });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    evil?.close();
    await cluster?.destroy();
  });

  it('a page of another origin cannot open /client (403) and nothing changes in the cluster', async () => {
    const before = await Promise.all(cluster.addresses.map((a) => stateDigest(a)));
    const page = await browser.newPage();
    await page.goto(`${evilOrigin}/`);
    for (const replica of cluster.replicas) {
      const { attempt, socketErrors } = await tryWebSocket(page, `ws://${replica.address}/client`, 'mallory');
      expect(attempt.opened, `${replica.id} opened to ${evilOrigin}`).toBe(false);
      expect(socketErrors.join('\n')).toMatch(/403/);
    }
    const after = await Promise.all(cluster.addresses.map((a) => stateDigest(a)));
    expect(after).toEqual(before);
    await page.close();
  });

  it("a page under a name rebound to the replica's address is refused too, and cannot read /metrics", async () => {
    const replica = cluster.replicas[0];
    const port = replica.address.split(':')[1];
    const page = await browser.newPage();
    await page.goto(`http://rebind.test:${port}/`);
    const { attempt, socketErrors } = await tryWebSocket(page, `ws://rebind.test:${port}/client`, 'mallory');
    expect(attempt.opened).toBe(false);
    expect(socketErrors.join('\n')).toMatch(/403/);
    const metrics = await page.evaluate(async () => (await fetch('/metrics')).status);
    expect(metrics).toBe(403);
    await page.close();
  });

  it("the replica's own page opens /client (the control: the refusals above are about the origin)", async () => {
    const replica = cluster.replicas[0];
    const page = await browser.newPage();
    await page.goto(`http://${replica.address}/`);
    const { attempt } = await tryWebSocket(page, `ws://${replica.address}/client`, 'owner');
    expect(attempt.opened).toBe(true);
    expect(JSON.parse(attempt.frames[0]).type).toBe('hello');
    await page.close();
  });
});
