/**
 * Reads a cluster secret file. The file is private (as ssh insists for private keys): one that group or others can
 * read or write is refused with the chmod to run. Each non-empty line is a secret; the first is the current one
 * (what this replica proves and signs with), every line is accepted from others. Two lines make a rotation possible
 * without stopping the cluster (docs/security.md, "Rotating the cluster secret").
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';

export interface ClusterSecrets {
  /** The secret this replica proves (HMAC) and derives its certificate authority from: the file's first line. */
  current: Buffer;
  /** Every secret accepted from others, `current` first (during a rotation: the old and the new one). */
  accepted: Buffer[];
}

/** A secret file that cannot be used; the message says what to do. */
export class SecretFileError extends Error {}

/** Lines a secret file may hold (the current secret and those still accepted during a rotation). */
export const MAX_SECRETS = 4;

/**
 * Refuses a secret file that other users can reach. `platform` is injectable for tests; on Windows file modes say
 * nothing about access (ACLs do), so the check is skipped there.
 */
export function readSecretFile(file: string, platform: NodeJS.Platform = process.platform): ClusterSecrets {
  let text: string;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new SecretFileError(`${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const mode = fstatSync(fd).mode & 0o777;
    if (platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new SecretFileError(
        `${file} holds the cluster secret but other users can access it (mode ${mode.toString(8).padStart(4, '0')}); ` +
          `make it private and start again: chmod 600 ${file}`,
      );
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  return parseSecrets(text, file);
}

/** The secrets of a file's text: non-empty lines, trimmed. */
export function parseSecrets(text: string, file: string): ClusterSecrets {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  if (lines.length === 0) {
    throw new SecretFileError(`${file} is empty; put a long random secret in it (e.g. openssl rand -hex 32 > ${file}; chmod 600 ${file})`);
  }
  if (lines.length > MAX_SECRETS) {
    throw new SecretFileError(`${file} has ${lines.length} lines; it holds the current secret and at most ${MAX_SECRETS - 1} older ones still accepted during a rotation`);
  }
  const accepted = lines.map((line) => Buffer.from(line, 'utf8'));
  return { current: accepted[0], accepted };
}
