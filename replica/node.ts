/**
 * The embeddable replica: `startReplica(options)` opens the durable stores, starts the Raft driver, the peer links and
 * the single port (HTTP + /client + /peer), and returns a handle with status and a clean stop. The CLI's `replica`
 * command, the desktop app's utilityProcess and the tests all start replicas through this function.
 */
import { mkdirSync, existsSync, readdirSync, rmSync } from 'node:fs';
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
import type { LeaderHint } from './protocol/errors.js';

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
  stop(): Promise<void>;
}

export const DEFAULTS = { tickMs: 25, heartbeatTicks: 2, electionTicks: 10 } as const;

function defaultWebRoot(): string | null {
  const p = resolve(import.meta.dirname ?? '.', '..', 'dist', 'renderer');
  return existsSync(join(p, 'index.html')) ? p : null;
}

export async function startReplica(opts: ReplicaOptions): Promise<ReplicaHandle> {
  const log = (opts.log ?? pino({ name: 'quorum' })).child({ replica: opts.id });
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const tickMs = opts.tickMs ?? DEFAULTS.tickMs;
  const [host, portText] = splitHostPort(opts.listen);

  const logStore = SqliteLogStore.open(dataDir);
  let sm = ChatStateMachine.open(dataDir);

  // First start: record the bootstrap configuration (identical on every initial member).
  const initial = opts.initialCluster ?? [];
  if (!sm.conf()) {
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
  reconcileLogWithState(logStore, sm, log);

  const conf = sm.conf()!;
  const memberCount = conf.voters.length + conf.learners.length;
  if (memberCount > 1 && !opts.secret?.length) {
    throw new Error('this cluster has more than one member: a cluster secret is required (--secret-file with a non-empty file)');
  }

  // Listen first so a port conflict fails before anything else starts.
  const metrics = createMetrics(opts.id, opts.processMetrics ?? false);
  let serving = true;
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
    }),
  });

  const peerEndpoint = new PeerEndpoint({
    selfId: opts.id,
    secret: opts.secret ?? null,
    incomingDir: join(dataDir, 'snapshots', 'incoming'),
    log,
    onMessages: (_from, msgs) => driver.step(msgs),
    onSnapshot: (_from, snap) => driver.stepSnapshot(snap),
  });

  const http = new HttpServer({
    log,
    client: clientEndpoint,
    peer: peerEndpoint,
    metrics: metrics.registry,
    webRoot: opts.webRoot === undefined ? defaultWebRoot() : opts.webRoot,
    stateDigest: () => ({ appliedIndex: driver.appliedIndex, stateHash: sm.stateHash() }),
    health: () => {
      const st = status();
      return { serving: serving, detail: { id: opts.id, role: st.role, term: st.term, leader: st.leader?.id ?? null, appliedIndex: st.appliedIndex } };
    },
  });
  const port = await http.listen(host, Number(portText));
  if (!address) address = `${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;

  // Peer links, kept in step with the configuration.
  const links = new Map<string, PeerLink>();
  const syncLinks = () => {
    const c = sm.conf()!;
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
      if (!links.has(id) && a && opts.secret) {
        links.set(
          id,
          new PeerLink({
            selfId: opts.id,
            selfAddress: address,
            peerId: id,
            peerAddress: a,
            secret: opts.secret,
            log,
            random: Math.random,
            onUnreachable: () => driver.reportUnreachable(id),
          }),
        );
      }
    }
    metrics.peersConnected.set([...links.values()].filter((l) => l.connected).length);
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
      const link = links.get(to);
      if (!link || !link.send(msgs)) raft.reportUnreachable(to);
    },
    sendSnapshot: (to, path, meta: SnapshotMeta, msg: Message) => {
      const link = links.get(to);
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
  driver.on('conf', () => {
    syncLinks();
    const c = sm.conf()!;
    if (![...c.voters, ...c.learners].includes(opts.id) && serving) {
      serving = false;
      log.warn('this replica was removed from the cluster configuration; it no longer serves clients or peers');
      clientEndpoint.closeAll(4410, 'this replica was removed from the cluster');
    }
  });
  driver.on('softState', (s) => {
    metrics.term.set(raft.status().term);
    if (s.role === 'leader') log.info({ term: raft.status().term }, 'became leader');
  });

  function pushBacklog(conn: ClientConn, accountId: number, after: number) {
    let cursor = after;
    for (;;) {
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
    const removed = !c.voters.includes(opts.id) && !c.learners.includes(opts.id);
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
      role: !serving ? 'removed' : !isVoter && !removed ? 'learner' : st.role,
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

  syncLinks();
  const linkTimer = setInterval(() => metrics.peersConnected.set([...links.values()].filter((l) => l.connected).length), 1000);
  const ticker = setInterval(() => driver.tick(), tickMs);
  if (conf.voters.length === 1 && conf.voters[0] === opts.id) driver.campaign();

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
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
  driver.on('fatal', () => void stop());

  log.info({ address, dataDir, voters: conf.voters, learners: conf.learners }, 'replica started');
  return {
    id: opts.id,
    address,
    port,
    status,
    stateHash: () => sm.stateHash(),
    stopped,
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
