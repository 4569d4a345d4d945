/**
 * `replica`: runs a headless replica until SIGTERM/SIGINT.
 *   npm run replica -- --id ID --data DIR --listen HOST:PORT [--initial-cluster ID=HOST:PORT,...] [--secret-file FILE]
 *                      [--heartbeat-ms 50] [--election-timeout-ms 250] [--log-level info]
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { startReplica, splitHostPort, type Member } from '../node.js';

const USAGE = `usage: npm run replica -- [--id ID] [--data DIR] [--listen HOST:PORT]
         [--initial-cluster ID=HOST:PORT,ID=HOST:PORT,...] [--secret-file FILE]
         [--heartbeat-ms MS] [--election-timeout-ms MS] [--log-level LEVEL]
         [--compact-every N] [--keep-entries N]
defaults: --id r1 --data .data/<id> --listen 127.0.0.1:7400 --heartbeat-ms 50 --election-timeout-ms 250
  (the election timeout is drawn from [MS, 2*MS) per term)
  compaction: once N entries (default 20000) are applied beyond the log's start, entries older than the last
  --keep-entries (default 5000) are dropped; a replica further behind catches up by snapshot`;

export class UsageError extends Error {}

export interface ParsedReplicaArgs {
  id: string;
  dataDir: string;
  listen: string;
  initialCluster?: Member[];
  secretFile?: string;
  heartbeatMs: number;
  electionTimeoutMs: number;
  logLevel: string;
  compactEvery: number;
  keepEntries: number;
}

export function parseReplicaArgs(argv: string[]): ParsedReplicaArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        id: { type: 'string', default: 'r1' },
        data: { type: 'string' },
        listen: { type: 'string', default: '127.0.0.1:7400' },
        'initial-cluster': { type: 'string' },
        'secret-file': { type: 'string' },
        'heartbeat-ms': { type: 'string', default: '50' },
        'election-timeout-ms': { type: 'string', default: '250' },
        'log-level': { type: 'string', default: 'info' },
        'compact-every': { type: 'string', default: '20000' },
        'keep-entries': { type: 'string', default: '5000' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) throw new UsageError('');
  const id = values.id!;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) throw new UsageError(`--id "${id}": use 1-64 letters, digits, "_", "." or "-"`);
  try {
    splitHostPort(values.listen!);
  } catch (err) {
    throw new UsageError(`--listen: ${(err as Error).message}`);
  }
  let initialCluster: Member[] | undefined;
  if (values['initial-cluster']) {
    initialCluster = values['initial-cluster'].split(',').map((part) => {
      const m = /^([A-Za-z0-9_.-]{1,64})=(.+)$/.exec(part.trim());
      if (!m) throw new UsageError(`--initial-cluster: "${part}" is not ID=HOST:PORT`);
      try {
        splitHostPort(m[2]);
      } catch (err) {
        throw new UsageError(`--initial-cluster: ${(err as Error).message}`);
      }
      return { id: m[1], address: m[2] };
    });
    const ids = new Set(initialCluster.map((m) => m.id));
    if (ids.size !== initialCluster.length) throw new UsageError('--initial-cluster: an id appears twice');
    if (!ids.has(id)) throw new UsageError(`--initial-cluster must include this replica's id (${id})`);
  }
  const heartbeatMs = positiveInt(values['heartbeat-ms']!, '--heartbeat-ms');
  const electionTimeoutMs = positiveInt(values['election-timeout-ms']!, '--election-timeout-ms');
  if (electionTimeoutMs < 3 * heartbeatMs) throw new UsageError('--election-timeout-ms must be at least 3 heartbeats');
  return {
    id,
    dataDir: values.data ?? `.data/${id}`,
    listen: values.listen!,
    initialCluster,
    secretFile: values['secret-file'],
    heartbeatMs,
    electionTimeoutMs,
    logLevel: values['log-level']!,
    compactEvery: positiveInt(values['compact-every']!, '--compact-every'),
    keepEntries: positiveInt(values['keep-entries']!, '--keep-entries'),
  };
}

function positiveInt(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 600_000) throw new UsageError(`${name} "${s}" must be a whole number of milliseconds`);
  return n;
}

export function readSecret(file: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new UsageError(`--secret-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const secret = Buffer.from(buf.toString('utf8').trim(), 'utf8');
  if (secret.length === 0) throw new UsageError(`--secret-file ${file} is empty; put a long random secret in it (e.g. openssl rand -hex 32 > ${file})`);
  return secret;
}

export async function main(argv: string[]): Promise<number> {
  let args: ParsedReplicaArgs;
  let secret: Buffer | null = null;
  try {
    args = parseReplicaArgs(argv);
    if (args.secretFile) secret = readSecret(args.secretFile);
    else if (args.initialCluster && args.initialCluster.length > 1) {
      throw new UsageError('--secret-file is required when the cluster has more than one member');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`INVALID: ${err.message}\n`);
      process.stderr.write(USAGE + '\n');
      return 2;
    }
    throw err;
  }
  const log = pino({ name: 'quorum', level: args.logLevel });
  const tickMs = Math.max(1, Math.floor(args.heartbeatMs / 2));
  let handle;
  try {
    handle = await startReplica({
      id: args.id,
      dataDir: args.dataDir,
      listen: args.listen,
      initialCluster: args.initialCluster,
      secret,
      tickMs,
      heartbeatTicks: 2,
      electionTicks: Math.max(3, Math.round(args.electionTimeoutMs / tickMs)),
      log,
      processMetrics: true,
      compactEvery: args.compactEvery,
      keepEntries: args.keepEntries,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE' ? `port in use: ${args.listen} (pick another with --listen)` : e.message;
    process.stderr.write(`UNAVAILABLE: cannot start replica ${args.id}: ${why}\n`);
    return 1;
  }
  process.stderr.write(`Quorum replica ${handle.id} serving at http://${handle.address}/ (data: ${args.dataDir})\n`);
  const shutdown = (sig: string) => {
    log.info({ signal: sig }, 'shutting down');
    void handle.stop();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  await handle.stopped;
  return 0;
}
