/**
 * Scenario — groups: what a message to a group costs against a one-to-one message. A real 3-replica cluster (built
 * replicas, plain peer links, as the connections scenario starts it) with 256 members connected to the leader (each
 * its own account resumed by token, 25 connections per loopback source address, held by two generator children as in
 * the connections scenario) and one sender. For each size (100
 * and 256 members: the largest a group may be), a group of that many is created (the sender and size − 1 of the
 * members); the sender sends RATE (10) messages per second to it for the window, each text carrying its send time, and
 * every member's connection records the push's arrival minus that time (send-to-push at every member, one clock:
 * this process). First the same number of one-to-one messages (the baseline), to one member at a time. Per row: push
 * p50/p99 over every (message, member) pair, and the leader's CPU ms per message: utime + stime over the window, less
 * its idle rate measured for as long with everyone connected, over the messages acknowledged.
 */
import { loadavg } from 'node:os';
import { hashPassword } from '../../replica/chat/passwords.js';
import { waitFor, statusOf } from '../helpers/cluster.js';
import type { BenchConfig } from './config.js';
import { Generator, openSenders, startCluster, stopCluster, type Cluster3 } from './connections.js';
import { LeanConn } from './lean-conn.js';
import { PAYLOAD_256 } from './load.js';
import { benchToken } from './preload.js';
import { cpuSeconds } from './procstat.js';
import { progress } from './progress.js';
import { BENCH_PASSWORD } from './quorum-load.js';
import { loopbackAddress, percentile, round, stampText, wallMs } from './stats.js';

export interface GroupFanoutRow {
  kind: 'group' | 'direct';
  /** Members of the group (each receives every message); 2 for a one-to-one conversation. */
  members: number;
  messages: number;
  /** Pushes counted at the receiving members / expected (1 = every member got every message). */
  delivered: number;
  pushP50ms: number;
  pushP99ms: number;
  /** Leader CPU (utime + stime) over the window, less its idle CPU over as long (heartbeats, timers, 256 idle
   *  connections), per message acknowledged. */
  leaderCpuMsPerMessage: number;
  loadAverage: number;
}

const MAX_MEMBERS = 256;
const PER_ADDRESS = 25;
/** Messages per second from the sender: at 256 members, 2,550 pushes/s leave the leader. */
const RATE = 10;
/** Generator children holding the members' connections. */
const GENERATORS = 2;

export async function runGroupFanout(cfg: BenchConfig): Promise<GroupFanoutRow[]> {
  const members = Array.from({ length: MAX_MEMBERS - 1 }, (_, i) => `member${i}`);
  const hash = await hashPassword(BENCH_PASSWORD, { N: 16, r: 1, p: 1 });
  const windowMs = cfg.quick ? 4000 : 20_000;
  let cluster: Cluster3 | null = null;
  const conns: LeanConn[] = [];
  const generators: Generator[] = [];
  const rows: GroupFanoutRow[] = [];
  try {
    cluster = await startCluster('groups', ['gsender', ...members], hash);
    const leader = cluster.leader;
    await waitFor('cluster version 3 (groups)', async () => ((await statusOf(leader.address)).clusterVersion ?? 0) >= 3, 60_000);
    const [sender] = await openSenders(leader.address, ['gsender'], 8);
    conns.push(sender);
    // The members' connections live in generator children (conn-worker.ts), which only parse pushes and record
    // send-to-arrival times: a 256-member group at RATE messages/s is RATE × 255 pushes/s to read.
    for (let g = 0; g < GENERATORS; g++) generators.push(await Generator.start());
    const opened = await Promise.all(
      generators.map((gen, g) => {
        const mine = members.map((name, i) => ({ name, i })).filter(({ i }) => i % GENERATORS === g);
        return gen.ask({ type: 'open', address: leader.address, conns: mine.map(({ name, i }) => ({ name, token: benchToken(name), local: loopbackAddress(11, i, PER_ADDRESS) })) }, 'opened');
      }),
    );
    const failed = opened.reduce((n, o) => n + o.failed, 0);
    if (failed) throw new Error(`groups: ${failed} member connections failed: ${opened.find((o) => o.firstError)?.firstError}`);
    progress(`groups: ${members.length} members connected to ${leader.id} (${GENERATORS} generator processes)`);
    // The leader's idle CPU rate with everyone connected, subtracted from each window's.
    const idle0 = cpuSeconds(leader.proc?.pid);
    const idleT0 = wallMs();
    await new Promise((r) => setTimeout(r, Math.min(windowMs, 5000)));
    const idleCpuPerMs = (cpuSeconds(leader.proc?.pid) - idle0) / (wallMs() - idleT0);
    progress(`groups: leader idle ${round(idleCpuPerMs * 1000 * 1000, 1)} ms CPU per second`);

    const latencies: number[] = [];
    const collect = async () => {
      for (const gen of generators) latencies.push(...(await gen.ask({ type: 'collect' }, 'samples')).latency);
    };
    const measure = async (kind: GroupFanoutRow['kind'], size: number, send: (i: number, text: string) => Promise<boolean>, receivers: number) => {
      await collect();
      latencies.length = 0;
      const total = Math.floor((RATE * windowMs) / 1000);
      const cpu0 = cpuSeconds(leader.proc?.pid);
      const sends: Promise<boolean>[] = [];
      const t0 = wallMs();
      for (let i = 0; i < total; i++) {
        const due = t0 + (i * 1000) / RATE;
        const wait = due - wallMs();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        sends.push(send(i, stampText(wallMs(), PAYLOAD_256)));
      }
      const acked = (await Promise.all(sends)).filter(Boolean).length;
      await waitFor(`${kind} ${size}: pushes`, async () => (await collect(), latencies.length >= acked * receivers), 30_000, 100).catch(() => {});
      const cpu = cpuSeconds(leader.proc?.pid) - cpu0 - idleCpuPerMs * (wallMs() - t0);
      const row: GroupFanoutRow = {
        kind,
        members: size,
        messages: acked,
        delivered: round(latencies.length / Math.max(1, acked * receivers), 3),
        pushP50ms: round(percentile(latencies, 50), 2),
        pushP99ms: round(percentile(latencies, 99), 2),
        leaderCpuMsPerMessage: round((cpu * 1000) / Math.max(1, acked), 3),
        loadAverage: round(loadavg()[0], 2),
      };
      progress(`groups: ${kind} ${size}: push p50 ${row.pushP50ms} ms p99 ${row.pushP99ms} ms, leader ${row.leaderCpuMsPerMessage} ms CPU/message, delivered ${row.delivered}`);
      rows.push(row);
    };

    await measure('direct', 2, async (i, text) => (await sender.request({ op: 'send', to: members[i % members.length], text, session: sender.session() })).ok, 1);
    for (const size of [100, MAX_MEMBERS]) {
      const name = `bench${size}`;
      const created = await sender.request({ op: 'createGroup', name, members: members.slice(0, size - 1), session: sender.session() });
      if (!created.ok) throw new Error(`createGroup ${name}: ${created.error?.code} ${created.error?.message}`);
      await measure('group', size, async (_i, text) => (await sender.request({ op: 'groupSend', group: name, text, session: sender.session() })).ok, size - 1);
    }
    return rows;
  } finally {
    for (const c of conns) c.close();
    for (const g of generators) g.close();
    await stopCluster(cluster);
  }
}
