// The quick chaos run inside `npm test`: 3 real replicas (network namespaces when root, else loopback), 3 client
// workers, ~35 s of seeded faults, then the checker. Must find nothing. On failure the run's folder (data, logs,
// history, report) is kept and named in the assertion message; replay with the printed command.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/cluster.js';
import type { ChaosFigures } from './types.js';

const SEED = 20261126;

function runQuick(): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'chaos', 'run.ts'), '--quick', '--json', '--seed', String(SEED)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe('chaos (quick)', () => {
  it('survives a seeded quick run with nothing lost, duplicated, reordered or stale', async () => {
    const r = await runQuick();
    const context = `exit ${r.code}\n${r.err.split('\n').slice(-40).join('\n')}`;
    const lines = r.out.trim().split('\n');
    expect(lines.length, context).toBe(1);
    const f = JSON.parse(lines[0]) as ChaosFigures;
    expect(f.seed).toBe(SEED);
    expect({ lost: f.lost, duplicated: f.duplicated, orderViolations: f.orderViolations, staleReads: f.staleReads, phantoms: f.phantoms, editViolations: f.editViolations, auditProblems: f.auditProblems }, context).toEqual({
      lost: 0,
      duplicated: 0,
      orderViolations: 0,
      staleReads: 0,
      phantoms: 0,
      editViolations: 0,
      auditProblems: 0,
    });
    expect(f.converged, context).toBe(true);
    expect(f.restartIntact, context).toBe(true);
    expect(f.leadersPerTermMax, context).toBe(1);
    expect(f.acknowledged, context).toBeGreaterThan(100);
    // Team chat is part of the workload: group messages (each read by every other member) and edits.
    expect(f.groupMessages, context).toBeGreaterThan(0);
    expect(f.edits, context).toBeGreaterThan(0);
    expect(f.faults.kill + f.faults.pause + f.faults.restartAll, context).toBeGreaterThan(0);
    expect(f.verdict, context).toBe('pass');
    expect(r.code, context).toBe(0);
  }, 300_000);
});
