/**
 * Deterministic simulation of a Quorum cluster's consensus layer, running the code that ships: every replica is the
 * production Driver over the production core (replica.ts), with in-memory stores that keep only what the real ones
 * keep through a crash. Around them: a seeded network that drops, delays, reorders and duplicates messages,
 * partitions that come and go, crashes at any effect of a driver (before a write, a send, an apply; the process dies
 * and, now and then, the machine loses power), disk-full errors that stop a replica, restarts, client proposals and
 * linearizable reads through the driver, log compaction and snapshots as the driver does them, membership changes,
 * leadership transfers, and the transport's "connection to the leader is gone" reports (leaderUnreachable: after a
 * crash, like the closed sockets of a killed process, and now and then falsely, for a leader that is alive). Drivers
 * run their scheduled turns at random moments, so messages, ticks and proposals pile up between turns.
 *
 * Checked after every step (checker.ts): Election Safety per incarnation, Log Matching, Leader Completeness, State
 * Machine Safety, committed entries never change, linearizable reads, every acknowledged write applied at its index;
 * and at every send, that no message carries a term its sender has not saved (pre-votes aside). A replica that stops
 * for any reason other than an injected fault fails the run. After the faults, the cluster must converge.
 *
 * Everything derives from one seed: the same seed replays the same schedule.
 */
import { confChangeProblem } from '../../replica/raft/conf.js';
import { RaftError } from '../../replica/raft/errors.js';
import type { ConfChange, ConfState, Message, NodeId, SaveBatch } from '../../replica/raft/types.js';
import { Rng } from '../helpers/random.js';
import { Checker, SafetyViolation } from './checker.js';
import { SimReplica, type Effect, type Fault, type SimHost } from './replica.js';
import type { SimApplication } from './state-machine.js';

export interface SimOptions {
  seed: number;
  /** Initial replicas (3 or 5): all voters, or (some seeds) one voter and learners. */
  nodes: number;
  /** Events in the fault phase. */
  steps: number;
  /** Prints every event. */
  verbose?: boolean;
  log?: (line: string) => void;
  /** The state machine's application (default: the hash chain alone). */
  application?: () => SimApplication;
}

export interface SimStats {
  events: number;
  ticks: number;
  healTicks: number;
  leaders: number;
  commits: number;
  applies: number;
  acked: number;
  reads: number;
  snapshotsLoaded: number;
  snapshotsSent: number;
  crashes: number;
  /** Crashes struck inside a driver's turn, just before one of its effects. */
  effectCrashes: number;
  /** Of those, between installing a snapshot's state and resetting the log. */
  installCrashes: number;
  powerLosses: number;
  diskFull: number;
  confChanges: number;
  transfers: number;
  messages: number;
  /** leaderUnreachable reports delivered (after crashes, and false ones about live leaders). */
  lostReports: number;
}

export class SimFailure extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    readonly reason: string,
    readonly trace: string[],
  ) {
    super(`seed ${seed} failed at step ${step}: ${reason}`);
    this.name = 'SimFailure';
  }
}

interface Envelope {
  m: Message;
  at: number;
  fromInc: number;
  /** A snapshot stream: its contents, and the sender's promise to settle. */
  snap?: { data: string; settle: (ok: boolean) => void };
}

interface Profile {
  dropRate: number;
  dupRate: number;
  maxDelay: number;
  crashRate: number;
  /** Per effect of a driver, the chance that the process dies just before it. */
  effectCrashRate: number;
  /** Share of crashes that are power losses (the state database's unsynced groups may go too). */
  powerLossShare: number;
  /** Per write of a driver, the chance that it fails (disk full): the replica stops. */
  diskFullRate: number;
  checkpointFailRate: number;
  partitionRate: number;
  preVote: boolean;
  checkQuorum: boolean;
  electionTick: number;
  heartbeatTick: number;
  maxInflight: number;
  maxMsgBytes: number;
  maxInflightBytes: number;
  proposeRate: number;
  confRate: number;
  transferRate: number;
  /** Per step, the chance that a replica's pending event-loop turn runs (slow disks and state machines: low). */
  driveRate: number;
  maxApplyBytes: number;
  drift: boolean;
  /** One voter and learners (the desktop topology) instead of all voters. */
  singleVoter: boolean;
  compactEvery: number;
  keepEntries: number;
  proposalTimeoutTicks: number;
}

interface Watch {
  checkedCommit: number;
  leaderTerm: number;
  /** The leader term in which checkedCommit was last observed (-1 when not leader). */
  commitTerm: number;
}

const TICK_MS = 25;
const BOOT_HASH = 0xb007;

export class World implements SimHost {
  readonly rng: Rng;
  readonly checker = new Checker();
  readonly nodes = new Map<NodeId, SimReplica>();
  private readonly watches = new Map<SimReplica, Watch>();
  /** Replica ids used so far (n1..nN). */
  private nodeIds: number;
  private readonly profile: Profile;
  private readonly bootAt1: boolean;
  private ready: Envelope[] = [];
  private delayed: Envelope[] = [];
  private group = new Map<NodeId, number>();
  /** Links that lose everything in one direction ("a>b"). */
  private oneWay = new Set<string>();
  /** Per node, the chance that a global tick does not reach it (clock drift). */
  private drift = new Map<NodeId, number>();
  private unreachable: { from: NodeId; inc: number; to: NodeId }[] = [];
  /**
   * "The connection to `peer` closed and could not be re-established", for the core of `from` (leaderUnreachable);
   * `gone`: its connection to `from` closed too.
   */
  private lost: { from: NodeId; inc: number; peer: NodeId; gone: boolean }[] = [];
  private ticks = 0;
  private step = 0;
  private incarnations = 0;
  private proposalSeq = 0;
  private readSeq = 0;
  private trace: string[] = [];
  private phase: 'faults' | 'heal' = 'faults';
  /** The first violation found where it cannot be thrown (inside a driver's turn or a promise callback). */
  private violation: SafetyViolation | null = null;
  /** Promise callbacks (acknowledgements, reads, snapshot streams) may be waiting for the microtask queue. */
  private microtasksDue = false;
  readonly stats: SimStats = {
    events: 0,
    ticks: 0,
    healTicks: 0,
    leaders: 0,
    commits: 0,
    applies: 0,
    acked: 0,
    reads: 0,
    snapshotsLoaded: 0,
    snapshotsSent: 0,
    crashes: 0,
    effectCrashes: 0,
    installCrashes: 0,
    powerLosses: 0,
    diskFull: 0,
    confChanges: 0,
    transfers: 0,
    messages: 0,
    lostReports: 0,
  };

  constructor(readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    const r = this.rng;
    this.profile = {
      dropRate: r.pick([0, 0.01, 0.05, 0.1, 0.2]),
      dupRate: r.pick([0, 0, 0.02, 0.05]),
      maxDelay: r.pick([0, 1, 2, 3]),
      crashRate: r.pick([0, 0.003, 0.01, 0.02, 0.04, 0.08]),
      effectCrashRate: r.pick([0, 0.002, 0.01]),
      powerLossShare: r.pick([0, 0.3, 1]),
      diskFullRate: r.pick([0, 0, 0.002]),
      checkpointFailRate: r.pick([0, 0.2]),
      partitionRate: r.pick([0, 0.005, 0.01, 0.02]),
      preVote: r.chance(0.85),
      checkQuorum: r.chance(0.85),
      electionTick: r.range(4, 10),
      heartbeatTick: 1,
      maxInflight: r.pick([1, 2, 4, 256]),
      maxMsgBytes: r.pick([1, 16, 64, 1 << 20]),
      proposeRate: r.pick([0.2, 0.3, 0.32]),
      confRate: r.pick([0, 0.02, 0.04, 0.07]),
      transferRate: r.pick([0, 0.005, 0.02]),
      driveRate: r.pick([0.6, 0.6, 0.2, 0.05]),
      maxApplyBytes: r.pick([1, 1 << 20]),
      drift: r.chance(0.3),
      singleVoter: r.chance(0.15),
      compactEvery: r.pick([4, 10, 40]),
      keepEntries: r.pick([0, 2, 8]),
      proposalTimeoutTicks: r.pick([30, 200]),
      maxInflightBytes: r.pick([0, 1, 48, 8 << 20]),
    };
    const ids = Array.from({ length: opts.nodes }, (_, k) => `n${k + 1}`);
    this.nodeIds = opts.nodes;
    // Bootstrap: the configuration as the initial state (index 0), or, as the replica does, as a snapshot at index 1.
    this.bootAt1 = r.chance(0.5);
    if (this.bootAt1) this.checker.bootstrap(1, 1, BOOT_HASH);
    const conf: ConfState = this.profile.singleVoter ? { voters: [ids[0]], learners: ids.slice(1) } : { voters: ids, learners: [] };
    for (const id of ids) this.startNew(id, conf);
  }

  // ---------------------------------------------------------------- running

  async run(): Promise<SimStats> {
    try {
      this.note(`profile ${JSON.stringify(this.profile)} bootstrap at ${this.bootAt1 ? 1 : 0}`);
      for (this.step = 0; this.step < this.opts.steps; this.step++) {
        this.event();
        this.autoDrive();
        await this.settle();
        this.check();
      }
      await this.heal();
    } catch (e) {
      const reason = e instanceof SafetyViolation ? e.message : `${(e as Error).stack ?? e}`;
      throw new SimFailure(this.opts.seed, this.step, reason, this.trace.slice(-80));
    }
    Object.assign(this.stats, {
      leaders: this.checker.stats.leaders,
      commits: this.checker.stats.commits,
      applies: this.checker.stats.applies,
      acked: this.checker.stats.acked,
      reads: this.checker.stats.reads,
      snapshotsLoaded: this.checker.stats.snapshotsLoaded,
    });
    return this.stats;
  }

  note(line: string): void {
    const s = `[${this.step} t${this.ticks}] ${line}`;
    this.trace.push(s);
    if (this.trace.length > 400) this.trace = this.trace.slice(-200);
    if (this.opts.verbose) (this.opts.log ?? console.log)(s);
  }

  private fail(message: string): void {
    this.violation ??= new SafetyViolation(message);
  }

  /** Runs a checker callback where a throw would be swallowed (a driver's turn, a promise callback). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof SafetyViolation) this.fail(e.message);
      else this.fail(`${(e as Error).stack ?? e}`);
    }
  }

  private live(): SimReplica[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  private leader(): SimReplica | null {
    let best: SimReplica | null = null;
    for (const n of this.nodes.values()) {
      if (!n.raft || n.removed) continue;
      if (n.raft.currentRole === 'leader' && (!best || n.raft.currentTerm > best.raft!.currentTerm)) best = n;
    }
    return best;
  }

  private event(): void {
    this.stats.events++;
    this.flushReports();
    const r = this.rng;
    if (this.ready.length && r.chance(0.75)) {
      this.deliverOne();
      return;
    }
    const p = this.profile;
    const x = r.next();
    if (x < p.crashRate) this.crashRandom();
    else if (x < p.crashRate * 2.5) this.restartRandom();
    else if (x < p.crashRate * 2.5 + p.partitionRate) this.partition();
    else if (x < p.crashRate * 2.5 + p.partitionRate * 2) this.healPartition();
    else {
      const y = r.next();
      if (y < 0.52) this.tick();
      else if (y < 0.52 + p.proposeRate) this.propose();
      else if (y < 0.88) this.read();
      else if (y < 0.93) this.driveOne();
      else if (y < 0.93 + p.confRate) this.confChange();
      else if (y < 0.93 + p.confRate + p.transferRate) this.transfer();
      else if (y < 0.94 + p.confRate + p.transferRate) this.forceCampaign();
      else if (y < 0.95 + p.confRate + p.transferRate) this.falseLost();
    }
  }

  // ---------------------------------------------------------------- SimHost

  now(): number {
    return this.ticks * TICK_MS;
  }

  newIncarnation(): number {
    return ++this.incarnations;
  }

  transmit(from: SimReplica, _to: NodeId, msgs: Message[]): void {
    const saved = from.store.savedTerm();
    for (const m of msgs) {
      // Pre-votes ask for (and grant) a term nobody has entered yet; every other message's term must be on disk.
      if (m.type !== 'preVote' && m.type !== 'preVoteResp' && m.term > saved) {
        this.fail(`${from.id} sends ${fmt(m)} at term ${m.term}, but its saved term is ${saved}`);
      }
      if (m.type === 'app' && m.entries?.length) this.guard(() => this.checker.entriesSeen(`${from.id} -> ${m.to} app`, m.entries!, m.logTerm ?? null));
      // A replica acting as leader (appends, heartbeats) counts for Election Safety even if it dies before its term
      // reaches its disk.
      if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') this.guard(() => this.checker.leader(m.term, from.id, from.incarnation));
      this.send(from, m);
    }
  }

  transmitSnapshot(from: SimReplica, _to: NodeId, data: string, msg: Message): Promise<void> {
    this.stats.snapshotsSent++;
    if (this.opts.verbose) this.note(`send snapshot ${from.id}->${msg.to} at ${msg.snapshot?.index}`);
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        this.microtasksDue = true;
        if (ok) resolve();
        else reject(new Error('snapshot stream lost'));
      };
      this.send(from, msg, { data, settle });
    });
  }

  fault(node: SimReplica, effect: Effect): Fault {
    if (this.phase !== 'faults') return 'none';
    const p = this.profile;
    const x = this.rng.next();
    // The state is installed, the log not yet reset: the crash start-up must repair (open-core.ts). Rare in life,
    // struck often here.
    if (effect === 'install' && p.effectCrashRate > 0 && x < 0.2) {
      this.note(`CRASH ${node.id} between installing a snapshot and resetting its log`);
      this.stats.installCrashes++;
      return 'crash';
    }
    if (x < p.effectCrashRate) {
      this.note(`CRASH ${node.id} just before ${effect}`);
      this.stats.effectCrashes++;
      return 'crash';
    }
    if (effect !== 'send' && x < p.effectCrashRate + p.diskFullRate) {
      this.note(`DISK FULL ${node.id} at ${effect}`);
      this.stats.diskFull++;
      return 'diskFull';
    }
    return 'none';
  }

  saving(node: SimReplica, batch: SaveBatch, prevTerm: number | null): void {
    if (batch.snapshot) this.note(`${node.id} installs snapshot ${batch.snapshot.index} (term ${batch.snapshot.term})`);
    if (this.opts.verbose) {
      const e = batch.entries;
      this.note(`${node.id} saves${e.length ? ` [${e[0].index}..${e[e.length - 1].index}]@${e[e.length - 1].term}` : ''}${batch.hardState ? ` ${JSON.stringify(batch.hardState)}` : ''}`);
    }
    if (batch.entries.length) this.checker.entriesSeen(`${node.id} save`, batch.entries, prevTerm);
  }

  syncDelayMs(): number {
    return this.rng.int(3) * TICK_MS;
  }

  checkpointIncomplete(): boolean {
    return this.phase === 'faults' && this.rng.chance(this.profile.checkpointFailRate);
  }

  unexpectedStop(node: SimReplica, err: Error): void {
    const cause = err.cause;
    if (cause instanceof SafetyViolation) this.fail(cause.message);
    else this.fail(`${node.id} stopped: ${err.message}${cause instanceof Error && cause.stack ? `\n${cause.stack}` : ''}`);
  }

  pickSurvivingGroups(unsynced: number): number {
    return this.rng.int(unsynced + 1);
  }

  // ---------------------------------------------------------------- node lifecycle

  /** A replica with a new, empty data folder (or the bootstrap configuration). */
  private startNew(id: NodeId, conf: ConfState | null): SimReplica {
    const p = this.profile;
    const n = new SimReplica(this, {
      id,
      conf,
      bootstrapAtOne: this.bootAt1,
      bootHash: BOOT_HASH,
      raft: {
        preVote: p.preVote,
        checkQuorum: p.checkQuorum,
        electionTick: p.electionTick,
        heartbeatTick: p.heartbeatTick,
        maxInflight: p.maxInflight,
        maxMsgBytes: p.maxMsgBytes,
        maxInflightBytes: p.maxInflightBytes,
        maxApplyBytes: p.maxApplyBytes,
      },
      random: this.rng.fork().fn(),
      compactEvery: p.compactEvery,
      keepEntries: p.keepEntries,
      proposalTimeoutMs: p.proposalTimeoutTicks * TICK_MS,
      observer: {
        applied: (node, prevHash, e) => this.checker.apply(node, prevHash, e),
        snapshotLoaded: (node, index, hash) => this.checker.snapshotLoaded(node, index, hash),
      },
      application: this.opts.application?.() ?? null,
    });
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimReplica): void {
    if (!n.start()) return;
    const raft = n.raft!;
    if (this.opts.verbose) this.note(`${n.id} starts: ${JSON.stringify(n.store.initialState().hardState)} log ${raft.raftLog.firstIndex()}..${raft.raftLog.lastIndex()} applied ${n.sm.state.index}`);
    this.watches.set(n, { checkedCommit: raft.raftLog.committed, leaderTerm: -1, commitTerm: -1 });
    this.checker.wholeLog(`${n.id} restart`, n.store);
  }

  private crash(n: SimReplica, why: string): void {
    const powerLoss = this.phase === 'faults' && this.rng.chance(this.profile.powerLossShare);
    this.note(`CRASH ${n.id} (${why})${powerLoss ? ' with power loss' : ''}`);
    this.stats.crashes++;
    if (powerLoss) this.stats.powerLosses++;
    n.crash(powerLoss);
    // The dead process's sockets close: most peers' transports see it and report it (leaderUnreachable), a little later.
    for (const other of this.live()) {
      if (this.rng.chance(0.8)) this.lost.push({ from: other.id, inc: other.incarnation, peer: n.id, gone: this.rng.chance(0.8) });
    }
  }

  /** A transport reports a live node's leader as gone (its connection flapped): must not disrupt that leader. */
  private falseLost(): void {
    const live = this.live().filter((x) => !x.removed && x.raft!.status().lead !== null && x.raft!.status().role === 'follower');
    if (!live.length) return;
    const n = this.rng.pick(live);
    // Mostly one direction flapping; sometimes both (a blip): the core then believes it at once.
    const gone = this.rng.chance(0.25);
    this.note(`LOST ${n.id} reports its live leader ${n.raft!.status().lead} unreachable${gone ? ' (gone both ways)' : ''}`);
    this.lost.push({ from: n.id, inc: n.incarnation, peer: n.raft!.status().lead!, gone });
  }

  private crashRandom(): void {
    const live = this.live();
    if (!live.length) return;
    // Keep at least one node up most of the time.
    if (live.length === 1 && this.rng.chance(0.8)) return;
    // Leaders are the interesting victims (entries left on a minority, Figure 8).
    const l = this.leader();
    this.crash(l && this.rng.chance(0.5) ? l : this.rng.pick(live), 'event');
  }

  private restartRandom(): void {
    const dead = [...this.nodes.values()].filter((n) => !n.alive);
    if (!dead.length) return;
    const n = this.rng.pick(dead);
    this.note(`RESTART ${n.id}`);
    this.start(n);
  }

  // ---------------------------------------------------------------- network

  private send(from: SimReplica, m: Message, snap?: Envelope['snap']): void {
    this.stats.messages++;
    const p = this.profile;
    const copies = !snap && this.phase === 'faults' && this.rng.chance(p.dupRate) ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      if (this.phase === 'faults' && this.rng.chance(p.dropRate)) {
        snap?.settle(false);
        continue;
      }
      const delay = this.rng.int((this.phase === 'faults' ? p.maxDelay : 1) + 1);
      const env: Envelope = { m, at: this.ticks + delay, fromInc: from.incarnation, snap };
      if (delay === 0) this.ready.push(env);
      else this.delayed.push(env);
    }
  }

  private connected(a: NodeId, b: NodeId): boolean {
    if (this.oneWay.has(`${a}>${b}`)) return false;
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  private deliverOne(): void {
    const k = this.rng.int(this.ready.length);
    const env = this.ready[k];
    this.ready[k] = this.ready[this.ready.length - 1];
    this.ready.pop();
    if (!env.snap && this.phase === 'faults' && this.rng.chance(this.profile.dupRate)) this.ready.push(env);
    this.deliver(env);
  }

  private deliver(env: Envelope): void {
    const m = env.m;
    const to = this.nodes.get(m.to);
    const ok = !!to && to.alive && this.connected(m.from, m.to);
    if (!ok) {
      env.snap?.settle(false);
      // Like a driver whose connection to the peer is down.
      if (m.type === 'app' && this.rng.chance(0.3)) this.unreachable.push({ from: m.from, inc: env.fromInc, to: m.to });
      return;
    }
    if (this.opts.verbose) this.note(`deliver ${fmt(m)}`);
    if (env.snap) {
      to!.deliverSnapshot(env.snap.data, m);
      env.snap.settle(true);
    } else to!.deliver([m]);
  }

  private flushReports(): void {
    const lost = this.lost;
    this.lost = [];
    for (const l of lost) {
      const n = this.nodes.get(l.from);
      if (n?.raft && n.incarnation === l.inc && !n.removed) {
        this.stats.lostReports++;
        if (this.opts.verbose) this.note(`leaderUnreachable ${l.from}: ${l.peer}${l.gone ? ' (gone)' : ''}`);
        n.raft.leaderUnreachable(l.peer, l.gone);
      }
    }
    const us = this.unreachable;
    this.unreachable = [];
    for (const u of us) {
      const n = this.nodes.get(u.from);
      if (n?.driver && n.incarnation === u.inc) n.driver.reportUnreachable(u.to);
    }
  }

  private tick(): void {
    this.ticks++;
    this.stats.ticks++;
    if (this.delayed.length) {
      const still: Envelope[] = [];
      for (const e of this.delayed) (e.at <= this.ticks ? this.ready : still).push(e);
      this.delayed = still;
    }
    for (const n of this.nodes.values()) {
      if (!n.driver) continue;
      if (this.phase === 'faults' && this.rng.chance(this.driftOf(n.id))) continue;
      n.driver.tick();
      if (n.fireTimers(this.now())) this.microtasksDue = true;
    }
    if (this.ready.length > 5000) {
      // Congestion: the oldest messages are lost; a lost snapshot stream fails, as a transport reports it.
      for (const e of this.ready.slice(0, this.ready.length - 2500)) e.snap?.settle(false);
      this.ready = this.ready.slice(-2500);
    }
  }

  private driftOf(id: NodeId): number {
    let d = this.drift.get(id);
    if (d === undefined) this.drift.set(id, (d = this.profile.drift ? this.rng.pick([0, 0.1, 0.3]) : 0));
    return d;
  }

  private partition(): void {
    const ids = [...this.nodes.keys()];
    this.group = new Map();
    this.oneWay = new Set();
    if (this.rng.chance(0.2)) {
      // One-way failure: a node that can send but not hear (or hear but not send).
      const l = this.leader();
      const x = l && this.rng.chance(0.5) ? l.id : this.rng.pick(ids);
      const deaf = this.rng.chance(0.5);
      for (const y of ids) if (y !== x) this.oneWay.add(deaf ? `${y}>${x}` : `${x}>${y}`);
      this.note(`PARTITION ${x} ${deaf ? 'hears nothing' : 'is not heard'}`);
      return;
    }
    if (this.rng.chance(0.6)) {
      const l = this.leader();
      const lone = l && this.rng.chance(0.6) ? l.id : this.rng.pick(ids);
      this.group.set(lone, 1);
      this.note(`PARTITION isolate ${lone}`);
    } else {
      for (const id of ids) this.group.set(id, this.rng.int(2));
      this.note(`PARTITION ${ids.map((id) => `${id}:${this.group.get(id)}`).join(' ')}`);
    }
  }

  private healPartition(): void {
    if (this.group.size || this.oneWay.size) this.note('HEAL partition');
    this.group = new Map();
    this.oneWay = new Set();
  }

  // ---------------------------------------------------------------- clients & operators

  private propose(): void {
    // A removed replica serves no clients.
    const live = this.live().filter((n) => !n.removed);
    if (!live.length) return;
    const l = this.leader();
    const n = l && this.rng.chance(0.85) ? l : this.rng.pick(live);
    const data = `p${++this.proposalSeq}`;
    if (this.opts.verbose) this.note(`propose ${data} at ${n.id}`);
    this.proposeAt(n, data);
  }

  /** A client write through the driver; its acknowledgement is what the checker holds the cluster to. */
  private proposeAt(n: SimReplica, data: string, onApplied?: (index: number) => void, onFailed?: () => void): void {
    n.driver!.propose(data).then(
      (o) =>
        this.guard(() => {
          if (o.data !== data) throw new SafetyViolation(`${n.id} acknowledged ${data} with entry ${o.index} holding ${JSON.stringify(o.data)}`);
          this.checker.ack(o.index, data);
          onApplied?.(o.index);
        }),
      () => onFailed?.(),
    );
  }

  private read(): void {
    const leaders = this.live().filter((x) => x.raft!.currentRole === 'leader' && !x.removed);
    if (!leaders.length) return;
    // Reads at a deposed leader (one that still thinks it leads while a newer term exists) are where a shortcut in
    // ReadIndex would return stale data: ask there often.
    leaders.sort((a, b) => a.raft!.currentTerm - b.raft!.currentTerm);
    const n = leaders.length > 1 && this.rng.chance(0.7) ? leaders[0] : this.rng.pick(leaders);
    const ctx = `r${++this.readSeq}`;
    this.checker.readRequested(n.id, ctx);
    if (this.opts.verbose) this.note(`read ${ctx} at ${n.id}`);
    n.driver!.readBarrier().then(
      (applied) => this.guard(() => this.checker.readAnswered(n.id, ctx, applied)),
      () => {},
    );
  }

  private confChange(): void {
    const l = this.leader();
    if (!l) return;
    const conf = l.raft!.status().conf;
    const choices: ConfChange[] = [];
    if (conf.voters.length + conf.learners.length < 7) {
      // A new machine gets a new id: a removed replica's id is never reused (as etcd never reuses a member id: a
      // stale voter could otherwise count the vote of the new machine's empty log as the old member's).
      const id = `n${this.nodeIds + 1}`;
      choices.push({ op: 'addLearner', id, address: `addr-${id}` });
      if (conf.voters.length < 5) choices.push({ op: 'addVoter', id, address: `addr-${id}` });
    }
    for (const id of conf.learners) {
      choices.push({ op: 'promote', id });
      choices.push({ op: 'remove', id });
    }
    // Shrinking below three voters is allowed but rarer (down to a single voter).
    if (conf.voters.length > 2 || (conf.voters.length === 2 && this.rng.chance(0.3))) {
      for (const id of conf.voters) {
        choices.push({ op: 'demote', id });
        choices.push({ op: 'remove', id });
      }
    }
    if (!choices.length) return;
    const cc = this.rng.pick(choices);
    if (confChangeProblem(conf, cc)) return;
    const before = l.raft!.raftLog.lastIndex();
    l.driver!.proposeConfChange(cc).then(
      () => {},
      () => {},
    );
    if (l.raft!.raftLog.lastIndex() === before) return; // refused (a change pending, a transfer, no quorum)
    this.stats.confChanges++;
    this.note(`CONF ${l.id} proposes ${JSON.stringify(cc)}`);
    if (cc.op === 'addLearner' || cc.op === 'addVoter') {
      this.nodeIds++;
      this.startNew(cc.id, null);
    }
  }

  private transfer(): void {
    const l = this.leader();
    if (!l) return;
    const voters = l.raft!.status().conf.voters.filter((v) => v !== l.id);
    if (!voters.length) return;
    const to = this.rng.pick(voters);
    this.note(`TRANSFER ${l.id} -> ${to}`);
    this.stats.transfers++;
    try {
      l.driver!.transferLeadership(to);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  }

  /** An operator (or the single-replica bootstrap) starts an election on some replica. */
  private forceCampaign(): void {
    const live = this.live();
    if (!live.length) return;
    const n = this.rng.pick(live);
    this.note(`CAMPAIGN ${n.id}`);
    n.driver!.campaign();
  }

  // ---------------------------------------------------------------- the drivers' event loops

  /** Each live replica's pending turn runs at random moments. */
  private autoDrive(): void {
    for (const n of this.nodes.values()) {
      if (n.alive && n.pendingWork && this.rng.chance(this.profile.driveRate)) this.runTurn(n);
    }
  }

  private driveOne(): void {
    const busy = this.live().filter((n) => n.pendingWork);
    if (busy.length) this.runTurn(this.rng.pick(busy));
  }

  private runTurn(n: SimReplica): void {
    this.microtasksDue = true;
    if (n.runImmediates()) this.crash(n, 'inside its turn');
  }

  /** Lets promise callbacks (acknowledgements, reads, snapshot streams) run. */
  private async settle(): Promise<void> {
    if (!this.microtasksDue) return;
    this.microtasksDue = false;
    for (let k = 0; k < 6; k++) await null;
  }

  private async driveAll(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      let busy = false;
      for (const n of this.nodes.values()) {
        if (n.alive && n.pendingWork) {
          this.runTurn(n);
          busy = true;
        }
      }
      await this.settle();
      if (!busy) return;
    }
  }

  // ---------------------------------------------------------------- invariants

  private check(): void {
    if (this.violation) throw this.violation;
    for (const n of this.nodes.values()) this.observe(n);
    if (this.step % 97 === 0) for (const n of this.live()) this.checker.wholeLog(n.id, n.store);
  }

  /** Per-node invariants: election safety, leader completeness, the commit rule, committed entries never change. */
  private observe(n: SimReplica): void {
    const raft = n.raft;
    const w = this.watches.get(n);
    if (!raft || !w) return;
    const role = raft.currentRole;
    const commit = raft.raftLog.committed;
    if (role !== 'leader' && commit <= w.checkedCommit) {
      w.commitTerm = -1;
      return;
    }
    const st = raft.status();
    if (st.role === 'leader') {
      // A leader outside the voters exists only while it hands leadership over (it applied its own removal).
      if (!st.conf.voters.includes(n.id) && st.leadTransferee === null) {
        throw new SafetyViolation(`${n.id} leads term ${st.term} but is not a voter of its configuration, and is not handing over`);
      }
      // A leader whose term is not on disk yet has not acted (it sends nothing before that): a crash now lets its next
      // incarnation win the same term, harmlessly. It counts once its term is durable or it sends (transmit).
      if (n.store.savedTerm() === st.term) this.checker.leader(st.term, n.id, n.incarnation);
      if (w.leaderTerm !== st.term) {
        this.note(`${n.id} is leader of term ${st.term}`);
        w.leaderTerm = st.term;
        this.checker.newLeader(n.id, st.term, raft.raftLog);
      }
    }
    if (st.commit > w.checkedCommit) {
      // Commit rule (§5.4.2): a leader advances its commit index only onto an entry of its own term.
      if (st.role === 'leader' && w.leaderTerm === st.term && w.commitTerm === st.term && raft.raftLog.termOrNull(st.commit) !== st.term) {
        throw new SafetyViolation(`commit rule: leader ${n.id} of term ${st.term} advanced its commit to ${st.commit}, an entry of term ${raft.raftLog.termOrNull(st.commit)}`);
      }
      this.checker.commit(n.id, raft.raftLog, w.checkedCommit, st.commit, st.term);
      w.checkedCommit = st.commit;
    }
    w.commitTerm = st.role === 'leader' ? st.term : -1;
  }

  // ---------------------------------------------------------------- heal and liveness

  /**
   * Ends the faults: reliable network, no partitions, every member up. Within a bounded number of ticks a leader must
   * exist, a new proposal must commit, and every live member must have applied everything any leader acknowledged.
   */
  private async heal(): Promise<void> {
    this.phase = 'heal';
    this.step = this.opts.steps;
    this.note('HEAL: faults stop');
    this.group = new Map();
    this.oneWay = new Set();
    for (const n of this.nodes.values()) if (!n.alive) this.start(n);
    // Bounds: a leader within a few election rounds (pre-vote rounds, leases running out, conf entries to apply),
    // and full convergence (catch-up by snapshot included) not long after.
    const leaderBudget = 20 * this.profile.electionTick + 50;
    const budget = 40 * this.profile.electionTick + 200;
    let marker: { data: string; node: NodeId; index: number | null; failed: boolean } | null = null;
    let leaderSeenAt = -1;
    for (let t = 0; t < budget; t++) {
      this.stats.healTicks++;
      this.tick();
      this.flushReports();
      await this.driveAll();
      this.check();
      for (let guard = 0; this.ready.length && guard < 20_000; guard++) {
        this.deliverOne();
        await this.driveAll();
        this.flushReports();
        this.check();
      }
      this.step++;

      const l = this.leader();
      if (!l) {
        if (leaderSeenAt < 0 && t > leaderBudget) throw new SafetyViolation(`liveness: no leader within ${leaderBudget} ticks after healing\n  ${this.describe()}`);
        continue;
      }
      if (leaderSeenAt < 0) leaderSeenAt = t;
      const conf = l.raft!.status().conf;
      const members = new Set([...conf.voters, ...conf.learners]);
      // Replicas removed from the configuration are shut down by their operators; members are all up.
      for (const n of this.nodes.values()) {
        if (!members.has(n.id) && n.alive && n !== l) this.crash(n, 'not a member');
        else if (members.has(n.id) && !n.alive) this.start(n);
      }
      if (!marker || marker.failed || (marker.index === null && marker.node !== l.id)) {
        const m = { data: `marker-${t}`, node: l.id, index: null as number | null, failed: false };
        marker = m;
        this.proposeAt(l, m.data, (index) => (m.index = index), () => (m.failed = true));
        continue;
      }
      if (marker.index === null) continue;
      const lagging = [...members].filter((id) => (this.nodes.get(id)?.sm.state.index ?? 0) < marker!.index!);
      if (lagging.length) continue;
      // Converged: every acknowledged write is applied everywhere, at the index it was acknowledged with.
      for (const a of this.checker.acked) {
        const at = this.checker.appliedAt(a.index);
        if (!at || at.data !== a.data) throw new SafetyViolation(`acknowledged write ${a.data} at ${a.index} was lost (index holds ${at?.data})`);
      }
      for (const n of this.live()) this.checker.wholeLog(n.id, n.store);
      this.note(`converged after ${t} heal ticks (leader ${l.id} after ${leaderSeenAt})`);
      return;
    }
    throw new SafetyViolation(`liveness: no convergence within ${budget} ticks after healing (marker ${JSON.stringify(marker)})\n  ${this.describe()}`);
  }

  private describe(): string {
    return [...this.nodes.values()]
      .map((n) => {
        if (!n.raft) return `${n.id}:down`;
        const s = n.raft.status();
        let line = `${n.id}${n.removed ? '(removed)' : ''}:${s.role}/t${s.term}/vote=${s.vote}/lead=${s.lead}/commit=${s.commit}/applied=${n.sm.state.index}/first=${s.firstIndex}/last=${s.lastIndex}/voters=${s.conf.voters.join(',')}/learners=${s.conf.learners.join(',')}`;
        if (s.progress) line += ` progress=${JSON.stringify(s.progress)}`;
        return line;
      })
      .join('\n  ');
  }
}

export function fmt(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term}`;
  if (m.index !== undefined) s += ` i${m.index}`;
  if (m.logTerm !== undefined) s += ` lt${m.logTerm}`;
  if (m.entries?.length) s += ` [${m.entries[0].index}..${m.entries[m.entries.length - 1].index}]`;
  if (m.commit !== undefined) s += ` c${m.commit}`;
  if (m.reject) s += ` REJECT hint${m.rejectHint ?? ''}`;
  if (m.context) s += ` ctx=${m.context}`;
  if (m.snapshot) s += ` snap@${m.snapshot.index}`;
  return s;
}

export function runSeed(opts: SimOptions): Promise<SimStats> {
  return new World(opts).run();
}
