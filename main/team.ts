/**
 * What this machine is to its team, and the changes a user makes from the app: joining a team by invite code,
 * creating a new team, inviting someone. Joining or creating from a used install moves this machine's data folder
 * aside to a dated backup folder (a solo cluster's messages are never mixed into another cluster), only after the
 * invite was checked by reaching its cluster; a join that then fails puts the old folder back. The invite is kept
 * (settings, its secret sealed with the OS keystore) until the replica is a member and caught up, so a restart of the
 * app mid-join resumes the join.
 *
 * Also decides the replica's start options: its cluster secret (kept sealed in the data folder, never written plain
 * when a keystore exists), loopback or LAN (a solo install listens on 127.0.0.1 until it invites or joins).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { HostConfig, ReplicaStartOptions, TeamChangePlan, TeamStatus } from './ipc-contract.js';
import type { ReplicaEvent, ReplicaHost } from './replica-host.js';
import { SealedSchema, type Sealed, type SecretKeeper } from './secret-keeper.js';
import type { PendingJoin, SettingsStore } from './settings.js';
import { decodeInvite, type Invite } from '../replica/node/invite.js';
import type { ReplicaStatus } from '../replica/protocol/client.js';
import { drop } from './drop.js';

/** The sealed cluster secret in a data folder (a backup folder keeps its own, so it can be restored). */
export const SEALED_SECRET_FILE = 'cluster-secret.json';
/**
 * A join whose replica fails to start this many times in a row (its start options cannot be made, e.g. the kept
 * invite's secret no longer opens, or the replica refuses the join at start) has failed: the earlier data is put
 * back and the user told why, instead of restarting the replica forever.
 */
export const JOIN_START_ATTEMPTS = 3;

/** The plain secret file earlier versions of the app wrote; sealed and removed at the first start. */
const LEGACY_SECRET_FILE = 'cluster.secret';

export interface TeamLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface TeamDeps {
  host: ReplicaHost;
  settings: SettingsStore;
  secrets: SecretKeeper;
  /** Reaches the invite's cluster with its secret (TLS pinned by it) and returns the leader's status. */
  reachCluster(servers: string[], secret: Buffer): Promise<ReplicaStatus>;
  /** This machine's LAN address (main/lan-address.ts), advertised to teammates once the replica listens on the LAN. */
  lanAddress(): string | null;
  /** Puts text on the system clipboard (the invite code never goes to the page). */
  writeClipboard(text: string): void;
  now(): number;
  log: TeamLogger;
  /** Folder of the built web client the replica serves. */
  webRoot?: string;
  /** How long `copyInvite` waits for the replica to come back on the LAN. */
  restartTimeoutMs?: number;
}

/** A refusal with a code the renderer shows (IpcResult error). */
function refused(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** "2026-12-04-104233": a sortable, file-name-safe local date and time. */
function stamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A new cluster's secret: 32 random bytes as hex text (so a secret file made from it is readable too). */
function newClusterSecret(): Buffer {
  return Buffer.from(randomBytes(32).toString('hex'), 'utf8');
}

/** True when the folder holds a replica's data (a log). */
export function holdsReplicaData(dataDir: string): boolean {
  return existsSync(join(dataDir, 'raft.db'));
}

export class Team {
  private readonly listeners = new Set<() => void>();
  /** Serializes join, create and invite: one change at a time. */
  private busy: Promise<unknown> = Promise.resolve();
  /** A failed join is being undone (the crash that triggered it is reported more than once). */
  private undoingJoin = false;

  constructor(private readonly deps: TeamDeps) {
    deps.host.onEvent((e) => this.onReplicaEvent(e));
    deps.host.onStatus((s) => {
      const pending = this.settings().team.pendingJoin;
      if (pending && s.state === 'crashed' && s.restarts >= JOIN_START_ATTEMPTS && !this.undoingJoin) {
        this.undoingJoin = true;
        const reason = `this machine’s replica could not start with the invite (${s.restarts} attempts): ${s.lastError ?? 'no reason given'}`;
        drop(this.serialize(() => this.restoreAfterFailedJoin(pending, reason)).finally(() => (this.undoingJoin = false)));
        return;
      }
      // A member of a team must be reachable by its peers: an install that joined under an older version (or whose
      // settings were lost) and still listens on loopback is opened to the LAN.
      if (s.state === 'running' && s.members !== null && s.members > 1 && this.settings().team.exposure === 'loopback') {
        this.deps.log.info({ members: s.members }, 'this replica is a member of a team: listening on the LAN');
        this.deps.settings.setTeam({ exposure: 'lan' });
        drop(this.deps.host.restartWith(() => undefined));
      }
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): TeamStatus {
    const team = this.settings().team;
    const host = this.deps.host.status();
    return {
      phase: team.pendingJoin ? 'joining' : host.members !== null && host.members > 1 ? 'member' : 'solo',
      exposure: team.exposure,
      joiningVia: team.pendingJoin?.servers ?? null,
      backupDir: team.backupDir,
      joinError: team.joinError,
    };
  }

  /**
   * The replica's options for its next start. Makes the data folder ready first: a first start gets a new secret, a
   * folder of an earlier version has its plain secret sealed, and an interrupted join is completed up to the start.
   */
  startOptions(config: HostConfig): ReplicaStartOptions {
    const { team } = this.settings();
    if (team.pendingJoin) this.prepareJoinFolder(config.dataDir, team.pendingJoin);
    const secret = this.folderSecret(config.dataDir);
    const lan = team.exposure === 'lan' ? this.deps.lanAddress() : null;
    return {
      dataDir: config.dataDir,
      port: config.port,
      host: team.exposure === 'lan' ? '0.0.0.0' : '127.0.0.1',
      ...(lan && config.port !== 0 ? { advertise: `${lan}:${config.port}` } : {}),
      bootstrap: team.pendingJoin === null,
      ...(team.pendingJoin ? { join: team.pendingJoin.servers } : {}),
      secret: secret.toString('base64'),
      autopilot: config.autopilot,
      announce: team.exposure === 'lan',
      ...(this.deps.webRoot ? { webRoot: this.deps.webRoot } : {}),
    };
  }

  /** Checks an invite by reaching its cluster, and says what joining would do. Changes nothing. */
  async planJoin(inviteCode: string): Promise<TeamChangePlan> {
    const { status } = await this.checkInvite(inviteCode);
    return {
      kind: 'join',
      ...this.currentData(),
      target: { leader: status.leader?.id ?? null, members: status.members.map((m) => ({ id: m.id, address: m.address, voter: m.voter })) },
    };
  }

  planCreate(): TeamChangePlan {
    return { kind: 'create', ...this.currentData(), target: null };
  }

  /**
   * Joins the invite's team: checks the invite by reaching the cluster (a bad or unreachable invite changes nothing),
   * keeps it, moves this machine's data aside, and restarts the replica joining. Resolves once the join has started;
   * its end comes as the replica's 'joined' (the invite is forgotten) or 'joinFailed' (the old folder is restored).
   */
  join(inviteCode: string): Promise<void> {
    return this.serialize(async () => {
      const { invite } = await this.checkInvite(inviteCode);
      const before = this.settings();
      const backupDir = holdsReplicaData(before.replica.dataDir) ? this.backupPath(before.replica.dataDir) : null;
      const pending: PendingJoin = {
        servers: invite.servers,
        secret: this.deps.secrets.seal(invite.secret.toString('base64')),
        backupDir,
        exposureBefore: before.team.exposure,
        startedAt: this.deps.now(),
      };
      this.deps.log.info({ via: invite.servers, backupDir }, 'joining a team: moving this machine’s data aside');
      await this.deps.host.restartWith(() => {
        // Kept before anything moves: from here on every start (after a crash too) finishes the move and joins.
        this.deps.settings.update((s) => ({
          ...s,
          replica: { ...s.replica, enabled: true },
          team: { ...s.team, pendingJoin: pending, exposure: 'lan', backupDir, joinError: null },
          // A login belongs to the team it was made in.
          login: null,
        }));
        try {
          this.prepareJoinFolder(before.replica.dataDir, pending);
        } catch (err) {
          this.deps.settings.update((s) => ({ ...s, team: before.team, login: before.login }));
          throw refused('UNAVAILABLE', `could not move this machine’s data aside: ${(err as Error).message}. Nothing was changed.`);
        }
        return this.settings().replica;
      });
      this.changed();
    });
  }

  /** Starts a new one-member team on this machine; its current data (if any) is moved to a dated backup folder. */
  create(): Promise<void> {
    return this.serialize(async () => {
      await this.deps.host.restartWith(() => {
        const config = this.settings().replica;
        const backupDir = holdsReplicaData(config.dataDir) ? this.backupPath(config.dataDir) : null;
        const pending = this.settings().team.pendingJoin;
        if (pending) {
          // Creating instead of finishing a join: the half-joined folder holds another team's data; drop it.
          rmSync(config.dataDir, { recursive: true, force: true });
        } else if (backupDir) {
          renameSync(config.dataDir, backupDir);
        } else {
          rmSync(config.dataDir, { recursive: true, force: true });
        }
        this.writeFolderSecret(config.dataDir, newClusterSecret());
        this.deps.log.info({ backupDir }, 'created a new team on this machine');
        this.deps.settings.update((s) => ({
          ...s,
          replica: { ...s.replica, enabled: true },
          team: { exposure: 'loopback', pendingJoin: null, backupDir: backupDir ?? (pending ? pending.backupDir : s.team.backupDir), joinError: null },
          login: null,
        }));
        return this.settings().replica;
      });
      this.changed();
    });
  }

  /**
   * Makes an invite code and puts it on the clipboard. A solo install listening on loopback is first restarted on
   * the LAN (nobody could reach it otherwise). Returns the addresses the invite names.
   */
  copyInvite(): Promise<{ servers: string[] }> {
    return this.serialize(async () => {
      if (this.settings().team.pendingJoin) throw refused('CONFLICT', 'this machine is still joining its team; invite others once it has joined');
      if (this.settings().team.exposure === 'loopback') {
        this.deps.log.info({}, 'inviting: opening this machine’s replica to the LAN');
        this.deps.settings.setTeam({ exposure: 'lan' });
        this.changed();
        await this.deps.host.restartWith(() => undefined);
        await this.whenRunning();
      }
      const code = await this.deps.host.inviteCode();
      this.deps.writeClipboard(code);
      return { servers: decodeInvite(code).servers };
    });
  }

  // ---- internals ----

  private settings() {
    return this.deps.settings.get();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private serialize<T>(run: () => Promise<T>): Promise<T> {
    const next = this.busy.then(run, run);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async whenRunning(): Promise<void> {
    const host = this.deps.host;
    if (host.isRunning()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(refused('UNAVAILABLE', `this machine’s replica did not start on the LAN: ${host.status().lastError ?? 'no answer'}`));
      }, this.deps.restartTimeoutMs ?? 30_000);
      const off = host.onStatus((s) => {
        if (s.state !== 'running') return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  private async checkInvite(inviteCode: string): Promise<{ invite: Invite; status: ReplicaStatus }> {
    let invite: Invite;
    try {
      invite = decodeInvite(inviteCode);
    } catch (err) {
      throw refused('INVALID', (err as Error).message);
    }
    if (this.settings().team.pendingJoin) throw refused('CONFLICT', 'this machine is already joining a team; wait until it has joined (or create a new team to cancel)');
    const own = this.ownSecret();
    if (own !== null && own.equals(invite.secret)) throw refused('CONFLICT', 'this machine is already a member of that team');
    let status: ReplicaStatus;
    try {
      status = await this.deps.reachCluster(invite.servers, invite.secret);
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      const code = typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code) ? e.code : 'UNAVAILABLE';
      throw refused(code, `the invite’s team could not be reached (${invite.servers.join(', ')}): ${String(e.message ?? err)}. Nothing was changed.`);
    }
    return { invite, status };
  }

  private currentData(): Pick<TeamChangePlan, 'current' | 'backupDir'> {
    const config = this.settings().replica;
    if (!holdsReplicaData(config.dataDir)) return { current: { kind: 'empty' }, backupDir: null };
    const members = this.deps.host.status().members;
    return {
      current: members !== null && members > 1 ? { kind: 'member', members } : { kind: 'solo' },
      backupDir: this.backupPath(config.dataDir),
    };
  }

  /** `<dataDir>-backup-<date>` beside the data folder (the same disk: the move is a rename). */
  private backupPath(dataDir: string): string {
    const base = join(dirname(dataDir), `${basename(dataDir)}-backup-${stamp(this.deps.now())}`);
    let path = base;
    for (let n = 2; existsSync(path); n++) path = `${base}-${n}`;
    return path;
  }

  /** Completes what a join needs before the replica starts: the old data moved aside, the invite's secret in place. */
  private prepareJoinFolder(dataDir: string, pending: PendingJoin): void {
    if (pending.backupDir && !existsSync(pending.backupDir) && existsSync(dataDir)) {
      mkdirSync(dirname(pending.backupDir), { recursive: true });
      renameSync(dataDir, pending.backupDir);
    }
    if (!existsSync(join(dataDir, SEALED_SECRET_FILE))) {
      this.writeFolderSecret(dataDir, Buffer.from(this.deps.secrets.open(pending.secret), 'base64'));
    }
  }

  private onReplicaEvent(e: ReplicaEvent): void {
    const pending = this.settings().team.pendingJoin;
    if (!pending) return;
    switch (e.type) {
      case 'joined':
        this.deps.log.info({ via: pending.servers }, 'joined the team: the invite is no longer kept');
        this.deps.settings.setTeam({ pendingJoin: null, joinError: null });
        this.changed();
        break;
      case 'joinFailed':
        drop(this.serialize(() => this.restoreAfterFailedJoin(pending, e.message)));
        break;
    }
  }

  /** The join failed for good: the half-joined folder goes, the old folder comes back, and the user is told why. */
  private async restoreAfterFailedJoin(pending: PendingJoin, reason: string): Promise<void> {
    this.deps.log.warn({ reason, backupDir: pending.backupDir }, 'joining the team failed; restoring this machine’s earlier data');
    await this.deps.host.restartWith(() => {
      const dataDir = this.settings().replica.dataDir;
      rmSync(dataDir, { recursive: true, force: true });
      if (pending.backupDir && existsSync(pending.backupDir)) renameSync(pending.backupDir, dataDir);
      this.deps.settings.update((s) => ({
        ...s,
        team: {
          exposure: pending.backupDir ? pending.exposureBefore : 'loopback',
          pendingJoin: null,
          backupDir: null,
          joinError: `joining the team failed: ${reason}. This machine’s earlier data was put back.`,
        },
      }));
    });
    this.changed();
  }

  /** The data folder's cluster secret; made (first start) or taken from an earlier version's plain file. */
  private folderSecret(dataDir: string): Buffer {
    const sealedFile = join(dataDir, SEALED_SECRET_FILE);
    if (existsSync(sealedFile)) {
      const sealed = this.readSealed(sealedFile);
      const secret = Buffer.from(this.deps.secrets.open(sealed), 'base64');
      if (this.deps.secrets.shouldReseal(sealed)) this.writeFolderSecret(dataDir, secret);
      return secret;
    }
    const legacy = join(dataDir, LEGACY_SECRET_FILE);
    if (existsSync(legacy)) {
      const line = readFileSync(legacy, 'utf8').split('\n')[0].trim();
      if (line) {
        const secret = Buffer.from(line, 'utf8');
        this.writeFolderSecret(dataDir, secret);
        rmSync(legacy, { force: true });
        this.deps.log.info({ dataDir }, 'the cluster secret of an earlier version is now kept with the OS keystore');
        return secret;
      }
    }
    const made = newClusterSecret();
    this.writeFolderSecret(dataDir, made);
    return made;
  }

  /** This machine's current cluster secret, or null when its folder has none yet. */
  private ownSecret(): Buffer | null {
    const file = join(this.settings().replica.dataDir, SEALED_SECRET_FILE);
    if (!existsSync(file)) return null;
    try {
      return Buffer.from(this.deps.secrets.open(this.readSealed(file)), 'base64');
    } catch {
      // unreadable: the comparison only saves the user a pointless join
      return null;
    }
  }

  private readSealed(file: string): Sealed {
    const parsed = SealedSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw refused('UNAVAILABLE', `${file} is damaged; move the data folder aside and join the team again with an invite code`);
    return parsed.data;
  }

  private writeFolderSecret(dataDir: string, secret: Buffer): void {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, SEALED_SECRET_FILE);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.deps.secrets.seal(secret.toString('base64'))), { mode: 0o600 });
    renameSync(tmp, file);
  }
}
