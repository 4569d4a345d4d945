/**
 * The nemesis: a seeded schedule of faults, one at a time (each held for a while, then healed), drawn from a
 * shuffled bag so every enabled kind occurs in every round:
 * - kill: SIGKILL of the leader, of a random replica, or of two at once (5+ replicas); restarted after the hold.
 * - pause: SIGSTOP of the leader or a random replica; SIGCONT after the hold.
 * - partition (netns only): the leader isolated from its peers (iptables), a minority/majority split, a bridge node
 *   that alone sees both halves, or the leader's link taken down (clients lose it too).
 * - loss (netns only): random packet loss (iptables -m statistic) on every replica.
 * - restartAll: SIGKILL of every replica at once, then all restart.
 * - snapshotCrash: a follower is killed, the leader compacts its log past it, the follower restarts and is killed
 *   again in the middle of the snapshot transfer (when the partial file appears, when it starts installing, or when
 *   the leader says it sent everything), then restarts and must catch up.
 * - membership: a follower is removed from the configuration, wiped, and joins again (--join) to become a voter; or
 *   leadership is handed to a random follower.
 * - clockSkew: one replica is restarted with libfaketime preloaded (Debian faketime), its clock hours ahead or behind,
 *   as a follower or with leadership handed to it, then restarted on the real clock. The checker requires message
 *   times to stay sensible and nothing to apply twice.
 * - diskFull: the filesystem of one replica's data folder (a tmpfs of its own, mounted by the run) is filled, the
 *   leader's or a follower's; it must stop by itself with exit status 3 and the one DISK_FULL line (no stack trace),
 *   the others go on; after the hold the space is freed, it restarts and must catch up.
 * - rollingUpgrade (only when asked for: --faults ...,rollingUpgrade): the run starts every replica on the previous
 *   release's code (test/helpers/previous-release.ts); each time, one replica still on it (the leader when it is one)
 *   is stopped with SIGTERM (handing leadership over) and started on this checkout's code on the same data folder,
 *   and must catch up. Once none is left the fault is skipped. Healing finishes the upgrade (so the final reads run
 *   at cluster version 3); the run then checks the cluster version was raised.
 */
import { existsSync, mkdirSync, rmSync, statSync, watch, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminRequest } from '../../replica/net/admin-client.js';
import type { Rng } from '../helpers/random.js';
import type { Tmpfs } from '../helpers/tmpfs.js';
import { EXIT_STATUS } from '../../replica/node/exit-status.js';
import type { ReplicaStatus } from '../../replica/protocol/index.js';
import type { History } from './history.js';
import type { HostLayer } from './hosts.js';
import type { LeaderObserver } from './observer.js';
import { FAKETIME_LIBRARY, type ChaosReplica } from './replicas.js';
import type { FaultKind, FaultRecord } from './types.js';

/** The faults of a run that names none. */
export const ALL_FAULTS: FaultKind[] = ['kill', 'pause', 'partition', 'loss', 'restartAll', 'snapshotCrash', 'membership', 'clockSkew', 'diskFull'];
/** Faults a run makes only when --faults names them (rollingUpgrade changes how the run starts). */
export const OPT_IN_FAULTS: FaultKind[] = ['rollingUpgrade'];
const WEIGHT: Record<FaultKind, number> = { kill: 2, pause: 2, partition: 2, loss: 1, restartAll: 1, snapshotCrash: 1, membership: 1, clockSkew: 1, diskFull: 1, rollingUpgrade: 2 };
/** How far a skewed replica's clock is off (faketime offsets). */
const CLOCK_OFFSETS = ['+5h', '-5h', '+26h'];

export interface NemesisOptions {
  replicas: ChaosReplica[];
  hosts: HostLayer;
  observer: LeaderObserver;
  history: History;
  rng: Rng;
  kinds: FaultKind[];
  holdMs: [number, number];
  gapMs: [number, number];
  secretFile: string;
  /** Replica arguments for a wiped replica that joins again (membership fault). */
  joinArgs: (r: ChaosReplica) => string[];
  /** Each replica's data folder on a filesystem of its own, by replica id (null: no diskFull faults). */
  disks: ReadonlyMap<string, Tmpfs> | null;
  progress: (msg: string) => void;
}

export class Nemesis {
  readonly counts: Record<FaultKind, number> = { kill: 0, pause: 0, partition: 0, loss: 0, restartAll: 0, snapshotCrash: 0, membership: 0, clockSkew: 0, diskFull: 0, rollingUpgrade: 0 };
  /** Faults attempted but not injected (e.g. no leader to target, no snapshot was needed), by kind. */
  readonly skipped: Record<string, number> = {};
  private bag: FaultKind[] = [];
  private stopRequested = false;
  private readonly compactedUpTo = new Map<string, number>();

  constructor(private readonly o: NemesisOptions) {
    for (const r of o.replicas) {
      r.onLog((line, rep) => {
        if (line.msg === 'log compacted' && typeof line.upTo === 'number') this.compactedUpTo.set(rep.id, Math.max(this.compactedUpTo.get(rep.id) ?? 0, line.upTo));
      });
    }
  }

  stop(): void {
    this.stopRequested = true;
  }

  private get n(): number {
    return this.o.replicas.length;
  }

  private next(): FaultKind {
    if (this.bag.length === 0) {
      for (const k of this.o.kinds) for (let i = 0; i < WEIGHT[k]; i++) this.bag.push(k);
      for (let i = this.bag.length - 1; i > 0; i--) {
        const j = this.o.rng.int(i + 1);
        [this.bag[i], this.bag[j]] = [this.bag[j], this.bag[i]];
      }
    }
    return this.bag.pop()!;
  }

  /** Sleeps, but wakes early when the run is over (so a long hold does not delay the end). */
  private async hold(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopRequested && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
  }

  private holdTime(): number {
    return this.o.rng.range(this.o.holdMs[0], this.o.holdMs[1]);
  }

  async run(): Promise<void> {
    await this.hold(this.o.rng.range(this.o.gapMs[0], this.o.gapMs[1]));
    while (!this.stopRequested) {
      const kind = this.next();
      try {
        await this.inject(kind);
      } catch (err) {
        this.o.progress(`nemesis: ${kind} failed: ${(err as Error).message}`);
        this.o.history.event('nemesis-error', { kind, error: (err as Error).message });
        await this.healAll();
      }
      await this.waitLeader(30_000);
      await this.hold(this.o.rng.range(this.o.gapMs[0], this.o.gapMs[1]));
    }
  }

  private async waitLeader(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.o.observer.leader(500)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.o.history.event('no-leader-after-heal', { waitedMs: ms });
    this.o.progress(`nemesis: no leader ${ms / 1000} s after healing`);
    return false;
  }

  private leaderOrRandom(): { r: ChaosReplica; isLeader: boolean } {
    const l = this.o.observer.leader();
    if (l) return { r: l, isLeader: true };
    return { r: this.o.rng.pick(this.o.replicas.filter((x) => x.running)), isLeader: false };
  }

  private record(kind: FaultKind, variant: string, targets: ChaosReplica[], note?: string): FaultRecord {
    const f = this.o.history.fault({ kind, variant, targets: targets.map((t) => t.id), ...(note ? { note } : {}) });
    this.counts[kind]++;
    this.o.progress(`fault ${kind}/${variant} on ${f.targets.join(',') || '-'}${note ? ` (${note})` : ''}`);
    return f;
  }

  private skip(kind: FaultKind, why: string): void {
    this.skipped[kind] = (this.skipped[kind] ?? 0) + 1;
    this.o.history.event('fault-skipped', { kind, why });
    this.o.progress(`nemesis: ${kind} skipped: ${why}`);
  }

  private async inject(kind: FaultKind): Promise<void> {
    switch (kind) {
      case 'kill':
        return this.kill();
      case 'pause':
        return this.pause();
      case 'partition':
        return this.partition();
      case 'loss':
        return this.loss();
      case 'restartAll':
        return this.restartAll();
      case 'snapshotCrash':
        return this.snapshotCrash();
      case 'membership':
        return this.membership();
      case 'clockSkew':
        return this.clockSkew();
      case 'diskFull':
        return this.diskFull();
      case 'rollingUpgrade':
        return this.rollingUpgrade();
    }
  }

  private async restart(rs: ChaosReplica[]): Promise<void> {
    for (const r of rs) r.start();
    await Promise.all(rs.map((r) => r.waitHealthy(60_000)));
  }

  private async kill(): Promise<void> {
    const rng = this.o.rng;
    const variants = this.n >= 5 ? ['leader', 'random', 'two'] : ['leader', 'random'];
    const variant = rng.pick(variants);
    let targets: ChaosReplica[];
    if (variant === 'leader') targets = [this.leaderOrRandom().r];
    else if (variant === 'random') targets = [rng.pick(this.o.replicas)];
    else {
      const first = this.leaderOrRandom().r;
      targets = [first, rng.pick(this.o.replicas.filter((r) => r !== first))];
    }
    const f = this.record('kill', variant, targets);
    await Promise.all(targets.map((t) => t.kill()));
    await this.hold(this.holdTime());
    await this.restart(targets);
    this.o.history.healed(f);
  }

  private async pause(): Promise<void> {
    const variant = this.o.rng.pick(['leader', 'random']);
    const target = variant === 'leader' ? this.leaderOrRandom().r : this.o.rng.pick(this.o.replicas);
    const f = this.record('pause', variant, [target]);
    target.pause();
    await this.hold(this.holdTime());
    target.resume();
    this.o.history.healed(f);
  }

  private async partition(): Promise<void> {
    const rng = this.o.rng;
    const idx = this.o.replicas.map((_, i) => i);
    const variant = rng.pick(['isolate-leader', 'halves', 'bridge', 'link-down']);
    const leader = this.leaderOrRandom().r;
    const li = this.o.replicas.indexOf(leader);
    let blocked: [number, number][] = [];
    let targets: ChaosReplica[];
    let note: string;
    if (variant === 'isolate-leader') {
      blocked = idx.filter((i) => i !== li).map((i) => [li, i]);
      targets = [leader];
      note = `${leader.id} cut off from its peers`;
    } else if (variant === 'halves') {
      const order = shuffle(idx, rng);
      const minority = order.slice(0, Math.floor((this.n - 1) / 2) || 1);
      const majority = order.filter((i) => !minority.includes(i));
      for (const a of minority) for (const b of majority) blocked.push([a, b]);
      targets = minority.map((i) => this.o.replicas[i]);
      note = `{${minority.map((i) => this.o.replicas[i].id)}} | {${majority.map((i) => this.o.replicas[i].id)}}`;
    } else if (variant === 'bridge') {
      const order = shuffle(idx, rng);
      const bridge = order[0];
      const rest = order.slice(1);
      const left = rest.slice(0, Math.ceil(rest.length / 2));
      const right = rest.slice(left.length);
      for (const a of left) for (const b of right) blocked.push([a, b]);
      targets = [this.o.replicas[bridge]];
      note = `{${left.map((i) => this.o.replicas[i].id)}} - ${this.o.replicas[bridge].id} - {${right.map((i) => this.o.replicas[i].id)}}`;
    } else {
      targets = [leader];
      note = `${leader.id}'s link down`;
    }
    const f = this.record('partition', variant, targets, note);
    if (variant === 'link-down') this.o.hosts.setLink(li, false);
    else this.o.hosts.partition(blocked);
    await this.hold(this.holdTime());
    this.o.hosts.healNetwork();
    this.o.history.healed(f);
  }

  private async loss(): Promise<void> {
    const rng = this.o.rng;
    const p = rng.range(5, 30) / 100;
    const idx = rng.chance(0.5) ? this.o.replicas.map((_, i) => i) : [this.o.replicas.indexOf(this.leaderOrRandom().r)];
    const f = this.record('loss', idx.length > 1 ? 'all' : 'leader', idx.map((i) => this.o.replicas[i]), `${Math.round(p * 100)}% of packets dropped`);
    for (const i of idx) this.o.hosts.setLoss(i, p);
    await this.hold(this.holdTime());
    this.o.hosts.healNetwork();
    this.o.history.healed(f);
  }

  private async restartAll(): Promise<void> {
    const f = this.record('restartAll', 'sigkill-all', this.o.replicas);
    await Promise.all(this.o.replicas.map((r) => r.kill()));
    await this.hold(this.o.rng.range(200, 2000));
    await this.restart(this.o.replicas);
    this.o.history.healed(f);
  }

  /**
   * Kill a follower, let the leader compact its log past it, restart it and kill it again while the snapshot is
   * being transferred or installed; then restart it for good.
   */
  private async snapshotCrash(): Promise<void> {
    const leader = this.o.observer.leader();
    if (!leader) return this.skip('snapshotCrash', 'no leader');
    const follower = this.o.rng.pick(this.o.replicas.filter((r) => r !== leader && r.running));
    const behind = this.o.observer.latest.get(follower.id)?.appliedIndex ?? 0;
    const point = this.o.rng.pick(['part-file', 'installing', 'sent']);
    const f = this.record('snapshotCrash', point, [follower], `stopped at index ${behind}`);
    this.counts.snapshotCrash--; // counted once the crash really lands mid-transfer
    await follower.kill();
    // Wait for the leader (whoever it is by then) to compact past the follower's log.
    const until = Date.now() + 40_000;
    let compacted = false;
    while (!this.stopRequested && Date.now() < until) {
      const l = this.o.observer.leader();
      if (l && (this.compactedUpTo.get(l.id) ?? 0) > behind + 50) {
        compacted = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!compacted) {
      await this.restart([follower]);
      this.o.history.healed(f, 'the leader did not compact past the follower in time; restarted without a crash');
      this.skipped.snapshotCrash = (this.skipped.snapshotCrash ?? 0) + 1;
      return;
    }
    const incoming = join(follower.spec.dataDir, 'snapshots', 'incoming');
    mkdirSync(incoming, { recursive: true });
    let crashed: string | null = null;
    const crash = (why: string) => {
      if (crashed || !follower.running) return;
      crashed = why;
      follower.killNow();
    };
    const watcher = watch(incoming, (_ev, name) => {
      if (point !== 'part-file' || !name?.endsWith('.part')) return;
      let size = -1;
      try {
        size = statSync(join(incoming, name)).size;
      } catch {
        // renamed or removed already: reported as gone
      }
      crash(`partial snapshot file appeared (${size >= 0 ? `${size} bytes at the kill` : 'gone already'})`);
    });
    const offF = follower.onLog((line) => {
      if (point === 'installing' && line.msg === 'installing snapshot from leader') crash(`follower began installing snapshot ${line.index}`);
    });
    const offs = this.o.replicas.map((r) =>
      r.onLog((line) => {
        if (line.to !== follower.id) return;
        if (point === 'sent' && line.msg === 'snapshot sent') crash(`leader ${r.id} finished sending snapshot ${line.index}`);
        if (point === 'part-file' && line.msg === 'sending snapshot') setTimeout(() => crash(`leader ${r.id} began sending snapshot ${line.index} (kill 5 ms later)`), 5);
      }),
    );
    try {
      follower.start();
      const deadline = Date.now() + 30_000;
      while (!crashed && Date.now() < deadline && follower.running) await new Promise((r) => setTimeout(r, 50));
      if (!crashed && follower.running) {
        this.o.history.event('snapshot-not-sent', { replica: follower.id });
      }
    } finally {
      watcher.close();
      offF();
      for (const off of offs) off();
    }
    if (crashed) await follower.exited;
    if (crashed) {
      this.counts.snapshotCrash++;
      f.note = `${f.note}; crashed: ${crashed}`;
      this.o.progress(`snapshotCrash: ${follower.id} killed: ${crashed}`);
      const leftovers = readdirSync(incoming).filter((x) => x.endsWith('.part'));
      if (leftovers.length) f.note += `; leftover ${leftovers.join(',')}`;
    } else {
      this.skipped.snapshotCrash = (this.skipped.snapshotCrash ?? 0) + 1;
      f.note = `${f.note}; no snapshot transfer was seen (caught up from the log)`;
    }
    if (!follower.running) await this.restart([follower]);
    // It must catch up: same applied index as the leader within a while.
    const caughtUp = await this.caughtUp(follower, 30_000);
    this.o.history.healed(f, caughtUp ? 'caught up' : 'not caught up within 30 s');
  }

  private async caughtUp(r: ChaosReplica, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until && !this.stopRequested) {
      const l = this.o.observer.leader();
      const lh = l && this.o.observer.latest.get(l.id);
      const rh = this.o.observer.latest.get(r.id);
      if (lh && rh && rh.appliedIndex >= lh.appliedIndex - 5 && rh.t > lh.t - 500) return true;
      await new Promise((res) => setTimeout(res, 200));
    }
    return false;
  }

  /** Remove a follower, wipe it, let it join again as a new member; or hand leadership over. */
  private async membership(): Promise<void> {
    const leader = this.o.observer.leader();
    if (!leader) return this.skip('membership', 'no leader');
    const secret = Buffer.from(readFileSync(this.o.secretFile, 'utf8').trim(), 'utf8');
    const servers = this.o.replicas.map((r) => r.address);
    const followers = this.o.replicas.filter((r) => r !== leader && r.running);
    if (this.o.rng.chance(0.35)) {
      const to = this.o.rng.pick(followers);
      const f = this.record('membership', 'transfer', [to], `leadership ${leader.id} → ${to.id}`);
      try {
        await adminRequest(servers, secret, { op: 'transfer', to: to.id }, { timeoutMs: 15_000 });
        this.o.history.healed(f, 'transferred');
      } catch (err) {
        this.o.history.healed(f, `transfer refused: ${(err as Error).message}`);
      }
      return;
    }
    const victim = this.o.rng.pick(followers);
    const f = this.record('membership', 'remove-rejoin', [victim]);
    try {
      await adminRequest(servers.filter((a) => a !== victim.address), secret, { op: 'clusterChange', change: { op: 'remove', id: victim.id } }, { timeoutMs: 20_000 });
    } catch (err) {
      this.o.history.healed(f, `remove refused: ${(err as Error).message}`);
      return;
    }
    await victim.kill();
    await this.hold(this.o.rng.range(200, 1500));
    // Emptied, not removed: the folder may be the mount point of its own filesystem (diskFull).
    for (const name of readdirSync(victim.spec.dataDir)) rmSync(join(victim.spec.dataDir, name), { recursive: true, force: true });
    victim.spec.args = this.o.joinArgs(victim);
    victim.start();
    const until = Date.now() + 90_000;
    let voter = false;
    while (Date.now() < until) {
      // Over TLS with the cluster's CA, as every client from another machine must (a plain status request was refused
      // when TLS is on, so this wait used to run its full 90 s).
      const st = await adminRequest<ReplicaStatus>([victim.address], secret, { op: 'status' }, { timeoutMs: 2_000 }).catch(() => null);
      if (st?.voter && st.role !== 'learner' && st.role !== 'removed') {
        voter = true;
        break;
      }
      if (!victim.running) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    this.o.history.healed(f, voter ? 'rejoined as a voter' : 'did not become a voter again within 90 s');
    if (!voter) this.o.history.event('rejoin-failed', { replica: victim.id });
  }

  /**
   * Restarts a replica under faketime with its clock hours off (ahead or behind), as a follower or, handed
   * leadership, as the leader; after the hold, restarts it on the real clock.
   */
  private async clockSkew(): Promise<void> {
    if (!existsSync(FAKETIME_LIBRARY)) return this.skip('clockSkew', `no ${FAKETIME_LIBRARY} (Debian package libfaketime)`);
    const rng = this.o.rng;
    const offset = rng.pick(CLOCK_OFFSETS);
    const variant = rng.pick(['follower', 'leader']);
    const leader = this.o.observer.leader();
    const candidates = this.o.replicas.filter((r) => r !== leader && r.running);
    if (candidates.length === 0) return this.skip('clockSkew', 'no running follower');
    const target = rng.pick(candidates);
    const f = this.record('clockSkew', `${offset}/${variant}`, [target], `${target.id} runs with its clock ${offset}`);
    await target.kill();
    target.clockOffset = offset;
    await this.restart([target]);
    let outcome = `${target.id} followed with its clock ${offset}`;
    if (variant === 'leader') {
      outcome = (await this.caughtUp(target, 20_000)) ? await this.handLeadership(target) : `${target.id} did not catch up: not made leader`;
    }
    this.o.progress(`clockSkew: ${outcome}`);
    await this.hold(this.holdTime());
    await target.kill();
    target.clockOffset = null;
    await this.restart([target]);
    this.o.history.healed(f, outcome);
  }

  /**
   * Fills the filesystem of the leader's or a follower's data folder; the replica must stop by itself (exit status 3,
   * the one DISK_FULL line, no stack trace) while the others go on. After the hold the space is freed and it restarts.
   */
  private async diskFull(): Promise<void> {
    if (!this.o.disks) return this.skip('diskFull', 'the data folders are not on filesystems of their own');
    const variant = this.o.rng.pick(['leader', 'follower']);
    const leader = this.o.observer.leader();
    const followers = this.o.replicas.filter((r) => r !== leader && r.running);
    const target = variant === 'leader' ? leader : followers.length > 0 ? this.o.rng.pick(followers) : null;
    if (!target) return this.skip('diskFull', `no ${variant}`);
    const disk = this.o.disks.get(target.id)!;
    const f = this.record('diskFull', variant, [target], `${target.id}'s filesystem filled`);
    target.allowExit(EXIT_STATUS.DISK_FULL);
    disk.fill(0);
    // The workers keep writing, so every replica writes soon (a follower appends what the leader sends).
    const until = Date.now() + 30_000;
    while (target.running && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    let outcome: string;
    if (target.running) {
      target.allowExit(null);
      outcome = `${target.id} did not stop within 30 s`;
      this.o.history.event('disk-full-not-stopped', { replica: target.id });
    } else {
      outcome = `${target.id} stopped: ${target.lastOutputLine}`;
      const problem = target.diskFullStopProblem();
      if (problem) target.crashes.push(problem);
    }
    this.o.progress(`diskFull: ${outcome}`);
    await this.hold(this.holdTime());
    disk.empty();
    if (!target.running) await this.restart([target]);
    const caughtUp = await this.caughtUp(target, 30_000);
    this.o.history.healed(f, `${outcome}; ${caughtUp ? 'caught up' : 'not caught up within 30 s'} after space was freed`);
  }

  /**
   * Upgrades one replica still on the previous release (the leader when it is one, so leadership is handed over
   * between releases): SIGTERM, then this checkout's code on the same data folder; it must catch up.
   */
  private async rollingUpgrade(): Promise<void> {
    const old = this.o.replicas.filter((r) => r.spec.codeRoot !== undefined);
    if (old.length === 0) return this.skip('rollingUpgrade', 'every replica runs this code already');
    const leader = this.o.observer.leader();
    const target = leader && old.includes(leader) ? leader : this.o.rng.pick(old);
    const f = this.record('rollingUpgrade', target === leader ? 'leader' : 'follower', [target], `${target.id} to this code; ${old.length - 1} left on the previous release`);
    await target.stop();
    target.spec.codeRoot = undefined;
    await this.restart([target]);
    const caughtUp = await this.caughtUp(target, 30_000);
    this.o.history.healed(f, caughtUp ? 'upgraded and caught up' : 'upgraded; not caught up within 30 s');
  }

  /** Asks the cluster to hand leadership to `to`; says how it went. */
  private async handLeadership(to: ChaosReplica): Promise<string> {
    const secret = Buffer.from(readFileSync(this.o.secretFile, 'utf8').trim(), 'utf8');
    try {
      await adminRequest(this.o.replicas.map((r) => r.address), secret, { op: 'transfer', to: to.id }, { timeoutMs: 15_000 });
      return `${to.id} led with its clock ${to.clockOffset}`;
    } catch (err) {
      return `transfer to ${to.id} refused: ${(err as Error).message}`;
    }
  }

  /** Ends every fault: network healed, paused processes continued, skewed clocks set right, dead ones restarted. */
  async healAll(): Promise<void> {
    this.o.hosts.healNetwork();
    for (const disk of this.o.disks?.values() ?? []) disk.empty();
    for (const r of this.o.replicas) r.resume();
    for (const r of this.o.replicas.filter((x) => x.clockOffset !== null)) {
      await r.kill();
      r.clockOffset = null;
    }
    const dead = this.o.replicas.filter((r) => !r.running);
    for (const r of dead) r.start();
    await Promise.all(this.o.replicas.map((r) => r.waitHealthy(90_000)));
    // A rolling upgrade is finished: the replicas still on the previous release, one at a time.
    for (const r of this.o.replicas.filter((x) => x.spec.codeRoot !== undefined)) {
      const f = this.record('rollingUpgrade', 'at-heal', [r], `${r.id} to this code at the end of the run`);
      await r.stop();
      r.spec.codeRoot = undefined;
      await this.restart([r]);
      this.o.history.healed(f, (await this.caughtUp(r, 30_000)) ? 'upgraded and caught up' : 'upgraded; not caught up within 30 s');
    }
    for (const f of this.o.history.faults) if (f.end === null) this.o.history.healed(f, 'healed at the end of the run');
  }
}


function shuffle<T>(xs: T[], rng: Rng): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
