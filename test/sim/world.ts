/**
 * Deterministic simulation of a Quorum cluster's consensus layer: N Raft cores, each with a durable MemoryStorage
 * and a durable toy state machine (a hash chain of applied entries), a seeded network that drops, delays, reorders
 * and duplicates messages, partitions that come and go, crashes (losing everything not persisted, including a Ready
 * that was handed out but not finished) and restarts, client proposals, ReadIndex reads, compaction and snapshots,
 * membership changes and leadership transfers, and the transport's "connection to the leader is gone" reports
 * (leaderUnreachable: after a crash, like the closed sockets of a killed process, and now and then falsely, for a
 * leader that is alive). The driver of each node is asynchronous: messages and ticks reach a
 * core while one of its Readys is still being persisted.
 *
 * Everything derives from one seed: the same seed replays the same schedule.
 */
import { Raft } from '../../replica/raft/raft.js';
import { MemoryStorage } from '../../replica/raft/memory-storage.js';
import { decodeConfChange, copyConf, confChangeProblem } from '../../replica/raft/conf.js';
import { RaftError } from '../../replica/raft/errors.js';
import type { ConfChange, ConfState, Message, NodeId, Ready } from '../../replica/raft/types.js';
import { Rng } from './prng.js';
import { Checker, SafetyViolation } from './checker.js';

export interface SimOptions {
  seed: number;
  /** Initial voters (3 or 5). */
  nodes: number;
  /** Events in the fault phase. */
  steps: number;
  /** Extra replica ids that membership changes may add. */
  spares?: number;
  /** Prints every event. */
  verbose?: boolean;
  log?: (line: string) => void;
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

interface StateMachine {
  applied: number;
  hash: number;
  conf: ConfState;
  /** Configuration history (index → configuration from that index on), for snapshots at older indices. */
  confHistory: { index: number; conf: ConfState }[];
}

interface SnapData {
  index: number;
  hash: number;
  conf: ConfState;
}

interface Envelope {
  m: Message;
  at: number;
  snap?: string;
  fromInc: number;
}

interface Profile {
  dropRate: number;
  dupRate: number;
  maxDelay: number;
  crashRate: number;
  readyCrashRate: number;
  partitionRate: number;
  preVote: boolean;
  checkQuorum: boolean;
  electionTick: number;
  heartbeatTick: number;
  maxInflight: number;
  maxMsgBytes: number;
  proposeRate: number;
  confRate: number;
  transferRate: number;
  /** Per step, the chance that a node's driver finishes its outstanding Ready (slow disks and state machines). */
  finishRate: number;
  maxApplyBytes: number;
  drift: boolean;
}

class SimNode {
  raft: Raft | null = null;
  incarnation = 0;
  inflight: Ready | null = null;
  snapStash = new Map<number, string>();
  proposals = new Map<number, { data: string; term: number }>();
  checkedCommit = 0;
  leaderTerm = -1;
  /** The leader term in which checkedCommit was last observed (-1 when not leader). */
  commitTerm = -1;
  sm: StateMachine;
  readonly storage: MemoryStorage;

  constructor(
    readonly id: NodeId,
    conf: ConfState,
  ) {
    this.storage = new MemoryStorage(conf);
    this.sm = { applied: 0, hash: 0, conf: copyConf(conf), confHistory: [{ index: 0, conf: copyConf(conf) }] };
  }

  get alive(): boolean {
    return this.raft !== null;
  }

  confAt(index: number): ConfState {
    let c = this.sm.confHistory[0].conf;
    for (const h of this.sm.confHistory) if (h.index <= index) c = h.conf;
    return c;
  }
}

const EMPTY: ConfState = { voters: [], learners: [] };
const BOOT_HASH = 0xb007;

export class World {
  readonly rng: Rng;
  readonly checker = new Checker();
  readonly nodes = new Map<NodeId, SimNode>();
  private readonly pool: NodeId[];
  private readonly profile: Profile;
  private ready: Envelope[] = [];
  private delayed: Envelope[] = [];
  private group = new Map<NodeId, number>();
  /** Links that lose everything in one direction ("a>b"). */
  private oneWay = new Set<string>();
  /** Per node, the chance that a global tick does not reach it (clock drift). */
  private drift = new Map<NodeId, number>();
  private reports: { from: NodeId; inc: number; to: NodeId; ok: boolean }[] = [];
  private unreachable: { from: NodeId; inc: number; to: NodeId }[] = [];
  /** "The connection to `peer` closed and could not be re-established", for the core of `from` (leaderUnreachable). */
  private lost: { from: NodeId; inc: number; peer: NodeId }[] = [];
  private now = 0;
  private step = 0;
  private proposalSeq = 0;
  private readSeq = 0;
  private trace: string[] = [];
  private phase: 'faults' | 'heal' = 'faults';
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
      readyCrashRate: r.pick([0, 0.002, 0.01]),
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
      finishRate: r.pick([0.6, 0.6, 0.2, 0.05]),
      maxApplyBytes: r.pick([1, 1 << 20]),
      drift: r.chance(0.3),
    };
    const voters = Array.from({ length: opts.nodes }, (_, k) => `n${k + 1}`);
    const spares = Array.from({ length: opts.spares ?? 2 }, (_, k) => `n${opts.nodes + k + 1}`);
    this.pool = [...voters, ...spares];
    // Bootstrap: the configuration as the initial state (index 0), or, as the replica does, as a snapshot at index 1.
    const bootAt1 = r.chance(0.5);
    if (bootAt1) this.checker.bootstrap(1, 1, BOOT_HASH);
    for (const id of voters) {
      const conf = { voters, learners: [] };
      const n = new SimNode(id, conf);
      if (bootAt1) {
        const data: SnapData = { index: 1, hash: BOOT_HASH, conf };
        n.storage.applySnapshot({ index: 1, term: 1, conf }, JSON.stringify(data));
        n.storage.setHardState({ term: 1, vote: null, commit: 1 });
        n.sm = { applied: 1, hash: BOOT_HASH, conf: copyConf(conf), confHistory: [{ index: 1, conf: copyConf(conf) }] };
      }
      this.nodes.set(id, n);
      this.start(n);
    }
  }

  // ---------------------------------------------------------------- running

  run(): SimStats {
    try {
      this.note(`profile ${JSON.stringify(this.profile)}`);
      for (this.step = 0; this.step < this.opts.steps; this.step++) {
        this.event();
        this.autoDrive();
        this.check();
      }
      this.heal();
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

  private note(line: string): void {
    const s = `[${this.step} t${this.now}] ${line}`;
    this.trace.push(s);
    if (this.trace.length > 400) this.trace = this.trace.slice(-200);
    if (this.opts.verbose) (this.opts.log ?? console.log)(s);
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (!n.raft) continue;
      const st = n.raft.status();
      if (st.role === 'leader' && (!best || st.term > best.raft!.status().term)) best = n;
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
      else if (y < 0.93) this.compact();
      else if (y < 0.93 + p.confRate) this.confChange();
      else if (y < 0.93 + p.confRate + p.transferRate) this.transfer();
      else if (y < 0.94 + p.confRate + p.transferRate) this.forceCampaign();
      else if (y < 0.95 + p.confRate + p.transferRate) this.falseLost();
    }
  }

  // ---------------------------------------------------------------- node lifecycle

  private start(n: SimNode): void {
    n.incarnation++;
    n.raft = new Raft({
      id: n.id,
      storage: n.storage,
      applied: n.sm.applied,
      random: this.rng.fork().fn(),
      preVote: this.profile.preVote,
      checkQuorum: this.profile.checkQuorum,
      electionTick: this.profile.electionTick,
      heartbeatTick: this.profile.heartbeatTick,
      maxInflight: this.profile.maxInflight,
      maxMsgBytes: this.profile.maxMsgBytes,
      maxApplyBytes: this.profile.maxApplyBytes,
    });
    n.checkedCommit = n.raft.raftLog.committed;
    n.leaderTerm = -1;
    n.commitTerm = -1;
    this.checker.wholeLog(`${n.id} restart`, n.raft.raftLog);
  }

  private crash(n: SimNode, why: string): void {
    this.note(`CRASH ${n.id} (${why})`);
    this.stats.crashes++;
    n.raft = null;
    n.inflight = null;
    n.snapStash.clear();
    n.proposals.clear();
    // The dead process's sockets close: most peers' transports see it and report it (leaderUnreachable), a little later.
    for (const other of this.live()) {
      if (this.rng.chance(0.8)) this.lost.push({ from: other.id, inc: other.incarnation, peer: n.id });
    }
  }

  /** A transport reports a live node's leader as gone (its connection flapped): must not disrupt that leader. */
  private falseLost(): void {
    const live = this.live().filter((x) => x.raft!.status().lead !== null && x.raft!.status().role === 'follower');
    if (!live.length) return;
    const n = this.rng.pick(live);
    this.note(`LOST ${n.id} reports its live leader ${n.raft!.status().lead} unreachable`);
    this.lost.push({ from: n.id, inc: n.incarnation, peer: n.raft!.status().lead! });
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

  private send(from: SimNode, m: Message): void {
    this.stats.messages++;
    const p = this.profile;
    let snap: string | undefined;
    if (m.type === 'snap') {
      const s = this.snapshotToSend(from, m);
      if (!s) {
        this.reports.push({ from: from.id, inc: from.incarnation, to: m.to, ok: false });
        return;
      }
      m = { ...m, snapshot: s.meta };
      snap = s.data;
      this.stats.snapshotsSent++;
      if (this.opts.verbose) this.note(`send snapshot ${from.id}->${m.to} at ${s.meta.index} (core asked for ${m.snapshot?.index})`);
    }
    const copies = this.phase === 'faults' && this.rng.chance(p.dupRate) ? 2 : 1;
    for (let k = 0; k < copies; k++) {
      if (this.phase === 'faults' && this.rng.chance(p.dropRate)) {
        if (snap !== undefined) this.reports.push({ from: from.id, inc: from.incarnation, to: m.to, ok: false });
        continue;
      }
      const delay = this.rng.int((this.phase === 'faults' ? p.maxDelay : 1) + 1);
      const env: Envelope = { m, at: this.now + delay, snap, fromInc: from.incarnation };
      if (delay === 0) this.ready.push(env);
      else this.delayed.push(env);
    }
  }

  /** What the driver streams for a 'snap' message: the stored snapshot, or (like the replica's driver) the live state. */
  private snapshotToSend(from: SimNode, m: Message): { meta: { index: number; term: number; conf: ConfState }; data: string } | null {
    const stored = from.storage.snapshotData();
    if (stored !== null && this.rng.chance(0.5) && from.storage.snapshotMeta().index >= (m.snapshot?.index ?? 0)) {
      return { meta: from.storage.snapshotMeta(), data: stored };
    }
    const idx = from.sm.applied;
    const term = from.raft!.raftLog.termOrNull(idx);
    if (term === null) return null;
    const data: SnapData = { index: idx, hash: from.sm.hash, conf: from.sm.conf };
    return { meta: { index: idx, term, conf: copyConf(from.sm.conf) }, data: JSON.stringify(data) };
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
    if (this.phase === 'faults' && this.rng.chance(this.profile.dupRate)) this.ready.push(env);
    this.deliver(env);
  }

  private deliver(env: Envelope): void {
    const m = env.m;
    const to = this.nodes.get(m.to);
    const ok = !!to && to.alive && this.connected(m.from, m.to);
    if (env.snap !== undefined) this.reports.push({ from: m.from, inc: env.fromInc, to: m.to, ok });
    if (!ok) {
      // Like a driver whose connection to the peer is down.
      if (m.type === 'app' && this.rng.chance(0.3)) this.unreachable.push({ from: m.from, inc: env.fromInc, to: m.to });
      return;
    }
    if (env.snap !== undefined) {
      to!.snapStash.set(m.snapshot!.index, env.snap);
      if (to!.snapStash.size > 8) to!.snapStash.delete(to!.snapStash.keys().next().value!);
    }
    if (this.opts.verbose) this.note(`deliver ${fmt(m)}`);
    to!.raft!.step(m);
  }

  private flushReports(): void {
    const lost = this.lost;
    this.lost = [];
    for (const l of lost) {
      const n = this.nodes.get(l.from);
      if (n?.raft && n.incarnation === l.inc) {
        this.stats.lostReports++;
        if (this.opts.verbose) this.note(`leaderUnreachable ${l.from}: ${l.peer}`);
        n.raft.leaderUnreachable(l.peer);
      }
    }
    const us = this.unreachable;
    this.unreachable = [];
    for (const u of us) {
      const n = this.nodes.get(u.from);
      if (n?.raft && n.incarnation === u.inc) n.raft.reportUnreachable(u.to);
    }
    const rs = this.reports;
    this.reports = [];
    for (const r of rs) {
      const n = this.nodes.get(r.from);
      if (n?.raft && n.incarnation === r.inc) {
        if (this.opts.verbose) this.note(`reportSnapshot ${r.from}->${r.to} ${r.ok ? 'ok' : 'failed'}`);
        n.raft.reportSnapshot(r.to, r.ok);
      }
    }
  }

  private tick(): void {
    this.now++;
    this.stats.ticks++;
    if (this.delayed.length) {
      const still: Envelope[] = [];
      for (const e of this.delayed) (e.at <= this.now ? this.ready : still).push(e);
      this.delayed = still;
    }
    for (const n of this.nodes.values()) {
      if (!n.raft) continue;
      if (this.phase === 'faults' && this.rng.chance(this.driftOf(n.id))) continue;
      n.raft.tick();
    }
    if (this.ready.length > 5000) {
      // Congestion: the oldest messages are lost; a lost snapshot stream is reported as failed, as a driver does.
      for (const e of this.ready.slice(0, this.ready.length - 2500)) {
        if (e.snap !== undefined) this.reports.push({ from: e.m.from, inc: e.fromInc, to: e.m.to, ok: false });
      }
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
    const live = this.live();
    if (!live.length) return;
    const l = this.leader();
    const n = l && this.rng.chance(0.85) ? l : this.rng.pick(live);
    const data = `p${++this.proposalSeq}`;
    try {
      const index = n.raft!.propose(data);
      n.proposals.set(index, { data, term: n.raft!.status().term });
      if (this.opts.verbose) this.note(`propose ${data} at ${n.id} -> index ${index}`);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  }

  private read(): void {
    const live = this.live();
    if (!live.length) return;
    // Reads at a deposed leader (one that still thinks it leads while a newer term exists) are where a shortcut in
    // ReadIndex would return stale data: ask there often.
    const leaders = live.filter((x) => x.raft!.status().role === 'leader').sort((a, b) => a.raft!.status().term - b.raft!.status().term);
    const n = leaders.length > 1 && this.rng.chance(0.7) ? leaders[0] : this.rng.pick(live);
    const ctx = `r${++this.readSeq}`;
    try {
      n.raft!.readIndex(ctx);
      this.checker.readRequested(n.id, ctx);
      if (this.opts.verbose) this.note(`readIndex ${ctx} at ${n.id}`);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  }

  private compact(): void {
    const live = this.live();
    if (!live.length) return;
    const n = this.rng.pick(live);
    const first = n.storage.firstIndex();
    if (n.sm.applied < first) return;
    const index = this.rng.range(first, n.sm.applied);
    const a = this.checker.appliedAt(index);
    if (!a) return;
    const conf = n.confAt(index);
    const data: SnapData = { index, hash: a.hash, conf };
    n.storage.compact(index, conf, JSON.stringify(data));
    n.sm.confHistory = n.sm.confHistory.filter((h, k) => k === n.sm.confHistory.length - 1 || n.sm.confHistory[k + 1].index > index);
    if (this.opts.verbose) this.note(`compact ${n.id} up to ${index}`);
  }

  private confChange(): void {
    const l = this.leader();
    if (!l) return;
    const conf = l.raft!.status().conf;
    const members = new Set([...conf.voters, ...conf.learners]);
    const outsiders = this.pool.filter((id) => !members.has(id));
    const choices: ConfChange[] = [];
    for (const id of outsiders) {
      choices.push({ op: 'addLearner', id, address: `addr-${id}` });
      if (conf.voters.length < 7) choices.push({ op: 'addVoter', id, address: `addr-${id}` });
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
    try {
      const index = l.raft!.proposeConfChange(cc);
      this.stats.confChanges++;
      this.note(`CONF ${l.id} proposes ${JSON.stringify(cc)} at ${index}`);
      if ((cc.op === 'addLearner' || cc.op === 'addVoter') && !this.nodes.has(cc.id)) {
        const n = new SimNode(cc.id, EMPTY);
        this.nodes.set(cc.id, n);
        this.start(n);
      }
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
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
    l.raft!.transferLeadership(to);
  }

  /** An operator (or the single-replica bootstrap) starts an election on some replica. */
  private forceCampaign(): void {
    const live = this.live();
    if (!live.length) return;
    const n = this.rng.pick(live);
    this.note(`CAMPAIGN ${n.id}`);
    n.raft!.campaign();
  }

  // ---------------------------------------------------------------- the driver

  /** Each live node's driver makes progress on its Ready at random moments (start, then finish later). */
  private autoDrive(): void {
    for (const n of this.nodes.values()) {
      if (!n.raft) continue;
      if (n.inflight) {
        if (this.rng.chance(this.profile.finishRate)) this.finishReady(n);
      } else if (n.raft.hasReady() && this.rng.chance(0.8)) {
        this.startReady(n);
        if (this.rng.chance(this.profile.finishRate)) this.finishReady(n);
      }
    }
  }

  private driveAll(): void {
    for (let round = 0; round < 100; round++) {
      let busy = false;
      for (const n of this.nodes.values()) {
        if (!n.raft) continue;
        if (n.inflight) this.finishReady(n);
        if (n.raft && n.raft.hasReady()) {
          this.startReady(n);
          this.finishReady(n);
          busy = true;
        }
      }
      if (!busy) return;
    }
  }

  private startReady(n: SimNode): void {
    const raft = n.raft!;
    const rd = raft.ready();
    n.inflight = rd;
    if (rd.entries.length) {
      const first = rd.entries[0].index;
      const prev = rd.snapshot && rd.snapshot.index === first - 1 ? rd.snapshot.term : raft.raftLog.termOrNull(first - 1);
      this.checker.entriesSeen(`${n.id} ready`, rd.entries, prev);
    }
    for (const m of rd.messages) {
      if (m.type === 'app' && m.entries?.length) this.checker.entriesSeen(`${n.id} -> ${m.to} app`, m.entries, m.logTerm ?? null);
    }
  }

  private maybeReadyCrash(n: SimNode, where: string): boolean {
    if (this.phase === 'faults' && this.rng.chance(this.profile.readyCrashRate)) {
      this.crash(n, where);
      return true;
    }
    return false;
  }

  private finishReady(n: SimNode): void {
    const rd = n.inflight!;
    const raft = n.raft!;
    if (this.maybeReadyCrash(n, 'before persisting a Ready')) return;
    // 1. persist
    if (rd.snapshot) {
      const raw = n.snapStash.get(rd.snapshot.index);
      if (raw === undefined) throw new SafetyViolation(`${n.id}: core asked to install snapshot ${rd.snapshot.index} that was never received`);
      const data = JSON.parse(raw) as SnapData;
      if (data.index !== rd.snapshot.index) throw new SafetyViolation(`${n.id}: snapshot data/meta mismatch`);
      n.storage.applySnapshot(rd.snapshot, raw);
      this.checker.snapshotLoaded(n.id, data.index, data.hash);
      n.sm = { applied: data.index, hash: data.hash, conf: copyConf(data.conf), confHistory: [{ index: data.index, conf: copyConf(data.conf) }] };
      n.proposals.clear();
      this.note(`${n.id} installs snapshot ${data.index} (term ${rd.snapshot.term})`);
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (this.maybeReadyCrash(n, 'after persisting, before sending')) return;
    // 2. send
    for (const m of rd.messages) this.send(n, m);
    if (rd.softState && rd.softState.role === 'leader') this.note(`${n.id} is leader of term ${raft.status().term}`);
    // 3. apply
    for (const e of rd.committedEntries) {
      if (e.index !== n.sm.applied + 1) throw new SafetyViolation(`${n.id} applies ${e.index} after ${n.sm.applied}`);
      n.sm.hash = this.checker.apply(n.id, n.sm.hash, e);
      n.sm.applied = e.index;
      if (e.type === 'conf') {
        const cc = decodeConfChange(e.data);
        const conf = raft.applyConfChange(cc);
        n.sm.conf = conf;
        n.sm.confHistory.push({ index: e.index, conf });
        n.storage.setConfState(conf);
        this.note(`${n.id} applies conf ${e.index} ${e.data} -> voters ${conf.voters.join(',')} learners ${conf.learners.join(',')}`);
      }
      const p = n.proposals.get(e.index);
      if (p) {
        n.proposals.delete(e.index);
        if (p.term === e.term && p.data === e.data) this.checker.ack(e.index, e.data);
      }
      if (this.phase === 'faults' && this.rng.chance(this.profile.readyCrashRate / 4)) {
        this.crash(n, 'while applying');
        return;
      }
    }
    if (rd.readStates.length) {
      for (const other of this.nodes.values()) this.observe(other);
      for (const rs of rd.readStates) this.checker.readAnswered(n.id, rs.context, rs.index);
    }
    // 4. advance
    raft.advance(rd);
    n.inflight = null;
  }

  // ---------------------------------------------------------------- invariants

  private check(): void {
    for (const n of this.nodes.values()) this.observe(n);
    if (this.step % 97 === 0) for (const n of this.live()) this.checker.wholeLog(n.id, n.raft!.raftLog);
  }

  /** Per-node invariants: election safety, leader completeness, the commit rule, committed entries never change. */
  private observe(n: SimNode): void {
    {
      const raft = n.raft;
      if (!raft) return;
      const st = raft.status();
      if (st.role === 'leader') {
        // A leader outside the voters exists only while it hands leadership over (it applied its own removal).
        if (!st.conf.voters.includes(n.id) && st.leadTransferee === null) {
          throw new SafetyViolation(`${n.id} leads term ${st.term} but is not a voter of its configuration, and is not handing over`);
        }
        this.checker.leader(st.term, n.id);
        if (n.leaderTerm !== st.term) {
          n.leaderTerm = st.term;
          this.checker.newLeader(n.id, st.term, raft.raftLog);
        }
      }
      if (st.commit > n.checkedCommit) {
        // Commit rule (§5.4.2): a leader advances its commit index only onto an entry of its own term.
        if (st.role === 'leader' && n.leaderTerm === st.term && n.commitTerm === st.term && raft.raftLog.termOrNull(st.commit) !== st.term) {
          throw new SafetyViolation(`commit rule: leader ${n.id} of term ${st.term} advanced its commit to ${st.commit}, an entry of term ${raft.raftLog.termOrNull(st.commit)}`);
        }
        this.checker.commit(n.id, raft.raftLog, n.checkedCommit, st.commit, st.term);
        n.checkedCommit = st.commit;
      }
      n.commitTerm = st.role === 'leader' ? st.term : -1;
    }
  }

  // ---------------------------------------------------------------- heal and liveness

  /**
   * Ends the faults: reliable network, no partitions, every member up. Within a bounded number of ticks a leader must
   * exist, a new proposal must commit, and every live member must have applied everything any leader acknowledged.
   */
  private heal(): void {
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
    let marker: { index: number; term: number; node: NodeId; data: string } | null = null;
    let leaderSeenAt = -1;
    for (let t = 0; t < budget; t++) {
      this.stats.healTicks++;
      this.tick();
      this.flushReports();
      this.driveAll();
      this.check();
      for (let guard = 0; this.ready.length && guard < 20_000; guard++) {
        this.deliverOne();
        this.driveAll();
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
      // Replicas removed from the configuration are shut down (as the replica does); members are all up.
      for (const n of this.nodes.values()) {
        if (!members.has(n.id) && n.alive && n !== l) this.crash(n, 'not a member');
        else if (members.has(n.id) && !n.alive) this.start(n);
      }
      if (!marker || ((l.id !== marker.node || l.raft!.status().term !== marker.term) && !this.checker.appliedAt(marker.index))) {
        try {
          const data = `marker-${t}`;
          const index = l.raft!.propose(data);
          marker = { index, term: l.raft!.status().term, node: l.id, data };
          l.proposals.set(index, { data, term: marker.term });
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
        }
        continue;
      }
      const applied = this.checker.appliedAt(marker.index);
      if (!applied) continue;
      if (applied.data !== marker.data) {
        marker = null;
        continue;
      }
      const lagging = [...members].filter((id) => (this.nodes.get(id)?.sm.applied ?? 0) < marker!.index);
      if (lagging.length) continue;
      // Converged: every acknowledged write is applied everywhere, at the index it was acknowledged with.
      for (const a of this.checker.acked) {
        const at = this.checker.appliedAt(a.index);
        if (!at || at.data !== a.data) throw new SafetyViolation(`acknowledged write ${a.data} at ${a.index} was lost (index holds ${at?.data})`);
      }
      for (const n of this.live()) this.checker.wholeLog(n.id, n.raft!.raftLog);
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
        let line = `${n.id}:${s.role}/t${s.term}/vote=${s.vote}/lead=${s.lead}/commit=${s.commit}/applied=${n.sm.applied}/first=${s.firstIndex}/last=${s.lastIndex}/voters=${s.conf.voters.join(',')}/learners=${s.conf.learners.join(',')}`;
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

export function runSeed(opts: SimOptions): SimStats {
  return new World(opts).run();
}
