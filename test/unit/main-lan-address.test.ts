// The address a desktop advertises to its team: the default route's interface, not docker0, a bridge or a VPN that
// happens to come first (os.networkInterfaces and /proc/net/route faked with what such machines report).
import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { defaultRouteInterface, lanAddress } from '../../main/lan-address.js';

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return { address, family: 'IPv4', internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` };
}

const ROUTES_HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const routes = (...lines: string[]) => [ROUTES_HEADER, ...lines, ''].join('\n');

describe('LAN address', () => {
  it('takes the interface of the default route (lowest metric), even when docker0 and a VPN come first', () => {
    const interfaces = { lo: [v4('127.0.0.1', true)], docker0: [v4('172.17.0.1')], wg0: [v4('10.8.0.2')], wlp2s0: [v4('192.168.1.23')], enp3s0: [v4('192.168.1.40')] };
    const table = routes(
      'wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'enp3s0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
    );
    expect(defaultRouteInterface(table)).toBe('enp3s0');
    expect(lanAddress({ interfaces: () => interfaces, routeTable: () => table })).toBe('192.168.1.40');
  });

  it('without a route table (macOS, Windows) skips virtual interfaces; without any LAN it is null', () => {
    const interfaces = { lo0: [v4('127.0.0.1', true)], utun3: [v4('100.64.0.7')], en0: [v4('10.0.0.12')] };
    expect(lanAddress({ interfaces: () => interfaces, routeTable: () => null })).toBe('10.0.0.12');
    expect(lanAddress({ interfaces: () => ({ docker0: [v4('172.17.0.1')] }), routeTable: () => null })).toBe('172.17.0.1');
    expect(lanAddress({ interfaces: () => ({ lo: [v4('127.0.0.1', true)] }), routeTable: () => routes() })).toBeNull();
  });

  it('ignores a default route that is down, or one whose interface has no IPv4 address', () => {
    const table = routes('eth9\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0', 'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0');
    expect(defaultRouteInterface(table)).toBe('wlan0');
    expect(lanAddress({ interfaces: () => ({ docker0: [v4('172.17.0.1')], eth1: [v4('192.168.5.5')] }), routeTable: () => table })).toBe('192.168.5.5');
  });
});
