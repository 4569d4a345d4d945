/**
 * Entry of the Electron utilityProcess that runs this machine's replica. Talks to main over process.parentPort
 * with the messages of main/ipc-contract.ts (validated on arrival). A crash here ends only this process; main's
 * ReplicaHost restarts it with backoff.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ToReplicaProcessSchema, type FromReplicaProcess, type ReplicaStartOptions } from './ipc-contract.js';
import { isReplicaId } from '../replica/protocol/address.js';
import { startReplica, type ReplicaHandle } from '../replica/node/replica.js';
import { decodeInvite, encodeInvite } from '../replica/node/invite.js';
import { adminRequest } from '../replica/net/admin-client.js';

type RunningReplica = ReplicaHandle;
let secret: Buffer | null = null;

/**
 * This machine's cluster secret, kept in the data folder (readable by this user only): made on the first start of a
 * new cluster, or taken from the invite code when joining one.
 */
function clusterSecret(dataDir: string, invite: Buffer | null): Buffer {
  const file = join(dataDir, 'cluster.secret');
  mkdirSync(dataDir, { recursive: true });
  if (invite) {
    writeFileSync(file, `${invite.toString('utf8')}\n`, { mode: 0o600 });
    return invite;
  }
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept) return Buffer.from(kept, 'utf8');
  } catch {
    // first start
  }
  const made = randomBytes(32).toString('hex');
  writeFileSync(file, `${made}\n`, { mode: 0o600 });
  return Buffer.from(made, 'utf8');
}

/** This machine's replica id: made once, kept in the data folder. */
function replicaId(dataDir: string): string {
  const file = join(dataDir, 'replica-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (isReplicaId(id)) return id;
  } catch {
    // first start
  }
  const base = hostname().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'desktop';
  const id = `${base}-${randomBytes(3).toString('hex')}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${id}\n`);
  return id;
}

/** First non-internal IPv4 address, so teammates on the LAN can reach this replica. */
function lanAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

interface ParentPortLike {
  on(event: 'message', listener: (e: { data: unknown }) => void): unknown;
  postMessage(message: FromReplicaProcess): void;
}

const port = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (!port) {
  console.error('replica-process must run in an Electron utilityProcess');
  process.exit(2);
}
const parent: ParentPortLike = port;

let replica: RunningReplica | null = null;
let stopping = false;
function drop(p: Promise<unknown>): void {
  p.catch(() => {});
}
let statusTimer: ReturnType<typeof setInterval> | null = null;
let lastStatus = '';

function send(m: FromReplicaProcess): void {
  parent.postMessage(m);
}

async function start(options: ReplicaStartOptions): Promise<void> {
  if (replica) return;
  try {
    const invite = options.join ? decodeInvite(options.join) : null;
    secret = clusterSecret(options.dataDir, invite?.secret ?? null);
    const lan = lanAddress();
    replica = await startReplica({
      id: replicaId(options.dataDir),
      dataDir: options.dataDir,
      listen: `${options.host}:${options.port}`,
      ...(lan && options.port !== 0 ? { advertise: `${lan}:${options.port}` } : {}),
      webRoot: options.webRoot ?? null,
      processMetrics: true,
      secret,
      // Main says whether an empty folder may start a cluster of its own (never while a join is in progress).
      bootstrap: options.bootstrap,
      // Teammates' windows still reach this replica by ws:// until the renderer connects to remote replicas over wss://
      // trusting the cluster CA (docs/security.md, "What main and the renderer still have to do").
      security: { allowPlainClients: true },
      // A desktop install joins as a learner: it receives everything, and the leader's autopilot promotes it once it
      // has stayed caught up (and demotes it again when it sleeps for longer than dead-after).
      ...(invite ? { join: invite.servers, learner: true } : {}),
    });
  } catch (err) {
    send({ type: 'fatal', message: String((err as Error)?.message ?? err).slice(0, 2000) });
    process.exit(1);
  }
  const r = replica!;
  send({ type: 'ready', id: r.id, address: r.address });
  // A fatal storage error stops the replica by itself: exit so main restarts it with backoff.
  drop(
    r.stopped.then(() => {
      if (stopping) return;
      send({ type: 'fatal', message: 'the replica stopped unexpectedly' });
      process.exit(1);
    }),
  );
  statusTimer = setInterval(() => void reportStatus(), 1000);
  void reportStatus();
}

async function reportStatus(): Promise<void> {
  if (!replica) return;
  try {
    const s = replica.status();
    const key = `${s.role}/${s.term}/${s.leader?.id ?? ''}`;
    if (key === lastStatus) return;
    lastStatus = key;
    send({ type: 'status', role: s.role, term: s.term, leader: s.leader?.id ?? null });
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
      void (async () => {
        if (!replica) {
          send({ type: 'reply', reqId: m.reqId, ok: false, error: 'the replica is not running' });
          return;
        }
        try {
          await replica.transferLeadership();
          send({ type: 'reply', reqId: m.reqId, ok: true });
        } catch (err) {
          send({ type: 'reply', reqId: m.reqId, ok: false, error: String((err as Error)?.message ?? err).slice(0, 2000) });
        }
      })();
      break;
    case 'clusterAdmin':
      void (async () => {
        if (!replica || !secret) {
          send({ type: 'reply', reqId: m.reqId, ok: false, error: 'the replica is not running' });
          return;
        }
        try {
          const servers = [replica.address, ...replica.status().members.map((x) => x.address).filter(Boolean)];
          const result = await adminRequest(servers, secret, m.request, { timeoutMs: 15_000 });
          send({ type: 'reply', reqId: m.reqId, ok: true, value: JSON.stringify(result).slice(0, 8000) });
        } catch (err) {
          const e = err as Error & { code?: string };
          send({ type: 'reply', reqId: m.reqId, ok: false, error: `${e.code ?? 'ERROR'}: ${e.message}`.slice(0, 2000) });
        }
      })();
      break;
    case 'inviteCode':
      void (async () => {
        if (!replica || !secret) {
          send({ type: 'reply', reqId: m.reqId, ok: false, error: 'the replica is not running' });
          return;
        }
        try {
          const servers = replica.status().members.map((x) => x.address).filter(Boolean);
          send({ type: 'reply', reqId: m.reqId, ok: true, value: encodeInvite({ servers: servers.length ? servers : [replica.address], secret }) });
        } catch (err) {
          send({ type: 'reply', reqId: m.reqId, ok: false, error: String((err as Error)?.message ?? err).slice(0, 2000) });
        }
      })();
      break;
  }
});
