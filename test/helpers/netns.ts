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
  // Partitions and packet loss are iptables rules inside the namespaces.
  const t = spawnSync('iptables', ['--version'], { encoding: 'utf8' });
  if (t.error || t.status !== 0) return `the iptables command is not usable (Debian: apt-get install iptables): ${t.error?.message ?? t.stderr}`;
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

/** What a process needs to operate on a lab another process made (see NetnsLab.attach). */
export interface LabDescription {
  tag: string;
  bridgeNs: string;
  subnet: number;
  hosts: Host[];
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
    try {
      ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
      ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
      ip('-n', this.bridgeNs, 'link', 'set', 'lo', 'up');
    } catch (err) {
      // The caller never gets a lab to destroy: leave no namespace behind.
      spawnSync('ip', ['netns', 'del', this.bridgeNs]);
      throw err;
    }
  }

  addHost(name: string): Host {
    const i = ++this.n;
    const ns = `q${this.tag}${name}`;
    const inner = `eth0`;
    const outer = `v${this.tag}${i}`;
    ip('netns', 'add', ns);
    const h = { name, ns, dev: inner, address: `10.213.${this.subnet}.${i}` };
    // Known to destroy() from here on, so a step failing below leaves no namespace behind.
    this.hosts.push(h);
    ip('link', 'add', outer, 'netns', this.bridgeNs, 'type', 'veth', 'peer', 'name', inner, 'netns', ns);
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'master', 'br0');
    ip('-n', this.bridgeNs, 'link', 'set', outer, 'up');
    ip('-n', ns, 'addr', 'add', `${h.address}/24`, 'dev', inner);
    ip('-n', ns, 'link', 'set', inner, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
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

  /**
   * Packet-filter rules inside the host's namespace, appended in one atomic iptables-restore (filter table), e.g.
   * ['-A INPUT -s 10.0.0.2 -j DROP']. Only the host's own namespace is touched.
   */
  addRules(h: Host, rules: string[]): void {
    if (rules.length === 0) return;
    const input = `*filter\n${rules.join('\n')}\nCOMMIT\n`;
    execFileSync('ip', ['netns', 'exec', h.ns, 'iptables-restore', '--noflush', '-w'], { input, stdio: ['pipe', 'ignore', 'pipe'] });
  }

  /** Drops every packet between the host and `other` (rules on the host's side only). */
  block(h: Host, other: Host): void {
    this.addRules(h, [`-A INPUT -s ${other.address} -j DROP`, `-A OUTPUT -d ${other.address} -j DROP`]);
  }

  /** Drops a random fraction p of the packets the host receives and sends (iptables -m statistic; no netem here). */
  setLoss(h: Host, p: number): void {
    const prob = Math.min(1, Math.max(0, p)).toFixed(4);
    this.addRules(h, [`-A INPUT -m statistic --mode random --probability ${prob} -j DROP`, `-A OUTPUT -m statistic --mode random --probability ${prob} -j DROP`]);
  }

  /** Removes every filter rule in the host's namespace. */
  clearRules(h: Host): void {
    execFileSync('ip', ['netns', 'exec', h.ns, 'iptables', '-w', '-F'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  describe(): LabDescription {
    return { tag: this.tag, bridgeNs: this.bridgeNs, subnet: this.subnet, hosts: this.hosts.map((h) => ({ ...h })) };
  }

  /** Operates on a lab another process made (e.g. a runner re-executed inside the lab's client namespace). */
  static attach(d: LabDescription): NetnsLab {
    const lab = Object.create(NetnsLab.prototype) as NetnsLab;
    Object.assign(lab, { tag: d.tag, bridgeNs: d.bridgeNs, subnet: d.subnet, hosts: d.hosts.map((h) => ({ ...h })), n: d.hosts.length });
    return lab;
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
