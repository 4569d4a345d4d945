/**
 * `cluster`: membership administration.
 *   npm run --silent cluster -- --servers LIST [--json] [--secret-file FILE] add ID HOST:PORT | remove ID |
 *                               promote ID | demote ID | transfer ID | invite
 * Every command proves the cluster secret (HMAC over a per-connection nonce); the secret never crosses the wire.
 */
import { adminRequest } from '../net/admin-client.js';
import { QuorumError } from '../protocol/errors.js';
import type { ReplicaStatus } from '../protocol/client.js';
import { readSecret } from './replica.js';
import { parseAddressList, parseCommandLine, parseTimeout, reportUsageError, UsageError } from './usage.js';
import { isHostPort, isReplicaId, REPLICA_ID_RULE } from '../protocol/address.js';
import { encodeInvite } from '../node/invite.js';

export const CLUSTER_USAGE = `usage: npm run --silent cluster -- --servers HOST:PORT[,...] [--json] [--secret-file FILE] [--timeout SECONDS] COMMAND
commands:
  add ID HOST:PORT   add a replica as a learner (it is promoted to voter once caught up when it runs with --join)
  remove ID          remove a replica (a leader hands leadership over first)
  promote ID         make a learner a voter
  demote ID          make a voter a learner
  transfer ID        hand leadership to voter ID
  invite             print an invite code (addresses + secret) for: npm run replica -- ... --join-code CODE
the secret file defaults to $QUORUM_SECRET_FILE; it is the file the replicas were started with.`;

interface ClusterArgs {
  servers: string[];
  json: boolean;
  secretFile: string;
  timeoutMs: number;
  command: { name: 'add'; id: string; address: string } | { name: 'remove' | 'promote' | 'demote' | 'transfer'; id: string } | { name: 'invite' };
}

export function parseClusterArgs(argv: string[]): ClusterArgs {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      servers: { type: 'string' },
      json: { type: 'boolean', default: false },
      'secret-file': { type: 'string' },
      timeout: { type: 'string', default: '15' },
    },
    { allowPositionals: true },
  );
  const servers = parseAddressList(values.servers, '--servers');
  const secretFile = values['secret-file'] ?? process.env.QUORUM_SECRET_FILE;
  if (!secretFile) throw new UsageError('--secret-file is required (the cluster secret file the replicas use), or set QUORUM_SECRET_FILE');
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
  return { servers, json: values.json!, secretFile, timeoutMs, command };
}

export async function main(argv: string[]): Promise<number> {
  let args: ClusterArgs;
  let secret: Buffer;
  try {
    args = parseClusterArgs(argv);
    secret = readSecret(args.secretFile);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, CLUSTER_USAGE);
    throw err;
  }
  const out = (json: unknown, text: string) => process.stdout.write(args.json ? JSON.stringify(json) + '\n' : text + '\n');
  const opts = { timeoutMs: args.timeoutMs };
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
