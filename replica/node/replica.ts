/**
 * The embeddable replica: `startReplica(options)` opens the data folder, starts the Raft driver, the peer links and
 * the single port (HTTP + /client + /peer), and returns a handle with status and a clean stop. The CLI's `replica`
 * command, the desktop app's utility process and the tests all start replicas through this function. This module only
 * wires the parts together; each part is a module of replica/node/.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import pino from 'pino';
import type { ConfState } from '../raft/types.js';
import { ClientEndpoint } from '../net/client-endpoint.js';
import { PeerEndpoint } from '../net/peer-endpoint.js';
import { HttpServer } from '../net/http-server.js';
import { QuorumError, type LeaderHint } from '../protocol/errors.js';
import { parseHostPort } from '../protocol/address.js';
import { CLOSE_CODES } from '../protocol/client.js';
import { Driver } from './driver.js';
import { PeerClocks } from './peer-clocks.js';
import { ClusterVersionKeeper } from './cluster-version.js';
import { snapshotUnreadableBy, STATE_HASH_VERSION } from '../chat/versions.js';
import { STATE_SCHEMA_VERSION } from '../chat/schema.js';
import { RequestHandler } from './requests.js';
import { Presence } from './presence.js';
import { LeaderMoved } from './leader-moved.js';
import { createMetrics } from './metrics.js';
import { openDataFolder, removeOutgoingSnapshots, type Closer } from './data-folder.js';
import { NODE_TIMERS, snapshotDirectory } from './driver-contract.js';
import { openCore } from './open-core.js';
import { MemberAddresses } from './addresses.js';
import { PeerLinks } from './peer-links.js';
import { Membership } from './membership.js';
import { Leadership } from './leadership.js';
import { joinCluster } from './join.js';
import { pushApplied, pushBacklog } from './live-push.js';
import { StateDigest, replicaHealth, replicaStatus } from './status.js';
import { TIMING_DEFAULTS, type ReplicaHandle, type ReplicaOptions } from './options.js';
import { Autopilot } from './autopilot/autopilot.js';
import { AUTOPILOT_DEFAULTS } from './autopilot/policy.js';
import { startReplicaSecurity } from '../security/replica-security.js';
import { LanPresence } from './lan-presence.js';
import { replicaStopFor } from './exit-status.js';
import { DISK_WARN_DEFAULT_BYTES, DiskSpace } from './disk-space.js';

export type { Member, ReplicaHandle, ReplicaOptions } from './options.js';

/** How often the LAN presence checks its cluster id and advertisement. */
const LAN_PRESENCE_MS = 2000;

/** How often the free space of the data folder's filesystem is sampled (one statfs call). */
const DISK_SAMPLE_MS = 2000;

/** How often autopilot samples the members' health (and, when leading, decides). */
const AUTOPILOT_SAMPLE_MS = 250;
/**
 * A removed replica serves no clients but keeps answering its former peers' Raft messages: a configuration change takes
 * effect when applied, so a voter that has not yet learned that the change committed still counts this replica, and
 * may need its vote or its acknowledgement to learn it (removing one of two voters is the plain case). Stopping it
 * at once could leave such a voter without a majority for good; the operator stops it once the cluster has moved on.
 */
const REMOVED_NOTICE =
  'this replica was removed from the cluster configuration: it serves no clients, and answers its former peers until ' +
  'stopped. Stop it and delete its data folder to reuse the machine, or join again with --join';

function defaultWebRoot(): string | null {
  // The nearest dist/renderer above this module, within the project: from the sources (replica/node/) or from a bundle
  // (dist/replica/ or dist/main/; scripts/replica-build.mjs gives `import.meta.dirname` the bundle's folder).
  for (let dir = resolve(import.meta.dirname ?? '.'); ; dir = dirname(dir)) {
    for (const root of [join(dir, 'dist', 'renderer'), ...(basename(dir) === 'dist' ? [join(dir, 'renderer')] : [])]) {
      if (existsSync(join(root, 'index.html'))) return root;
    }
    // Not above the project's own folder (the first with a package.json), nor past the filesystem's root.
    if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) return null;
  }
}

/**
 * Starts a replica; a failed start closes whatever it had opened (no port or file stays open) and rethrows: a
 * ReplicaStop when the reason is a condition of the machine or the data (disk full, data folder in use, damaged log).
 */
export async function startReplica(options: ReplicaOptions): Promise<ReplicaHandle> {
  const opened: Closer[] = [];
  try {
    return await start(options, opened);
  } catch (err) {
    for (const close of opened.reverse()) {
      try {
        await close();
      } catch {
        // already failing; the original error matters
      }
    }
    throw replicaStopFor(err, resolve(options.dataDir)) ?? err;
  }
}

/**
 * The once-only stop of a running replica, and why it stopped when it stopped by itself. A stop first hands
 * leadership over (still serving meanwhile), then closes everything.
 */
class Lifecycle {
  failure: Error | null = null;
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private stopping: Promise<void> | null = null;
  private closing = false;

  constructor() {
    this.stopped = new Promise<void>((resolveStopped) => (this.resolveStopped = resolveStopped));
  }

  /** stop() was called. */
  get isStopping(): boolean {
    return this.stopping !== null;
  }

  /** The hand-over is done and the parts are closing: nothing is served any more. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Runs `handOver`, then `close`, on the first call; every call resolves when the replica has stopped. */
  stop(handOver: () => Promise<void>, close: () => Promise<void>): Promise<void> {
    this.stopping ??= (async () => {
      await handOver();
      this.closing = true;
      await close();
      this.resolveStopped();
    })();
    return this.stopping;
  }
}

async function start(options: ReplicaOptions, opened: Closer[]): Promise<ReplicaHandle> {
  const selfId = options.id;
  const log = (options.log ?? pino({ name: 'quorum' })).child({ replica: selfId });
  const dataDir = resolve(options.dataDir);
  const listen = parseHostPort(options.listen);
  if (!listen) throw new Error(`"${options.listen}" is not HOST:PORT`);
  const { host, port } = listen;
  const tickMs = options.tickMs ?? TIMING_DEFAULTS.tickMs;
  const electionTicks = options.electionTicks ?? TIMING_DEFAULTS.electionTicks;
  const secret = options.secret?.length ? options.secret : null;

  const { lock, logStore, stateMachine, join: joinStep } = openDataFolder(options, dataDir, log, opened);
  const version = stateMachine.supportedVersion;
  const conf = (): ConfState => stateMachine.conf() ?? { voters: [], learners: [] };
  const metrics = createMetrics(selfId, options.processMetrics ?? false);
  const diskSpace = new DiskSpace({ dataDir, warnBelowBytes: options.diskWarnBytes ?? DISK_WARN_DEFAULT_BYTES, log, metrics });
  diskSpace.sample();
  const lifecycle = new Lifecycle();
  const membership = new Membership(selfId, () => stateMachine.conf(), joinStep === 'add');
  if (membership.removed) log.warn(REMOVED_NOTICE);
  const serving = () => !lifecycle.isClosing && !membership.removed;
  const addresses = new MemberAddresses(selfId, stateMachine, options.advertise);
  const previousSecrets = secret ? (options.previousSecrets ?? []) : [];
  const securityOptions = options.security ?? {};
  const peerLinks = securityOptions.peerLinks ?? 'tls';
  const security = await startReplicaSecurity({
    id: selfId,
    dataDir,
    secrets: secret ? [secret, ...previousSecrets] : [],
    hosts: [host, ...(options.advertise ? [parseHostPort(options.advertise)?.host ?? ''] : [])],
    memberAddresses: () => addresses.all().values(),
    options: securityOptions,
    registry: metrics.registry,
    log,
  });
  opened.push(() => security.close());

  const raft = openCore(logStore, stateMachine, log, {
    id: selfId,
    heartbeatTick: options.heartbeatTicks ?? TIMING_DEFAULTS.heartbeatTicks,
    electionTick: electionTicks,
    random: () => randomInt(0, 2 ** 32) / 2 ** 32,
  });
  const links = new PeerLinks({
    version,
    selfId,
    selfAddress: () => addresses.self,
    secret,
    previousSecrets,
    tls: peerLinks === 'plain' ? null : security.tls,
    allowPlain: peerLinks === 'tls-or-plain',
    log,
    onUnreachable: (id) => driver.reportUnreachable(id),
    // Its connection closed for good (e.g. its process died): if it is our leader, elect a new one without waiting
    // out the election timeout (the core ignores this for anyone else). Gone when its own connection to us closed too:
    // then nothing can still arrive from it, and the core need not wait for its silence.
    onLost: (id) => {
      if (membership.removed) return;
      const gone = !peers.hasInbound(id);
      const { role, lead } = raft.status();
      if (gone && role === 'follower' && lead === id) {
        log.info({ leader: id }, "the leader's connections closed both ways: electing a new leader without waiting for its silence");
      }
      raft.leaderUnreachable(id, gone);
    },
  });
  const driver = new Driver({
    id: selfId,
    log,
    timers: NODE_TIMERS,
    snapshotFiles: snapshotDirectory(dataDir),
    raft,
    logStore,
    sm: stateMachine,
    metrics,
    send: (to, msgs) => {
      const link = links.linkTo(to, addresses.of(to));
      if (!link?.send(msgs)) raft.reportUnreachable(to);
    },
    sendSnapshot: (to, path, meta, msg) => {
      const link = links.linkTo(to, addresses.of(to));
      return link ? link.sendSnapshot(path, meta, msg) : Promise.reject(new Error(`no link to ${to}`));
    },
    snapshotWithheld: (to) => snapshotUnreadableBy(to, versionKeeper.heardFrom(to), STATE_SCHEMA_VERSION, stateMachine.clusterVersion()),
    compactEvery: options.compactEvery ?? 20_000,
    keepEntries: options.keepEntries ?? 5_000,
    stateCheckEvery: options.stateCheckEvery ?? 10_000,
    peersTakeStateHashes: () => stateMachine.clusterVersion() >= STATE_HASH_VERSION,
    proposalTimeoutMs: options.proposalTimeoutMs ?? 10_000,
    stopFor: (err) => replicaStopFor(err, dataDir),
  });
  // A replica whose state differs from the majority's serves no clients (STATE_DIVERGED) until resynced; it keeps
  // taking part in Raft, but hands leadership over, as clients sent to it as leader would find no one to serve them.
  const diverged = () => driver.stateCheck.diverged.includes(selfId);
  let steppingDown = false;
  const stepDownIfDiverged = () => {
    if (steppingDown || !diverged() || driver.softState.role !== 'leader' || lifecycle.isClosing) return;
    steppingDown = true;
    log.warn("this replica's state diverged from the cluster's: handing leadership over (it serves no clients until resynced)");
    leadership
      .transfer()
      .catch((err) => log.warn({ err: (err as Error).message }, 'leadership transfer of a diverged replica failed'))
      .finally(() => (steppingDown = false));
  };
  const leadership = new Leadership({
    selfId,
    driver,
    raftStatus: () => raft.status(),
    log,
    transferTimeoutMs: tickMs * electionTicks * 2 + 500,
  });

  const autopilot = new Autopilot({
    selfId,
    settings: { ...AUTOPILOT_DEFAULTS, ...(options.autopilot || {}) },
    enabled: options.autopilot !== false,
    raftStatus: () => raft.status(),
    linkConnected: (id) => links.isConnected(id),
    proposeConfChange: async (change) => {
      // Behind a join's change, a promotion waits its turn rather than failing and waiting for the next sample.
      const outcome = await driver.proposeConfChange(change, { waitTurn: true });
      if (!outcome.response.ok) throw new QuorumError(outcome.response.error.code, outcome.response.error.message);
    },
    log,
    metrics,
  });
  autopilot.confApplied(conf());

  const status = () =>
    replicaStatus({
      selfId,
      selfAddress: addresses.self,
      raft: raft.status(),
      conf: conf(),
      addresses: addresses.all(),
      linkConnected: (id) => links.isConnected(id),
      appliedIndex: driver.appliedIndex,
      removed: membership.removed,
      serving: serving(),
      autopilot: autopilot.report(),
      clusterId: lan.id,
      versions: stateMachine.versions(),
      storage: diskSpace.status,
      stateCheck: { every: options.stateCheckEvery ?? 10_000, check: driver.stateCheck },
    });
  const leaderHint = (): LeaderHint | null => {
    const lead = driver.softState.lead;
    const address = lead ? addresses.of(lead) : undefined;
    return lead && address ? { id: lead, address } : null;
  };

  // Commands are stamped with this replica's clock corrected by its peers' (a skewed clock does not stamp them).
  const peerClocks = new PeerClocks();
  const versionKeeper: ClusterVersionKeeper = new ClusterVersionKeeper({ selfId, supported: version, sm: () => stateMachine, driver, log, now: () => peerClocks.now() });
  const presence = new Presence((accountId) => clients.connectionsOf(accountId));
  const clients: ClientEndpoint = new ClientEndpoint({
    log,
    onPresence: (accountId, username, online) => presence.changed(accountId, username, online),
    handler: new RequestHandler({
      id: selfId,
      get address() {
        return addresses.self;
      },
      log,
      driver,
      sm: () => stateMachine,
      metrics,
      leaderHint,
      status,
      now: () => peerClocks.now(),
      pushBacklog: (conn, accountId, after) => pushBacklog(stateMachine, conn, accountId, after),
      serving,
      secret,
      previousSecrets,
      loginThrottle: security.loginThrottle,
      transfer: (to) => leadership.transfer(to),
      presence,
      diverged,
    }),
  });
  const peers = new PeerEndpoint({
    selfId,
    secret,
    previousSecrets,
    certificates: security.tls,
    requireTls: peerLinks === 'tls',
    incomingDir: join(dataDir, 'snapshots', 'incoming'),
    log,
    onMessages: (from, msgs, sender) => {
      if (sender?.clock !== undefined) peerClocks.observe(from, sender.clock);
      if (sender?.version !== undefined) versionKeeper.observe(from, sender.version);
      // A removed replica still answers its former peers: see REMOVED_NOTICE.
      driver.step(msgs);
    },
    onSnapshot: (_from, snapshot) => {
      driver.stepSnapshot(snapshot);
    },
    onPeerSeen: (id, address) => {
      addresses.announce(id, address);
      links.peerSeen(id);
    },
  });
  const digest = new StateDigest(() => driver.appliedIndex, () => stateMachine.stateHash());
  const http = new HttpServer({
    log,
    client: clients,
    peer: peers,
    metrics: metrics.registry,
    webRoot: options.webRoot === undefined ? defaultWebRoot() : options.webRoot,
    stateDigest: () => digest.current(),
    health: () => replicaHealth(status(), stateMachine.conf()),
    tls: security.tls,
    exposure: security.exposure,
  });
  // Listen before anything runs, so a port conflict fails the start cleanly.
  const boundPort = await http.listen(host, port);
  opened.push(() => http.close());
  if (securityOptions.metricsListen) {
    const metricsAt = parseHostPort(securityOptions.metricsListen);
    if (!metricsAt) throw new Error(`metricsListen "${securityOptions.metricsListen}" is not HOST:PORT`);
    const bound = await http.listenMetrics(metricsAt.host, metricsAt.port);
    log.info({ metrics: `${metricsAt.host}:${bound}` }, 'serving /metrics, /debug/state and /healthz on a port of their own');
  }
  addresses.bound(host, boundPort);

  const syncLinks = () => {
    links.sync(conf(), addresses.all());
    metrics.peersConnected.set(links.connectedCount);
  };
  driver.on('applied', (outcomes) => pushApplied(clients, outcomes));
  driver.on('conf', () => {
    if (membership.confApplied()) {
      log.warn(REMOVED_NOTICE);
      clients.closeAll(CLOSE_CODES.removed, 'this replica was removed from the cluster');
    }
    autopilot.confApplied(conf());
    syncLinks();
  });
  const leaderMoved = new LeaderMoved({
    selfId,
    closeLoggedIn: (reason) => clients.closeLoggedIn(CLOSE_CODES.leaderMoved, reason),
    onClosed: (leader, closed) => log.info({ leader, closed }, 'no longer leading: sent the logged-in clients on to the new leader'),
  });
  driver.on('softState', (soft) => {
    metrics.term.set(raft.currentTerm);
    if (soft.role === 'leader') log.info({ term: raft.currentTerm }, 'became leader');
    if (soft.role === 'leader') stepDownIfDiverged();
    try {
      leaderMoved.softState(soft);
    } catch (err) {
      // Closing sockets should not throw; if it does, the clients find the leader on their next request instead.
      log.warn({ err: (err as Error).message }, 'could not send the logged-in clients on to the new leader');
    }
  });
  driver.on('stateMismatch', () => stepDownIfDiverged());

  syncLinks();
  const linkGauge = setInterval(() => metrics.peersConnected.set(links.connectedCount), 1000);
  const ticker = setInterval(() => driver.tick(), tickMs);
  const autopilotSampler = setInterval(() => autopilot.tick(), AUTOPILOT_SAMPLE_MS);
  const diskSampler = setInterval(() => diskSpace.sample(), DISK_SAMPLE_MS);
  const lan = new LanPresence({
    selfId,
    dataDir,
    address: addresses.self,
    discovery: options.discovery ?? false,
    raftStatus: () => raft.status(),
    conf,
    leaderAddress: () => addresses.of(raft.status().lead ?? ''),
    secret,
    removed: () => membership.removed,
    log,
  });
  lan.tick();
  const lanTimer = setInterval(() => lan.tick(), LAN_PRESENCE_MS);
  metrics.version.set(version);
  metrics.clusterVersion.set(stateMachine.clusterVersion());
  const versionRecorder = setInterval(() => {
    metrics.clusterVersion.set(stateMachine.clusterVersion());
    void versionKeeper.tick();
  }, 1000);
  const initialConf = conf();
  if (initialConf.voters.length === 1 && initialConf.voters[0] === selfId && raft.status().role !== 'leader') driver.campaign();

  const stop = () =>
    lifecycle.stop(
      async () => {
        if (!lifecycle.failure && (options.transferOnStop ?? true)) await leadership.handOverBeforeStop();
      },
      async () => {
        clearInterval(ticker);
        clearInterval(linkGauge);
        clearInterval(autopilotSampler);
        clearInterval(diskSampler);
        clearInterval(lanTimer);
        clearInterval(versionRecorder);
        // Each part closes even when another fails (on a full disk the stores cannot write their last state): a
        // stop must end with the files closed and the folder unlocked, and say why in one line, not crash.
        const closing = async (part: string, close: () => unknown) => {
          try {
            await close();
          } catch (err) {
            log.warn({ part, err: (err as Error).message }, 'closing a part of the replica failed');
          }
        };
        await closing('discovery', () => lan.close());
        driver.stop();
        clients.closeAll(1001, 'replica stopping');
        links.close();
        peers.close();
        await closing('http', () => http.close());
        await closing('security', () => security.close());
        await closing('raft.db', () => logStore.close());
        await closing('state.db', () => stateMachine.close());
        await closing('snapshots', () => removeOutgoingSnapshots(dataDir));
        lock.release();
        log.info('replica stopped');
      },
    );
  driver.on('fatal', (err: unknown) => {
    lifecycle.failure = err instanceof Error ? err : new Error(String(err));
    void stop();
  });

  const joined =
    joinStep !== 'none' && secret && options.join
      ? joinCluster({
          selfId,
          selfAddress: addresses.self,
          via: options.join,
          secret,
          addSelf: joinStep === 'add',
          learner: options.learner ?? false,
          log,
          caughtUp: () => {
            const core = raft.status();
            // A member that knows a leader, and has applied what that leader told it is committed.
            return membership.member && core.lead !== null && driver.appliedIndex >= core.commit && core.commit > 1;
          },
          isVoter: () => membership.voter,
          leaderAddress: () => addresses.of(raft.status().lead ?? ''),
          stopping: () => lifecycle.isStopping,
        })
      : Promise.resolve();
  joined.catch((err) => log.error({ err: (err as Error).message }, 'joining the cluster failed'));

  log.info({ address: addresses.self, dataDir, voters: initialConf.voters, learners: initialConf.learners }, 'replica started');
  return {
    id: selfId,
    address: addresses.self,
    port: boundPort,
    status,
    stateHash: () => stateMachine.stateHash(),
    stopped: lifecycle.stopped,
    failure: () => lifecycle.failure,
    transferLeadership: (to) => leadership.transfer(to),
    joined,
    stop,
  };
}
