import { describe, expect, it } from 'vitest';
import { loopbackAddress, percentile, sentAtOf, stampText } from '../bench/stats.js';

describe('bench helpers (connections scenario)', () => {
  it('a stamped message text carries its send time and keeps the length', () => {
    const pad = 'x'.repeat(300);
    const text = stampText(1796457304417.125, pad);
    expect(text).toHaveLength(256);
    expect(sentAtOf(text)).toBe(1796457304417.125);
    for (const other of ['hello', '@|x', '@abc|x', '', 42, undefined]) expect(sentAtOf(other)).toBeNull();
  });

  it('spreads clients over loopback addresses, perAddress each, never 0 or 255 in the last byte', () => {
    expect(loopbackAddress(10, 0, 100)).toBe('127.10.0.1');
    expect(loopbackAddress(10, 99, 100)).toBe('127.10.0.1');
    expect(loopbackAddress(10, 100, 100)).toBe('127.10.0.2');
    expect(loopbackAddress(10, 253 * 100, 100)).toBe('127.10.0.254');
    expect(loopbackAddress(10, 254 * 100, 100)).toBe('127.10.1.1');
    const seen = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) seen.set(loopbackAddress(9, i, 100), (seen.get(loopbackAddress(9, i, 100)) ?? 0) + 1);
    expect(seen.size).toBe(100);
    expect(Math.max(...seen.values())).toBe(100);
  });

  it('nearest-rank percentiles', () => {
    const sample = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(sample, 50)).toBe(50);
    expect(percentile(sample, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
