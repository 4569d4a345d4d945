// The pure parts of LAN discovery: the public cluster id, which addresses are advertised, `cluster discover` arguments.
import { describe, expect, it } from 'vitest';
import { bootstrapClusterId, derivedClusterId } from '../../replica/node/cluster-id.js';
import { advertisableHost } from '../../replica/node/discovery.js';
import { parseDiscoverArgs } from '../../replica/cli/cluster.js';
import { UsageError } from '../../replica/cli/usage.js';

describe('cluster id', () => {
  it('is the same on every initial member (whatever the order) and differs between configurations', () => {
    const a = bootstrapClusterId([{ id: 'r1', address: '10.0.0.1:7400' }, { id: 'r2', address: '10.0.0.2:7400' }]);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(bootstrapClusterId([{ id: 'r2', address: '10.0.0.2:7400' }, { id: 'r1', address: '10.0.0.1:7400' }])).toBe(a);
    expect(bootstrapClusterId([{ id: 'r1', address: '10.0.0.1:7400' }])).not.toBe(a);
    expect(derivedClusterId({ voters: ['r2', 'r1'], learners: [] })).toBe(derivedClusterId({ voters: ['r1'], learners: ['r2'] }));
  });
});

describe('advertised addresses', () => {
  it.each([
    ['10.0.0.4:7400', { host: '10.0.0.4' }],
    ['192.168.1.20:1', { host: '192.168.1.20' }],
    ['127.0.0.1:7400', { reason: '127.0.0.1 is not reachable from the LAN' }],
    ['127.3.2.1:7400', { reason: '127.3.2.1 is not reachable from the LAN' }],
    ['0.0.0.0:7400', { reason: '0.0.0.0 is not reachable from the LAN' }],
    ['desk.local:7400', { reason: 'desk.local is not an IPv4 address' }],
    ['[fe80::1]:7400', { reason: 'fe80::1 is not an IPv4 address' }],
  ])('%s', (address, expected) => {
    expect(advertisableHost(address)).toEqual(expected);
  });
});

describe('cluster discover arguments', () => {
  it('defaults to 3 s on the system interface; takes --json, --timeout, --interface', () => {
    expect(parseDiscoverArgs(['discover'])).toEqual({ json: false, timeoutMs: 3000 });
    expect(parseDiscoverArgs(['discover', '--json', '--timeout', '1.5', '--interface', '10.1.2.3'])).toEqual({ json: true, timeoutMs: 1500, interfaceAddress: '10.1.2.3' });
  });

  it.each([
    [['discover', 'extra'], /discover takes no arguments/],
    [['discover', '--interface', 'eth0'], /--interface "eth0" is not an IPv4 address/],
    [['discover', '--timeout', 'soon'], /timeout/],
    [['discover', '--servers', '10.0.0.1:7400'], /Unknown option '--servers'/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseDiscoverArgs(argv)).toThrow(UsageError);
    expect(() => parseDiscoverArgs(argv)).toThrow(message);
  });
});
