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
    // One test file at a time: on two cores, a browser journey beside a Debian lab booting (shipped
    // labs, exams, saved states) timed out in full runs while every file passed alone. That race is not
    // found yet (see the closing note of this change); until it is, files do not share the two cores.
    maxWorkers: 1,
    pool: 'forks',
    reporters: ['default'],
  },
});
