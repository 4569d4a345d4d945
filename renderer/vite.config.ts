/**
 * Builds the renderer into dist/renderer: the Electron window's page and the web client every replica serves.
 * Hashed asset names (long-cacheable), no inline scripts (strict CSP), a CSP meta tag in the built page.
 * `--mode mock` swaps the cluster for an in-memory fake (renderer/dev/) for screenshots and UI work.
 */
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/renderer', import.meta.url));

/** CSP for the built page (dev mode needs inline scripts for hot reload, so only on build). */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'none'";

function cspMeta(): Plugin {
  return {
    name: 'quorum-csp-meta',
    apply: 'build',
    transformIndexHtml(html) {
      return html.replace('<meta charset="utf-8" />', `<meta charset="utf-8" />\n    <meta http-equiv="Content-Security-Policy" content="${CSP}" />`);
    },
  };
}

export default defineConfig(({ mode }) => ({
  root,
  base: './',
  plugins: [react(), cspMeta()],
  build: {
    outDir: mode === 'mock' ? fileURLToPath(new URL('../dist/renderer-mock', import.meta.url)) : outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 500,
  },
  server: { port: 5173, strictPort: false },
}));
