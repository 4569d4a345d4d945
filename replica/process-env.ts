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

/** `base` with the replica's settings added (values already in `base` win). */
export function replicaProcessEnv(base: Record<string, string | undefined>): Record<string, string | undefined> {
  return { ...REPLICA_PROCESS_ENV, ...base };
}
