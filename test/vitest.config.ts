import { defineConfig } from 'vitest/config';

// Integration and end-to-end tests against the real PostgreSQL, Redis and
// SoftHSM2 named by the environment (see support/test-env.ts). Files run
// one at a time: several spawn worker processes, and the machine they run on
// may have two cores.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
