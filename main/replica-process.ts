/**
 * Entry of the Electron utilityProcess that runs this machine's replica. Talks to main over process.parentPort
 * with the messages of main/ipc-contract.ts (validated on arrival). A crash here ends only this process; main's
 * ReplicaHost restarts it with backoff (or, after a full disk, once there is free space).
 *
 * The cluster secret arrives with the start message: main keeps it with the OS keystore, and this process never
 * writes it to disk. Exit statuses are the `replica` command's (replica/node/exit-status.ts EXIT_STATUS): 0 stopped
 * when asked, 1 failed (the last 'fatal' message says why), 3 DISK_FULL, 4 DATA_FOLDER_IN_USE, 5 DAMAGED.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ToReplicaProcessSchema, type FromReplicaProcess, type ReplicaStartOptions } from './ipc-contract.js';
import { isReplicaId } from '../replica/protocol/address.js';
import { startReplica, type ReplicaHandle } from '../replica/node/replica.js';
import { encodeInvite } from '../replica/node/invite.js';
import { adminRequest } from '../replica/net/admin-client.js';
import { exitStatusOf, replicaStopFor } from '../replica/node/exit-status.js';

/** This machine's replica id: made once per data folder, kept in it (a new folder, e.g. after a join, gets a new one). */
function replicaId(dataDir: string): string {
  const file = join(dataDir, 'replica-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (isReplicaId(id)) return id;
  } catch {
    // first start in this folder: make one below
  }
  const base = hostname().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'desktop';
  const id = `${base}-${randomBytes(3).toString('hex')}`;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${id}\n`);
  return id;
}

/** The part of Electron's process.parentPort used here. */
interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  postMessage(message: FromReplicaProcess): void;
}

const port = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (!port) {
  console.error('replica-process must run in an Electron utilityProcess (or under test/helpers/replica-child.ts)');
  process.exit(2);
}
const parent: ParentPortLike = port;

let replica: ReplicaHandle | null = null;
let dataDir = '';
let secret: Buffer | null = null;
let stopping = false;
let statusTimer: ReturnType<typeof setInterval> | null = null;
let lastStatus = '';

function send(m: FromReplicaProcess): void {
  parent.postMessage(m);
}

function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 2000);
}

/**
 * Says why in one line and exits with the replica's exit status for it, which main reads: a full disk is waited out,
 * a data folder in use or damaged data waits for the user; only other failures are restarted (with backoff).
 */
function fail(err: unknown, otherwise: 'startFailed' | 'stopped'): never {
  const error = err instanceof Error ? err : new Error(String(err));
  const stop = replicaStopFor(error, dataDir);
  send({ type: 'fatal', failure: stop?.code ?? otherwise, message: errorText(stop ?? error) });
  process.exit(exitStatusOf(stop ?? error));
}

async function start(options: ReplicaStartOptions): Promise<void> {
  if (replica) return;
  dataDir = options.dataDir;
  try {
    secret = Buffer.from(options.secret, 'base64');
    replica = await startReplica({
      id: replicaId(options.dataDir),
      dataDir: options.dataDir,
      listen: `${options.host}:${options.port}`,
      ...(options.advertise ? { advertise: options.advertise } : {}),
      webRoot: options.webRoot ?? null,
      processMetrics: true,
      secret,
      // Teammates' Join screens list this team (only once it listens on the LAN; a loopback replica announces nothing).
      discovery: options.announce,
      // Main says whether an empty folder may start a cluster of its own (never while a join is in progress).
      bootstrap: options.bootstrap,
      autopilot: options.autopilot.enabled
        ? { targetVoters: options.autopilot.voters, stabilizeMs: options.autopilot.stabilizeSeconds * 1000, deadAfterMs: options.autopilot.deadAfterSeconds * 1000 }
        : false,
      // A desktop install joins as a learner: it receives everything, and the leader's autopilot promotes it once it
      // has stayed caught up (and demotes it again when it sleeps for longer than dead-after).
      ...(options.join ? { join: options.join, learner: true } : {}),
    });
  } catch (err) {
    fail(err, 'startFailed');
  }
  const r = replica;
  send({ type: 'ready', id: r.id, address: r.address });
  if (options.join) {
    r.joined.then(
      () => send({ type: 'joined' }),
      (err: unknown) => {
        if (!stopping) send({ type: 'joinFailed', message: errorText(err) });
      },
    );
  }
  // A fatal storage error stops the replica by itself: exit so main restarts it (or waits for disk space).
  void r.stopped.then(() => {
    if (stopping) return;
    fail(r.failure() ?? new Error('the replica stopped unexpectedly'), 'stopped');
  });
  statusTimer = setInterval(reportStatus, 1000);
  reportStatus();
}

function reportStatus(): void {
  if (!replica) return;
  try {
    const s = replica.status();
    const storage = s.storage ?? null;
    const m: FromReplicaProcess = {
      type: 'status',
      role: s.role,
      term: s.term,
      leader: s.leader?.id ?? null,
      members: s.members.length,
      voter: s.voter,
      clusterId: s.clusterId ?? null,
      storage,
    };
    // Free space changes with every write: main hears of it when it changes by a megabyte or the warning flips.
    const key = JSON.stringify({ ...m, storage: storage ? { ...storage, freeBytes: Math.round(storage.freeBytes / 2 ** 20) } : null });
    if (key === lastStatus) return;
    lastStatus = key;
    send(m);
  } catch {
    // status is best effort; the next tick tries again
  }
}

async function stop(): Promise<void> {
  stopping = true;
  if (statusTimer) clearInterval(statusTimer);
  try {
    await replica?.stop();
  } finally {
    send({ type: 'stopped' });
    process.exit(0);
  }
}

/** Runs one request and sends its reply; a failure becomes an error reply (the replica keeps running). */
function reply(reqId: number, run: (r: ReplicaHandle, clusterSecret: Buffer) => Promise<string | undefined>): void {
  if (!replica || !secret) {
    send({ type: 'reply', reqId, ok: false, error: 'the replica is not running' });
    return;
  }
  run(replica, secret).then(
    (value) => send({ type: 'reply', reqId, ok: true, ...(value === undefined ? {} : { value: value.slice(0, 8192) }) }),
    (err: unknown) => {
      const code = (err as { code?: unknown })?.code;
      send({ type: 'reply', reqId, ok: false, error: `${typeof code === 'string' ? `${code}: ` : ''}${errorText(err)}`.slice(0, 2000) });
    },
  );
}

/** The members' addresses this replica knows (its own first), for cluster requests and invites. */
function memberAddresses(r: ReplicaHandle): string[] {
  return [...new Set([r.address, ...r.status().members.map((m) => m.address).filter(Boolean)])];
}

parent.on('message', (e) => {
  const parsed = ToReplicaProcessSchema.safeParse(e.data);
  if (!parsed.success) return;
  const m = parsed.data;
  switch (m.type) {
    case 'start':
      void start(m.options);
      break;
    case 'stop':
      void stop();
      break;
    case 'transferLeadership':
      reply(m.reqId, async (r) => {
        await r.transferLeadership();
        return undefined;
      });
      break;
    case 'clusterAdmin':
      reply(m.reqId, async (r, clusterSecret) => JSON.stringify(await adminRequest(memberAddresses(r), clusterSecret, m.request, { timeoutMs: 15_000 })));
      break;
    case 'inviteCode':
      reply(m.reqId, async (r, clusterSecret) => encodeInvite({ servers: memberAddresses(r), secret: clusterSecret }));
      break;
  }
});
