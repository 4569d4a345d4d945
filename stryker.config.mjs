/**
 * Mutation testing (`npm run mutate`; not part of `npm test`): Stryker changes the production code one small edit at
 * a time (a flipped condition, a removed call, an off-by-one) and runs the tests that cover it; a mutant the tests
 * do not notice ("survived") is a behaviour nothing checks. One folder at a time is the practical unit on a shared
 * machine: `npm run mutate -- --mutate 'replica/storage/**\/*.ts'`. Incremental: a rerun only tests the mutants whose
 * code or tests changed since the last run (test-results/stryker-incremental.json). Scores: README.md "Testing".
 */
const config = {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutate.config.ts', related: true },
  mutate: ['replica/raft/**/*.ts', 'replica/chat/**/*.ts', 'replica/client/**/*.ts', 'replica/storage/**/*.ts'],
  // 'perTest' with vitest 4.1 loses test results (stryker-js#6073, #6213: mutants scored Survived after running no test):
  // every mutant runs all the test files that import its file instead.
  coverageAnalysis: 'off',
  // Stryker rewrites the tsconfig's extends/references with TypeScript's JS API, which TypeScript 7 (native) lacks;
  // ours has neither, so it points at no file and nothing is rewritten.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  incremental: true,
  incrementalFile: 'test-results/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'test-results/mutation/index.html' },
  jsonReporter: { fileName: 'test-results/mutation/mutation.json' },
  tempDirName: 'test-results/stryker-tmp',
  // The machine is shared (2 cores): one test process.
  concurrency: 1,
  timeoutMS: 30_000,
  cleanTempDir: 'always',
  // Not copied into the sandbox: build output and results (the web client build is not needed by these tests).
  ignorePatterns: ['dist', 'bench-results', 'chaos-results', 'test-results', 'coverage', '.data'],
};
export default config;
