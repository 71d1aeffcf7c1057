import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start their own redis-server processes on free ports; files run in parallel.
    pool: 'forks',
    // A fresh KVMERGE_STATE_DIR per test file: the CLI's default journals stay out of $HOME.
    setupFiles: ['test/setup/state-dir.ts'],
    // Under CI a JSON report too, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.tmp/vitest.json' }]] : ['default'],
  },
});
