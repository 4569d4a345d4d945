/**
 * Several hosts on one machine: a bridge namespace, one namespace per replica (veth to the bridge) and one for
 * clients. Every address lives inside namespaces this helper created; teardown deletes them all.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root to include the several-hosts test)';
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `the ip command (iproute2) is not usable: ${r.error?.message ?? r.stderr}`;
  const probe = `qprobe${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace here: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface Host {
  name: string;
  ns: string;
  /** The host's veth inside its namespace. */
  dev: string;
  address: string;
}

export class NetnsLab {
  readonly tag = randomBytes(2).toString('hex');
  readonly bridgeNs = `qbr${this.tag}`;
  readonly hosts: Host[] = [];
  readonly subnet: number;
  private n = 0;

  constructor() {
    this.subnet = 100 + (parseInt(this.tag, 16) % 100);
    ip('netns', 'add', this.bridgeNs);
    ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
    ip('-n', this.bridgeNs, 'link', 'set', 'lo', 'up');
  }

  addHost(name: string): Host {
    const i = ++this.n;
    const ns = `q${this.tag}${name}`;
    const inner = `eth0`;
    const outer = `v${this.tag}${i}`;
    ip('netns', 'add', ns);
    ip('link', 'add', outer, 'netns', this.bridgeNs, 'type', 'veth', 'peer', 'name', inner, 'netns', ns);
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'master', 'br0');
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'up');
    const address = `10.213.${this.subnet}.${i}`;
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inner);
    ip('-n', ns, 'link', 'set', inner, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    const h = { name, ns, dev: inner, address };
    this.hosts.push(h);
    return h;
  }

  /** Cuts (or restores) a host's only link. */
  setLink(h: Host, up: boolean): void {
    ip('-n', h.ns, 'link', 'set', h.dev, up ? 'up' : 'down');
    if (up) {
      // Re-adding is a no-op when the address survived the link going down.
      spawnSync('ip', ['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', h.dev]);
    }
  }

  /** argv prefix that runs a command inside the host's namespace. */
  exec(h: Host): string[] {
    return ['ip', 'netns', 'exec', h.ns];
  }

  destroy(): void {
    for (const h of this.hosts) spawnSync('ip', ['netns', 'del', h.ns]);
    spawnSync('ip', ['netns', 'del', this.bridgeNs]);
    this.hosts.length = 0;
  }
}
