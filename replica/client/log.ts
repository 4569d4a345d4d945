/** The client's logger: every level callable, whatever the app gave (pino, `console`, a stub with some levels, none). */
import type { ClientLogger } from './types.js';

export type ClientLog = Required<ClientLogger>;

const silent = (): void => {};

/** Each level of the app's logger bound to it; a level it lacks, or every level without a logger, says nothing. */
export function clientLog(log: ClientLogger | undefined): ClientLog {
  const level = (name: keyof ClientLogger): ((obj: object, msg?: string) => void) => {
    const write = log?.[name];
    return write ? write.bind(log) : silent;
  };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}
