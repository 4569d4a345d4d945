// The desktop's main process with real replica processes (the built dist/main/replica-process.js forked as Electron
// would run it in a utilityProcess): a first install, crash restarts, secrets kept with the keystore, inviting,
// joining and creating from used installs (data moved aside to dated backups), a bad invite changing nothing, a restart mid-join resuming
// the join, a failed join restoring the old data, autopilot's voters, and leadership leaving a machine that sleeps
// or quits. Everything stays on 127.0.0.1 (the desktops' "LAN address" is 127.0.0.1 here, so nothing is announced:
// LAN discovery itself is tested by the replica's network-namespace tests).
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { FakeKeyring, TestDesktop, type TestDesktopOptions } from '../helpers/desktop.js';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { freePort, waitFor } from '../helpers/cluster.js';
import { SEALED_SECRET_FILE } from '../../main/team.js';
import { encodeInvite, decodeInvite } from '../../replica/node/invite.js';
import { adminRequest } from '../../replica/net/admin-client.js';
import { handOverBeforeSleep } from '../../main/power.js';
import type { ReplicaStatus } from '../../replica/protocol/client.js';

const PW = 'password-123';
const FAST_AUTOPILOT = { enabled: true, voters: 5, stabilizeSeconds: 1, deadAfterSeconds: 4 };

let root: string;
let desktops: TestDesktop[] = [];

afterEach(async () => {
  closeClients();
  await Promise.all(desktops.map((d) => d.destroy()));
  desktops = [];
  if (root) rmSync(root, { recursive: true, force: true });
});

async function desktop(name: string, extra: Partial<TestDesktopOptions> = {}): Promise<TestDesktop> {
  root ??= mkdtempSync(join(tmpdir(), 'quorum-desktop-'));
  const d = new TestDesktop({
    name,
    userData: join(root, name),
    port: extra.port ?? (await freePort()),
    logFile: join(root, `${name}.log`),
    lanAddress: '127.0.0.1',
    ...extra,
  });
  desktops.push(d);
  return d;
}

/** The same machine after the app restarted: same user data, keyring and port, a new main process. */
async function restartApp(d: TestDesktop, extra: Partial<TestDesktopOptions> = {}): Promise<TestDesktop> {
  await d.destroy();
  desktops = desktops.filter((x) => x !== d);
  const again = new TestDesktop({ ...d.options, keyring: d.keyring, ...extra });
  desktops.push(again);
  return again;
}

async function signUpAndSend(address: string, user: string, to: string, texts: string[]): Promise<void> {
  const c = client([address]);
  await c.signup(user, PW).catch((err: { code?: string }) => {
    if (err.code !== 'USERNAME_TAKEN') throw err;
  });
  await c.login(user, PW);
  for (const t of texts) await c.send(to, t);
}

function backupsOf(d: TestDesktop): string[] {
  const dataDir = d.settings.get().replica.dataDir;
  return readdirSync(join(dataDir, '..')).filter((f) => f.startsWith(`${basename(dataDir)}-backup-`));
}

describe('the desktop host with real replica processes', () => {
  it('a first install starts a one-member cluster on loopback, keeps its secret sealed, and restarts after a crash', async () => {
    const a = await desktop('a');
    a.start();
    const s = await a.waitRunning();
    expect(s).toMatchObject({ members: 1, voter: true, role: 'leader', team: { phase: 'solo', exposure: 'loopback' }, secrets: { kind: 'keystore' } });
    expect(s.address).toBe(a.localAddress);
    const dataDir = s.config.dataDir;
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // The secret is sealed by the keystore: neither the plain file of earlier versions nor the secret in clear.
    expect(existsSync(join(dataDir, 'cluster.secret'))).toBe(false);
    const sealed = JSON.parse(readFileSync(join(dataDir, SEALED_SECRET_FILE), 'utf8'));
    expect(sealed.kind).toBe('keystore');
    expect(statSync(join(dataDir, SEALED_SECRET_FILE)).mode & 0o077).toBe(0);
    await signUpAndSend(a.localAddress, 'ann', 'ann', ['note to self']);

    a.child!.kill();
    await waitFor('the crash reported', () => a.statuses.some((x) => x.state === 'crashed' && x.restarts === 1 && x.restartInMs !== null && x.restartInMs > 0 && x.restartInMs <= 200));
    const again = await a.waitRunning();
    expect(again).toMatchObject({ replicaId: s.replicaId, clusterId: s.clusterId, restarts: 1 });
    expect(a.children).toHaveLength(2);
    expect(await conversationTexts(await loggedIn(a.localAddress, 'ann'), 'ann')).toEqual(['note to self']);

    await a.host.stop();
    expect(a.status().state).toBe('stopped');
    expect(a.child!.alive).toBe(false);
  });

  it('seals the plain secret an earlier version left in the data folder, and keeps using it', async () => {
    const a = await desktop('a');
    const dataDir = a.settings.get().replica.dataDir;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dataDir, 'cluster.secret'), 'an-old-secret-from-an-earlier-version\n', { mode: 0o600 });
    a.start();
    await a.waitRunning();
    expect(existsSync(join(dataDir, 'cluster.secret'))).toBe(false);
    expect(readFileSync(join(dataDir, SEALED_SECRET_FILE), 'utf8')).not.toContain('an-old-secret');
    // The replica runs with that secret: administration with it is accepted.
    const st = await adminRequest<ReplicaStatus>([a.localAddress], Buffer.from('an-old-secret-from-an-earlier-version'), { op: 'status' });
    expect(st.id).toBe(a.status().replicaId);
  });

  it('without a keystore, says so and keeps secrets in files only this user can read', async () => {
    const a = await desktop('a', { keyring: new FakeKeyring(true, 'basic_text') });
    a.start();
    const s = await a.waitRunning();
    expect(s.secrets.kind).toBe('file');
    expect(s.secrets.detail).toMatch(/no keyring/);
    const file = join(s.config.dataDir, SEALED_SECRET_FILE);
    expect(JSON.parse(readFileSync(file, 'utf8')).kind).toBe('file');
    expect(statSync(file).mode & 0o077).toBe(0);
    // The login token: kept, readable back, and sealed once a keystore is there.
    await a.invoke('login:keep', { token: 'x'.repeat(43), user: 'ann' });
    expect(await a.invoke('login:kept')).toEqual({ login: { token: 'x'.repeat(43), user: 'ann' } });
    expect(statSync(join(a.options.userData, 'settings.json')).mode & 0o077).toBe(0);
  });

  it('keeps the login token sealed in the settings, and forgets it on request', async () => {
    const a = await desktop('a');
    const token = 'tok_' + 'y'.repeat(40);
    await a.invoke('login:keep', { token, user: 'ann' });
    expect(readFileSync(join(a.options.userData, 'settings.json'), 'utf8')).not.toContain(token);
    const b = await restartApp(a);
    expect(await b.invoke('login:kept')).toEqual({ login: { token, user: 'ann' } });
    await b.invoke('login:forget');
    expect(await b.invoke('login:kept')).toEqual({ login: null });
    // Another machine's keystore cannot open it: the user just logs in again.
    await b.invoke('login:keep', { token, user: 'ann' });
    const elsewhere = await restartApp(b, { keyring: new FakeKeyring() });
    expect(await elsewhere.invoke('login:kept')).toEqual({ login: null });
  });

  it('inviting opens a solo replica to the LAN and puts the code on the clipboard only', async () => {
    const a = await desktop('a');
    a.start();
    const before = await a.waitRunning();
    const answer = await a.invokeRaw('team:copyInvite');
    expect(answer.ok).toBe(true);
    const servers = answer.ok ? answer.result.servers : [];
    expect(JSON.stringify(answer)).not.toContain('quorum1.');
    expect(a.clipboard).toMatch(/^quorum1\./);
    expect(decodeInvite(a.clipboard).servers).toEqual(servers);
    const after = await a.waitRunning();
    expect(after.team.exposure).toBe('lan');
    expect(after.replicaId).toBe(before.replicaId);
    expect(a.children.length).toBe(2);
    // A restart of the app keeps it on the LAN (someone may be joining with that code).
    const again = await restartApp(a);
    again.start();
    expect((await again.waitRunning()).team.exposure).toBe('lan');
  });

  it('a bad invite says why and changes nothing', async () => {
    const b = await desktop('b');
    b.start();
    await b.waitRunning();
    await signUpAndSend(b.localAddress, 'bob', 'bob', ['mine']);
    const dataDir = b.settings.get().replica.dataDir;

    const garbage = await b.invokeRaw('team:planJoin', { inviteCode: 'quorum1.this-is-not-base64-json!!' });
    expect(garbage).toMatchObject({ ok: false, error: { code: 'INVALID' } });
    const nowhere = encodeInvite({ servers: ['127.0.0.1:1'], secret: Buffer.from('some-secret') });
    const unreachable = await b.invokeRaw('team:join', { inviteCode: nowhere });
    expect(unreachable.ok).toBe(false);
    if (!unreachable.ok) expect(unreachable.error.message).toMatch(/could not be reached .*127\.0\.0\.1:1.*Nothing was changed/);
    // Own invite: already a member.
    await b.invoke('team:copyInvite');
    await b.waitRunning();
    expect(await b.invokeRaw('team:planJoin', { inviteCode: b.clipboard })).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringMatching(/already a member/) } });

    expect(backupsOf(b)).toEqual([]);
    expect(existsSync(join(dataDir, 'raft.db'))).toBe(true);
    expect(b.status().team).toMatchObject({ phase: 'solo', joiningVia: null });
    expect(await conversationTexts(await loggedIn(b.localAddress, 'bob'), 'bob')).toEqual(['mine']);
  });

  it('joins from a used install: explains, moves the solo data to a dated backup, joins, and forgets the invite', async () => {
    const a = await desktop('a', { autopilot: FAST_AUTOPILOT });
    const b = await desktop('b', { autopilot: FAST_AUTOPILOT });
    a.start();
    b.start();
    await Promise.all([a.waitRunning(), b.waitRunning()]);
    await signUpAndSend(a.localAddress, 'ann', 'ann', ['team history 1', 'team history 2']);
    await signUpAndSend(b.localAddress, 'bob', 'bob', ['bob solo note']);
    const aCluster = a.status().clusterId;
    const bOld = b.status();

    await a.invoke('team:copyInvite');
    const code = a.clipboard;
    const plan = await b.invoke('team:planJoin', { inviteCode: code });
    expect(plan).toMatchObject({ kind: 'join', current: { kind: 'solo' }, target: { members: [{ id: a.status().replicaId, voter: true }] } });
    expect(plan.backupDir).toMatch(/replica-backup-\d{4}-\d{2}-\d{2}-\d{6}$/);
    expect(backupsOf(b)).toEqual([]); // planning changed nothing

    await b.invoke('team:join', { inviteCode: code });
    expect(b.status().team.phase).toBe('joining');
    // The invite is kept until the join completes, its secret sealed.
    const kept = b.settings.get().team.pendingJoin!;
    expect(kept.servers).toEqual(decodeInvite(code).servers);
    expect(kept.secret.kind).toBe('keystore');
    expect(readFileSync(join(b.options.userData, 'settings.json'), 'utf8')).not.toContain(decodeInvite(code).secret.toString('base64'));

    const joined = await b.waitStatus('joined', (s) => s.team.phase === 'member' && s.state === 'running' && s.clusterId !== null);
    expect(b.settings.get().team.pendingJoin).toBeNull();
    expect(joined.clusterId).toBe(aCluster);
    expect(joined.replicaId).not.toBe(bOld.replicaId);
    expect(joined.team.exposure).toBe('lan');
    // The old solo data is in the backup folder, untouched, and not in the team.
    const backups = backupsOf(b);
    expect(backups).toHaveLength(1);
    const backupDir = b.settings.get().team.backupDir!;
    expect(join(b.settings.get().replica.dataDir, '..', backups[0])).toBe(backupDir);
    // The plan named it when the user was asked; the move, a moment later, stamps its own time (a second may have passed).
    const undated = (dir: string) => dir.replace(/-\d{4}-\d{2}-\d{2}-\d{6}(-\d+)?$/, '');
    expect(undated(backupDir)).toBe(undated(plan.backupDir!));
    expect(undated(backupDir)).toBe(`${b.settings.get().replica.dataDir}-backup`);
    expect(existsSync(join(backupDir, 'raft.db'))).toBe(true);
    expect(existsSync(join(backupDir, SEALED_SECRET_FILE))).toBe(true);
    expect(await conversationTexts(await loggedIn(b.localAddress, 'ann'), 'ann')).toEqual(['team history 1', 'team history 2']);
    await expect(client([b.localAddress]).login('bob', PW)).rejects.toMatchObject({ code: 'BAD_CREDENTIALS' });
    // Autopilot: two members keep one voter; the joiner stays a caught-up learner.
    expect(joined.voter).toBe(false);
  });

  it('a restart of the app in the middle of a join resumes the join (never a cluster of its own)', async () => {
    const a = await desktop('a');
    a.start();
    await a.waitRunning();
    await signUpAndSend(a.localAddress, 'ann', 'ann', ['before the join']);
    await a.invoke('team:copyInvite');
    await a.waitRunning();
    const aReplica = a.child!;
    // The team goes quiet right after the invite was checked: the join cannot finish.
    const b = await desktop('b', {
      reachCluster: async (servers, secret, real) => {
        const st = await real(servers, secret);
        process.kill(aReplica.pid, 'SIGSTOP');
        return st;
      },
    });
    b.start();
    await b.waitRunning();
    await b.invoke('team:join', { inviteCode: a.clipboard });
    await b.waitStatus('the joining replica started', (s) => s.state === 'running' || s.state === 'crashed');
    const kept = b.settings.get().team.pendingJoin;
    expect(kept).not.toBeNull();

    // The app quits mid-join and starts again: the invite is still there, and the start joins.
    const b2 = await restartApp(b, { reachCluster: undefined });
    expect(b2.status().team).toMatchObject({ phase: 'joining', joiningVia: kept!.servers });
    b2.start();
    await b2.waitStatus('joining replica up', (s) => s.state === 'running');
    process.kill(aReplica.pid, 'SIGCONT');
    const joined = await b2.waitStatus('joined after the restart', (s) => s.team.phase === 'member' && s.clusterId !== null);
    expect(joined.clusterId).toBe(a.status().clusterId);
    expect(await conversationTexts(await loggedIn(b2.localAddress, 'ann'), 'ann')).toEqual(['before the join']);
  });

  it('a join that fails puts this machine’s earlier data back and says why', async () => {
    const a = await desktop('a');
    a.start();
    await a.waitRunning();
    await a.invoke('team:copyInvite');
    await a.waitRunning();
    const aReplica = a.child!;
    // The team vanishes for good after the check (its only replica is killed): the join cannot be made.
    const b = await desktop('b', {
      reachCluster: async (servers, secret, real) => {
        const st = await real(servers, secret);
        aReplica.kill();
        await a.host.stop();
        return st;
      },
    });
    b.start();
    await b.waitRunning();
    await signUpAndSend(b.localAddress, 'bob', 'bob', ['keep me']);
    const before = b.status();
    await b.invoke('team:join', { inviteCode: a.clipboard });
    // join.ts gives up asking to be added after 60 s without an answer.
    // The cluster id comes with the restarted replica's first status message, just after it reports running.
    const restored = await b.waitStatus('join failed and restored', (s) => s.team.joinError !== null && s.state === 'running' && s.clusterId !== null, 120_000);
    expect(restored.team).toMatchObject({ phase: 'solo', exposure: 'loopback', joiningVia: null });
    expect(restored.team.joinError).toMatch(/joining the team failed: .*earlier data was put back/);
    expect(restored).toMatchObject({ replicaId: before.replicaId, clusterId: before.clusterId });
    expect(backupsOf(b)).toEqual([]);
    expect(await conversationTexts(await loggedIn(b.localAddress, 'bob'), 'bob')).toEqual(['keep me']);
  }, 180_000);

  it('creating a new team from a used install moves its data to a dated backup', async () => {
    const a = await desktop('a');
    a.start();
    const first = await a.waitRunning();
    await signUpAndSend(a.localAddress, 'ann', 'ann', ['old team']);
    const plan = await a.invoke('team:planCreate');
    expect(plan).toMatchObject({ kind: 'create', current: { kind: 'solo' }, target: null });
    await a.invoke('team:create');
    const fresh = await a.waitStatus('new team running', (s) => s.state === 'running' && s.clusterId !== null && s.clusterId !== first.clusterId);
    expect(fresh).toMatchObject({ members: 1, team: { phase: 'solo', exposure: 'loopback' } });
    // The plan previews the backup's name from the time it was made; the move names it when it happens (the same
    // second or later): a dated backup beside the data, holding the old team.
    const backupDir = fresh.team!.backupDir!;
    expect(dirname(backupDir)).toBe(dirname(plan.backupDir!));
    expect(basename(backupDir)).toMatch(/^replica-backup-\d{4}-\d{2}-\d{2}-\d{6}$/);
    expect(basename(backupDir) >= basename(plan.backupDir!)).toBe(true);
    expect(fresh.replicaId).not.toBe(first.replicaId);
    expect(existsSync(join(backupDir, 'raft.db'))).toBe(true);
    await expect(client([a.localAddress]).login('ann', PW)).rejects.toMatchObject({ code: 'BAD_CREDENTIALS' });
  });

  it('three desktops: autopilot makes three voters, and leadership leaves a machine that sleeps or quits', async () => {
    const [a, b, c] = [await desktop('a', { autopilot: FAST_AUTOPILOT }), await desktop('b', { autopilot: FAST_AUTOPILOT }), await desktop('c', { autopilot: FAST_AUTOPILOT })];
    for (const d of [a, b, c]) d.start();
    await Promise.all([a, b, c].map((d) => d.waitRunning()));
    await a.invoke('team:copyInvite');
    await a.waitRunning();
    for (const d of [b, c]) await d.invoke('team:join', { inviteCode: a.clipboard });
    await Promise.all([b, c].map((d) => d.waitStatus('joined', (s) => s.team.phase === 'member')));
    await signUpAndSend(a.localAddress, 'ann', 'ann', ['one']);
    const leaderOf = () => [a, b, c].find((d) => d.status().role === 'leader');
    await waitFor('three voters', () => [a, b, c].every((d) => d.status().voter === true), 60_000, 100);

    // The leader's machine is about to sleep: Electron's powerMonitor says 'suspend'.
    const sleeper = leaderOf()!;
    let suspend: (() => void) | null = null;
    handOverBeforeSleep({ on: (event, listener) => void (event === 'suspend' && (suspend = listener)) }, sleeper.host, { info: () => undefined });
    suspend!();
    const next = await waitFor('another leader', () => {
      const l = leaderOf();
      return l && l !== sleeper ? l : null;
    }, 30_000, 50);

    // Quitting the leader hands over too, and nothing acknowledged is lost.
    await signUpAndSend(next.localAddress, 'ann', 'ann', ['two']);
    await next.quit();
    expect(next.status().state).toBe('stopped');
    const survivor = [a, b, c].filter((d) => d !== next);
    const third = await waitFor('a leader after the quit', () => survivor.find((d) => d.status().role === 'leader') ?? null, 30_000, 50);
    expect(await conversationTexts(await loggedIn(third.localAddress, 'ann'), 'ann')).toEqual(['one', 'two']);
  }, 180_000);
});

async function loggedIn(address: string, user: string) {
  const c = client([address]);
  await c.login(user, PW);
  return c;
}
