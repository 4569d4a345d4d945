/**
 * `status`: asks every listed replica (and every member they report) for its own status over a separate
 * connection each, and prints one row per replica: reachable ones with their own values, unreachable ones with
 * reachable=false and nulls, and each member's standing as the leader's autopilot sees it ("voter since 10:42",
 * "learner: catching up", "demoted: unreachable for 6 min"). Exit 0 when at least one replica answered, 1 when none did.
 *   npm run --silent status -- --servers HOST:PORT[,...] [--json] [--timeout SECONDS]
 */
import WebSocket from 'ws';
import { fetchStatus } from '../client/index.js';
import type { WebSocketConstructor } from '../client/index.js';
import { QuorumError, describeMember, formatDuration } from '../protocol/index.js';
import type { AutopilotSummary, ReplicaStatus } from '../protocol/index.js';
import { parseStatusArgs, STATUS_USAGE } from './args.js';
import { reportUsageError, UsageError } from './usage.js';
import { textTable } from './text-table.js';
import type { StatusArgs } from './args.js';
import { clientUrl, trustFromCaFile, trustedWebSocket, TrustError, type ClientTrust } from '../security/client-tls.js';

export interface StatusIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  WebSocket: WebSocketConstructor;
}

export interface StatusRow {
  id: string | null;
  address: string;
  role: ReplicaStatus['role'] | null;
  term: number | null;
  /** The leader's id as this replica sees it. */
  leader: string | null;
  commitIndex: number | null;
  appliedIndex: number | null;
  /** From the replica itself, or from the configuration other replicas report when it is unreachable. */
  voter: boolean | null;
  reachable: boolean;
  /** The member's standing as the leader's autopilot sees it, in one line; null without an answering leader. */
  membership: string | null;
  /**
   * The highest state-machine version the replica supports: its own answer, or (unreachable) what the replicated
   * record says it reported; null when neither is known (a release from before version gates).
   */
  version: number | null;
  /** Free bytes on the replica's data folder's filesystem, as it reported them; null when unreachable or not reported. */
  freeBytes: number | null;
  /** Below the replica's warning threshold (--disk-warn-mb): free space before its disk fills and it stops. */
  lowSpace: boolean | null;
}

export interface StatusReport {
  rows: StatusRow[];
  /** The version every replica applies by (the freshest answering replica's applied state); null when none said. */
  clusterVersion: number | null;
  /** The answering leader's autopilot: what it aims at and waits for; null when no leader answered. */
  autopilot: (AutopilotSummary & { leader: string }) | null;
  /** Why each unreachable address did not answer. */
  errors: { address: string; error: string }[];
  /** Replicas whose state hash differs from a majority's, as any answering replica reports them (status stateCheck). */
  diverged: string[];
}

export async function main(argv: string[], io: StatusIO = { stdout: process.stdout, stderr: process.stderr, WebSocket }): Promise<number> {
  let args: StatusArgs;
  try {
    args = parseStatusArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return reportUsageError(err, STATUS_USAGE, io);
    throw err;
  }
  let trust: ClientTrust | null = null;
  try {
    trust = args.caFile ? trustFromCaFile(args.caFile) : null;
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    io.stderr.write(`INVALID: ${err.message}\n`);
    return 2;
  }
  const report = await collectStatus(args.servers, {
    WebSocket: trust ? trustedWebSocket(trust) : io.WebSocket,
    timeoutMs: args.timeoutMs,
    url: (address) => clientUrl(trust, address),
  });
  io.stdout.write(
    args.json
      ? `${JSON.stringify({ replicas: report.rows, clusterVersion: report.clusterVersion, autopilot: report.autopilot, diverged: report.diverged })}\n`
      : `${formatTable(report.rows)}\n${formatClusterVersion(report)}${formatAutopilot(report.autopilot)}${formatDiverged(report.diverged)}`,
  );
  if (!args.json) for (const e of report.errors) io.stderr.write(`${e.address}: ${e.error}\n`);
  if (!report.rows.some((r) => r.reachable)) {
    io.stderr.write(`UNAVAILABLE: no replica answered (${report.errors.map((e) => `${e.address}: ${e.error}`).join('; ')})\n`);
    return 1;
  }
  return 0;
}

export async function collectStatus(
  servers: string[],
  options: { WebSocket: WebSocketConstructor; timeoutMs: number; url?: (address: string) => string },
): Promise<StatusReport> {
  const url = options.url ?? ((address: string) => `ws://${address}/client`);
  const answers = new Map<string, ReplicaStatus | string>();
  const probe = async (addresses: string[]): Promise<void> => {
    await Promise.all(
      addresses.map(async (address) => {
        answers.set(address, '');
        try {
          const status = await fetchStatus(address, {
            WebSocket: options.WebSocket,
            url: url(address),
            connectTimeoutMs: options.timeoutMs,
            requestTimeoutMs: options.timeoutMs,
          });
          answers.set(address, status);
        } catch (err) {
          answers.set(address, err instanceof QuorumError ? `${err.code}: ${err.message}` : String(err));
        }
      }),
    );
  };

  await probe(servers);
  // Members the listed replicas report but the list left out get asked too, so each row has its own values.
  const reported = () => [...answers.values()].filter((a): a is ReplicaStatus => typeof a !== 'string');
  const unasked = new Set<string>();
  for (const status of reported()) {
    for (const m of status.members) if (m.address && !answers.has(m.address)) unasked.add(m.address);
  }
  await probe([...unasked]);

  const statuses = reported();
  const byId = new Map<string, ReplicaStatus>();
  for (const s of statuses) if (!byId.has(s.id)) byId.set(s.id, s);
  // The configuration as reported (a reachable leader's view first: it is the freshest).
  const members = new Map<string, { address: string; voter: boolean }>();
  const ordered = [...statuses].sort((a, b) => Number(b.role === 'leader') - Number(a.role === 'leader') || b.term - a.term);
  for (const s of ordered) for (const m of s.members) if (!members.has(m.id)) members.set(m.id, { address: m.address, voter: m.voter });
  // The freshest leader's view of each member (only a leader observes the others).
  const leader = ordered.find((s) => s.role === 'leader');
  const now = Date.now();
  const membership = (id: string): string | null => {
    const row = leader?.members.find((m) => m.id === id);
    return row ? describeMember(row, now) : null;
  };
  // What the replicated record says a member supports (any answering replica holds it; the freshest first).
  const recordedVersion = (id: string): number | null => {
    for (const s of ordered) {
      const version = s.members.find((m) => m.id === id)?.version;
      if (version !== undefined) return version;
    }
    return null;
  };

  const rows: StatusRow[] = [];
  const covered = new Set<string>();
  for (const id of new Set([...members.keys(), ...byId.keys()])) {
    const own = byId.get(id);
    if (own) {
      rows.push({
        id,
        address: own.address,
        role: own.role,
        term: own.term,
        leader: own.leader?.id ?? null,
        commitIndex: own.commitIndex,
        appliedIndex: own.appliedIndex,
        voter: own.voter,
        reachable: true,
        membership: membership(id),
        version: own.version ?? recordedVersion(id),
        freeBytes: own.storage?.freeBytes ?? null,
        lowSpace: own.storage?.lowSpace ?? null,
      });
      covered.add(own.address);
    } else {
      const member = members.get(id)!;
      rows.push({ ...unreachableRow(member.address), id, voter: member.voter, membership: membership(id), version: recordedVersion(id) });
    }
    const memberAddress = members.get(id)?.address;
    if (memberAddress) covered.add(memberAddress);
  }
  // A listed address that answered covers itself even when it reports another spelling of its address.
  for (const [address, answer] of answers) if (typeof answer !== 'string') covered.add(address);
  for (const address of servers) if (!covered.has(address)) rows.push(unreachableRow(address));

  rows.sort((a, b) => {
    if (a.id !== null && b.id !== null) return a.id.localeCompare(b.id, 'en', { numeric: true });
    if (a.id !== null) return -1;
    if (b.id !== null) return 1;
    return a.address.localeCompare(b.address);
  });
  const errors = [...answers].filter(([, a]) => typeof a === 'string').map(([address, a]) => ({ address, error: a as string }));
  const clusterVersion = Math.max(0, ...statuses.map((s) => s.clusterVersion ?? 0)) || null;
  const diverged = [...new Set(statuses.flatMap((s) => s.stateCheck?.diverged ?? []))].sort();
  return { rows, errors, clusterVersion, autopilot: leader?.autopilot ? { leader: leader.id, ...leader.autopilot } : null, diverged };
}

function unreachableRow(address: string): StatusRow {
  return {
    id: null,
    address,
    role: null,
    term: null,
    leader: null,
    commitIndex: null,
    appliedIndex: null,
    voter: null,
    reachable: false,
    membership: null,
    version: null,
    freeBytes: null,
    lowSpace: null,
  };
}

export function formatTable(rows: StatusRow[]): string {
  const header = ['ID', 'ADDRESS', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'VOTER', 'REACHABLE', 'VERSION', 'FREE', 'MEMBERSHIP'];
  return textTable(
    header,
    rows.map((r) => [r.id, r.address, r.role, r.term, r.leader, r.commitIndex, r.appliedIndex, r.voter, r.reachable, r.version, formatFree(r), r.membership]),
  );
}

/** Free space of a replica's data filesystem for the table ("41.2 GB", "310 MB low"); null when not reported. */
function formatFree(row: Pick<StatusRow, 'freeBytes' | 'lowSpace'>): string | null {
  if (row.freeBytes === null) return null;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = row.freeBytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const shown = value >= 100 || unit === 0 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown} ${units[unit]}${row.lowSpace ? ' low' : ''}`;
}

/** The line under the table about the cluster version, naming the members that hold a raise back (none: no line). */
export function formatClusterVersion(report: Pick<StatusReport, 'rows' | 'clusterVersion'>): string {
  if (report.clusterVersion === null) return '';
  const newest = Math.max(...report.rows.map((r) => r.version ?? 0));
  const behind = report.rows.filter((r) => r.id !== null && (r.version === null || r.version < newest));
  if (newest <= report.clusterVersion || behind.length === 0) return `cluster version ${report.clusterVersion}\n`;
  const names = behind.map((r) => `${r.id} (${r.version === null ? 'version unknown' : `version ${r.version}`})`).join(', ');
  return `cluster version ${report.clusterVersion}; version ${newest} once these are updated: ${names}\n`;
}

/** The line under the table naming replicas whose state diverged (none: no line). */
export function formatDiverged(diverged: string[]): string {
  if (!diverged.length) return '';
  return `state diverged: ${diverged.join(', ')} (state hash differs from the majority's; rebuild: npm run --silent cluster -- ... resync ID)\n`;
}

/** The lines under the table about the leader's autopilot (none when no leader answered). */
export function formatAutopilot(autopilot: StatusReport['autopilot']): string {
  if (!autopilot) return '';
  if (!autopilot.enabled) return `autopilot: off on the leader ${autopilot.leader} (voters change only with cluster promote/demote)\n`;
  const lines = [
    `autopilot (leader ${autopilot.leader}): ${autopilot.desiredVoters} ${autopilot.desiredVoters === 1 ? 'voter' : 'voters'} wanted (target ${autopilot.targetVoters}; promote after ${formatDuration(autopilot.stabilizeMs)} healthy, demote after ${formatDuration(autopilot.deadAfterMs)} unreachable)`,
  ];
  if (autopilot.waiting) lines.push(`  now: ${autopilot.waiting}`);
  const last = autopilot.recent.at(-1);
  if (last) lines.push(`  last change: ${last.op}d ${last.id} (${last.explanation})`);
  return `${lines.join('\n')}\n`;
}
