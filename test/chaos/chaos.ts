/**
 * One chaos run: start the replicas, sign the workers up, run workers and nemesis together for the duration, heal
 * everything, drain every inbox and read every conversation, wait for all replicas to hold the same state, stop them,
 * audit their state databases, check the history, and write the report.
 */
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChatStateMachine } from '../../replica/chat/state-machine.js';
import { SUPPORTED_VERSION } from '../../replica/chat/versions.js';
import { materialisePreviousRelease, PREVIOUS_RELEASE, previousReleaseUnavailable } from '../helpers/previous-release.js';
import { stateDigest, waitFor } from '../helpers/cluster.js';
import { Rng } from '../helpers/random.js';
import { Tmpfs, tmpfsUnavailableReason } from '../helpers/tmpfs.js';
import { trustFromCaFile } from '../../replica/security/client-tls.js';
import { CLUSTER_CA_FILE } from '../../replica/security/replica-security.js';
import { check } from './checker.js';
import { History } from './history.js';
import type { HostLayer } from './hosts.js';
import { Nemesis } from './nemesis.js';
import { LeaderObserver } from './observer.js';
import { ChaosReplica } from './replicas.js';
import { renderReport } from './report.js';
import type { ChaosFigures, Digest, FaultKind, GroupRecord, SeenMessage } from './types.js';
import { Worker } from './workers.js';

/** Size of each replica's data filesystem when diskFull faults run (room for a long run; RAM only as it fills). */
const DISK_BYTES = 256 * 1024 * 1024;

export interface ChaosOptions {
  seed: number;
  durationSeconds: number;
  replicas: number;
  workers: number;
  hosts: HostLayer;
  faults: FaultKind[];
  outDir: string;
  keep: boolean;
  quick: boolean;
  /** Fault hold time range in ms (null: the mode's default). */
  holdMs: [number, number] | null;
  /** The command line that replays this run. */
  replay: string;
  /**
   * TLS everywhere, as shipped (peer links, and clients over wss:// trusting the cluster's cluster-ca.pem); false:
   * the plain transport (--peer-links plain --allow-plain-clients), to compare.
   */
  tls: boolean;
  progress: (msg: string) => void;
}

export interface ChaosOutcome {
  figures: ChaosFigures;
  runDir: string;
  report: string;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosOutcome> {
  const startedAt = new Date().toISOString();
  const runDir = resolve(o.outDir, `${startedAt.replace(/[:.]/g, '-')}-seed${o.seed}`);
  const dataRoot = join(runDir, 'data');
  const logDir = join(runDir, 'logs');
  mkdirSync(dataRoot, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const history = new History(join(runDir, 'history.jsonl'));
  const rng = new Rng(o.seed);
  const say = (msg: string) => o.progress(`[+${(history.now() / 1000).toFixed(1)}s] ${msg}`);

  const notes: string[] = [];
  if (!o.hosts.canPartition && o.faults.some((k) => k === 'partition' || k === 'loss')) {
    notes.push('Loopback hosts: no network partitions and no packet loss (a loopback interface cannot be cut per replica); kills, pauses, restarts and snapshot crashes only. Run as root for network namespaces.');
  }
  const noDisks = o.faults.includes('diskFull') ? tmpfsUnavailableReason() : null;
  if (noDisks) notes.push(`No diskFull faults: ${noDisks}.`);
  const noPrevious = o.faults.includes('rollingUpgrade') ? previousReleaseUnavailable() : null;
  if (noPrevious) notes.push(`No rollingUpgrade faults: ${noPrevious}.`);
  const faults = o.faults.filter(
    (k) => (o.hosts.canPartition || (k !== 'partition' && k !== 'loss')) && (k !== 'diskFull' || !noDisks) && (k !== 'rollingUpgrade' || !noPrevious),
  );
  // rollingUpgrade: every replica starts on the previous release's code; the nemesis upgrades them one by one.
  const previousRoot = faults.includes('rollingUpgrade') ? materialisePreviousRelease(join(runDir, 'previous-release')) : undefined;
  if (previousRoot) notes.push(`rollingUpgrade: the replicas started on the previous release (commit ${PREVIOUS_RELEASE.commit.slice(0, 7)}, cluster version ${PREVIOUS_RELEASE.version}).`);

  const secretFile = join(dataRoot, 'secret');
  writeFileSync(secretFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  // The checker reads /debug/state, which other machines (the client namespace) may read only with the token.
  const metricsToken = randomBytes(16).toString('hex');
  const tokenFile = join(dataRoot, 'metrics-token');
  writeFileSync(tokenFile, `${metricsToken}\n`, { mode: 0o600 });
  const transport = ['--metrics-token-file', tokenFile, ...(o.tls ? [] : ['--peer-links', 'plain', '--allow-plain-clients'])];
  const ids = Array.from({ length: o.replicas }, (_, i) => `r${i + 1}`);
  const initial = ids.map((id, i) => `${id}=${o.hosts.address(i)}`).join(',');
  // Replicas also compare their state hashes as they go (every 100 or 200 indices): a mismatch any of them logs fails the run.
  const compact = o.quick ? ['--compact-every', '100', '--keep-entries', '20'] : ['--compact-every', '200', '--keep-entries', '50'];
  // Given only to replicas of this code (the previous release of a rollingUpgrade run does not know the option).
  const stateCheck = ['--state-check-every', o.quick ? '100' : '200'];
  const replicas = ids.map((id, i) => {
    const dataDir = join(dataRoot, id);
    // No LAN discovery: it is tested on its own (test/cluster/discovery.test.ts) and would only add multicast here.
    const base = ['--id', id, '--data', dataDir, '--listen', o.hosts.address(i), '--secret-file', secretFile, '--no-discovery', ...compact, ...transport];
    return new ChaosReplica({ index: i, id, address: o.hosts.address(i), prefix: o.hosts.prefix(i), dataDir, logFile: join(logDir, `${id}.log`), args: [...base, '--initial-cluster', initial], currentOnlyArgs: stateCheck, codeRoot: previousRoot });
  });
  // diskFull: each data folder on a small filesystem of its own, which the nemesis fills.
  const disks = faults.includes('diskFull') ? new Map(replicas.map((r) => [r.id, Tmpfs.mount(r.spec.dataDir, DISK_BYTES)])) : null;
  const joinArgs = (r: ChaosReplica) => [
    '--id', r.id, '--data', r.spec.dataDir, '--listen', r.address, '--secret-file', secretFile, '--no-discovery', ...compact, ...transport,
    '--join', replicas.filter((x) => x !== r).map((x) => x.address).join(','),
  ];

  const crashes: { replica: string; t: number; what: string }[] = [];
  for (const r of replicas) {
    r.onCrash = (what) => {
      crashes.push({ replica: r.id, t: history.now(), what });
      history.event('crash', { replica: r.id, what });
      o.progress(`[+${(history.now() / 1000).toFixed(1)}s] CRASH: ${what}`);
    };
  }
  const observer = new LeaderObserver(replicas, history, 100);
  const workers: Worker[] = [];
  const problems: string[] = [];
  let nemesis: Nemesis | null = null;
  let runStart = 0;
  let runEnd = 0;
  const cleanup = async () => {
    observer.stop();
    for (const w of workers) w.close();
    await Promise.all(replicas.map((r) => r.kill()));
    for (const disk of disks?.values() ?? []) disk.unmount();
  };
  const onSignal = () => {
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let drainComplete = false;
  let converged = false;
  let digests: Digest[] = [];
  const finalMessages: SeenMessage[] = [];
  /** Every group after healing, as its members list it. */
  let finalGroups: GroupRecord[] = [];
  let auditProblems = 0;
  let restartIntact = false;
  try {
    say(`starting ${o.replicas} replicas on ${o.hosts.mode} (seed ${o.seed}, data in ${runDir})`);
    for (const r of replicas) r.start();
    await Promise.all(replicas.map((r) => r.waitHealthy(120_000)));
    observer.start();
    await waitFor('a first leader', () => observer.leader(), 60_000, 100);

    const users = Array.from({ length: o.workers }, (_, i) => `u${i}`);
    // Clients trust what a user would be given: the cluster CA a replica wrote to its data folder.
    const trust = o.tls ? trustFromCaFile(join(replicas[0].spec.dataDir, CLUSTER_CA_FILE)) : null;
    const servers = replicas.map((r) => r.address);
    for (let i = 0; i < o.workers; i++) {
      workers.push(
        new Worker({
          index: i,
          users,
          servers,
          rng: rng.fork(),
          history,
          // Workers give up at different times, so outages leave some writes with unknown outcomes to check.
          giveUpAfterMs: [2500, 5000, 8000][i % 3],
          requestTimeoutMs: 2000,
          thinkMs: [0, 30],
          bigTextShare: 0.05,
          clientIdPrefix: `chaos${o.seed.toString(36)}x`,
          trust,
        }),
      );
    }
    const setupDeadline = Date.now() + 90_000;
    await Promise.all(workers.map((w) => w.setup(setupDeadline)));
    say(`${o.workers} workers signed up and logged in; faults: ${faults.join(', ')}`);

    // ---- the run
    nemesis = new Nemesis({
      replicas,
      hosts: o.hosts,
      observer,
      history,
      rng: rng.fork(),
      kinds: faults,
      holdMs: o.holdMs ?? (o.quick ? [1500, 4000] : [2000, 8000]),
      gapMs: o.quick ? [500, 1500] : [1000, 4000],
      secretFile,
      joinArgs,
      disks,
      progress: say,
    });
    runStart = history.now();
    const endAt = Date.now() + o.durationSeconds * 1000;
    let stopWorkers = false;
    // Handled at once: a nemesis that fails while the run sleeps must end up in the report, not crash this process
    // (an unhandled rejection would leave the replicas running with no one to stop them).
    const nemesisDone = nemesis.run().catch((err: Error) => {
      problems.push(`the nemesis failed: ${err.message}`);
    });
    const workersDone = Promise.all(workers.map((w) => w.run(() => stopWorkers)));
    let lastReport = Date.now();
    while (Date.now() < endAt) {
      await new Promise((r) => setTimeout(r, Math.min(1000, endAt - Date.now())));
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        const okSends = history.ops.filter((x) => x.op === 'send' && x.outcome === 'ok').length;
        say(`${history.ops.length} operations so far (${okSends} acknowledged sends); faults ${JSON.stringify(nemesis.counts)}`);
      }
    }
    nemesis.stop();
    // The last fault may be mid-way (a restart, a rejoin): give it a bounded time to finish.
    const finished = await Promise.race([nemesisDone.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 240_000))]);
    if (!finished) problems.push('the nemesis did not finish its last fault within 240 s of the end of the run');
    stopWorkers = true;
    await workersDone;
    runEnd = history.now();
    say(`nemesis stopped after ${((runEnd - runStart) / 1000).toFixed(1)} s; healing`);

    // ---- heal, then read everything back
    await nemesis.healAll();
    await waitFor('a leader after healing', () => observer.leader(), 60_000, 100);
    const finalDeadline = Date.now() + 120_000;
    const drained = await Promise.all(workers.map((w) => w.drain(finalDeadline)));
    drainComplete = drained.every(Boolean);
    if (!drainComplete) problems.push('the final read drain did not complete (no write accepted after healing?)');
    /** Every group, as each worker lists its own (they must agree on every group's members). */
    const listGroups = async (deadline: number): Promise<{ groups: GroupRecord[]; complete: boolean }> => {
      const byName = new Map<string, GroupRecord>();
      const listedBy = new Map<string, Set<string>>();
      let complete = true;
      for (const w of workers) {
        let listed: GroupRecord[] | null = null;
        while (!listed && Date.now() < deadline) listed = await w.listGroups('final');
        if (!listed) {
          complete = false;
          continue;
        }
        listedBy.set(w.user, new Set(listed.map((g) => g.name)));
        for (const g of listed) {
          const known = byName.get(g.name);
          if (!known) byName.set(g.name, g);
          else if (known.members.join(',') !== g.members.join(',')) problems.push(`group ${g.name}: ${w.user} lists members ${g.members.join(',')}, another member ${known.members.join(',')}`);
        }
      }
      const groups = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const g of groups) {
        for (const m of g.members) if (listedBy.get(m)?.has(g.name) === false) problems.push(`group ${g.name}: member ${m} does not list it`);
      }
      return { groups, complete };
    };
    /** Every conversation between two workers and every group, read whole (complete: false if one could not be read in time). */
    const readAll = async (deadline: number): Promise<{ msgs: SeenMessage[]; groups: GroupRecord[]; complete: boolean }> => {
      const msgs: SeenMessage[] = [];
      let complete = true;
      for (let a = 0; a < workers.length; a++) {
        for (let b = a + 1; b < workers.length; b++) {
          const got = await workers[a].fullHistory(users[b], deadline);
          if (got) msgs.push(...got);
          else complete = false;
        }
      }
      const listed = await listGroups(deadline);
      complete &&= listed.complete;
      for (const g of listed.groups) {
        const reader = workers.find((w) => w.user === g.members[0]);
        const got = reader ? await reader.fullGroupHistory(g.name, deadline) : null;
        if (got) msgs.push(...got);
        else complete = false;
      }
      return { msgs, groups: listed.groups, complete };
    };
    const final = await readAll(finalDeadline);
    finalMessages.push(...final.msgs);
    finalGroups = final.groups;
    if (!final.complete) problems.push('could not read every conversation after healing');
    say(`final state: ${finalMessages.length} live messages, ${finalGroups.length} groups; waiting for convergence`);

    /** Waits for every replica to hold the same state (keeping the last digests for the report); false on timeout. */
    const converge = async (when: string): Promise<boolean> => {
      try {
        await waitFor(`every replica to hold the same state${when}`, async () => {
          const ds = await Promise.all(replicas.map(async (r) => ({ replica: r.id, ...(await stateDigest(r.address, metricsToken)) })));
          digests = ds;
          return ds.every((d) => d.appliedIndex === ds[0].appliedIndex && d.stateHash === ds[0].stateHash);
        }, 120_000, 250);
        return true;
      } catch {
        problems.push(`replicas did not converge${when}: ${JSON.stringify(digests)}`);
        return false;
      }
    };
    converged = await converge('');
    if (previousRoot) {
      // Once every replica runs this code, the leader raises the cluster version to this code's.
      const left = replicas.filter((r) => r.spec.codeRoot !== undefined).map((r) => r.id);
      if (left.length > 0) problems.push(`rollingUpgrade: ${left.join(', ')} still ran the previous release after healing`);
      else {
        try {
          await waitFor(`cluster version ${SUPPORTED_VERSION} on every replica`, async () => (await Promise.all(replicas.map((r) => clusterVersionOf(r.address, metricsToken)))).every((v) => v === SUPPORTED_VERSION), 30_000, 250);
          notes.push(`rollingUpgrade: every replica upgraded; the cluster version was raised to ${SUPPORTED_VERSION}.`);
        } catch (err) {
          problems.push(`every replica was upgraded, but the cluster version was not raised: ${(err as Error).message}`);
        }
      }
    }

    // ---- a last crash of everything at once: every live message must come back exactly as it was
    if (converged) {
      say('killing every replica at once, restarting them, and reading everything again');
      const kill = history.fault({ kind: 'restartAll', variant: 'final-sigkill-all', targets: ids });
      await Promise.all(replicas.map((r) => r.kill()));
      for (const r of replicas) r.start();
      await Promise.all(replicas.map((r) => r.waitHealthy(120_000)));
      history.healed(kill, 'after the run: every message must survive');
      await waitFor('a leader after the final restart', () => observer.leader(), 60_000, 100);
      const { msgs: again, complete } = await readAll(Date.now() + 120_000);
      const key = (m: SeenMessage) => JSON.stringify([m.id, m.from, m.to, m.text, m.readAt, m.group ?? null, m.editedAt ?? null]);
      const before = new Set(finalMessages.map(key));
      const after = new Set(again.map(key));
      const missing = [...before].filter((k) => !after.has(k));
      const extra = [...after].filter((k) => !before.has(k));
      restartIntact = complete && missing.length === 0 && extra.length === 0;
      if (!restartIntact) problems.push(`after killing every replica at once: ${complete ? '' : 'not every conversation could be read; '}${missing.length} messages missing or changed, ${extra.length} new (first: ${[...missing, ...extra].slice(0, 3).join(' ')})`);
      converged = await converge(' after the final restart');
    }
  } catch (err) {
    problems.push(`run aborted: ${(err as Error).stack ?? (err as Error).message}`);
    say(`run aborted: ${(err as Error).message}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    observer.stop();
    for (const w of workers) w.close();
    await Promise.all(replicas.map((r) => r.stop()));
    for (const r of replicas) r.closeLog();
  }
  for (const r of replicas) for (const c of r.crashes) problems.push(c);
  // What the replicas' own state comparison found (replica/node/state-check.ts logs each mismatch as one line).
  let stateMismatches = 0;
  for (const r of replicas) {
    if (!existsSync(r.spec.logFile)) continue;
    const found = readFileSync(r.spec.logFile, 'utf8').split('\n').filter((l) => l.includes('state hash mismatch'));
    stateMismatches += found.length;
    for (const l of found.slice(0, 3)) problems.push(`${r.id} logged: ${l.slice(0, 300)}`);
  }
  if (nemesis) for (const e of history.faults.filter((f) => f.end === null)) problems.push(`fault never healed: ${e.kind}/${e.variant}`);

  // ---- audit every replica's state database (derived counters against the messages)
  for (const r of replicas) {
    if (!existsSync(join(r.spec.dataDir, 'state.db'))) continue;
    try {
      const sm = ChatStateMachine.open(r.spec.dataDir);
      const found = sm.audit();
      sm.close();
      auditProblems += found.length;
      for (const p of found.slice(0, 5)) problems.push(`${r.id} audit: ${p}`);
    } catch (err) {
      auditProblems++;
      problems.push(`${r.id} audit failed: ${(err as Error).message}`);
    }
  }

  const result = check({ ops: history.ops, finalMessages, finalGroups, observations: history.observations, digests, converged, drainComplete, runStartedAt: history.startedAt });
  const runOps = history.ops.filter((x) => x.phase === 'run');
  const writes = runOps.filter((x) => x.outcome === 'ok' && x.op !== 'history').map((x) => x.end).sort((a, b) => a - b);
  let longest = 0;
  let prev = runStart;
  for (const t of writes) {
    longest = Math.max(longest, t - prev);
    prev = t;
  }
  longest = Math.max(longest, runEnd - prev);
  // After each fault is healed: how long until the next acknowledged write (0 when writes never stopped).
  let recoveryMax = 0;
  for (const f of history.faults) {
    if (f.end === null) continue;
    const next = writes.find((t) => t >= f.end!);
    if (next === undefined) continue;
    const during = writes.some((t) => t > f.end! - 1000 && t < f.end!);
    const rec = during ? 0 : next - f.end;
    f.note = `${f.note ? `${f.note}; ` : ''}writes ${during ? 'continued' : `resumed ${(rec / 1000).toFixed(1)} s after healing`}`;
    recoveryMax = Math.max(recoveryMax, rec);
  }
  // After a partition, loss or pause: how long until each target followed a leader again.
  let rejoinMax = 0;
  for (const f of history.faults) {
    if (f.end === null || !['partition', 'loss', 'pause'].includes(f.kind)) continue;
    const parts: string[] = [];
    for (const id of f.targets) {
      const mine = history.observations.filter((x) => x.replica === id);
      const atHeal = [...mine].reverse().find((x) => x.t <= f.end!);
      if (atHeal && (atHeal.leader !== null || atHeal.role === 'leader')) continue;
      const back = mine.find((x) => x.t > f.end! && (x.leader !== null || x.role === 'leader'));
      if (!back) continue;
      const secs = (back.t - f.end) / 1000;
      rejoinMax = Math.max(rejoinMax, back.t - f.end);
      parts.push(`${id} followed a leader again ${secs.toFixed(1)} s after healing`);
    }
    if (parts.length) f.note = `${f.note ? `${f.note}; ` : ''}${parts.join(', ')}`;
  }
  const errorsByCode: Record<string, number> = {};
  for (const x of history.ops) {
    if (x.outcome === 'ok' || !x.error) continue;
    const code = /^([A-Z_]+):/.exec(x.error)?.[1] ?? 'OTHER';
    const key = `${x.outcome}:${code}`;
    errorsByCode[key] = (errorsByCode[key] ?? 0) + 1;
  }
  const faultCounts = { ...(nemesis?.counts ?? { kill: 0, pause: 0, partition: 0, loss: 0, restartAll: 0, snapshotCrash: 0, membership: 0, clockSkew: 0, diskFull: 0, rollingUpgrade: 0 }) };
  const bad =
    result.lost + result.duplicated + result.orderViolations + result.staleReads + result.phantoms + result.clockViolations + result.editViolations + auditProblems > 0 ||
    !converged ||
    !restartIntact ||
    result.leadersPerTermMax > 1 ||
    problems.length > 0 ||
    result.acknowledgedSends === 0;
  const figures: ChaosFigures = {
    seed: o.seed,
    durationSeconds: Math.round((runEnd - runStart) / 100) / 10,
    hosts: o.hosts.mode,
    tls: o.tls,
    replicas: o.replicas,
    workers: o.workers,
    operations: result.operations,
    acknowledged: result.acknowledged,
    failed: result.failed,
    unknown: result.unknown,
    unknownApplied: result.unknownApplied,
    unknownNotApplied: result.unknownNotApplied,
    lost: result.lost,
    duplicated: result.duplicated,
    orderViolations: result.orderViolations,
    staleReads: result.staleReads,
    phantoms: result.phantoms,
    clockViolations: result.clockViolations,
    groupMessages: result.groupMessages,
    edits: result.edits,
    editViolations: result.editViolations,
    converged,
    restartIntact,
    leadersPerTermMax: result.leadersPerTermMax,
    auditProblems,
    longestOutageSeconds: Math.round(longest / 100) / 10,
    recoverySecondsMax: Math.round(recoveryMax / 100) / 10,
    rejoinSecondsMax: Math.round(rejoinMax / 100) / 10,
    faults: faultCounts,
    verdict: bad ? 'fail' : 'pass',
  };
  const extra = {
    acknowledgedSends: result.acknowledgedSends,
    readByUnknown: result.readByUnknown,
    finalMessages: finalMessages.length,
    finalGroups: finalGroups.length,
    stateMismatches,
    terms: new Set(history.observations.map((x) => x.term)).size,
    skippedFaults: nemesis?.skipped ?? {},
    errorsByCode,
    problems,
    notes,
  };
  await history.close();
  const kept = figures.verdict === 'fail' || o.keep ? runDir : null;
  const html = renderReport({
    figures,
    check: result,
    ops: history.ops,
    faults: history.faults,
    observations: history.observations,
    replicas: ids,
    workers: workers.map((w) => w.user),
    runStart,
    runEnd,
    totalEnd: history.now(),
    replay: o.replay,
    startedAt,
    kept,
    notes,
    problems,
    errorsByCode,
    crashes,
  });
  const report = join(runDir, 'report.html');
  writeFileSync(report, html);
  writeFileSync(join(runDir, 'result.json'), JSON.stringify({ ...figures, ...extra, violations: result.violations }, null, 2) + '\n');
  for (const disk of disks?.values() ?? []) {
    // A kept run keeps the data: copied off the filesystem before it goes.
    const copy = `${disk.dir}.copy`;
    if (kept) cpSync(disk.dir, copy, { recursive: true });
    disk.unmount();
    if (kept) renameSync(copy, disk.dir);
  }
  if (!kept) {
    rmSync(dataRoot, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
    rmSync(join(runDir, 'history.jsonl'), { force: true });
  }
  return { figures, runDir, report };
}

/** The cluster version a replica applies by (its quorum_cluster_version metric; other machines need the token). */
async function clusterVersionOf(address: string, metricsToken: string): Promise<number | null> {
  const r = await fetch(`http://${address}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` }, signal: AbortSignal.timeout(2000) });
  const m = /^quorum_cluster_version(?:\{[^}]*\})? (\d+)$/m.exec(await r.text());
  return m ? Number(m[1]) : null;
}
