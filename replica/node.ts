/**
 * The embeddable replica: `startReplica(options)` opens the durable stores, starts the Raft driver, the peer links and
 * the single port (HTTP + /client + /peer), and returns a handle with status and a clean stop. The CLI's `replica`
 * command, the desktop app's utilityProcess and the tests all start replicas through this function.
 */
import { mkdirSync, existsSync, readdirSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { Raft } from './raft/raft.js';
import type { ConfState, Message, SnapshotMeta } from './raft/types.js';
import { SqliteLogStore } from './storage/log-store.js';
import { ChatStateMachine } from './chat/state-machine.js';
import { ClientEndpoint, type ClientConn } from './net/client-endpoint.js';
import { PeerEndpoint } from './net/peer-endpoint.js';
import { PeerLink } from './net/peer-link.js';
import { HttpServer } from './net/http-server.js';
import { Driver } from './node/driver.js';
import { RequestHandler } from './node/requests.js';
import { createMetrics } from './node/metrics.js';
import type { ReplicaStatus, ReplicaStatusRow } from './protocol/client.js';
import { QuorumError, type LeaderHint } from './protocol/errors.js';
import { adminRequest } from './net/admin-client.js';

export interface Member {
  id: string;
  address: string;
}

export interface ReplicaOptions {
  id: string;
  dataDir: string;
  /** HOST:PORT to listen on (port 0 picks a free one). */
  listen: string;
  /** Address peers and clients use to reach this replica; defaults to the listen address with the bound port. */
  advertise?: string;
  /** Bootstraps a new cluster (first start only; afterwards the stored configuration wins). Default: just this replica. */
  initialCluster?: Member[];
  /** Cluster secret; required when the cluster has more than one member. */
  secret?: Buffer | null;
  /** Milliseconds per Raft tick (default 25). */
  tickMs?: number;
  /** Ticks between heartbeats (default 2 → 50 ms). */
  heartbeatTicks?: number;
  /** Election timeout drawn from [electionTicks, 2*electionTicks) ticks (default 10 → 250–500 ms). */
  electionTicks?: number;
  /** Built web client to serve at / (default: dist/renderer when it exists). */
  webRoot?: string | null;
  log?: Logger;
  /** Compaction: entries applied beyond the last compaction point before the log is compacted (default 20000). */
  compactEvery?: number;
  /** Entries kept behind the applied index when compacting (default 5000). */
  keepEntries?: number;
  proposalTimeoutMs?: number;
  /** Register process-wide metrics (CPU, memory); on for real processes, off when tests embed several replicas. */
  processMetrics?: boolean;
  /** Join a running cluster through these replicas (first start only): added as a learner, then promoted once caught up. */
  join?: string[];
  /** With join: stay a non-voting learner (no automatic promotion). */
  learner?: boolean;
  /**
   * Disaster recovery: restart as a one-member cluster from this replica's own data (see docs/operations.md for what
   * this can lose). Only when a majority of the old cluster is gone for good.
   */
  forceNewCluster?: boolean;
  /** Hand leadership to another voter before stopping when leading (default true). */
  transferOnStop?: boolean;
}

export interface ReplicaHandle {
  readonly id: string;
  /** HOST:PORT this replica is reachable at. */
  readonly address: string;
  readonly port: number;
  status(): ReplicaStatus;
  /** sha256 of the replicated chat state (equal on replicas that applied the same log). */
  stateHash(): string;
  /** Resolves when the replica has stopped (after stop(), or a fatal storage error). */
  readonly stopped: Promise<void>;
  /** The error that stopped the replica by itself (a storage failure), or null. */
  failure(): Error | null;
  /** Hands leadership to `to` (default: the most up-to-date other voter); resolves with the new leader's id. */
  transferLeadership(to?: string): Promise<string>;
  /** Resolves once a joining replica is a member (a voter unless it joined as a learner). */
  readonly joined: Promise<void>;
  /** Stops; a leader first hands leadership over (unless transferOnStop is false). */
  stop(): Promise<void>;
}

export const DEFAULTS = { tickMs: 25, heartbeatTicks: 2, electionTicks: 10 } as const;

function defaultWebRoot(): string | null {
  const p = resolve(import.meta.dirname ?? '.', '..', 'dist', 'renderer');
  return existsSync(join(p, 'index.html')) ? p : null;
}

export async function startReplica(opts: ReplicaOptions): Promise<ReplicaHandle> {
  // Whatever start-up opened is closed again if a later step fails, so a failed start leaves no port or file open.
  const opened: (() => unknown)[] = [];
  try {
    return await start(opts, opened);
  } catch (err) {
    for (const close of opened.reverse()) {
      try {
        await close();
      } catch {
        // already failing; the original error matters
      }
    }
    throw err;
  }
}

async function start(opts: ReplicaOptions, opened: (() => unknown)[]): Promise<ReplicaHandle> {
  const log = (opts.log ?? pino({ name: 'quorum' })).child({ replica: opts.id });
  const dataDir = resolve(opts.dataDir);
  // The data folder holds every message and password hash: this user only.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  const tickMs = opts.tickMs ?? DEFAULTS.tickMs;
  const [host, portText] = splitHostPort(opts.listen);

  const logStore = SqliteLogStore.open(dataDir);
  opened.push(() => logStore.close());
  const sm = ChatStateMachine.open(dataDir);
  opened.push(() => sm.close());

  // First start: record the bootstrap configuration (identical on every initial member).
  const initial = opts.initialCluster ?? [];
  const joining = !sm.conf() && logStore.lastIndex() === 0 && (opts.join?.length ?? 0) > 0;
  if (joining) {
    if (!opts.secret?.length) throw new Error('joining a cluster needs its secret (--secret-file or --join-code)');
    log.info({ via: opts.join }, 'empty data folder: joining a running cluster');
  } else if (!sm.conf()) {
    if (logStore.lastIndex() > 0) throw new Error(`data folder ${dataDir} has a log but no configuration; it is damaged`);
    const members = initial.length ? initial : [{ id: opts.id, address: '' }];
    if (!members.some((m) => m.id === opts.id)) {
      throw new Error(`--initial-cluster must include this replica (${opts.id}); to join a running cluster use --join`);
    }
    const bootConf = { voters: members.map((m) => m.id), learners: [] };
    sm.bootstrap(bootConf, members);
    logStore.bootstrap(bootConf);
  } else if (initial.length) {
    log.info('stored configuration found; --initial-cluster is ignored on restart');
  }
  if (opts.forceNewCluster) {
    if (!sm.conf()) throw new Error('--force-new-cluster needs a data folder that already belongs to a cluster');
    log.warn(
      { previous: sm.conf() },
      'FORCE NEW CLUSTER: this replica now forms a one-member cluster from its own data. Writes acknowledged by the old ' +
        'cluster that never reached this replica are lost; entries only this replica held become committed. ' +
        'Add the other machines back with --join; never restart the old replicas with their old data.',
    );
    const marker = join(dataDir, 'forced-new-cluster');
    if (existsSync(marker)) {
      log.warn({ marker }, '--force-new-cluster was already applied to this data folder; ignoring it (delete the marker file to force again)');
    } else {
      // Entries past the applied state may never have committed, and a configuration change among them would undo
      // the forced configuration when replayed: the new cluster starts from the applied state alone.
      const applied = sm.applied();
      sm.forceConf({ voters: [opts.id], learners: [] });
      logStore.resetToSnapshot({ index: applied.index, term: applied.term, conf: { voters: [opts.id], learners: [] } });
      writeFileSync(marker, `forced at applied index ${applied.index} (term ${applied.term}) on ${new Date().toISOString()}\n`);
    }
  }
  reconcileLogWithState(logStore, sm, log);

  const conf = sm.conf() ?? { voters: [], learners: [] };
  const memberCount = conf.voters.length + conf.learners.length;
  if (memberCount > 1 && !opts.secret?.length) {
    throw new Error('this cluster has more than one member: a cluster secret is required (--secret-file with a non-empty file)');
  }

  // Listen first so a port conflict fails before anything else starts.
  const metrics = createMetrics(opts.id, opts.processMetrics ?? false);
  let serving = true;
  let digest: { appliedIndex: number; stateHash: string } | null = null;
  /** Removed from the configuration: serves neither clients nor peers. */
  let removed = !!sm.conf() && !joining && !isMember();
  if (removed) serving = false;
  if (removed) log.warn('this replica was removed from the cluster configuration; it serves neither clients nor peers. Delete its data folder to reuse the machine');
  // eslint-disable-next-line prefer-const -- the callbacks built before the Driver (below) read this binding
  let driver!: Driver;
  let address = opts.advertise ?? '';
  const members = () => {
    const map = new Map<string, string>();
    for (const m of sm.members()) map.set(m.id, m.address);
    if (address) map.set(opts.id, address);
    return map;
  };
  const leaderHint = (): LeaderHint | null => {
    const lead = driver?.softState.lead;
    if (!lead) return null;
    const addr = members().get(lead);
    return addr ? { id: lead, address: addr } : null;
  };

  const clientEndpoint: ClientEndpoint = new ClientEndpoint({
    log,
    handler: new RequestHandler({
      id: opts.id,
      get address() {
        return address;
      },
      log,
      get driver() {
        return driver;
      },
      sm: () => sm,
      metrics,
      leaderHint,
      status: () => status(),
      now: monotonicClock(),
      pushBacklog: (conn, accountId, after) => pushBacklog(conn, accountId, after),
      serving: () => serving,
      secret: opts.secret?.length ? opts.secret : null,
      transfer: (to) => transferLeadership(to),
    }),
  });

  const peerEndpoint = new PeerEndpoint({
    selfId: opts.id,
    secret: opts.secret ?? null,
    incomingDir: join(dataDir, 'snapshots', 'incoming'),
    log,
    onMessages: (_from, msgs) => {
      if (!removed) driver.step(msgs);
    },
    onSnapshot: (_from, snap) => {
      if (!removed) driver.stepSnapshot(snap);
    },
    onPeerSeen: (id, a) => {
      if (a) announced.set(id, a);
      // It is up: our link to it need not wait out its reconnect backoff.
      links.get(id)?.peerSeen();
    },
  });

  const http = new HttpServer({
    log,
    client: clientEndpoint,
    peer: peerEndpoint,
    metrics: metrics.registry,
    webRoot: opts.webRoot === undefined ? defaultWebRoot() : opts.webRoot,
    // Hashing the state is O(size): computed once per applied index, so polling it cannot stall the event loop.
    stateDigest: () => {
      if (digest?.appliedIndex !== driver.appliedIndex) digest = { appliedIndex: driver.appliedIndex, stateHash: sm.stateHash() };
      return digest;
    },
    health: () => {
      const st = status();
      const detail: Record<string, unknown> = { id: opts.id, role: st.role, term: st.term, leader: st.leader?.id ?? null, appliedIndex: st.appliedIndex };
      if (removed) detail.reason = 'removed from the cluster configuration';
      else if (!isMember()) detail.reason = 'joining: not yet a member of the configuration';
      return { serving: serving && isMember(), detail };
    },
  });
  const port = await http.listen(host, Number(portText));
  opened.push(() => http.close());
  if (!address) address = `${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;

  // Peer links, kept in step with the configuration.
  const links = new Map<string, PeerLink>();
  /** Addresses peers announced when they authenticated: lets a joining replica answer a leader it has no config for. */
  const announced = new Map<string, string>();
  const newLink = (id: string, a: string) =>
    new PeerLink({
      selfId: opts.id,
      selfAddress: address,
      peerId: id,
      peerAddress: a,
      secret: opts.secret!,
      log,
      random: Math.random,
      onUnreachable: () => driver.reportUnreachable(id),
      // Its connection closed for good (e.g. its process died): if it is our leader, elect a new one without waiting
      // out the election timeout (the core ignores this for anyone else; it takes effect on the next tick).
      onLost: () => {
        if (!removed) raft.leaderUnreachable(id);
      },
    });
  const syncLinks = () => {
    const c = sm.conf() ?? { voters: [], learners: [] };
    const ids = new Set([...c.voters, ...c.learners].filter((id) => id !== opts.id));
    const addrs = members();
    for (const [id, link] of links) {
      if (!ids.has(id) || link.address !== addrs.get(id)) {
        link.close();
        links.delete(id);
      }
    }
    for (const id of ids) {
      const a = addrs.get(id);
      if (!links.has(id) && a && opts.secret) links.set(id, newLink(id, a));
    }
    metrics.peersConnected.set([...links.values()].filter((l) => l.connected).length);
  };
  /** The link to `to`, made on demand for a peer outside our (possibly not yet received) configuration. */
  const linkTo = (to: string): PeerLink | undefined => {
    let link = links.get(to);
    if (!link && !removed && opts.secret) {
      const a = members().get(to) ?? announced.get(to);
      if (a) links.set(to, (link = newLink(to, a)));
    }
    return link;
  };

  const raft = new Raft({
    id: opts.id,
    storage: withConf(logStore, () => sm.conf() ?? { voters: [], learners: [] }),
    applied: sm.applied().index,
    heartbeatTick: opts.heartbeatTicks ?? DEFAULTS.heartbeatTicks,
    electionTick: opts.electionTicks ?? DEFAULTS.electionTicks,
    random: () => randomInt(0, 2 ** 32) / 2 ** 32,
  });

  driver = new Driver({
    id: opts.id,
    dataDir,
    log,
    raft,
    logStore,
    sm,
    metrics,
    send: (to, msgs) => {
      const link = linkTo(to);
      if (!link || !link.send(msgs)) raft.reportUnreachable(to);
    },
    sendSnapshot: (to, path, meta: SnapshotMeta, msg: Message) => {
      const link = linkTo(to);
      if (!link) return Promise.reject(new Error(`no link to ${to}`));
      return link.sendSnapshot(path, meta, msg);
    },
    compactEvery: opts.compactEvery ?? 20_000,
    keepEntries: opts.keepEntries ?? 5_000,
    proposalTimeoutMs: opts.proposalTimeoutMs ?? 10_000,
  });

  driver.on('applied', (outcomes) => {
    for (const o of outcomes) {
      for (const ev of o.events) {
        clientEndpoint.pushTo(ev.toAccount, ev.frame, ev.tokenHash);
        if (ev.frame.event === 'sessionEnded') {
          for (const c of clientEndpoint.connectionsOf(ev.toAccount, ev.tokenHash)) c.account = null;
        }
      }
    }
  });
  let wasMember = isMember();
  driver.on('conf', () => {
    const member = isMember();
    if (wasMember && !member && !removed) {
      removed = true;
      serving = false;
      log.warn('this replica was removed from the cluster configuration; it no longer serves clients or peers. Delete its data folder to reuse the machine, or join again with --join');
      clientEndpoint.closeAll(4410, 'this replica was removed from the cluster');
      for (const l of links.values()) l.close();
      links.clear();
      peerEndpoint.close();
    }
    wasMember = member;
    if (!removed) syncLinks();
  });
  driver.on('softState', (s) => {
    metrics.term.set(raft.status().term);
    if (s.role === 'leader') log.info({ term: raft.status().term }, 'became leader');
  });

  function isMember(): boolean {
    const c = sm.conf();
    return !!c && (c.voters.includes(opts.id) || c.learners.includes(opts.id));
  }

  /** Waits for a soft-state change that satisfies `pred`, up to `ms`. */
  function waitSoft(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((res) => {
      const onSoft = () => {
        if (pred()) done(true);
      };
      const timer = setTimeout(() => done(false), ms);
      const done = (v: boolean) => {
        clearTimeout(timer);
        driver.off('softState', onSoft);
        res(v);
      };
      driver.on('softState', onSoft);
    });
  }

  async function transferLeadership(to?: string): Promise<string> {
    const st = raft.status();
    if (st.role !== 'leader') throw driver.notLeader();
    let target = to;
    if (!target) {
      const candidates = st.conf.voters
        .filter((id) => id !== opts.id)
        .map((id) => ({ id, pr: st.progress?.[id] }))
        .filter((c) => c.pr?.recentActive)
        .sort((a, b) => (b.pr!.match ?? 0) - (a.pr!.match ?? 0));
      target = candidates[0]?.id;
    }
    if (!target) throw new QuorumError('CONFLICT', 'no other reachable voter to hand leadership to');
    if (target === opts.id) return opts.id;
    try {
      driver.transferLeadership(target);
    } catch (err) {
      throw new QuorumError('INVALID', (err as Error).message);
    }
    const electionMs = tickMs * (opts.electionTicks ?? DEFAULTS.electionTicks) * 2;
    const t = target;
    const ok = await waitSoft(() => driver.softState.lead === t && driver.softState.role !== 'leader', electionMs + 500);
    if (!ok) throw new QuorumError('TIMEOUT', `leadership transfer to ${t} did not complete in time`);
    log.info({ to: t }, 'leadership transferred');
    return t;
  }

  function pushBacklog(conn: ClientConn, accountId: number, after: number) {
    let cursor = after;
    for (;;) {
      // Stops as soon as the connection is gone (e.g. dropped for not reading): the client resumes from what it got.
      if (conn.closed) return;
      const page = sm.messagesAfter(accountId, cursor, 500);
      for (const m of page) conn.push({ type: 'push', event: 'message', message: m });
      if (page.length < 500) break;
      cursor = page[page.length - 1].id;
    }
  }

  function status(): ReplicaStatus {
    const st = raft.status();
    const c = sm.conf() ?? { voters: [], learners: [] };
    const addrs = members();
    const isVoter = c.voters.includes(opts.id);
    const rows: ReplicaStatusRow[] = [...c.voters.map((id) => [id, true] as const), ...c.learners.map((id) => [id, false] as const)].map(([id, voter]) => {
      const row: ReplicaStatusRow = { id, address: addrs.get(id) ?? '', voter };
      const pr = st.progress?.[id];
      if (st.role === 'leader') {
        row.match = id === opts.id ? st.lastIndex : (pr?.match ?? 0);
        row.reachable = id === opts.id ? true : (pr?.recentActive ?? false) && (links.get(id)?.connected ?? false);
      }
      return row;
    });
    let quorum: boolean;
    if (st.role === 'leader') {
      const reach = rows.filter((r) => r.voter && r.reachable).length;
      quorum = reach >= Math.floor(c.voters.length / 2) + 1;
    } else quorum = st.lead !== null;
    const lead = st.lead;
    return {
      id: opts.id,
      address,
      role: removed ? 'removed' : !serving ? 'stopped' : !isVoter ? 'learner' : st.role,
      term: st.term,
      leader: lead ? { id: lead, address: addrs.get(lead) ?? '' } : null,
      commitIndex: st.commit,
      appliedIndex: driver.appliedIndex,
      lastIndex: st.lastIndex,
      voter: isVoter,
      members: rows,
      quorum,
    };
  }

  if (!removed) syncLinks();
  const linkTimer = setInterval(() => metrics.peersConnected.set([...links.values()].filter((l) => l.connected).length), 1000);
  const ticker = setInterval(() => driver.tick(), tickMs);
  if (conf.voters.length === 1 && conf.voters[0] === opts.id && raft.status().role !== 'leader') driver.campaign();

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      if (!failure && (opts.transferOnStop ?? true) && driver.isLeader && raft.status().conf.voters.length > 1) {
        // A leader that is asked to stop hands over first, so clients see no election gap.
        await transferLeadership().catch((err) => log.warn({ err: (err as Error).message }, 'leadership transfer before stop failed; stopping anyway'));
      }
      serving = false;
      clearInterval(ticker);
      clearInterval(linkTimer);
      driver.stop();
      clientEndpoint.closeAll(1001, 'replica stopping');
      for (const l of links.values()) l.close();
      peerEndpoint.close();
      await http.close();
      logStore.close();
      sm.close();
      cleanSnapshots(dataDir);
      log.info('replica stopped');
      resolveStopped();
    })());
  let failure: Error | null = null;
  driver.on('fatal', (err: Error) => {
    failure = err instanceof Error ? err : new Error(String(err));
    void stop();
  });

  // A replica started with --join asks the cluster to add it as a learner, waits until it has caught up, then asks
  // to be promoted to voter (unless it should stay a learner).
  // Decided on every start, so a restart in the middle of a join still ends with the promotion.
  const stillLearner = !!opts.join?.length && !opts.learner && !!sm.conf()?.learners.includes(opts.id);
  const joined = joining || stillLearner ? joinCluster(joining) : Promise.resolve();
  joined.catch((err) => log.error({ err: (err as Error).message }, 'joining the cluster failed'));
  async function joinCluster(addSelf: boolean): Promise<void> {
    const secret = opts.secret!;
    const via = opts.join!;
    if (addSelf) await adminRequest(via, secret, { op: 'clusterChange', change: { op: 'addLearner', id: opts.id, address } }, {
      timeoutMs: 60_000,
      onRetry: (why) => log.info({ why }, 'join: retrying'),
    }).catch((err) => {
      // Already a member (a retried join, or added with `cluster add`): fine.
      if (!(err instanceof QuorumError && err.code === 'INVALID' && /already a member/.test(err.message))) throw err;
    });
    log.info(addSelf ? 'join: added as a learner; catching up' : 'join: resuming (a learner waiting for promotion); catching up');
    await new Promise<void>((res, rej) => {
      const check = () => {
        const st = raft.status();
        if (stopping) return rej(new Error('stopped while joining'));
        // Caught up: a member, and applied within a small distance of what the leader has told us is committed.
        if (isMember() && st.lead && driver.appliedIndex >= st.commit && st.commit > 1) return res();
        setTimeout(check, 50);
      };
      check();
    });
    if (opts.learner) {
      log.info('join: caught up; staying a learner (--learner)');
      return;
    }
    if (sm.conf()?.voters.includes(opts.id)) return;
    await adminRequest(via.concat(members().get(raft.status().lead ?? '') ?? []), secret, { op: 'clusterChange', change: { op: 'promote', id: opts.id } }, { timeoutMs: 60_000 }).catch((err) => {
      if (!(err instanceof QuorumError && err.code === 'INVALID' && /not a learner/.test(err.message) && sm.conf()?.voters.includes(opts.id))) throw err;
    });
    log.info('join: promoted to voter');
  }

  log.info({ address, dataDir, voters: conf.voters, learners: conf.learners }, 'replica started');
  return {
    id: opts.id,
    address,
    port,
    status,
    stateHash: () => sm.stateHash(),
    stopped,
    failure: () => failure,
    transferLeadership,
    joined,
    stop,
  };
}

/** The core reads its configuration from the state machine (configuration takes effect when applied). */
function withConf(store: SqliteLogStore, conf: () => ConfState): SqliteLogStore {
  const initialState = store.initialState.bind(store);
  return Object.assign(Object.create(store), {
    initialState: () => ({ ...initialState(), conf: conf() }),
  }) as SqliteLogStore;
}

/**
 * After a crash between installing a snapshot's state and resetting the log, the state machine can be ahead of the
 * log. The state is committed data, so the log restarts from it.
 */
function reconcileLogWithState(logStore: SqliteLogStore, sm: ChatStateMachine, log: Logger): void {
  const { index, term } = sm.applied();
  if (index === 0) return;
  let consistent = index <= logStore.lastIndex() && index >= logStore.firstIndex() - 1;
  if (consistent) {
    try {
      consistent = logStore.term(index) === term;
    } catch {
      consistent = false;
    }
  }
  if (!consistent) {
    log.warn({ applied: index, logFirst: logStore.firstIndex(), logLast: logStore.lastIndex() }, 'log behind the applied state (interrupted snapshot install); resetting the log to the state');
    logStore.resetToSnapshot({ index, term, conf: sm.conf()! });
  }
}

function cleanSnapshots(dataDir: string): void {
  const dir = join(dataDir, 'snapshots');
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (f.startsWith('out-')) rmSync(join(dir, f), { force: true });
}

function monotonicClock(): () => number {
  let last = 0;
  return () => (last = Math.max(last, Date.now()));
}

export function splitHostPort(s: string): [string, string] {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new Error(`"${s}" is not HOST:PORT`);
  return [m[1].replace(/^\[|\]$/g, ''), m[2]];
}
