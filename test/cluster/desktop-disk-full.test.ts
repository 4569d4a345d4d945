// The desktop's main process (test/helpers/desktop.ts: the production host, team and IPC handlers) with a real replica
// child (the built dist/main/replica-process.js forked as Electron would run it) whose data folder is a small real filesystem (a tmpfs
// this test mounts; root only). The replica measures its disk (status.storage) and main relays it: on a 64 MB disk the
// app warns of low space at once (the replica warns below 512 MB). Another Quorum pointed at the same data folder stops
// with exit status 4 and the app says that another Quorum uses it. When the disk fills, the replica stops with exit
// status 3; the app says so in one line with what to do and does not start it again until the user does ("Start it
// now" after freeing space); everything acknowledged before is still there.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDesktop } from '../helpers/desktop.js';
import { Tmpfs, tmpfsUnavailableReason } from '../helpers/tmpfs.js';
import { describeUnless } from '../helpers/skip.js';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { freePort, waitFor } from '../helpers/cluster.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';
import { describeHost, hostTrouble } from '../../renderer/src/store/host.js';

const MB = 2 ** 20;
const PW = 'password-123';

describeUnless(tmpfsUnavailableReason(), 'a desktop whose replica’s disk fills', () => {
  let root: string;
  let disk: Tmpfs;
  let a: TestDesktop;
  let other: TestDesktop;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'quorum-desktop-disk-'));
    a = new TestDesktop({ name: 'a', userData: join(root, 'a'), port: await freePort(), logFile: join(root, 'a.log'), lanAddress: '127.0.0.1' });
    disk = Tmpfs.mount(a.settings.get().replica.dataDir, 64 * MB);
  });

  afterAll(async () => {
    closeClients();
    await other?.destroy();
    await a?.destroy();
    disk?.unmount();
    rmSync(root, { recursive: true, force: true });
  });

  it('warns of low space, says another Quorum uses the folder, stops on a full disk without a restart loop', async () => {
    a.start();
    await a.waitRunning();
    // The low-space warning comes from the replica's own measurement (status.storage), relayed by main.
    const low = await a.waitStatus('the replica’s storage status', (s) => s.disk !== null);
    expect(low.disk).toMatchObject({ totalBytes: 64 * MB, warnBelowBytes: 512 * MB, lowSpace: true });
    expect(hostTrouble(low, Date.now())).toEqual({ tone: 'warn', text: expect.stringMatching(/^low disk space: \d+ MB free for this machine’s replica$/) });

    // A second Quorum of this user, set to the same data folder: its replica stops with exit status 4, and that app says
    // another Quorum uses the folder instead of restarting.
    other = new TestDesktop({ name: 'other', userData: join(root, 'other'), port: await freePort(), logFile: join(root, 'other.log'), lanAddress: '127.0.0.1', keyring: a.keyring });
    // Its user chooses this data folder in Settings (the same handler the page calls).
    await other.invoke('replica:setConfig', { ...other.settings.get().replica, dataDir: a.settings.get().replica.dataDir });
    const inUse = await other.waitStatus('the data folder in use', (s) => s.state === 'folderInUse');
    await waitFor('the other replica process to exit', () => !other.child!.alive);
    expect(other.child!.proc.exitCode).toBe(EXIT_STATUS.DATA_FOLDER_IN_USE);
    expect(describeHost(inUse, Date.now())).toMatch(/^Another Quorum is using the data folder .*: .* Quit the other Quorum/);
    expect(inUse.lastError).toMatch(/in use/);

    // Messages are acknowledged; then the disk fills while a client keeps writing.
    const ann = client([a.localAddress]);
    await ann.signup('ann', PW);
    await ann.login('ann', PW);
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      await ann.send('ann', `before ${i}`);
      acked.push(`before ${i}`);
    }
    disk.fill(0);
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const ok = await ann.send('ann', `during ${n}`).then(
          () => acked.push(`during ${n}`),
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let full;
    try {
      full = await a.waitStatus('the replica stopped on a full disk', (s) => s.state === 'diskFull', 60_000);
    } finally {
      writing = false;
    }
    await writer;
    await waitFor('the replica process to exit', () => !a.child!.alive);
    expect(a.child!.proc.exitCode).toBe(EXIT_STATUS.DISK_FULL);
    // One line, saying what to do; never a stack trace.
    expect(full.lastError).toBe(`disk full at ${full.config.dataDir}: stopped; free space and restart`);
    expect(describeHost(full, Date.now())).toBe(
      `The disk of ${full.config.dataDir} is full: this machine’s replica stopped so that nothing written is lost. Free some space on that disk, then press “Start it now”.`,
    );
    expect(hostTrouble(full, Date.now())).toMatchObject({ tone: 'error', text: expect.stringMatching(/^disk full: /) });
    expect(full.restartInMs).toBeNull();

    // No restart loop: the other desktop is started again by its user (the folder is free now) and comes up, all while
    // this one has not been started again (a crash would have restarted it after 200 ms).
    await other.invoke('replica:retry');
    await waitFor('the other desktop’s replica to fail on the full disk or run', () => other.status().state !== 'starting');
    expect(a.children).toHaveLength(1);
    expect(a.status().state).toBe('diskFull');
    await other.host.stop();
    await other.waitStatus('the other replica stopped', (s) => s.state === 'stopped' || s.state === 'disabled' || s.state === 'diskFull');

    // The user frees space and presses "Start it now": the replica comes back with everything it acknowledged.
    disk.empty();
    await a.invoke('replica:retry');
    await a.waitRunning();
    expect(a.children).toHaveLength(2);
    const again = client([a.localAddress]);
    await again.login('ann', PW);
    const texts = await conversationTexts(again, 'ann');
    for (const t of acked) expect(texts).toContain(t);
  }, 120_000);
});
