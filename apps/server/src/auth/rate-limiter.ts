/**
 * Counts events per key in a fixed window: `hit` records one and says whether the key
 * is now over its limit. Kept in memory: one server process holds all sign-in attempts
 * (a multi-instance deployment would move this to the store or Redis).
 */
export function createRateLimiter(options: { limit: number; windowMs: number; now?: () => number }) {
  const now = options.now ?? Date.now;
  const windows = new Map<string, { count: number; resetAt: number }>();

  function current(key: string) {
    const entry = windows.get(key);
    if (entry && entry.resetAt > now()) return entry;
    windows.delete(key);
    return undefined;
  }

  return {
    /** Milliseconds until `key` may try again, or 0 when it is not limited. */
    retryAfter(key: string): number {
      const entry = current(key);
      return entry && entry.count >= options.limit ? entry.resetAt - now() : 0;
    },
    hit(key: string) {
      const entry = current(key) ?? { count: 0, resetAt: now() + options.windowMs };
      entry.count++;
      windows.set(key, entry);
    },
    reset(key: string) {
      windows.delete(key);
    },
    /** Drops expired windows; the server calls it on a timer. */
    prune() {
      for (const [key, entry] of windows) if (entry.resetAt <= now()) windows.delete(key);
    },
    get size() {
      return windows.size;
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
