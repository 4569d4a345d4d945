/**
 * The replica's logger (pino): one JSON line per event when stdout is a file, a pipe or a log collector; readable,
 * coloured lines (pino-pretty) when a person watches a terminal. Set QUORUM_LOG_FORMAT=json to force JSON on a terminal.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(name: string, level = 'info'): Logger {
  const human = process.stdout.isTTY === true && process.env.QUORUM_LOG_FORMAT !== 'json';
  // sync: a replica that stops at once (a fatal error) still prints its last lines.
  return human ? pino({ name, level }, pretty({ sync: true, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })) : pino({ name, level });
}
