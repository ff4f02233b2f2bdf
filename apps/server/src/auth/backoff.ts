/**
 * Growing delays per key, instead of a lockout: after `freeFailures` failures each
 * further one doubles the wait before the next attempt (from `baseDelayMs`, at most
 * `maxDelayMs`). A key is forgotten `forgetAfterMs` after its last failure. An attacker
 * is slowed down, and whoever shares the key waits at most `maxDelayMs`, never a
 * lockout. Kept in memory: one server process sees every sign-in (a multi-instance
 * deployment would move this to the store).
 */
export type BackoffOptions = {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
};

export function createBackoff(options: BackoffOptions & { now?: () => number }) {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { failures: number; lastFailureAt: number }>();

  function current(key: string) {
    const entry = entries.get(key);
    if (entry && now() - entry.lastFailureAt < options.forgetAfterMs) return entry;
    entries.delete(key);
    return undefined;
  }

  /** The wait after `failures` failures. */
  function delayAfter(failures: number): number {
    const over = failures - options.freeFailures;
    if (over <= 0) return 0;
    // 2 ** over overflows to Infinity long after it passed the cap; min() handles that.
    return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (over - 1));
  }

  return {
    /** Milliseconds until `key` may try again; 0 when it may now. */
    retryAfter(key: string): number {
      const entry = current(key);
      if (!entry) return 0;
      return Math.max(0, entry.lastFailureAt + delayAfter(entry.failures) - now());
    },
    /** Records a failure of `key`. */
    fail(key: string) {
      const entry = current(key) ?? { failures: 0, lastFailureAt: 0 };
      entry.failures++;
      entry.lastFailureAt = now();
      entries.set(key, entry);
    },
    reset(key: string) {
      entries.delete(key);
    },
    /** Drops forgotten keys; the server calls it on a timer. */
    prune() {
      for (const [key, entry] of entries) if (now() - entry.lastFailureAt >= options.forgetAfterMs) entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}

export type Backoff = ReturnType<typeof createBackoff>;
