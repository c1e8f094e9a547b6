import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real-UML tests boot guests; give them room but keep the whole suite well under 20 minutes.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Two cores: run test files in parallel but not so many that UML boots starve each other.
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default'],
  },
});
