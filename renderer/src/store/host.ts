/**
 * Desktop only: the state of this machine's replica and of its team as main reports it (HostStatus over IPC), and the
 * sentences the Settings view, the Connect screen and the connection bar say about it. The words live here, apart
 * from the components, so they are tested without a DOM.
 */
import { useEffect, useState } from 'react';
import { call, desktop } from '../desktop.js';
import { readableError } from '../errors.js';
import type { HostStatus, TeamChangePlan } from '../../../main/ipc-contract.js';
import type { KeptLogin, KeptLoginStore } from './store-deps.js';

/** Main's latest HostStatus (null outside the desktop app, or until main answered). */
export function useHostStatus(): [HostStatus | null, (s: HostStatus) => void] {
  const [status, setStatus] = useState<HostStatus | null>(null);
  useEffect(() => {
    if (!desktop) return;
    let live = true;
    void call('replica:getStatus').then(
      (s) => live && setStatus(s),
      () => {},
    );
    const off = desktop.on('replica:status', (s) => live && setStatus(s));
    return () => {
      live = false;
      off();
    };
  }, []);
  return [status, setStatus];
}

function megabytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.max(0, Math.round(bytes / 2 ** 20))} MB`;
}

/** Seconds until `status`'s scheduled restart, as of `now`; null when none is scheduled. */
function secondsLeft(status: HostStatus, now: number): number | null {
  return status.restartInMs === null ? null : Math.max(0, Math.ceil((status.at + status.restartInMs - now) / 1000));
}

/** One line on the hosted replica's process state. */
export function describeHost(s: HostStatus, now: number): string {
  switch (s.state) {
    case 'disabled':
      return 'Not hosting a replica.';
    case 'starting':
      return 'Starting…';
    case 'running':
      return `Running as ${s.replicaId ?? '?'} at ${s.address ?? '?'}${s.role ? ` · ${s.role}` : ''}${s.term !== null ? `, term ${s.term}` : ''}.`;
    case 'crashed': {
      const left = secondsLeft(s, now);
      return `Crashed${s.lastError ? `: ${s.lastError}` : ''}. Restarting${left !== null ? ` in ${left} s` : ''} (attempt ${s.restarts}).`;
    }
    case 'diskFull':
      return diskFullText(s);
    case 'folderInUse':
      return `Another Quorum is using the data folder ${s.config.dataDir}: this machine’s replica cannot start while it does. Quit the other Quorum (or choose another data folder below), then press “Start it now”.`;
    case 'damaged':
      return `The data folder ${s.config.dataDir} holds damaged data${s.lastError ? ` (${s.lastError})` : ''}: this machine’s replica stopped rather than serve it. Move the folder aside and join your team again with an invite code (or choose another data folder below).`;
    case 'outdated':
      return `This Quorum is older than its data folder ${s.config.dataDir} or its team${s.lastError ? ` (${s.lastError})` : ''}: this machine’s replica stopped. Update Quorum, then start it again.`;
    case 'stopping':
      return 'Stopping…';
    case 'stopped':
      return 'Stopped.';
  }
}

function diskFullText(s: HostStatus): string {
  return `The disk of ${s.config.dataDir} is full: this machine’s replica stopped so that nothing written is lost. Free some space on that disk, then press “Start it now”.`;
}

/**
 * What the connection bar says about this machine's replica when it needs saying (null otherwise): a crash with its
 * restart countdown, the replica's own stops (a full disk, its data folder used by another Quorum, damaged data, a Quorum too old: each
 * waits for the user, never restarting in a loop), or space running low (the replica's status.storage.lowSpace).
 */
export function hostTrouble(s: HostStatus | null, now: number): { text: string; tone: 'warn' | 'error' } | null {
  if (!s) return null;
  if (s.state === 'crashed') {
    const left = secondsLeft(s, now);
    return { text: `this machine’s replica crashed; restarting${left !== null ? ` in ${left} s` : ''}`, tone: 'warn' };
  }
  if (s.state === 'diskFull') return { text: `disk full: this machine’s replica stopped; free space on the disk of ${s.config.dataDir}, then start it again in Settings`, tone: 'error' };
  if (s.state === 'folderInUse') return { text: `another Quorum is using ${s.config.dataDir}: quit it, then start this machine’s replica again in Settings`, tone: 'error' };
  if (s.state === 'damaged') return { text: `this machine’s replica stopped: its data folder ${s.config.dataDir} holds damaged data (see Settings)`, tone: 'error' };
  if (s.state === 'outdated') return { text: 'this machine’s replica stopped: this Quorum is older than its data or its team; update Quorum', tone: 'error' };
  if (s.state === 'running' && s.disk?.lowSpace) return { text: `low disk space: ${megabytes(s.disk.freeBytes)} free for this machine’s replica`, tone: 'warn' };
  return null;
}

/** Why this machine is a learner, and when it will vote. */
function learnerText(members: number | null): string {
  // Autopilot keeps an odd number of voters: with two members, one (a second would need both machines up for every message).
  if (members === 2) return 'a learner: a team of two keeps one voter, since two voters would need both machines up for every message; this machine votes once a third machine joins';
  return 'a learner: the team’s autopilot makes it a voter once it has stayed caught up and the team wants another voter (it keeps an odd number)';
}

/** One line on what this machine is to its team. */
export function describeTeam(s: HostStatus): string {
  const t = s.team;
  switch (t.phase) {
    case 'solo':
      return t.exposure === 'loopback'
        ? 'This machine is a team of its own. Its replica listens on this machine only, until you invite someone or join a team.'
        : 'This machine is a team of its own, open to the local network (you invited someone).';
    case 'member':
      return `This machine is one of ${s.members ?? 'several'} members of its team${s.voter === null ? '' : s.voter ? ', and votes' : ` (${learnerText(s.members)})`}.`;
    case 'joining':
      return `Joining the team at ${(t.joiningVia ?? []).join(', ')}… The invite is kept until this machine has caught up, also across restarts.`;
  }
}

/**
 * The backup folder a plan names. Its name is dated when the change is made (the person may read for a while), so
 * the plan's is an example; Settings shows the actual folder afterwards.
 */
function backupFolder(plan: TeamChangePlan): string {
  return plan.backupDir ? `a backup folder dated when you confirm, like ${plan.backupDir}` : 'a backup folder';
}

/** What a join or a create will do to this machine's data, for the user to confirm once. */
export function describePlan(plan: TeamChangePlan): string[] {
  const lines: string[] = [];
  if (plan.kind === 'join' && plan.target) {
    const voters = plan.target.members.filter((m) => m.voter).length;
    lines.push(
      `The invite reached a team of ${plan.target.members.length} machine${plan.target.members.length === 1 ? '' : 's'} (${voters} voting${plan.target.leader ? `, led by ${plan.target.leader}` : ''}).`,
    );
  }
  switch (plan.current.kind) {
    case 'empty':
      lines.push('This machine holds no messages yet: nothing needs to be moved.');
      break;
    case 'solo':
      lines.push(`This machine’s own one-member team and its messages will be moved to ${backupFolder(plan)}. They are never mixed into the ${plan.kind === 'join' ? 'team you join' : 'new team'}; you can go back to them by choosing that folder in Settings.`);
      break;
    case 'member':
      lines.push(
        `This machine is a member of a team of ${plan.current.members}. Its copy of that team’s data will be moved to ${backupFolder(plan)}; ask a teammate to remove this machine from that team.`,
      );
      break;
  }
  lines.push(
    plan.kind === 'join'
      ? 'This machine then joins as a learner, receives the team’s history, and is logged out: log in with your account in that team.'
      : 'This machine then starts a new, empty team of its own, and is logged out: sign up in the new team.',
  );
  return lines;
}

/** Main's refusals are written for the user and say why ("the invite’s team could not be reached …"): show them as they are. */
export function hostError(err: unknown): string {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message ? message : readableError(err);
}

/**
 * The desktop's kept login. "Stay signed in" goes to main, which seals it with the OS keystore (safeStorage): never to
 * the page's localStorage, which Chromium writes to disk in clear. A login for this window only stays in `windowOnly`
 * (session storage). Main is asked once, before the store is made (the store reads the kept login synchronously).
 */
export async function desktopKeptLogin(windowOnly: KeptLoginStore): Promise<KeptLoginStore> {
  let kept: KeptLogin | null = null;
  try {
    kept = (await call('login:kept')).login;
  } catch {
    // main could not read it (the keystore changed): the person logs in again
  }
  const forgetInMain = () => void call('login:forget').catch(() => {});
  return {
    save: (login, staySignedIn) => {
      windowOnly.clear();
      if (staySignedIn) {
        kept = login;
        void call('login:keep', login).catch(() => {});
      } else {
        kept = null;
        forgetInMain();
        windowOnly.save(login, false);
      }
    },
    load: () => kept ?? windowOnly.load(),
    clear: () => {
      kept = null;
      windowOnly.clear();
      forgetInMain();
    },
  };
}
