// Packaging choices that are easy to lose in electron-builder.yml: the deb keeps electron-builder's default
// dependencies (a list replaces them), the desktop file name, and artifact names alike on every target.
// Read as text (the few keys checked are plain YAML lists and scalars).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cluster.js';

const yml = readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { desktopName?: string };

/** The lines of a top-level section (`name:` up to the next top-level key). */
function section(name: string): string {
  const m = new RegExp(`^${name}:\\n((?:[ #].*\\n|\\n)*)`, 'm').exec(yml);
  if (!m) throw new Error(`no ${name}: section`);
  return m[1];
}

describe('electron-builder.yml', () => {
  it('deb depends keeps electron-builder’s defaults (libgtk-3-0, libxss1, xdg-utils, libsecret-1-0, …)', () => {
    const depends = /^ {2}depends:\n((?: {4}- .*\n)+)/m.exec(section('deb'))![1].split('\n').filter(Boolean).map((l) => l.replace(/^ {4}- /, ''));
    const electronBuilderDefaults = ['libgtk-3-0', 'libnotify4', 'libnss3', 'libxss1', 'libxtst6', 'xdg-utils', 'libatspi2.0-0', 'libuuid1', 'libsecret-1-0'];
    expect(depends).toEqual(expect.arrayContaining(electronBuilderDefaults));
  });

  it('the desktop file is quorum.desktop (package.json desktopName, synced by electron-builder)', () => {
    expect(pkg.desktopName).toBe('quorum.desktop');
    expect(section('linux')).toMatch(/^ {2}syncDesktopName: true$/m);
    expect(section('linux')).toMatch(/^ {2}executableName: quorum$/m);
  });

  it('every target names its artifact with the version and architecture', () => {
    for (const target of ['deb', 'appImage', 'nsis', 'dmg']) expect(section(target), target).toMatch(/^ {2}artifactName: \$\{productName\}-.*\$\{version\}-\$\{arch\}\.\$\{ext\}$/m);
  });

  it('macOS: the local-network prompt has its reason and the Bonjour service; fuses re-sign an ad-hoc build', () => {
    expect(section('mac')).toMatch(/^ {4}NSLocalNetworkUsageDescription: \S.+$/m);
    expect(section('mac')).toMatch(/^ {4}NSBonjourServices:\n {6}- _quorum\._tcp$/m);
    expect(section('electronFuses')).toMatch(/^ {2}resetAdHocDarwinSignature: true$/m);
  });
});
