// A replica whose data folder is on a small real filesystem (a tmpfs this test mounts) that fills while clients write:
// it warns first (log, metric, status), then stops with one line and exit status 3, no stack trace; the other two
// keep the cluster going and lose no acknowledged write; once space is freed and it restarts, it catches up.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, waitConverged, waitFor } from '../helpers/cluster.js';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { Tmpfs, tmpfsUnavailableReason } from '../helpers/tmpfs.js';
import WebSocket from 'ws';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';
import { main as statusCommand } from '../../replica/cli/status.js';

const reason = tmpfsUnavailableReason();
if (reason) console.warn(`[disk-full] test skipped: ${reason}`);

const MB = 1024 * 1024;

describe.skipIf(reason !== null)('a replica on a full disk', () => {
  let cluster: Cluster;
  let disk: Tmpfs;

  beforeAll(async () => {
    cluster = await Cluster.start({
      size: 3,
      // r3's data folder is a 64 MB filesystem of its own; it warns below 16 MB free.
      extraArgs: ['--disk-warn-mb', '16', '--no-autopilot'],
      prepareDataDir: (id, dataDir) => {
        if (id === 'r3') disk = Tmpfs.mount(dataDir, 64 * MB);
      },
    });
  }, 60_000);

  afterAll(async () => {
    closeClients();
    await cluster?.stopAll();
    disk?.unmount();
    await cluster?.destroy();
  });

  it('warns, stops with one line, loses nothing acknowledged, and catches up after space is freed', async () => {
    const r3 = cluster.byId('r3');
    const alice = client(cluster.addresses);
    const bob = client(cluster.addresses);
    await alice.signup('alice', 'password-a');
    await bob.signup('bob', 'password-b');
    await alice.login('alice', 'password-a');
    await bob.login('bob', 'password-b');

    // Clients write all along; each acknowledged text is recorded.
    const acked: string[] = [];
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        const text = `m${n++}`;
        const ok = await alice.send('bob', text).then(
          () => acked.push(text),
          () => false,
        );
        // A refusal can come at once (no replica reachable): yield to the event loop before the next try.
        if (!ok) await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const status = await r3.status();
      expect(status.storage).toMatchObject({ warnBelowBytes: 16 * MB, lowSpace: false });
      expect(status.storage!.freeBytes).toBeGreaterThan(16 * MB);

      // Below the threshold: a warning in the log, the metric and the status, while it still serves.
      disk.fill(8 * MB);
      const low = await waitFor('r3 to report low disk space', async () => {
        const s = await r3.status();
        return s.storage?.lowSpace ? s : null;
      });
      expect(low.storage!.freeBytes).toBeLessThan(16 * MB);
      const metrics = await (await fetch(`http://${r3.address}/metrics`)).text();
      expect(metrics).toMatch(/^quorum_storage_low_space\{replica="r3"\} 1$/m);
      expect(metrics).toMatch(/^quorum_storage_free_bytes\{replica="r3"\} \d+$/m);
      await waitFor('the low-space warning in r3\'s log', () => readFileSync(r3.options.logFile, 'utf8').includes('low disk space at '));
      // The `status` command shows it in its FREE column ("... low") and its JSON rows.
      let printed = '';
      const io = { stdout: { write: (t: string) => (printed += t) }, stderr: { write: () => true }, WebSocket };
      expect(await statusCommand(['--servers', r3.address, '--json'], io)).toBe(0);
      const row = (JSON.parse(printed) as { replicas: { id: string; freeBytes: number; lowSpace: boolean }[] }).replicas.find((r) => r.id === 'r3');
      expect(row).toMatchObject({ lowSpace: true });
      expect(row!.freeBytes).toBeLessThan(16 * MB);

      // Full: r3 stops by itself, with one line and its exit status.
      const before = acked.length;
      disk.fill(0);
      expect(await r3.exited).toBe(EXIT_STATUS.DISK_FULL);
      const output = readFileSync(r3.options.logFile, 'utf8');
      const lines = output.trimEnd().split('\n').filter((l) => !l.startsWith('{'));
      expect(lines.at(-1)).toBe(`DISK_FULL: replica r3: disk full at ${r3.options.dataDir}: stopped; free space and restart`);
      expect(output).not.toMatch(/^\s+at /m);
      expect(output).not.toMatch(/"stack"/);

      // The other two go on.
      await waitFor('more writes acknowledged without r3', () => acked.length >= before + 50, 30_000);

      // Space freed, restarted: it catches up.
      disk.empty();
      r3.start();
      await r3.waitHealthy();
      await waitFor('100 more writes acknowledged with r3 back', () => acked.length >= before + 150, 30_000);
    } finally {
      writing = false;
      await writer;
    }
    const texts = await conversationTexts(bob, 'alice');
    for (const text of acked) expect(texts, `acknowledged ${text}`).toContain(text);
    expect(new Set(texts).size).toBe(texts.length);
    await waitConverged(cluster.addresses);
  }, 180_000);
});
