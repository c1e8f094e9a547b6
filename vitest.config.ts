import { defineConfig } from 'vitest/config';

// e2fsprogs (mkfs.ext4, debugfs, e2label) live in /sbin, which a normal user's PATH on Debian lacks:
// vnetlab looks there itself, and so must the tests that call them (test workers inherit this PATH).
process.env.PATH = [...new Set([...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'])].join(':');

// Files that drive Chromium: their steps wait on a page that must keep up with the user, so they run
// as a group of their own, after the files that boot labs headless (Debian labs with FRR keep both
// cores busy for a minute at a time).
const BROWSER = ['test/e2e/**/*.test.ts', 'test/classroom/dashboard.test.ts', 'test/classroom/exam-ui.test.ts', 'test/service/app-*.test.ts', 'test/renderer/markdown.test.ts', 'test/setup.test.ts'];

const shared = {
  // Real-UML tests boot guests; give them room but keep the whole suite well under 20 minutes.
  testTimeout: 120_000,
  hookTimeout: 300_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { ...shared, name: 'headless', include: ['test/**/*.test.ts'], exclude: BROWSER, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'browser', include: BROWSER, maxWorkers: 2, sequence: { groupOrder: 1 } } },
    ],
  },
});
