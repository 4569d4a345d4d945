/**
 * Serves the built renderer (dist/renderer) to the window from the privileged `app://quorum/` origin, with a
 * strict Content-Security-Policy on every response. Paths are confined to the renderer folder.
 */
import { extname, join, normalize, sep } from 'node:path';
import { CONTENT_TYPES } from '../replica/protocol/content-types.js';
import { DESKTOP_APP_ORIGIN } from '../replica/protocol/origins.js';

/** The window's origin: the one every replica lets open /client besides its own pages (replica/net/exposure.ts). */
export const APP_ORIGIN = DESKTOP_APP_ORIGIN;
export const APP_SCHEME = new URL(APP_ORIGIN).protocol.slice(0, -1);
export const APP_HOST = new URL(APP_ORIGIN).host;
export const APP_URL = `${APP_ORIGIN}/index.html`;

/**
 * No inline script, no eval, no remote code; WebSocket connections to replicas on the LAN are the only network
 * access (ws: and wss: to any host, since teammates' replicas live at addresses learned at run time).
 */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ws: wss:",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "frame-src 'none'",
  "object-src 'none'",
  "worker-src 'none'",
].join('; ');

const TYPES = CONTENT_TYPES;

/** Maps an app:// URL to a file under root, or null when it is outside root, on another host, or malformed. */
export function resolveAppPath(url: string, root: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  if (path === '/' || path === '') path = '/index.html';
  const base = normalize(root.endsWith(sep) ? root : root + sep);
  const file = normalize(join(base, path));
  if (!file.startsWith(base)) return null;
  return file;
}

export async function serveAppRequest(url: string, root: string, readFile: (p: string) => Promise<Uint8Array>): Promise<Response> {
  const headers = {
    'content-security-policy': APP_CSP,
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
  };
  const file = resolveAppPath(url, root);
  if (!file) return new Response('not found', { status: 404, headers });
  try {
    const body = await readFile(file);
    return new Response(body as BodyInit, { status: 200, headers: { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' } });
  } catch {
    return new Response('not found', { status: 404, headers });
  }
}
