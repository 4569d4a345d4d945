/**
 * Who may use what on the replica's port (docs/security.md, "Defaults"):
 * - Origin: a browser page may open /client or /peer, or send anything but GET/HEAD, only from the replica's own
 *   origin (the page it served, reached by an IP address, `localhost` or one of its configured names), the desktop
 *   app's origin, a page served by another member of the cluster (its advertised address: a page a follower served
 *   talks to the leader it is redirected to), or an origin the operator allowed. Other pages get 403, so a web site open in a teammate's browser
 *   cannot sign up accounts or guess passwords through the local replica. Requests without Origin come from programs
 *   (the CLI, peers), which a browser page cannot imitate.
 * - Plain text: another machine reaches the replica over TLS only (pages are redirected to https, /client and /peer
 *   refused), unless the operator allows plain clients. Loopback is always served in plain (the desktop's own window).
 * - /metrics and /debug/state: loopback only, or with the metrics token, or on the separate --metrics-listen port.
 * The Host header of a loopback request must name this machine by address, `localhost` or a configured name: a page
 * that rebinds its own DNS name to 127.0.0.1 reaches the port through the browser, with its own name in Host.
 */
import { isIP } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DESKTOP_APP_ORIGIN } from '../protocol/origins.js';

export interface ExposureOptions {
  /** Serve pages and /client in plain text to other machines (a trusted network or a TLS-terminating proxy). */
  allowPlainClients: boolean;
  /** Further origins allowed to open /client (e.g. https://chat.example.com behind a reverse proxy), exact. */
  allowedOrigins: readonly string[];
  /** Host names (not addresses) the replica is reached by: its listen and advertised hosts. */
  hostNames: () => readonly string[];
  /** A bearer token that lets other machines read /metrics and /debug/state on this port, or null. */
  metricsToken: string | null;
  /** The members' addresses (host:port) as the cluster knows them now: their pages may use this replica. */
  memberAddresses: () => Iterable<string>;
}

export class Exposure {
  private readonly allowed: Set<string>;

  constructor(private readonly o: ExposureOptions) {
    this.allowed = new Set([DESKTOP_APP_ORIGIN, ...o.allowedOrigins.map(normalizeOrigin).filter((x): x is string => x !== null)]);
  }

  /** Why this request's Origin may not use the replica, or null when it may (or carries none). */
  originProblem(req: IncomingMessage): string | null {
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    const normalized = normalizeOrigin(origin);
    if (normalized !== null && this.allowed.has(normalized)) return null;
    const host = req.headers.host;
    if (normalized !== null && host !== undefined && sameHostPort(normalized, host) && this.isOurHost(host)) return null;
    if (normalized !== null && this.servedByMember(normalized)) return null;
    return `pages from ${origin} may not use this replica (only its own pages and the Quorum app may); an operator can allow an origin with --allow-origin`;
  }

  /** The origin is an http(s) page of a member: its host:port is one of the members' addresses. */
  private servedByMember(origin: string): boolean {
    let host: string;
    try {
      const u = new URL(origin);
      if (u.protocol !== 'http:' && u.protocol !== 'https:' || u.port === '') return false;
      host = u.host.toLowerCase();
    } catch {
      return false;
    }
    for (const address of this.o.memberAddresses()) {
      if (address && address.toLowerCase() === host) return true;
    }
    return false;
  }

  /** True when a plain-text request from `remote` may be served (loopback, or plain clients allowed). */
  plainAllowed(remote: string): boolean {
    return this.o.allowPlainClients || isLoopback(remote);
  }

  /** Why /metrics or /debug/state is not served to this request, or null when it is. */
  metricsProblem(req: IncomingMessage, remote: string): string | null {
    const token = this.o.metricsToken;
    const auth = req.headers.authorization;
    if (token !== null && auth !== undefined && auth.startsWith('Bearer ') && tokensEqual(auth.slice(7).trim(), token)) return null;
    if (isLoopback(remote) && req.headers.host !== undefined && this.isOurHost(req.headers.host) && this.originProblem(req) === null) return null;
    return (
      'metrics and state are served to this machine only; to scrape from elsewhere start the replica with ' +
      '--metrics-listen HOST:PORT (a separate port) or --metrics-token-file FILE (then send "Authorization: Bearer TOKEN")'
    );
  }

  /** A Host header naming this machine: an IP address, localhost, or a configured name (not a rebound DNS name). */
  isOurHost(hostHeader: string): boolean {
    const name = hostnameOf(hostHeader);
    if (name === null) return false;
    if (isIP(name) || name === 'localhost') return true;
    return this.o.hostNames().some((n) => n.toLowerCase() === name);
  }
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** scheme://host[:port] in lower case with the default port dropped, or null when it is not an origin. */
export function normalizeOrigin(origin: string): string | null {
  if (origin === 'null') return null;
  try {
    const u = new URL(origin);
    if (u.pathname !== '/' && u.pathname !== '') return null;
    // app://quorum has no "origin" per the URL standard (u.origin is "null"); keep scheme and host as given.
    return `${u.protocol}//${u.host}`.toLowerCase();
  } catch {
    return null;
  }
}

/** The host name of a Host header ("[::1]:7400" → "::1"), lower case, or null when malformed. */
function hostnameOf(hostHeader: string): string | null {
  try {
    return new URL(`http://${hostHeader}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return null;
  }
}

/** The origin (normalized) names the same host and port as the Host header. */
function sameHostPort(origin: string, hostHeader: string): boolean {
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    // Our port serves http and https alike, so a page's port is ours whatever its scheme says by default.
    const hostUrl = new URL(`${u.protocol}//${hostHeader}`);
    return hostUrl.host.toLowerCase() === u.host.toLowerCase();
  } catch {
    return false;
  }
}

function tokensEqual(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}
