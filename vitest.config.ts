import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const exclude = ['**/node_modules/**', '**/dist/**'];

/**
 * Four projects: fast unit tests; integration tests that use real parts (PGlite,
 * PostgreSQL, git, Chromium, the renderer); browser tests against the built server;
 * and the security suite, which attacks the built server as an outsider would.
 * `npm test` (scripts/test.mjs) builds first, then runs all three.
 */
export default defineConfig({
  test: {
    // Files run side by side, at least two at a time: Vitest's default (one fewer than the
    // cores) is a single worker on a 2-core machine, and most files wait on Chromium, git,
    // the renderer, a sandbox or the registry more than they compute (a serial run used about
    // one core of two). Browser and security files too: each starts a server of its own, on
    // ports of its own, with a data folder of its own. Three at a time overloads 2 cores
    // (load 14: a browser test's install and export ran past its timeout).
    maxWorkers: Math.max(2, Math.min(6, availableParallelism() - 1)),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['apps/*/src/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
          exclude: [...exclude, '**/*.integration.test.ts', '**/*.contract.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          // Contract suites run real implementations (drivers), so they belong here too.
          include: ['apps/*/src/**/*.integration.test.ts', 'packages/*/src/**/*.integration.test.ts', 'apps/*/src/**/*.contract.test.ts'],
          exclude,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.e2e.test.ts'],
          exclude,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'security',
          include: ['security/**/*.security.test.ts'],
          exclude,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
