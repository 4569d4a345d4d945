/**
 * `cluster`: membership administration, and finding clusters on the LAN.
 *   npm run --silent cluster -- --servers LIST [--json] [--secret-file FILE | --invite-file FILE] add ID HOST:PORT |
 *                               remove ID | promote ID | demote ID | transfer ID | resync ID | invite
 *   npm run --silent cluster -- discover [--json] [--timeout SECONDS] [--interface IPV4]  (no secret: lists what
 *                               replicas advertise with mDNS/DNS-SD)
 * Every command proves the cluster secret (HMAC over a per-connection nonce); the secret never crosses the wire. The
 * connection is TLS and the replica must present a certificate of the cluster CA derived from that secret: the secret
 * (of the file or of an invite code) pins the cluster.
 */
import { adminRequest } from '../net/admin-client.js';
import { QuorumError } from '../protocol/errors.js';
import type { ReplicaStatus } from '../protocol/client.js';
import { readSecret } from './replica.js';
import { parseAddressList, parseCommandLine, parseTimeout, reportUsageError, UsageError } from './usage.js';
import { isHostPort, isReplicaId, REPLICA_ID_RULE } from '../protocol/address.js';
import { readFileSync } from 'node:fs';
import { decodeInvite, encodeInvite } from '../node/invite.js';
import { SecretFileError, type ClusterSecrets } from '../security/secret-file.js';
import { trustFromSecrets } from '../security/client-tls.js';
import { discoverClusters } from '../node/discovery.js';
import { isIPv4 } from 'node:net';

export const CLUSTER_USAGE = `usage: npm run --silent cluster -- --servers HOST:PORT[,...] [--secret-file FILE] [--json] [--timeout SECONDS] COMMAND
       npm run --silent cluster -- --invite-file FILE [--servers HOST:PORT[,...]] [--json] [--timeout SECONDS] COMMAND
commands:
  add ID HOST:PORT   add a replica as a learner (the leader's autopilot promotes it once it has caught up)
  remove ID          remove a replica (a leader hands leadership over first)
  promote ID         make a learner a voter
  demote ID          make a voter a learner
  transfer ID        hand leadership to voter ID
  resync ID          replace replica ID's state by the leader's (a snapshot; its log stays): for a replica whose state
                     diverged (status: stateCheck.diverged); the leader itself cannot be: transfer first
                     (a damaged log, DAMAGED exit status 5: rebuild it with npm run replica -- ... --rebuild)
  invite             print an invite code (addresses + secret) for: npm run replica -- ... --join-code CODE
the secret file defaults to $QUORUM_SECRET_FILE; it is the file the replicas were started with (private: chmod 600).
--invite-file: a file holding an invite code (quorum1.…): its addresses and secret are used instead.
The replicas are reached over TLS; a replica whose certificate the secret's cluster CA did not issue is refused.
       npm run --silent cluster -- discover [--json] [--timeout SECONDS] [--interface IPV4]
  lists the clusters replicas advertise on this network (mDNS/DNS-SD _quorum._tcp), listening --timeout seconds
  (default 3); --json prints {"clusters":[{"clusterId","replicas":[{"id","address"}]}]}. Joining still takes an
  invite code.`;

interface DiscoverArgs {
  json: boolean;
  timeoutMs: number;
  interfaceAddress?: string;
}

export function parseDiscoverArgs(argv: string[]): DiscoverArgs {
  const { values, positionals } = parseCommandLine(
    argv,
    { json: { type: 'boolean', default: false }, timeout: { type: 'string', default: '3' }, interface: { type: 'string' } },
    { allowPositionals: true },
  );
  if (positionals.length !== 1 || positionals[0] !== 'discover') throw new UsageError(`discover takes no arguments`);
  const iface = values.interface;
  if (iface !== undefined && !isIPv4(iface)) throw new UsageError(`--interface "${iface}" is not an IPv4 address`);
  return { json: values.json!, timeoutMs: parseTimeout(values.timeout!), ...(iface ? { interfaceAddress: iface } : {}) };
}

/** The first positional argument (the command), skipping the values of the options that take one. */
function commandName(argv: string[]): string | undefined {
  const takesValue = new Set(['--servers', '--secret-file', '--invite-file', '--timeout', '--interface']);
  for (let i = 0; i < argv.length; i++) {
    if (takesValue.has(argv[i])) i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return undefined;
}

async function discover(argv: string[]): Promise<number> {
  let args: DiscoverArgs;
  try {
    args = parseDiscoverArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, CLUSTER_USAGE);
    throw err;
  }
  let clusters;
  try {
    clusters = await discoverClusters(args);
  } catch (err) {
    process.stderr.write(`UNAVAILABLE: discovery failed: ${(err as Error).message}\n`);
    return 1;
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ clusters })}\n`);
    return 0;
  }
  if (!clusters.length) process.stdout.write(`no Quorum replica answered within ${args.timeoutMs / 1000} s\n`);
  for (const c of clusters) {
    process.stdout.write(`cluster ${c.clusterId}\n${c.replicas.map((r) => `  ${r.id}  ${r.address}`).join('\n')}\n`);
  }
  return 0;
}

interface ClusterArgs {
  servers: string[];
  json: boolean;
  /** Where the secret comes from: a secret file, or an invite code (which also gives the servers). */
  secretFrom: { file: string } | { invite: string };
  timeoutMs: number;
  command: { name: 'add'; id: string; address: string } | { name: 'remove' | 'promote' | 'demote' | 'transfer' | 'resync'; id: string } | { name: 'invite' };
}

export function parseClusterArgs(argv: string[]): ClusterArgs {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      servers: { type: 'string' },
      json: { type: 'boolean', default: false },
      'secret-file': { type: 'string' },
      'invite-file': { type: 'string' },
      timeout: { type: 'string', default: '15' },
    },
    { allowPositionals: true },
  );
  if (values['invite-file'] && values['secret-file']) throw new UsageError('give the secret once: --secret-file or --invite-file');
  let secretFrom: ClusterArgs['secretFrom'];
  let servers: string[] = [];
  if (values['invite-file']) {
    let code: string;
    try {
      code = readFileSync(values['invite-file'], 'utf8');
    } catch (err) {
      throw new UsageError(`--invite-file ${values['invite-file']}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    try {
      servers = decodeInvite(code).servers;
    } catch (err) {
      throw new UsageError(`--invite-file ${values['invite-file']}: ${(err as Error).message}`);
    }
    secretFrom = { invite: code };
  } else {
    const secretFile = values['secret-file'] ?? process.env.QUORUM_SECRET_FILE;
    if (!secretFile) throw new UsageError('--secret-file is required (the cluster secret file the replicas use), or set QUORUM_SECRET_FILE, or --invite-file');
    secretFrom = { file: secretFile };
  }
  // An invite code names the servers; --servers may still say which to ask.
  if (values.servers !== undefined || servers.length === 0) servers = parseAddressList(values.servers, '--servers');
  const timeoutMs = parseTimeout(values.timeout!);
  const [name, ...rest] = positionals;
  const id = rest[0];
  const checkId = () => {
    if (!id || !isReplicaId(id)) throw new UsageError(`${name} needs a replica ID (${REPLICA_ID_RULE})`);
  };
  let command: ClusterArgs['command'];
  switch (name) {
    case 'add':
      checkId();
      if (rest.length !== 2) throw new UsageError('add needs ID HOST:PORT');
      if (!isHostPort(rest[1])) throw new UsageError(`add: "${rest[1]}" is not HOST:PORT`);
      command = { name, id, address: rest[1] };
      break;
    case 'remove':
    case 'promote':
    case 'demote':
    case 'transfer':
    case 'resync':
      checkId();
      if (rest.length !== 1) throw new UsageError(`${name} needs exactly one ID`);
      command = { name, id };
      break;
    case 'invite':
      if (rest.length) throw new UsageError('invite takes no arguments');
      command = { name };
      break;
    case undefined:
      throw new UsageError('a command is required');
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
  return { servers, json: values.json!, secretFrom, timeoutMs, command };
}

export async function main(argv: string[]): Promise<number> {
  if (commandName(argv) === 'discover') return discover(argv);
  let args: ClusterArgs;
  let secrets: ClusterSecrets;
  try {
    args = parseClusterArgs(argv);
    if ('file' in args.secretFrom) secrets = readSecret(args.secretFrom.file);
    else {
      const secret = decodeInvite(args.secretFrom.invite).secret;
      secrets = { current: secret, accepted: [secret] };
    }
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, CLUSTER_USAGE);
    if (err instanceof SecretFileError) {
      process.stderr.write(`INVALID: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const secret = secrets.current;
  const out = (json: unknown, text: string) => process.stdout.write(args.json ? JSON.stringify(json) + '\n' : text + '\n');
  const opts = { timeoutMs: args.timeoutMs, trust: await trustFromSecrets(secrets.accepted) };
  try {
    const c = args.command;
    switch (c.name) {
      case 'add': {
        const r = await adminRequest<{ conf: { voters: string[]; learners: string[] } }>(args.servers, secret, { op: 'clusterChange', change: { op: 'addLearner', id: c.id, address: c.address } }, opts);
        out({ ...r.conf }, `added ${c.id} (${c.address}) as a learner; voters: ${r.conf.voters.join(', ')}; learners: ${r.conf.learners.join(', ')}`);
        return 0;
      }
      case 'remove':
      case 'promote':
      case 'demote': {
        const r = await adminRequest<{ conf: { voters: string[]; learners: string[] } }>(args.servers, secret, { op: 'clusterChange', change: { op: c.name, id: c.id } }, opts);
        out({ ...r.conf }, `${c.name}d ${c.id}; voters: ${r.conf.voters.join(', ')}; learners: ${r.conf.learners.join(', ') || '-'}`);
        return 0;
      }
      case 'transfer': {
        const r = await adminRequest<{ leader: string }>(args.servers, secret, { op: 'transfer', to: c.id }, opts);
        out({ leader: r.leader }, `leadership handed to ${r.leader}`);
        return 0;
      }
      case 'resync': {
        const r = await adminRequest<{ resync: string; index: number }>(args.servers, secret, { op: 'resync', replica: c.id }, opts);
        out(r, `sent the leader's state at index ${r.index} to ${r.resync}; it replaces ${r.resync}'s once committed there (its log says so: "resync: ...")`);
        return 0;
      }
      case 'invite': {
        // Addresses of every member, as the cluster knows them; the secret comes from the local file.
        const st = await adminRequest<ReplicaStatus>(args.servers, secret, { op: 'status' }, opts);
        const addresses = st.members.map((m) => m.address).filter(Boolean);
        const code = encodeInvite({ servers: addresses.length ? addresses : args.servers, secret });
        out({ code, servers: addresses }, code);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof QuorumError) {
      process.stderr.write(`${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
