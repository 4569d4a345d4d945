/**
 * @peculiar/x509 (and reflect-metadata, which it needs), loaded on first use rather than at start: together they add
 * about 17 MB to a replica's memory, and a replica without a cluster secret never makes a certificate (figures:
 * test/bench/README.md, footprint).
 */
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

let lib: Promise<typeof X509> | null = null;

export function x509Lib(): Promise<typeof X509> {
  lib ??= (async () => {
    await import('reflect-metadata');
    const loaded: typeof X509 & { default?: typeof X509 } = await import('@peculiar/x509');
    // From a bundle (required, scripts/replica-build.mjs), the CommonJS build arrives as the default export.
    const m = loaded.cryptoProvider ? loaded : loaded.default!;
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  })();
  return lib;
}
