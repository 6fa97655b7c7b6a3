import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: eBPF and backend tests drive real traffic; keep file-level parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
