import { defineConfig } from 'vitest/config';

// One run covers unit, simulation, real-process cluster and Chromium e2e tests (see DEVELOPERS.md).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Builds what the tests run when it is stale: dist/replica/cli.js, dist/main and the web client (dist/renderer).
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
