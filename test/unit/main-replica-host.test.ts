import { describe, expect, it } from 'vitest';
import { ReplicaHost, type ProcessStatus } from '../../main/replica-host.js';
import { AUTOPILOT_CONFIG_DEFAULTS, type HostConfig } from '../../main/ipc-contract.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';
import { FakeChild, FakeClock, silentLog } from '../helpers/main-fakes.js';

// The host's own logic (backoff arithmetic, the replica's own stops never restarted in a loop, stop and kill) on a manual clock; the same host with
// real replica processes is test/cluster/desktop-host.test.ts.
const config: HostConfig = { enabled: true, dataDir: '/data/replica', port: 7420, autopilot: AUTOPILOT_CONFIG_DEFAULTS };
const GIB = 2 ** 30;
const STORAGE = { freeBytes: 300 * 2 ** 20, totalBytes: 10 * GIB, warnBelowBytes: 512 * 2 ** 20, lowSpace: true };

function setup(cfg: HostConfig = config) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  const statuses: ProcessStatus[] = [];
  const host = new ReplicaHost(
    {
      fork: () => {
        const c = new FakeChild();
        children.push(c);
        return c;
      },
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      now: clock.now,
      log: silentLog,
      startOptions: (c) => ({ dataDir: c.dataDir, port: c.port, host: '127.0.0.1', bootstrap: true, secret: 'c2VjcmV0', autopilot: c.autopilot, announce: false }),
      backoff: { initialMs: 500, maxMs: 8_000, stableMs: 60_000 },
      stopTimeoutMs: 5_000,
    },
    cfg,
  );
  host.onStatus((s) => statuses.push(s));
  return { clock, children, statuses, host };
}

describe('ReplicaHost', () => {
  it('starts the replica process with the configured options and reports running when it is ready', () => {
    const { children, host } = setup();
    host.start();
    expect(children).toHaveLength(1);
    expect(children[0].sent[0]).toMatchObject({ type: 'start', options: { dataDir: '/data/replica', port: 7420, host: '127.0.0.1', bootstrap: true } });
    expect(host.status().state).toBe('starting');
    children[0].emit({ type: 'ready', id: 'desk-1', address: '10.0.0.5:7420' });
    expect(host.status()).toMatchObject({ state: 'running', replicaId: 'desk-1', address: '10.0.0.5:7420', restarts: 0 });
    children[0].emit(statusMessage('leader', 3));
    expect(host.isLeader()).toBe(true);
  });

  it('does not start when hosting is disabled', () => {
    const { children, host } = setup({ ...config, enabled: false });
    host.start();
    expect(children).toHaveLength(0);
    expect(host.status().state).toBe('disabled');
  });

  it('restarts a crashed replica with exponential backoff and says so', () => {
    const { clock, children, host, statuses } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    children[0].exit(1);
    expect(host.status()).toMatchObject({ state: 'crashed', restarts: 1, restartInMs: 500 });
    expect(statuses.at(-1)?.lastError).toMatch(/exited unexpectedly/);
    clock.advance(499);
    expect(children).toHaveLength(1);
    clock.advance(1);
    expect(children).toHaveLength(2);
    // crashes again before it becomes ready: the delay doubles each time, up to the cap
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      children.at(-1)!.exit(1);
      delays.push(host.status().restartInMs!);
      clock.advance(delays.at(-1)!);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(children).toHaveLength(7);
  });

  it('keeps a fatal error as the reason and resets the crash count after a stable run', () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'fatal', failure: 'startFailed', message: 'port 7420 is in use' });
    children[0].exit(1);
    expect(host.status()).toMatchObject({ state: 'crashed', lastError: 'port 7420 is in use' });
    clock.advance(500);
    children[1].emit({ type: 'ready', id: 'r', address: 'a:1' });
    expect(host.status().restarts).toBe(1);
    clock.advance(60_000);
    expect(host.status().restarts).toBe(0);
    children[1].exit(1);
    expect(host.status().restartInMs).toBe(500);
  });

  it('ignores malformed messages from the process', () => {
    const { children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 5 });
    children[0].emit('garbage');
    children[0].emit({ ...statusMessage('leader', 2), term: -1 });
    expect(host.status().state).toBe('starting');
    expect(host.isLeader()).toBe(false);
  });

  it('stops gracefully without restarting, and kills a replica that does not stop in time', async () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    const stopped = host.stop();
    expect(children[0].sent.at(-1)).toEqual({ type: 'stop' });
    expect(host.status().state).toBe('stopping');
    children[0].exit(0);
    await stopped;
    expect(host.status().state).toBe('stopped');
    clock.advance(100_000);
    expect(children).toHaveLength(1);

    host.start();
    const stuck = host.stop();
    clock.advance(5_000);
    await stuck;
    expect(children[1].killed).toBe(true);
    expect(host.status().state).toBe('stopped');
  });

  it('stop while waiting to restart cancels the restart', async () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].exit(1);
    await host.stop();
    clock.advance(100_000);
    expect(children).toHaveLength(1);
    expect(host.status().state).toBe('stopped');
  });

  it('transfers leadership through the process and resolves with its answer', async () => {
    const { children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    expect(await host.transferLeadership(1000)).toBe(false); // not leader: nothing asked
    expect(children[0].sent.some((m) => m.type === 'transferLeadership')).toBe(false);
    children[0].emit(statusMessage('leader', 2));
    const p = host.transferLeadership(1000);
    const req = children[0].sent.at(-1)!;
    expect(req).toMatchObject({ type: 'transferLeadership', timeoutMs: 1000 });
    children[0].emit({ type: 'reply', reqId: (req as { reqId: number }).reqId, ok: true });
    expect(await p).toBe(true);
  });

  it('a transfer that gets no answer times out as failed', async () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    children[0].emit(statusMessage('leader', 2));
    const p = host.transferLeadership(1000);
    clock.advance(1500);
    expect(await p).toBe(false);
  });

  it('relays the replica’s status.storage (free space and its low-space warning) as measured by the replica', () => {
    const { children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    children[0].emit({ ...statusMessage('leader', 2), storage: STORAGE });
    expect(host.status().disk).toEqual(STORAGE);
    // The old shape (main's own probe) is refused.
    children[0].emit({ ...statusMessage('leader', 2), storage: { freeBytes: 1, low: true } });
    expect(host.status().disk).toEqual(STORAGE);
  });

  it('a replica stopped on a full disk (exit 3) waits for the user: no restart, no timer, until “Start it now”', () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    children[0].emit({ ...statusMessage('leader', 2), storage: STORAGE });
    children[0].emit({ type: 'fatal', failure: 'DISK_FULL', message: 'disk full at /data/replica: stopped; free space and restart' });
    children[0].exit(EXIT_STATUS.DISK_FULL);
    expect(host.status()).toMatchObject({ state: 'diskFull', lastError: 'disk full at /data/replica: stopped; free space and restart', restartInMs: null, disk: STORAGE });
    expect(clock.pendingDelays()).toEqual([]);
    clock.advance(3_600_000);
    expect(children).toHaveLength(1);
    expect(host.status().state).toBe('diskFull');
    // The user frees space and presses "Start it now".
    host.retry();
    expect(children).toHaveLength(2);
    expect(host.status()).toMatchObject({ state: 'starting', lastError: null });
  });

  it('the exit status alone (the fatal message lost) is enough: 3 disk full, 4 folder in use, 5 damaged', () => {
    for (const [code, state] of [
      [EXIT_STATUS.DISK_FULL, 'diskFull'],
      [EXIT_STATUS.DATA_FOLDER_IN_USE, 'folderInUse'],
      [EXIT_STATUS.DAMAGED, 'damaged'],
    ] as const) {
      const { clock, children, host } = setup();
      host.start();
      children[0].exit(code);
      expect(host.status().state).toBe(state);
      expect(host.status().lastError).toContain('/data/replica');
      clock.advance(600_000);
      expect(children).toHaveLength(1);
    }
  });

  it('a replica too old for its data or its team (exit 6, VERSION) halts with one line saying to update Quorum, never restarted', () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'fatal', failure: 'VERSION', message: '/data/replica/state.db: state.db schema version 9 is newer than this Quorum understands (4); upgrade this replica' });
    children[0].exit(EXIT_STATUS.VERSION);
    expect(host.status()).toMatchObject({
      state: 'outdated',
      lastError: 'update Quorum: /data/replica/state.db: state.db schema version 9 is newer than this Quorum understands (4); upgrade this replica',
      restartInMs: null,
      restarts: 0,
    });
    expect(host.status().lastError).not.toContain('\n');
    expect(clock.pendingDelays()).toEqual([]);
    clock.advance(3_600_000);
    expect(children).toHaveLength(1);
    // The exit status alone (the fatal message lost), and the fatal message alone (killed after reporting), say it too.
    for (const [code, failure] of [
      [EXIT_STATUS.VERSION, null],
      [128, 'VERSION'],
    ] as const) {
      const other = setup();
      other.host.start();
      if (failure) other.children[0].emit({ type: 'fatal', failure, message: 'the cluster runs version 9; this replica supports up to 4; upgrade this replica' });
      other.children[0].exit(code);
      expect(other.host.status().state).toBe('outdated');
      expect(other.host.status().lastError).toMatch(/^update Quorum: /);
      other.clock.advance(600_000);
      expect(other.children).toHaveLength(1);
    }
  });

  it('the stop code of the last fatal message counts when the exit status does not say it (killed after reporting)', () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'fatal', failure: 'DATA_FOLDER_IN_USE', message: 'data folder /data/replica is in use by process 4242 (its LOCK file)' });
    children[0].exit(128);
    expect(host.status()).toMatchObject({ state: 'folderInUse', lastError: 'data folder /data/replica is in use by process 4242 (its LOCK file)' });
    clock.advance(600_000);
    expect(children).toHaveLength(1);
  });

  it('any other failure (exit 1, 2) is a crash, restarted with backoff', () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'fatal', failure: 'startFailed', message: 'port 7420 is in use' });
    children[0].exit(EXIT_STATUS.failed);
    expect(host.status()).toMatchObject({ state: 'crashed', restartInMs: 500 });
    clock.advance(500);
    children[1].exit(EXIT_STATUS.invalid);
    expect(host.status()).toMatchObject({ state: 'crashed', restartInMs: 1000 });
  });

  it('no respawn during quit: a settings change waiting on the same stop, a crash or a retry start nothing after shutdown', async () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    // The user saves settings (stop, then start with them) and quits while that stop is under way.
    const saving = host.setConfig({ ...config, port: 9000 });
    const quitting = host.shutdown();
    children[0].exit(0);
    await Promise.all([saving, quitting]);
    expect(children).toHaveLength(1);
    host.retry();
    host.start();
    clock.advance(600_000);
    expect(children).toHaveLength(1);
    expect(host.status().state).toBe('stopped');
  });

  it('a replica that crashes while the app quits is not restarted', async () => {
    const { clock, children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    children[0].exit(1);
    expect(host.status().state).toBe('crashed');
    await host.shutdown();
    clock.advance(600_000);
    expect(children).toHaveLength(1);
    expect(host.status().state).toBe('stopped');
  });

  it('applies new settings by restarting with them', async () => {
    const { children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    const p = host.setConfig({ ...config, port: 9000 });
    children[0].exit(0);
    await p;
    expect(children[1].sent[0]).toMatchObject({ options: { port: 9000 } });
    const off = host.setConfig({ ...config, enabled: false });
    children[1].exit(0);
    await off;
    expect(host.status().state).toBe('disabled');
    expect(children).toHaveLength(2);
  });
});

function statusMessage(role: string, term: number) {
  return { type: 'status', role, term, leader: role === 'leader' ? 'r' : null, members: 1, voter: true, clusterId: null, storage: null };
}
