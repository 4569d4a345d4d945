/**
 * The versions in the replicated state (versions.ts says what they mean): each member's supported version, and the
 * cluster version every replica applies by. Raising the cluster version is checked at apply, the same on every
 * replica: refused unless every member of the configuration has reported at least that version.
 */
import type { ConfState } from '../raft/types.js';
import { VersionStopError } from '../util/replica-stop-error.js';
import { refuse } from './apply-context.js';
import type { Statements } from './statements.js';

export class ClusterVersions {
  /** The cluster version (meta.cluster_version), as of the last applied entry. */
  current: number;

  constructor(
    private readonly statements: Statements,
    /** The highest version this replica supports. */
    readonly supported: number,
  ) {
    this.current = statements.clusterVersion.get()!.cluster_version;
  }

  /** The versions members reported, by id (members that never reported are absent). */
  members(): Map<string, number> {
    const reported = new Map<string, number>();
    for (const m of this.statements.members.all()) if (m.version !== null) reported.set(m.id, m.version);
    return reported;
  }

  /** Records what member `id` supports. */
  recordMember(id: string, version: number): { id: string; version: number } {
    if (this.statements.memberVersionSet.run(version, id).changes === 0) refuse('NOT_FOUND', `no member ${id}`);
    return { id, version };
  }

  /**
   * Raises the cluster version to `version` (never lowers it). Refused (CONFLICT) unless every member of `conf`
   * reported at least `version`. A replica that does not support it stops rather than apply by rules it lacks.
   */
  raise(version: number, conf: ConfState | null): { clusterVersion: number } {
    if (version <= this.current) return { clusterVersion: this.current };
    const reported = this.members();
    for (const id of [...(conf?.voters ?? []), ...(conf?.learners ?? [])]) {
      const has = reported.get(id);
      if (has === undefined || has < version) {
        refuse('CONFLICT', `cannot raise the cluster version to ${version}: ${id} supports ${has === undefined ? 'an unreported version' : `version ${has}`}`);
      }
    }
    if (version > this.supported) {
      throw new VersionStopError(
        `the cluster moved to Quorum version ${version}, but this replica supports only version ${this.supported}: upgrade this replica`,
      );
    }
    this.statements.setClusterVersion.run(version);
    this.current = version;
    return { clusterVersion: version };
  }
}
