import type { StartOptions } from './driver.js';

/**
 * How every driver starts a sandbox's runtime process: its Node flags and the
 * environment that tunes its memory. One place, so that the drivers' sandboxes stay
 * alike (and the benchmarks per driver compare the walls, not the flags).
 */

/**
 * Node's flags, before the runtime's entry: a capped heap, a small young generation and
 * size-optimized code. About 180 → 130 MiB of RSS for an idle runtime, for a slower start
 * and first transforms (docs/benchmarks.md), which the warm pool hides.
 */
export function runtimeNodeFlags(heapLimitMb = 384): string[] {
  return [`--max-old-space-size=${heapLimitMb}`, '--max-semi-space-size=1', '--optimize-for-size'];
}

/**
 * Vite's bundler and transforms (Rolldown, Oxc) allocate through mimalloc, which commits
 * its 1 GiB arena eagerly and gives freed memory back to the system only after a delay,
 * and only when it is next called: an idle runtime kept 75–150 MiB it no longer used.
 * Committed as used and given back at once (decommitted, not merely marked free), an
 * idle runtime is 60–90 MiB smaller; the cost, more `madvise` calls while it transforms,
 * did not show in its start or hot reload (docs/benchmarks.md).
 */
const ALLOCATOR_ENV = {
  MIMALLOC_PURGE_DELAY: '0',
  MIMALLOC_PURGE_DECOMMITS: '1',
  MIMALLOC_ARENA_EAGER_COMMIT: '0',
};

/**
 * The runtime's environment that both drivers set alike (each adds its own paths and
 * secrets): when it warms its preview (`RUNTIME_WARM`, see `StartOptions`), the allocator's
 * settings above, and Rolldown's thread pools sized to the CPUs the sandbox may use
 * (`SANDBOX_CPUS`), not to the machine's cores: threads beyond its quota only wait, each
 * with a heap of its own.
 */
export function runtimeEnv(options: { cpus: number } & StartOptions): Record<string, string> {
  const threads = String(Math.max(1, Math.ceil(options.cpus)));
  return { RUNTIME_WARM: options.warm ?? 'before-ready', ...ALLOCATOR_ENV, ROLLDOWN_WORKER_THREADS: threads, RAYON_NUM_THREADS: threads };
}
