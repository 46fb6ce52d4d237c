import { defineConfig } from 'vitest/config';

/**
 * Three test layers (docs/architecture.md, "Tests"):
 * - unit: pure functions and classes with fakes; no socket, no process, no peer.
 * - component: our modules in-process over loopback sockets (and Node children);
 *   needs nothing installed beyond `npm ci`.
 * - integration: against real peers (SIPp, Kamailio, baresip, nginx-rtmp,
 *   ffmpeg/ffprobe, chromium); its global setup fails the run when one is missing.
 * `npm test` runs all three; `npx vitest run --project unit` (or `test/unit`) one.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: ['test/helpers/fast-check-seed.ts'],
    pool: 'forks',
    // Component and integration tests bind ports and measure media in real time:
    // one file at a time keeps a 2-core machine's timing honest.
    fileParallelism: false,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'component', include: ['test/component/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/helpers/global-setup.ts'] },
      },
    ],
  },
});
