import { defineConfig } from 'vitest/config';

// e2fsprogs (mkfs.ext4, debugfs, e2label) live in /sbin, which a normal user's PATH on Debian lacks:
// vnetlab looks there itself, and so must the tests that call them (test workers inherit this PATH).
process.env.PATH = [...new Set([...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'])].join(':');

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
