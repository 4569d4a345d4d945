/**
 * `replica`: runs a headless replica until SIGTERM/SIGINT.
 *   npm run replica -- --id ID --data DIR --listen HOST:PORT [--initial-cluster ID=HOST:PORT,...] [--secret-file FILE]
 *                      [--heartbeat-ms 50] [--election-timeout-ms 250] [--log-level info]
 */
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { decodeInvite } from '../node/invite.js';
import { createLogger } from './logger.js';
import { startReplica, type Member } from '../node/replica.js';
import { supportedVersion } from '../chat/versions.js';
import { isHostPort, isReplicaId, parseHostPort, REPLICA_ID_RULE } from '../protocol/address.js';
import { parseAddressList, parseCommandLine, positiveInt, reportUsageError, UsageError } from './usage.js';
import { AUTOPILOT_DEFAULTS, type AutopilotSettings } from '../node/autopilot/policy.js';
import { readSecretFile, SecretFileError, type ClusterSecrets } from '../security/secret-file.js';
import { normalizeOrigin } from '../net/exposure.js';
import { trustFromSecrets } from '../security/client-tls.js';
import { PEER_LINK_MODES, type PeerLinkMode, type ReplicaSecurityOptions } from '../security/replica-security.js';
import { EXIT_STATUS, ReplicaStop, exitStatusOf } from '../node/exit-status.js';
import { DISK_WARN_DEFAULT_BYTES } from '../node/disk-space.js';
import { nextReplicaId, rebuildDataFolder, RebuildError } from '../node/rebuild.js';

const USAGE = `usage: npm run replica -- [--id ID] [--data DIR] [--listen HOST:PORT]
         [--initial-cluster ID=HOST:PORT,ID=HOST:PORT,...] [--secret-file FILE]
         [--join HOST:PORT,... --secret-file FILE | --join-code CODE | --join-code-file FILE] [--learner]
         [--force-new-cluster]
         [--rebuild --join HOST:PORT,... --secret-file FILE [--new-id ID] [--force-rebuild]]
         [--autopilot-voters N] [--autopilot-stabilize SECONDS] [--autopilot-dead-after SECONDS] [--no-autopilot]
         [--no-discovery]
         [--heartbeat-ms MS] [--election-timeout-ms MS] [--log-level LEVEL]
         [--compact-every N] [--keep-entries N] [--state-check-every N] [--disk-warn-mb MB]
         [--tls-cert FILE --tls-key FILE] [--allow-origin ORIGIN,...] [--allow-plain-clients]
         [--peer-links tls|tls-or-plain|plain]
         [--metrics-listen HOST:PORT] [--metrics-token-file FILE]
defaults: --id r1 --data .data/<id> --listen 127.0.0.1:7400 --heartbeat-ms 50 --election-timeout-ms 250
  (the election timeout is drawn from [MS, 2*MS) per term)
  --join / --join-code: join a running cluster as a learner (an empty data folder), catch up, then the leader's
  autopilot decides when it votes; a restart mid-join resumes. Without --learner, a caught-up learner asks to be
  promoted itself when the leader runs --no-autopilot. A join code's secret is kept in the data folder for restarts.
  --join-code-file reads the code from a file, so it does not show in the process list.
  --rebuild: rebuild the replica --id whose data folder --data holds a damaged log (it was refused with DAMAGED, exit
  status 5): checks that the log fails its checksums (--force-rebuild: skip that, e.g. after a log divergence), asks
  the cluster (--join, with its secret) to remove --id and waits for that, moves the folder's files into
  DIR.damaged-<UTC time> beside it (never deleted), then joins as a new id (--new-id, default --id plus -2: r2 → r2-2,
  r2-2 → r2-3) and catches up from the leader. Restart it afterwards with the new id. Ids are never reused: an empty
  log under an id some voter may still count could help elect a leader lacking committed entries.
  autopilot (run by the leader): keeps an odd number of voters, at most --autopilot-voters (default 5); promotes a
  learner caught up for --autopilot-stabilize seconds (default 10); demotes a voter unreachable for
  --autopilot-dead-after seconds (default 300); never a change without a reachable majority. --no-autopilot: voters
  change only by hand (cluster promote/demote).
  LAN discovery: a replica whose address is a LAN IPv4 address advertises _quorum._tcp (id, address, public cluster
  id; never the secret) on that interface; find them with: npm run --silent cluster -- discover. --no-discovery: off.
  --disk-warn-mb: warn (log, metric, status) when the data folder's filesystem has less free space (default ${DISK_WARN_DEFAULT_BYTES / 1024 / 1024})
  compaction: once N entries (default 20000) are applied beyond the log's start, entries older than the last
  --keep-entries (default 5000) are dropped; a replica further behind catches up by snapshot
  --state-check-every N: every replica hashes its state at the multiples of N (default 10000; 0: never; a state of
  more than 10,000 rows at fewer of them, about one row hashed per entry) and compares with its peers; a mismatch is
  logged, counted (quorum_state_hash_mismatches_total) and shown in status; rebuild a diverged replica with:
  npm run --silent cluster -- ... resync ID
security (docs/security.md): replicas talk TLS with certificates of a CA derived from the cluster secret; the secret
  file must be private (chmod 600); a second line holds the previous secret during a rotation.
  --tls-cert/--tls-key: an operator's certificate for browsers, served on the same port (reloaded when the files change)
  --allow-origin: web origins besides the replica's own and the desktop app allowed to open /client
  --allow-plain-clients: serve pages and /client in plain text to other machines too (default: loopback only)
  --peer-links: tls (default); tls-or-plain only while upgrading from a version without TLS; plain only on a network
  that is encrypted already (WireGuard) or to measure what TLS costs
  --metrics-listen: serve /metrics, /debug/state and /healthz to anyone on a separate port (default: loopback only)
  --metrics-token-file: a bearer token that lets other machines read /metrics and /debug/state on the main port
exit status (docs/operations.md): 0 stopped on request; 1 failed; 2 invalid arguments; 3 disk full (free space, then
  restart); 4 data folder in use by another process; 5 damaged or diverged log (rebuild the replica with --rebuild:
  docs/operations.md "A damaged replica"); 6 this replica is too old for its data folder or its cluster (upgrade it)`;

export interface ParsedReplicaArgs {
  id: string;
  /** --rebuild: `id` is the damaged replica's; it rejoins as `newId` (given, or derived). */
  rebuild?: { newId: string; newIdGiven: boolean; force: boolean };
  dataDir: string;
  listen: string;
  initialCluster?: Member[];
  secretFile?: string;
  join?: string[];
  joinCode?: string;
  learner: boolean;
  forceNewCluster: boolean;
  heartbeatMs: number;
  electionTimeoutMs: number;
  logLevel: string;
  compactEvery: number;
  keepEntries: number;
  /** Hash and compare the state at the multiples of this index (0: never). */
  stateCheckEvery: number;
  /** Autopilot's settings, or false (--no-autopilot). */
  autopilot: AutopilotSettings | false;
  security: ReplicaSecurityOptions;
  /** --metrics-token-file, read in main (it must be private, like the secret). */
  metricsTokenFile?: string;
  /** Advertise on the LAN (--no-discovery: false). */
  discovery: boolean;
  /** Warn below this many free bytes on the data folder's filesystem. */
  diskWarnBytes: number;
}

export function parseReplicaArgs(argv: string[]): ParsedReplicaArgs {
  const { values } = parseCommandLine(argv, {
    id: { type: 'string' },
    data: { type: 'string' },
    listen: { type: 'string', default: '127.0.0.1:7400' },
    'initial-cluster': { type: 'string' },
    join: { type: 'string' },
    'join-code': { type: 'string' },
    'join-code-file': { type: 'string' },
    learner: { type: 'boolean', default: false },
    'force-new-cluster': { type: 'boolean', default: false },
    rebuild: { type: 'boolean', default: false },
    'force-rebuild': { type: 'boolean', default: false },
    'new-id': { type: 'string' },
    'secret-file': { type: 'string' },
    'heartbeat-ms': { type: 'string', default: '50' },
    'election-timeout-ms': { type: 'string', default: '250' },
    'log-level': { type: 'string', default: 'info' },
    'compact-every': { type: 'string', default: '20000' },
    'keep-entries': { type: 'string', default: '5000' },
    'state-check-every': { type: 'string', default: '10000' },
    'autopilot-voters': { type: 'string' },
    'autopilot-stabilize': { type: 'string' },
    'autopilot-dead-after': { type: 'string' },
    'no-autopilot': { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'allow-origin': { type: 'string', multiple: true },
    'allow-plain-clients': { type: 'boolean', default: false },
    'peer-links': { type: 'string', default: 'tls' },
    'metrics-listen': { type: 'string' },
    'metrics-token-file': { type: 'string' },
    'no-discovery': { type: 'boolean', default: false },
    'disk-warn-mb': { type: 'string', default: String(DISK_WARN_DEFAULT_BYTES / 1024 / 1024) },
  });
  const id = values.id ?? 'r1';
  if (!isReplicaId(id)) throw new UsageError(`--id "${id}": ${REPLICA_ID_RULE}`);
  if (!parseHostPort(values.listen!)) throw new UsageError(`--listen: "${values.listen}" is not HOST:PORT`);
  let initialCluster: Member[] | undefined;
  if (values['initial-cluster']) {
    initialCluster = values['initial-cluster'].split(',').map((part) => {
      const [memberId, address] = part.trim().split('=', 2);
      if (!isReplicaId(memberId) || address === undefined || !isHostPort(address)) throw new UsageError(`--initial-cluster: "${part}" is not ID=HOST:PORT`);
      return { id: memberId, address };
    });
    const ids = new Set(initialCluster.map((m) => m.id));
    if (ids.size !== initialCluster.length) throw new UsageError('--initial-cluster: an id appears twice');
    if (!ids.has(id)) throw new UsageError(`--initial-cluster must include this replica's id (${id})`);
  }
  let join: string[] | undefined;
  if (values.join) join = parseAddressList(values.join, '--join');
  if (values['join-code'] && values['join-code-file']) throw new UsageError('give the join code once: --join-code or --join-code-file');
  let joinCode = values['join-code'];
  if (values['join-code-file']) {
    try {
      joinCode = readFileSync(values['join-code-file'], 'utf8').trim();
    } catch (err) {
      throw new UsageError(`--join-code-file ${values['join-code-file']}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!joinCode) throw new UsageError(`--join-code-file ${values['join-code-file']} is empty; put the quorum1.… code from \`cluster invite\` in it`);
  }
  if (joinCode && (join || values['secret-file'])) throw new UsageError('--join-code already holds the addresses and the secret; drop --join/--secret-file');
  if ((join || joinCode) && initialCluster) throw new UsageError('--join and --initial-cluster exclude each other: bootstrap a new cluster or join one');
  if (values.learner && !join && !joinCode) throw new UsageError('--learner applies when joining (--join or --join-code)');
  if (values['force-new-cluster'] && (join || joinCode || initialCluster)) {
    throw new UsageError('--force-new-cluster restarts this replica alone from its own data; it takes no --join or --initial-cluster');
  }
  const rebuild = parseRebuild(values, id, !!(join || joinCode), !!initialCluster);
  const autopilot = parseAutopilot(values);
  const heartbeatMs = positiveInt(values['heartbeat-ms']!, '--heartbeat-ms (milliseconds)', MAX_TIMING_MS);
  const electionTimeoutMs = positiveInt(values['election-timeout-ms']!, '--election-timeout-ms (milliseconds)', MAX_TIMING_MS);
  if (electionTimeoutMs < 3 * heartbeatMs) throw new UsageError('--election-timeout-ms must be at least 3 heartbeats');
  if (!!values['tls-cert'] !== !!values['tls-key']) throw new UsageError('--tls-cert and --tls-key go together: the certificate and its private key');
  const allowedOrigins = (values['allow-origin'] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const origin of allowedOrigins) {
    if (normalizeOrigin(origin) === null) throw new UsageError(`--allow-origin "${origin}" is not an origin (scheme://host[:port], e.g. https://chat.example.com)`);
  }
  if (values['metrics-listen'] && !parseHostPort(values['metrics-listen'])) throw new UsageError(`--metrics-listen: "${values['metrics-listen']}" is not HOST:PORT`);
  const peerLinks = values['peer-links']! as PeerLinkMode;
  if (!PEER_LINK_MODES.includes(peerLinks)) throw new UsageError(`--peer-links "${peerLinks}": one of ${PEER_LINK_MODES.join(', ')}`);
  const security: ReplicaSecurityOptions = {
    operatorCertificate: values['tls-cert'] ? { certFile: values['tls-cert'], keyFile: values['tls-key']! } : null,
    allowedOrigins,
    allowPlainClients: values['allow-plain-clients']!,
    peerLinks,
    metricsListen: values['metrics-listen'] ?? null,
  };
  return {
    id,
    ...(rebuild ? { rebuild } : {}),
    security,
    metricsTokenFile: values['metrics-token-file'],
    dataDir: values.data ?? `.data/${id}`,
    listen: values.listen!,
    initialCluster,
    secretFile: values['secret-file'],
    join,
    joinCode,
    learner: values.learner!,
    forceNewCluster: values['force-new-cluster']!,
    heartbeatMs,
    electionTimeoutMs,
    logLevel: values['log-level']!,
    compactEvery: positiveInt(values['compact-every']!, '--compact-every (entries)', MAX_LOG_ENTRIES),
    keepEntries: positiveInt(values['keep-entries']!, '--keep-entries (entries)', MAX_LOG_ENTRIES),
    stateCheckEvery: wholeNumber(values['state-check-every']!, '--state-check-every'),
    autopilot,
    discovery: !values['no-discovery'],
    diskWarnBytes: megabytes(values['disk-warn-mb']!, '--disk-warn-mb'),
  };
}

/** --rebuild and its options; undefined without --rebuild (and then they must not be given). */
function parseRebuild(values: Record<string, string | boolean | string[] | undefined>, id: string, joining: boolean, bootstrapping: boolean): ParsedReplicaArgs['rebuild'] {
  const newIdText = values['new-id'] as string | undefined;
  if (!values.rebuild) {
    if (values['force-rebuild']) throw new UsageError('--force-rebuild goes with --rebuild');
    if (newIdText !== undefined) throw new UsageError('--new-id goes with --rebuild');
    return undefined;
  }
  if (values.id === undefined) throw new UsageError("--rebuild needs --id: the id the damaged replica ran as (it is removed from the cluster)");
  if (!joining) throw new UsageError('--rebuild joins the cluster again: give --join HOST:PORT,... with --secret-file FILE (or --join-code)');
  if (bootstrapping) throw new UsageError('--rebuild joins a running cluster; drop --initial-cluster');
  if (values['force-new-cluster']) throw new UsageError('--rebuild and --force-new-cluster exclude each other');
  let newId: string;
  if (newIdText !== undefined) {
    if (!isReplicaId(newIdText)) throw new UsageError(`--new-id "${newIdText}": ${REPLICA_ID_RULE}`);
    if (newIdText === id) throw new UsageError(`--new-id must differ from --id ${id}: a rebuilt replica never takes its old id again`);
    newId = newIdText;
  } else {
    const next = nextReplicaId(id);
    if (next === null) throw new UsageError(`--id ${id} is too long to derive a new id from: give one with --new-id`);
    newId = next;
  }
  return { newId, newIdGiven: newIdText !== undefined, force: !!values['force-rebuild'] };
}

/** Longest --heartbeat-ms / --election-timeout-ms accepted: ten minutes. */
const MAX_TIMING_MS = 600_000;
/** Most entries --compact-every / --keep-entries accept (a log kept that long is tens of gigabytes). */
const MAX_LOG_ENTRIES = 100_000_000;

/** Most voters --autopilot-voters accepts (a Raft cluster gains nothing from more). */
const MAX_AUTOPILOT_VOTERS = 15;

function parseAutopilot(values: Record<string, string | boolean | string[] | undefined>): AutopilotSettings | false {
  const given = ['autopilot-voters', 'autopilot-stabilize', 'autopilot-dead-after'].filter((name) => values[name] !== undefined);
  if (values['no-autopilot']) {
    if (given.length) throw new UsageError(`--no-autopilot turns autopilot off; drop --${given[0]}`);
    return false;
  }
  const text = (name: string) => values[name] as string | undefined;
  let targetVoters = AUTOPILOT_DEFAULTS.targetVoters;
  if (text('autopilot-voters') !== undefined) {
    targetVoters = Number(text('autopilot-voters'));
    if (!Number.isInteger(targetVoters) || targetVoters < 1 || targetVoters > MAX_AUTOPILOT_VOTERS || targetVoters % 2 === 0) {
      throw new UsageError(`--autopilot-voters "${text('autopilot-voters')}" must be an odd number from 1 to ${MAX_AUTOPILOT_VOTERS} (an even count tolerates no more failures than the odd one below it)`);
    }
  }
  const seconds = (name: string, fallbackMs: number, max: number) => {
    const raw = text(name);
    if (raw === undefined) return fallbackMs;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n < 0.1 || n > max) throw new UsageError(`--${name} "${raw}" must be a number of seconds from 0.1 to ${max}`);
    return Math.round(n * 1000);
  };
  return {
    targetVoters,
    stabilizeMs: seconds('autopilot-stabilize', AUTOPILOT_DEFAULTS.stabilizeMs, 86_400),
    deadAfterMs: seconds('autopilot-dead-after', AUTOPILOT_DEFAULTS.deadAfterMs, 7 * 86_400),
  };
}

function megabytes(s: string, name: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n > 1024 * 1024) throw new UsageError(`${name} "${s}" must be a whole number of megabytes (0 turns the warning off)`);
  return n * 1024 * 1024;
}

function wholeNumber(s: string, name: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw new UsageError(`${name} "${s}" must be a whole number`);
  return n;
}

/** The secrets of a secret file (private; first line current, further lines accepted during a rotation). */
export function readSecret(file: string): ClusterSecrets {
  try {
    return readSecretFile(file);
  } catch (err) {
    if (err instanceof SecretFileError) throw new SecretFileError(`--secret-file ${err.message}`);
    throw err;
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: ParsedReplicaArgs;
  let secrets: ClusterSecrets | null = null;
  try {
    args = parseReplicaArgs(argv);
    const kept = join(args.dataDir, 'cluster.secret');
    if (args.joinCode) {
      let inv;
      try {
        inv = decodeInvite(args.joinCode);
      } catch (err) {
        throw new UsageError(`--join-code: ${(err as Error).message}`);
      }
      args.join = inv.servers;
      secrets = { current: inv.secret, accepted: [inv.secret] };
      // Restarts need the secret too: keep it beside the data, readable by this user only.
      mkdirSync(args.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(kept, inv.secret.toString('utf8') + '\n', { mode: 0o600 });
    } else if (args.secretFile) secrets = readSecret(args.secretFile);
    else if (existsSync(kept)) secrets = readSecret(kept);
    else if (args.initialCluster && args.initialCluster.length > 1) {
      throw new UsageError('--secret-file is required when the cluster has more than one member');
    } else if (args.join) throw new UsageError('--join needs the cluster secret: --secret-file FILE');
    if (args.metricsTokenFile) {
      const token = readSecretFile(args.metricsTokenFile).current.toString('utf8');
      args.security = { ...args.security, metricsToken: token };
    }
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, USAGE);
    if (err instanceof SecretFileError) {
      process.stderr.write(`INVALID: ${err.message}\n`);
      return EXIT_STATUS.invalid;
    }
    throw err;
  }
  const log = createLogger('quorum', args.logLevel);
  if (args.forceNewCluster) {
    process.stderr.write(
      'WARNING: --force-new-cluster: this replica restarts as a ONE-MEMBER cluster from its own data.\n' +
        '  Writes the old cluster acknowledged that never reached this replica are LOST. Do not restart the old\n' +
        '  replicas with their old data; add machines back with --join. See docs/operations.md.\n',
    );
  }
  let id = args.id;
  if (args.rebuild) {
    const rebuilt = await rebuild(args, args.rebuild, secrets!, log);
    if (typeof rebuilt === 'number') return rebuilt;
    id = rebuilt;
  }
  const tickMs = Math.max(1, Math.floor(args.heartbeatMs / 2));
  let handle;
  try {
    handle = await startReplica({
      id,
      dataDir: args.dataDir,
      listen: args.listen,
      initialCluster: args.initialCluster,
      secret: secrets?.current ?? null,
      previousSecrets: secrets?.accepted.slice(1) ?? [],
      security: args.security,
      tickMs,
      heartbeatTicks: 2,
      electionTicks: Math.max(3, Math.round(args.electionTimeoutMs / tickMs)),
      log,
      processMetrics: true,
      compactEvery: args.compactEvery,
      join: args.join,
      learner: args.learner,
      forceNewCluster: args.forceNewCluster,
      keepEntries: args.keepEntries,
      stateCheckEvery: args.stateCheckEvery,
      autopilot: args.autopilot,
      discovery: args.discovery,
      supportedVersion: supportedVersion(process.env),
      diskWarnBytes: args.diskWarnBytes,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? `port in use: ${args.listen} (pick another with --listen)` : e.message;
    process.stderr.write(`${err instanceof ReplicaStop ? err.code : 'UNAVAILABLE'}: cannot start replica ${id}: ${why}\n`);
    return exitStatusOf(e);
  }
  const scheme = args.security.operatorCertificate || secrets ? 'https' : 'http';
  process.stderr.write(`Quorum replica ${handle.id} serving at ${scheme}://${handle.address}/ (data: ${args.dataDir})\n`);
  if (args.rebuild) {
    const started = handle;
    started.joined.then(
      () => process.stderr.write(`rebuild: replica ${started.id} has caught up with the leader\n`),
      // A failed join stops the replica, which says why below.
      () => {},
    );
  }
  const shutdown = (sig: string) => {
    log.info({ signal: sig }, 'shutting down');
    void handle.stop();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await handle.stopped;
  const failure = handle.failure();
  if (failure instanceof ReplicaStop) process.stderr.write(`${failure.code}: replica ${handle.id}: ${failure.message}\n`);
  else if (failure) process.stderr.write(`UNAVAILABLE: replica ${handle.id} stopped after an error: ${failure.message}\n`);
  return exitStatusOf(failure);
}

/**
 * --rebuild (node/rebuild.ts): checks, removes the old id, moves the files aside; returns the id to start under, or the
 * exit status of a refusal or failure (after its one line on stderr).
 */
async function rebuild(args: ParsedReplicaArgs, r: NonNullable<ParsedReplicaArgs['rebuild']>, secrets: ClusterSecrets, log: ReturnType<typeof createLogger>): Promise<string | number> {
  const what = `rebuild of replica ${args.id} (data ${args.dataDir})`;
  try {
    const done = await rebuildDataFolder({
      dataDir: args.dataDir,
      oldId: args.id,
      newId: r.newId,
      newIdGiven: r.newIdGiven,
      force: r.force,
      via: args.join!,
      secret: secrets.current,
      trust: await trustFromSecrets(secrets.accepted),
      log,
    });
    process.stderr.write(
      `rebuild: ${args.id} is out of the cluster and its files are in ${done.backup} (keep them; never start a replica on them); ` +
        `joining as ${done.id}: from now on start this replica with --id ${done.id} --data ${args.dataDir}\n`,
    );
    return done.id;
  } catch (err) {
    if (err instanceof RebuildError) {
      process.stderr.write(`${err.code}: ${what}: ${err.message}\n`);
      return err.code === 'INVALID' ? EXIT_STATUS.invalid : err.code === 'DATA_FOLDER_IN_USE' ? EXIT_STATUS.DATA_FOLDER_IN_USE : EXIT_STATUS.failed;
    }
    process.stderr.write(`UNAVAILABLE: ${what}: ${(err as Error).message}\n`);
    return EXIT_STATUS.failed;
  }
}
