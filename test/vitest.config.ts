import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The config lives in test/, but paths below and in test output are repo-relative.
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Real servers and child processes: process isolation is safer than threads.
    pool: 'forks',
    // Safe because every file gets its own database and Redis prefix (test/helpers/test-db.ts).
    fileParallelism: true,
    // Two files at once: much of a test's time is spent waiting on servers and child processes, not computing.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
