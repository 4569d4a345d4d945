/**
 * Reading a command line, one way for every command (`replica`, `chat`, `status`, `cluster`, and the `sim`, `bench`
 * and `chaos` runners): node:util parseArgs with `--help`/`-h` added, a UsageError for bad input or --help, and one
 * report of it: for --help the usage on stdout and exit 0; otherwise `INVALID: message` and the usage on stderr, exit 2.
 */
import { parseArgs } from 'node:util';
import { isHostPort } from '../protocol/address.js';

export class UsageError extends Error {
  /** True for --help: print the usage on stdout and exit 0. */
  readonly help: boolean;
  constructor(message: string, help = false) {
    super(message);
    this.name = 'UsageError';
    this.help = help;
  }
}

type OptionsConfig = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }>;

/** parseArgs (strict) with `--help`/`-h`; its errors, and --help, become a UsageError. */
export function parseCommandLine<T extends OptionsConfig>(argv: string[], options: T, { allowPositionals = false } = {}) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    // parseArgs messages are clear ("Unknown option '--x'", "Option '--limit <value>' argument missing").
    const message = err instanceof Error ? err.message.replace(/\. To specify a positional argument.*$/s, '') : String(err);
    throw new UsageError(message);
  }
  if ((parsed.values as { help?: boolean }).help) throw new UsageError('', true);
  return parsed;
}

interface UsageOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Reports a UsageError as the module comment says; returns the exit code. */
export function reportUsageError(err: UsageError, usage: string, io: UsageOutput = process): number {
  if (err.help) {
    io.stdout.write(`${usage}\n`);
    return 0;
  }
  io.stderr.write(`INVALID: ${err.message}\n${usage}\n`);
  return 2;
}

/** `HOST:PORT[,HOST:PORT...]` given to `option` (IPv6 hosts in brackets); duplicates are dropped. */
export function parseAddressList(text: string | undefined, option: string): string[] {
  if (text === undefined) throw new UsageError(`${option} HOST:PORT[,HOST:PORT...] is needed`);
  const addresses: string[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') throw new UsageError(`${option} "${text}": an empty address`);
    if (!isHostPort(part)) throw new UsageError(`${option}: "${part}" is not HOST:PORT (a port from 1 to 65535)`);
    if (!addresses.includes(part)) addresses.push(part);
  }
  return addresses;
}

/** A whole number from 1 to `max` written in digits; `what` names the option or argument in the error. */
export function positiveInt(text: string, what: string, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} "${text}" must be a positive whole number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${what} "${text}" must be between 1 and ${max}`);
  return n;
}

/** Seconds ("15", "2.5", "15s") or milliseconds ("1500ms"); more than 0 and at most an hour. */
export function parseTimeout(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  const ms = m ? (m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000) : Number.NaN;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 3_600_000) {
    throw new UsageError(`--timeout "${text}": give seconds (e.g. 15 or 2.5) or milliseconds (e.g. 1500ms), at most one hour`);
  }
  return Math.round(ms);
}
