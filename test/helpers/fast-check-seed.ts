/**
 * Vitest setup file: every property test runs on one fixed seed, so a run is
 * reproducible and CI cannot fail on a draw the last run never made. Explore
 * other draws with `FC_SEED=<n> npx vitest run test/unit`.
 */
import fc from 'fast-check';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261205) });
