import { defineConfig } from 'vitest/config';
import UnloadableFileFails from './test/helpers/unloadable-file-fails.js';

// The tests Stryker runs against each mutant (`npm run mutate`, stryker.config.mjs): the in-process suites only.
// Real-process cluster, Chromium and chaos tests take seconds to minutes each, far too long to repeat per mutant;
// the simulation runs with fewer seeds than in `npm test` for the same reason. MUTATE_TESTS (comma-separated globs)
// narrows the set for one folder, e.g. the storage tests for replica/storage (README.md "Testing" says which).
export default defineConfig({
  test: {
    include: process.env.MUTATE_TESTS?.split(',') ?? ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { SIM_SEEDS: '200' },
    // A test file whose imports throw counts as a failed test, not as no test (test/helpers/unloadable-file-fails.ts).
    reporters: ['default', new UnloadableFileFails()],
  },
});
