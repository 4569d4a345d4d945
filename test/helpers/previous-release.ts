/**
 * The previous Quorum release as real code, for rolling-upgrade tests (test/cluster/rolling-upgrade.test.ts, the
 * chaos run's rollingUpgrade fault): the replica sources of one commit of this repository's history, extracted with
 * `git archive` into a folder of the test's own, with this checkout's node_modules linked in. A ReplicaProc runs it
 * with `codeRoot`.
 *
 * Which commit: df1db81, the last commit on main whose replica supports cluster version 2 (version gates, session
 * expiry, the `clock` command) and not 3 (groups, edits, search came next, in b02d41b). Releases from before version
 * gates (523c428) cannot share a cluster with newer ones by design (docs/operations.md, "Upgrades": they report no
 * version, so a newer leader could not tell what they apply); a team updates those all at once. So the previous
 * release a team can upgrade from one machine at a time is the last one of the gate era before version 3. Its
 * package.json needs nothing this checkout's node_modules lack (the later commits only added devDependencies:
 * Stryker, axe-core), so it runs on them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cluster.js';

export const PREVIOUS_RELEASE = {
  commit: 'df1db81310c0340536e449dcd8fcf5feeff2f46b',
  /** The highest cluster version its replica supports (its replica/chat/versions.ts SUPPORTED_VERSION). */
  version: 2,
} as const;

function git(args: string[], input?: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('git', ['-C', ROOT, ...args], { input, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.error ? null : r.status, stdout: r.stdout ?? Buffer.alloc(0), stderr: r.error ? r.error.message : (r.stderr?.toString() ?? '') };
}

/**
 * Why the previous release cannot be materialised here (no git, not a repository, a shallow clone without the commit),
 * or null when it can.
 */
export function previousReleaseUnavailable(): string | null {
  const inside = git(['rev-parse', '--is-inside-work-tree']);
  if (inside.status !== 0) return `the previous release comes from git history, and ${ROOT} is not a git checkout (${inside.stderr.trim() || 'git failed'})`;
  const has = git(['cat-file', '-e', `${PREVIOUS_RELEASE.commit}^{commit}`]);
  if (has.status === 0) return null;
  const shallow = git(['rev-parse', '--is-shallow-repository']).stdout.toString().trim() === 'true';
  return `the previous release (commit ${PREVIOUS_RELEASE.commit.slice(0, 7)}) is not in this checkout's history${shallow ? ' (a shallow clone: git fetch --unshallow)' : ''}`;
}

/**
 * Extracts the previous release's replica into `dir` (created) and returns it, for ReplicaProc's `codeRoot`. Throws
 * when the commit's replica does not support exactly PREVIOUS_RELEASE.version (the pin would be wrong).
 */
export function materialisePreviousRelease(dir: string): string {
  const versions = git(['show', `${PREVIOUS_RELEASE.commit}:replica/chat/versions.ts`]);
  if (versions.status !== 0) throw new Error(`git show ${PREVIOUS_RELEASE.commit}: ${versions.stderr}`);
  const supported = /export const SUPPORTED_VERSION = (\d+);/.exec(versions.stdout.toString())?.[1];
  if (Number(supported) !== PREVIOUS_RELEASE.version) {
    throw new Error(`commit ${PREVIOUS_RELEASE.commit} supports version ${supported}, not ${PREVIOUS_RELEASE.version}: the previous release is pinned wrong`);
  }
  const tar = git(['archive', '--format=tar', PREVIOUS_RELEASE.commit, 'replica', 'package.json', 'tsconfig.json']);
  if (tar.status !== 0) throw new Error(`git archive ${PREVIOUS_RELEASE.commit}: ${tar.stderr}`);
  mkdirSync(dir, { recursive: true });
  const x = spawnSync('tar', ['-x', '-C', dir], { input: tar.stdout });
  if (x.status !== 0) throw new Error(`tar -x into ${dir}: ${x.error?.message ?? x.stderr?.toString()}`);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}
