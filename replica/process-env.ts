/**
 * Environment for a process that hosts a replica (the desktop app's utility process, `npm start`'s headless replica,
 * the test and bench clusters). glibc reads it at process start; other C libraries ignore it.
 *
 * Password hashing (scrypt, N = 2^14, r = 8) allocates 16 MiB per hash on libuv's worker threads. glibc raises its
 * mmap threshold to the size of the last freed mmapped block, so after the first hash such blocks come from the
 * worker threads' arenas, which keep them, and a replica's memory grows by most of its size after a handful of logins.
 * A fixed threshold of 4 MiB keeps them mmapped and returned to the system on free (figures in test/bench/README.md).
 */
export const REPLICA_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: String(4 * 1024 * 1024) };

/**
 * Node flags for a headless replica process: `node <flags> dist/replica/cli.js replica` (the `replica` script in
 * package.json, scripts/start.mjs) and the test and bench clusters. V8 reads them when it sets up its heap, so they
 * cannot be set from inside the process. Not the desktop's utility process: Electron hands `execArgv` to its own
 * executable as Chromium switches, and whether a utility process takes V8 flags (`--js-flags`) is untested here
 * (no Electron binary); a desktop serves a team's few connections, not thousands.
 *
 * A semi-space of at most 8 MiB instead of the 16 V8 picks on a machine with a few GB or more (the young generation
 * is two of them): a busy replica's young generation grows to its limit and stays there, so this is up to 16 MB less
 * resident memory under load (test/bench/README.md: at 5,000 connections leader RSS 0.92×, CPU per message 0.98× in an
 * alternating probe, 1.02× and 1.07× in two single pairs; writes/s within noise).
 */
export const REPLICA_NODE_ARGS: readonly string[] = ['--max-semi-space-size=8'];

/** `base` with the replica's settings added (values already in `base` win). */
export function replicaProcessEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...REPLICA_PROCESS_ENV, ...base };
}
