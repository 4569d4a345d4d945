// A bad invite must not cause a restart loop: main's Team and ReplicaHost (production code) with the replica process
// faked at its message edge (FakeChild) on a manual clock, over a real data folder. A join whose replica cannot start
// (the kept invite's secret no longer opens; the replica refuses the join at start) is given up after
// JOIN_START_ATTEMPTS starts: the earlier data is put back, the user is told why, and the solo replica starts again.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaHost } from '../../main/replica-host.js';
import { SecretKeeper } from '../../main/secret-keeper.js';
import { defaultSettings, SettingsStore } from '../../main/settings.js';
import { JOIN_START_ATTEMPTS, Team } from '../../main/team.js';
import type { FileAccess } from '../../main/window-state.js';
import { FakeKeyring } from '../helpers/desktop.js';
import { FakeChild, FakeClock, silentLog } from '../helpers/main-fakes.js';
import { settled } from '../helpers/settled.js';

const files: FileAccess = {
  readFile: (p) => (existsSync(p) ? readFileSync(p, 'utf8') : null),
  writeFile: (p, t) => writeFileSync(p, t),
};

let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

function machine() {
  root = mkdtempSync(join(tmpdir(), 'quorum-team-'));
  const clock = new FakeClock();
  const keyring = new FakeKeyring();
  const settings = new SettingsStore(join(root, 'settings.json'), files, defaultSettings(root, join));
  const secrets = new SecretKeeper(keyring, 'linux');
  const children: FakeChild[] = [];
  let team: Team | null = null;
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
      startOptions: (c) => team!.startOptions(c),
      backoff: { initialMs: 500, maxMs: 8_000, stableMs: 60_000 },
    },
    settings.get().replica,
  );
  team = new Team({
    host,
    settings,
    secrets,
    reachCluster: () => Promise.reject(new Error('not reached in these tests')),
    lanAddress: () => '127.0.0.1',
    writeClipboard: () => undefined,
    now: clock.now,
    log: silentLog,
  });
  // This machine's earlier solo data, moved aside by the join; the join is kept as the settings keep it.
  const dataDir = settings.get().replica.dataDir;
  const backupDir = `${dataDir}-backup-2026-12-05-080000`;
  mkdirSync(backupDir, { recursive: true });
  writeFileSync(join(backupDir, 'raft.db'), 'the solo team’s log');
  return { clock, keyring, settings, secrets, children, host, team, dataDir, backupDir };
}

describe('a join whose replica cannot start', () => {
  it('a kept invite whose secret no longer opens: given up after a few starts, earlier data back, no restart loop', async () => {
    const m = machine();
    const otherKeyring = new SecretKeeper(new FakeKeyring(), 'linux');
    m.settings.setTeam({
      exposure: 'lan',
      pendingJoin: { servers: ['10.0.0.9:7420'], secret: otherKeyring.seal('c2VjcmV0'), backupDir: m.backupDir, exposureBefore: 'loopback', startedAt: 0 },
    });
    m.host.start();
    // The start options cannot be made: no process starts; each attempt is a crash with backoff.
    expect(m.children).toHaveLength(0);
    expect(m.host.status()).toMatchObject({ state: 'crashed', restarts: 1 });
    for (let i = 1; i < JOIN_START_ATTEMPTS; i++) m.clock.advance(60_000);
    await settled();
    // Given up: the earlier data is back, the join forgotten, the user told why; the solo replica starts.
    expect(m.settings.get().team).toMatchObject({ pendingJoin: null, exposure: 'loopback', joinError: expect.stringMatching(/^joining the team failed: this machine’s replica could not start with the invite \(3 attempts\)/) });
    expect(readFileSync(join(m.dataDir, 'raft.db'), 'utf8')).toBe('the solo team’s log');
    expect(existsSync(m.backupDir)).toBe(false);
    expect(m.children).toHaveLength(1);
    expect(m.children[0].sent[0]).toMatchObject({ type: 'start', options: { bootstrap: true, host: '127.0.0.1' } });
    expect(m.children[0].sent[0]).not.toHaveProperty('options.join');
    expect(m.team.status()).toMatchObject({ phase: 'solo', joinError: expect.any(String) });
  });

  it('a replica that refuses the join at start (exit 1 each time): given up the same way', async () => {
    const m = machine();
    m.settings.setTeam({
      exposure: 'lan',
      pendingJoin: { servers: ['10.0.0.9:7420'], secret: m.secrets.seal('c2VjcmV0'), backupDir: m.backupDir, exposureBefore: 'loopback', startedAt: 0 },
    });
    m.host.start();
    for (let i = 0; i < JOIN_START_ATTEMPTS; i++) {
      const c = m.children[i];
      expect(c.sent[0]).toMatchObject({ type: 'start', options: { join: ['10.0.0.9:7420'], bootstrap: false } });
      c.emit({ type: 'fatal', failure: 'startFailed', message: 'this data folder holds a one-member cluster of its own: it cannot join' });
      c.exit(1);
      if (i < JOIN_START_ATTEMPTS - 1) m.clock.advance(60_000);
    }
    await settled();
    expect(m.settings.get().team.pendingJoin).toBeNull();
    expect(m.settings.get().team.joinError).toMatch(/holds a one-member cluster of its own/);
    expect(readFileSync(join(m.dataDir, 'raft.db'), 'utf8')).toBe('the solo team’s log');
    expect(m.children).toHaveLength(JOIN_START_ATTEMPTS + 1);
    expect(m.children.at(-1)!.sent[0]).toMatchObject({ type: 'start', options: { bootstrap: true } });
  });
});
