import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start their own redis-server processes on free ports; files run in parallel.
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): the tests mostly wait on
    // servers, so the suite takes about 10 minutes instead of 19 (1,599 tests, measured on this machine).
    maxWorkers: 2,
    // A fresh KVMERGE_STATE_DIR per test file: the CLI's default journals stay out of $HOME.
    setupFiles: ['test/setup/state-dir.ts'],
    // Under CI a JSON report too, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.tmp/vitest.json' }]] : ['default'],
  },
});
