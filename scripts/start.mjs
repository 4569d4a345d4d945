#!/usr/bin/env node
/**
 * `npm start`: the desktop app when an Electron binary is installed; otherwise a headless replica that serves the
 * web client, with the URL to open. Builds what it runs first (renderer with vite, main process with esbuild).
 * Arguments after `--` go to the headless replica (see `npm run replica -- --help`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);

/**
 * The path require('electron') would return, if that binary exists. Computed like node_modules/electron/index.js
 * but without calling it: since Electron 45 it tries to download a missing binary, which must not happen here.
 */
function electronBinary() {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return null;
  }
  const pathFile = join(pkgDir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const p = override ? join(override, rel || 'electron') : rel ? join(pkgDir, 'dist', rel) : null;
  return p && existsSync(p) ? p : null;
}

function step(what, cmd, cmdArgs) {
  console.log(`start: ${what}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`start: ${what} failed`);
    process.exit(r.status ?? 1);
  }
}

function run(cmd, cmdArgs, env = process.env) {
  const child = spawn(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

step('building the renderer (vite)', process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn']);

const electron = electronBinary();
if (electron) {
  step('building the main process (esbuild)', process.execPath, [join(root, 'main', 'build.mjs')]);
  console.log(`start: launching Electron (${electron})`);
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  run(electron, ['.', ...args], env);
} else {
  const listenAt = args.indexOf('--listen');
  const listen = listenAt >= 0 && args[listenAt + 1] ? args[listenAt + 1] : '127.0.0.1:7400';
  const host = listen.replace(/:\d+$/, '').replace(/^0\.0\.0\.0$|^\[?::\]?$/, '127.0.0.1');
  const port = /:(\d+)$/.exec(listen)?.[1] ?? '7400';
  console.log(
    [
      '',
      'start: no Electron binary is installed (node_modules/electron has no downloaded binary),',
      '       so the desktop app cannot open here. Starting a headless replica instead; it serves the web client.',
      `       Open http://${host}:${port}/ in a browser.`,
      '       (Same as `npm run replica`; pass replica options after `--`, e.g. `npm start -- --listen 0.0.0.0:7400`.)',
      '',
    ].join('\n'),
  );
  // Built JavaScript, not a TypeScript loader (scripts/replica-build.mjs; rebuilt only when replica/ changed).
  step('building the replica (esbuild)', process.execPath, [join(root, 'scripts', 'replica-build.mjs')]);
  // The replica's node flags and process environment (replica/process-env.ts: a smaller young generation; scrypt's
  // 16 MiB blocks kept out of malloc arenas).
  run(process.execPath, ['--max-semi-space-size=8', 'dist/replica/cli.js', 'replica', ...args], { MALLOC_MMAP_THRESHOLD_: String(4 * 1024 * 1024), ...process.env });
}
