/**
 * The public cluster id: names a cluster on the LAN (discovery) and reveals nothing about its secret. Made at
 * bootstrap from the bootstrap configuration (sha256 of the sorted "id=address" list, so every initial member makes
 * the same one, and a desktop's first start, whose id carries random letters, makes its own), kept in the data folder
 * (`cluster-id`), and copied by every other member from the leader's status: a replica that joins, or a data folder
 * made before the id existed (then the leader derives one from its configuration).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfState } from '../raft/types.js';
import type { Member } from './options.js';

const FILE = 'cluster-id';
/** 16 lowercase hex digits. */
export const CLUSTER_ID_RE = /^[0-9a-f]{16}$/;

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The id of a cluster bootstrapped with `members` (the same on every initial member). */
export function bootstrapClusterId(members: readonly Member[]): string {
  return digest(`quorum-cluster|${members.map((m) => `${m.id}=${m.address}`).sort().join(',')}`);
}

/** The id a leader makes for a cluster whose data folders predate cluster ids (from its current configuration). */
export function derivedClusterId(conf: ConfState): string {
  return digest(`quorum-cluster|${[...conf.voters, ...conf.learners].sort().join(',')}`);
}

/** The data folder's cluster id, or null when it has none (yet). */
export function readClusterId(dataDir: string): string | null {
  try {
    const id = readFileSync(join(dataDir, FILE), 'utf8').trim();
    return CLUSTER_ID_RE.test(id) ? id : null;
  } catch {
    // no file: a folder made before cluster ids, or a replica still joining
    return null;
  }
}

export function writeClusterId(dataDir: string, id: string): void {
  if (!CLUSTER_ID_RE.test(id)) throw new Error(`"${id}" is not a cluster id`);
  writeFileSync(join(dataDir, FILE), `${id}\n`, { mode: 0o600 });
}
