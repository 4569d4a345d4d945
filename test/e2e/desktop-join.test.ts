/**
 * The desktop Join flow in the real renderer (issue 12), in Chromium: three "desktops" (TestDesktop: main's production
 * modules, each with a real replica child process on 127.0.0.1), two of them rendered by the built renderer with the
 * production preload bridged to that desktop's IPC handlers (test/e2e/desktop-window.ts).
 * Ann's desktop (A) is a first install; Ben's (B) is a used install with a one-member team of its own and a message.
 * Ann copies an invite in Settings (main puts it on the clipboard, never in the page); Ben looks for teams on the
 * network (none: replicas on loopback never announce themselves), pastes the code, reads what happens to his
 * machine's data, confirms and joins. A's Cluster view shows B as a learner (two members keep one voter); a third
 * desktop (C) joins over IPC, and autopilot (stabilisation 2 s, from the desktops' settings) promotes both learners,
 * each decision with its reason in the view. Nothing written before is lost: Ann's history is in the team and reaches
 * B's replica; Ben's solo message is in his backup folder, not mixed into the team.
 * Screenshots: test-results/screenshots/e2e-desktop-join-*.png.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { describeUnless } from '../helpers/skip.js';
import { freePort, waitFor } from '../helpers/cluster.js';
import { TestDesktop } from '../helpers/desktop.js';
import { client, closeClients, conversationTexts } from '../helpers/clients.js';
import { axeFindings, chromiumSkipReason, launchChromium, openWith, PASSWORD, say, shot, signUpOnPage, statusBar, UI_TIMEOUT, waitText, watchErrors } from './support.js';
import { DESKTOP_WINDOW_CHROMIUM_ARGS, openDesktopWindow, type DesktopWindow } from './desktop-window.js';

/** Autopilot as the desktops' settings give it to their replicas: a short stabilisation, so the test sees promotions. */
const AUTOPILOT = { enabled: true, voters: 5, stabilizeSeconds: 2, deadAfterSeconds: 300 };

describeUnless(chromiumSkipReason, 'desktop: Join from a used install and autopilot in the Cluster view (Chromium, real renderer and preload, real replicas)', () => {
  let root: string;
  let browser: Browser;
  const desktops: Record<'a' | 'b' | 'c', TestDesktop> = {} as never;
  const windows: DesktopWindow[] = [];
  const pageErrors: string[][] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'quorum-desktop-join-'));
    console.log(`desktop-join: user data and replica logs in ${root}`);
    for (const name of ['a', 'b', 'c'] as const) {
      desktops[name] = new TestDesktop({
        name,
        userData: join(root, name),
        port: await freePort(),
        logFile: join(root, `${name}.log`),
        autopilot: AUTOPILOT,
        // Loopback only: nothing is announced, and the Join screen's look-around multicasts on lo, not the real LAN.
        lanAddress: '127.0.0.1',
        discoverInterface: '127.0.0.1',
      });
      desktops[name].start();
    }
    [browser] = await Promise.all([launchChromium(DESKTOP_WINDOW_CHROMIUM_ARGS), ...Object.values(desktops).map((d) => d.waitRunning())]);
  }, 90_000);

  afterAll(async () => {
    closeClients();
    for (const w of windows) await w.close().catch(() => undefined);
    await browser?.close();
    await Promise.all(Object.values(desktops).map((d) => d.destroy()));
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function window(name: 'a' | 'b'): Promise<Page> {
    const w = await openDesktopWindow(browser, desktops[name]);
    windows.push(w);
    pageErrors.push(watchErrors(w.page, name));
    return w.page;
  }

  /** The Cluster view's row of one replica (its row header starts with the id). */
  function memberRow(page: Page, id: string) {
    return page.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${id}`) }) });
  }

  /** Role and Membership cells of a member's row (Address, Role, Term, Lag, Reachable, Membership, actions). */
  async function roleAndMembership(page: Page, id: string): Promise<{ role: string; membership: string } | null> {
    const cells = memberRow(page, id).getByRole('cell');
    if ((await cells.count()) < 6) return null;
    return { role: (await cells.nth(1).textContent()) ?? '', membership: (await cells.nth(5).textContent()) ?? '' };
  }

  async function loggedIn(address: string, user: string) {
    const c = client([address]);
    await c.login(user, PASSWORD);
    return c;
  }

  it('Ben joins Ann’s team from his used install; autopilot promotes the learners and says why in the Cluster view', async () => {
    const { a, b, c } = desktops;
    const pageA = await window('a');
    const pageB = await window('b');

    // Ann's first install: she signs up and writes a note; Ben's used install: his own team, his own message.
    await signUpOnPage(pageA, 'ann');
    await openWith(pageA, 'ann');
    await say(pageA, 'agenda for Monday');
    await waitText(pageA, 'agenda for Monday');
    await signUpOnPage(pageB, 'ben');
    await openWith(pageB, 'ben');
    await say(pageB, 'ben’s solo note');
    await waitText(pageB, 'ben’s solo note');
    expect(b.status().team.phase).toBe('solo');
    const bSolo = b.status();

    // Ann invites: Settings → Team → Copy invite code. Main puts the code on the clipboard; the page never sees it.
    await pageA.getByRole('button', { name: 'Settings' }).click();
    const teamA = pageA.getByRole('region', { name: 'Team' });
    await teamA.getByRole('button', { name: 'Copy invite code' }).click();
    await pageA.getByText(/^Invite code copied\./).waitFor({ timeout: UI_TIMEOUT });
    const inviteCode = a.clipboard;
    expect(inviteCode).toMatch(/^quorum1\./);
    expect(await pageA.content()).not.toContain(inviteCode);
    await teamA.getByText(/open to the local network \(you invited someone\)/).waitFor({ timeout: UI_TIMEOUT });
    // The replica restarted to listen on the LAN: the window reconnects to it.
    await statusBar(pageA, 'Connected').waitFor({ timeout: UI_TIMEOUT });
    await shot(pageA, 'desktop-join-01-invite-copied');

    // Ben opens Settings → Team: the teams on this network (none here: replicas on loopback never announce).
    await pageB.getByRole('button', { name: 'Settings' }).click();
    const teamB = pageB.getByRole('region', { name: 'Team' });
    const nearby = teamB.getByRole('region', { name: 'Teams on this network' });
    await nearby.getByText(/^No team announces itself on this network/).waitFor({ timeout: UI_TIMEOUT });
    // He pastes the code Ann sent him (from his clipboard, with the keyboard).
    await pageB.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(pageB.url()).origin });
    await pageB.evaluate((code) => navigator.clipboard.writeText(code), inviteCode);
    const field = teamB.getByRole('textbox', { name: 'Invite code to join a team' });
    await field.focus();
    await pageB.keyboard.press('ControlOrMeta+V');
    expect(await field.inputValue()).toBe(inviteCode);
    await teamB.getByRole('button', { name: 'Check invite' }).click();

    // What joining does to this machine's data, asked once.
    const plan = pageB.getByRole('alertdialog', { name: 'Join this team?' });
    await plan.waitFor({ timeout: UI_TIMEOUT });
    await plan.getByText(`The invite reached a team of 1 machine (1 voting, led by ${a.status().replicaId}).`).waitFor();
    const backupFolder = `${b.settings.get().replica.dataDir}-backup-`;
    await plan.getByText(`one-member team and its messages will be moved to a backup folder dated when you confirm, like ${backupFolder}`).waitFor();
    await plan.getByText(/joins as a learner, receives the team’s history, and is logged out/).waitFor();
    await shot(pageB, 'desktop-join-02-join-confirm');
    // The question has the keyboard focus, and axe finds nothing on the desktop's Settings with it open.
    expect(await plan.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await axeFindings(pageB)).toEqual([]);
    expect(b.status().team.phase).toBe('solo'); // checking changed nothing
    await plan.getByRole('button', { name: 'Join' }).click();

    // The window starts over with the new team, logged out; Ben signs up in Ann's team once B has caught up.
    await pageB.getByRole('button', { name: 'Sign up' }).waitFor({ timeout: UI_TIMEOUT });
    const joined = await b.waitStatus('B joined', (s) => s.team.phase === 'member' && s.state === 'running' && s.clusterId !== null);
    expect(joined.clusterId).toBe(a.status().clusterId);
    expect(joined.replicaId).not.toBe(bSolo.replicaId);
    const backupDir = joined.team.backupDir!;
    expect(backupDir).toMatch(new RegExp(`^${backupFolder}\\d{4}-\\d{2}-\\d{2}-\\d{6}$`));
    expect(existsSync(join(backupDir, 'raft.db'))).toBe(true);
    await signUpOnPage(pageB, 'ben');
    const bId = joined.replicaId!;

    // A's Cluster view: B is a caught-up learner (two members keep one voter).
    await pageA.getByRole('button', { name: 'Cluster' }).click();
    await expect
      .poll(() => roleAndMembership(pageA, bId), { timeout: UI_TIMEOUT })
      .toEqual({ role: 'learner', membership: expect.stringMatching(/^learner since \d\d:\d\d$/) });
    const autopilot = pageA.getByRole('region', { name: 'Autopilot' });
    await autopilot.getByText(/^Keeps 1 voter \(at most 5\): promotes a learner that has stayed caught up for 2 s/).waitFor({ timeout: UI_TIMEOUT });
    // Why it stays a learner, in words.
    await autopilot.getByText(`${bId} stays a learner: 2 members keep 1 voter, an odd number`).waitFor({ timeout: UI_TIMEOUT });
    await shot(pageA, 'desktop-join-03-cluster-learner');
    expect(await axeFindings(pageA)).toEqual([]);

    // Ben's window: a member of Ann's team; his solo note is not in it (it is in the backup folder).
    await pageB.getByRole('button', { name: 'Settings' }).click();
    await teamB.getByText(/^This machine is one of 2 members of its team \(a learner: a team of two keeps one voter.*votes once a third machine joins\)\.$/).waitFor({ timeout: UI_TIMEOUT });
    await teamB.getByText(`This machine’s earlier data is in ${backupDir}.`).waitFor();
    await shot(pageB, 'desktop-join-04-member-settings');
    await pageB.getByRole('button', { name: 'Settings' }).click();
    await openWith(pageB, 'ann');
    await say(pageB, 'hello Ann, Ben’s desktop joined');
    await waitText(pageB, 'hello Ann, Ben’s desktop joined');

    // A third desktop joins with the same invite (over IPC): three members want three voters.
    await c.invoke('team:join', { inviteCode });
    const cId = (await c.waitStatus('C joined', (s) => s.team.phase === 'member' && s.state === 'running' && s.clusterId !== null)).replicaId!;

    // Autopilot promotes B and C once each has stayed caught up for 2 s; the view says when and why.
    for (const id of [bId, cId]) {
      await expect
        .poll(() => roleAndMembership(pageA, id), { timeout: UI_TIMEOUT })
        .toEqual({ role: 'follower', membership: expect.stringMatching(/^voter since \d\d:\d\d$/) });
      await autopilot
        .getByRole('listitem')
        .filter({ hasText: new RegExp(`^\\d\\d:\\d\\d · promoted ${id}: ${id} has been caught up and reachable for \\d+ s \\(stabilization 2 s\\); voters \\d → \\d of 3 wanted$`) })
        .waitFor({ timeout: UI_TIMEOUT });
    }
    await pageA.getByText(/3 of 3 voters reachable/).waitFor({ timeout: UI_TIMEOUT });
    await shot(pageA, 'desktop-join-05-cluster-promoted');
    await pageA.getByRole('table').scrollIntoViewIfNeeded();
    await shot(pageA, 'desktop-join-05b-cluster-members');
    await waitFor('B votes', () => b.status().voter === true);

    // Nothing written before is lost: Ann's note is still in her window, Ben's message reached her, and B's replica
    // holds the team's history; Ben's solo account and note stayed behind in his backup folder.
    await pageA.getByRole('button', { name: 'Cluster' }).click();
    await pageA.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: 'ben', exact: true }).click({ timeout: UI_TIMEOUT });
    await waitText(pageA, 'hello Ann, Ben’s desktop joined');
    await pageA.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: 'ann', exact: true }).click({ timeout: UI_TIMEOUT });
    await waitText(pageA, 'agenda for Monday');
    await shot(pageA, 'desktop-join-06-history-kept');
    expect(await conversationTexts(await loggedIn(b.localAddress, 'ann'), 'ann')).toEqual(['agenda for Monday']);
    expect(await conversationTexts(await loggedIn(b.localAddress, 'ben'), 'ben')).toEqual([]);

    expect(pageErrors.flat(), 'uncaught page errors').toEqual([]);
  }, 150_000); // 40–55 s here, 73 s at load 14 on 2 cores: generous, every wait is on a condition
});
