import { describe, expect, it } from 'vitest';
import { ReplicaHost } from '../../main/replica-host.js';
import type { HostConfig, HostStatus } from '../../main/ipc-contract.js';
import { FakeChild, FakeClock, flush, silentLog } from '../helpers/main-fakes.js';

const config: HostConfig = { enabled: true, dataDir: '/data/replica', port: 7420 };

function setup(cfg: HostConfig = config) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  const statuses: HostStatus[] = [];
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
      startOptions: (c, mode) => ({ dataDir: c.dataDir, port: c.port, host: '0.0.0.0', bootstrap: mode.bootstrap, ...(mode.join ? { join: mode.join } : {}) }),
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
    expect(children[0].sent[0]).toEqual({ type: 'start', options: { dataDir: '/data/replica', port: 7420, host: '0.0.0.0', bootstrap: true } });
    expect(host.status().state).toBe('starting');
    children[0].emit({ type: 'ready', id: 'desk-1', address: '10.0.0.5:7420' });
    expect(host.status()).toMatchObject({ state: 'running', replicaId: 'desk-1', address: '10.0.0.5:7420', restarts: 0 });
    children[0].emit({ type: 'status', role: 'leader', term: 3, leader: 'desk-1' });
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
    children[0].emit({ type: 'fatal', message: 'port 7420 is in use' });
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
    children[0].emit({ type: 'status', role: 'leader', term: -1, leader: null });
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
    children[0].emit({ type: 'status', role: 'leader', term: 2, leader: 'r' });
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
    children[0].emit({ type: 'status', role: 'leader', term: 2, leader: 'r' });
    const p = host.transferLeadership(1000);
    clock.advance(1500);
    expect(await p).toBe(false);
  });

  it('joins a cluster by restarting with the invite code, then forgets the code once running', async () => {
    const { children, host } = setup();
    host.start();
    children[0].emit({ type: 'ready', id: 'r', address: 'a:1' });
    const joining = host.joinCluster('quorum1-abcdefghijklmnopqrstuvwxyz');
    children[0].exit(0);
    await joining;
    expect(children[1].sent[0]).toMatchObject({ type: 'start', options: { bootstrap: false, join: 'quorum1-abcdefghijklmnopqrstuvwxyz' } });
    children[1].emit({ type: 'ready', id: 'r', address: 'a:1' });
    children[1].exit(1);
    await flush();
    expect(host.status().state).toBe('crashed');
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
