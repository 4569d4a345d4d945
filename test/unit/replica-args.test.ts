// `replica` command-line arguments: the join code can come from a file (kept out of the process list).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReplicaArgs } from '../../replica/cli/replica.js';
import { UsageError } from '../../replica/cli/usage.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function file(content: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-args-'));
  dirs.push(d);
  const f = path.join(d, 'code');
  fs.writeFileSync(f, content);
  return f;
}

describe('replica arguments', () => {
  it('reads --join-code-file, trimmed, as the join code', () => {
    const f = file('quorum1.abc\n');
    expect(parseReplicaArgs(['--join-code-file', f]).joinCode).toBe('quorum1.abc');
    expect(parseReplicaArgs(['--join-code', 'quorum1.xyz']).joinCode).toBe('quorum1.xyz');
  });

  it('refuses a missing, empty or doubled join code, and a code file with --join or --initial-cluster', () => {
    const f = file('quorum1.abc');
    const cases: [string[], RegExp][] = [
      [['--join-code-file', '/nonexistent/code'], /cannot read it \(ENOENT\)/],
      [['--join-code-file', file('  \n')], /is empty/],
      [['--join-code', 'quorum1.x', '--join-code-file', f], /give the join code once/],
      [['--join-code-file', f, '--join', '10.0.0.1:7400'], /already holds the addresses/],
      [['--join-code-file', f, '--initial-cluster', 'r1=127.0.0.1:7400'], /exclude each other/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseReplicaArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseReplicaArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});

describe('replica autopilot arguments', () => {
  it('defaults to 5 voters, 10 s stabilization, 300 s dead-after', () => {
    expect(parseReplicaArgs([]).autopilot).toEqual({ targetVoters: 5, stabilizeMs: 10_000, deadAfterMs: 300_000 });
  });

  it('takes the flags in seconds, and --no-autopilot alone', () => {
    expect(parseReplicaArgs(['--autopilot-voters', '3', '--autopilot-stabilize', '0.5', '--autopilot-dead-after', '4']).autopilot).toEqual({
      targetVoters: 3,
      stabilizeMs: 500,
      deadAfterMs: 4000,
    });
    expect(parseReplicaArgs(['--no-autopilot']).autopilot).toBe(false);
  });

  it.each([
    [['--autopilot-voters', '4'], /must be an odd number from 1 to 15/],
    [['--autopilot-voters', '0'], /must be an odd number/],
    [['--autopilot-voters', '17'], /must be an odd number/],
    [['--autopilot-stabilize=-1'], /must be a number of seconds/],
    [['--autopilot-stabilize', '1e3'], /must be a number of seconds/],
    [['--autopilot-dead-after', '0'], /must be a number of seconds from 0.1/],
    [['--no-autopilot', '--autopilot-voters', '3'], /--no-autopilot turns autopilot off; drop --autopilot-voters/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseReplicaArgs(argv)).toThrow(UsageError);
    expect(() => parseReplicaArgs(argv)).toThrow(message);
  });

  it('takes --disk-warn-mb in megabytes (default 512; 0 turns the warning off) and refuses anything else', () => {
    expect(parseReplicaArgs([]).diskWarnBytes).toBe(512 * 1024 * 1024);
    expect(parseReplicaArgs(['--disk-warn-mb', '16']).diskWarnBytes).toBe(16 * 1024 * 1024);
    expect(parseReplicaArgs(['--disk-warn-mb', '0']).diskWarnBytes).toBe(0);
    for (const bad of ['-1', '1.5', 'lots', '', '2000000']) {
      expect(() => parseReplicaArgs([`--disk-warn-mb=${bad}`])).toThrow(`--disk-warn-mb "${bad}" must be a whole number of megabytes (0 turns the warning off)`);
    }
  });

  it('takes timings in milliseconds and log bounds in entries, each with its own unit and bound in the error', () => {
    const parsed = parseReplicaArgs(['--heartbeat-ms', '100', '--election-timeout-ms', '600', '--compact-every', '2000000', '--keep-entries', '1500000']);
    expect(parsed).toMatchObject({ heartbeatMs: 100, electionTimeoutMs: 600, compactEvery: 2_000_000, keepEntries: 1_500_000 });
    const cases: [string[], string][] = [
      [['--heartbeat-ms', '0'], '--heartbeat-ms (milliseconds) "0" must be between 1 and 600000'],
      [['--election-timeout-ms', '1e3'], '--election-timeout-ms (milliseconds) "1e3" must be a positive whole number'],
      [['--election-timeout-ms', '600001'], '--election-timeout-ms (milliseconds) "600001" must be between 1 and 600000'],
      [['--compact-every', '2.5'], '--compact-every (entries) "2.5" must be a positive whole number'],
      [['--keep-entries', '100000001'], '--keep-entries (entries) "100000001" must be between 1 and 100000000'],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseReplicaArgs(argv), argv.join(' ')).toThrow(UsageError);
      expect(() => parseReplicaArgs(argv), argv.join(' ')).toThrow(message);
    }
  });
});
