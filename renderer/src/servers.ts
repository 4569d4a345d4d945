/** Which replicas to connect to at start: this page's origin (web) or this machine's replica (desktop), plus remembered members. */
import { isHostPort } from '../../replica/protocol/address.js';
import { call, desktop } from './desktop.js';

const KEY = 'quorum.servers';

/** HOST:PORT with a port from 1 to 65535 (the one rule every entry point shares, replica/protocol/address.ts). */
export function isAddress(s: string): boolean {
  return isHostPort(s);
}

export function rememberedServers(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && isAddress(x)).slice(0, 16) : [];
  } catch {
    return [];
  }
}

export function rememberServers(addresses: string[]): void {
  const list = [...new Set(addresses.filter(isAddress))].slice(0, 16);
  try {
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    // storage full or disabled: only the next start is affected
  }
}

/** Replica addresses report the listen host; 0.0.0.0 or :: means "this machine". */
export function localAddress(address: string): string {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) return address;
  const host = m[1] === '0.0.0.0' || m[1] === '[::]' || m[1] === '::' ? '127.0.0.1' : m[1];
  return `${host}:${m[2]}`;
}

export async function initialServers(): Promise<string[]> {
  const first: string[] = [];
  if (desktop) {
    try {
      const s = await call('replica:getStatus');
      if (s.config.enabled) first.push(s.address ? localAddress(s.address) : `127.0.0.1:${s.config.port}`);
    } catch {
      // main not answering: fall back to remembered servers
    }
  } else if (typeof location !== 'undefined' && location.host) {
    first.push(location.host);
  }
  return [...new Set([...first, ...rememberedServers()])];
}
