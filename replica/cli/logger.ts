/**
 * The replica's logger (pino): one JSON line per event when stdout is a file, a pipe or a log collector; readable,
 * coloured lines (pino-pretty) when a person watches a terminal. Set QUORUM_LOG_FORMAT=json to force JSON on a terminal.
 * pino-pretty is loaded only for a terminal (a replica writing JSON is lighter without it: test/bench/README.md).
 */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';

export function createLogger(name: string, level = 'info'): Logger {
  const human = process.stdout.isTTY === true && process.env.QUORUM_LOG_FORMAT !== 'json';
  if (!human) return pino({ name, level });
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  // sync: a replica that stops at once (a fatal error) still prints its last lines.
  return pino({ name, level }, pretty({ sync: true, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }));
}
