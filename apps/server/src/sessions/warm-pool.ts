import type { Logger } from 'pino';
import { type BootOptions, type BootQueue, BootQueueClosed } from './boot-queue.js';
import type { Sandbox, SandboxDriver, SandboxExit } from './drivers/driver.js';

/** A taken sandbox is replaced this long after: a runtime booting at once would compete
 * for the CPU with the new session's first page load. */
const REFILL_DELAY_MS = 3_000;
const RETRY_DELAY_MS = 10_000;

/**
 * Started sandboxes kept ready (with the template in their working copy), so opening a
 * project does not wait for a runtime to boot. Filled one sandbox at a time. Every boot,
 * the pool's and a session's, goes through `boots`: a refill waits behind every session.
 */
export function createWarmPool(options: { driver: SandboxDriver; size: number; logger: Logger; boots: BootQueue }) {
  const { driver, size, logger, boots } = options;
  const ready: Sandbox[] = [];
  let filling: Promise<void> | null = null;
  let closed = false;

  function fill(): Promise<void> {
    if (closed) return Promise.resolve();
    filling ??= (async () => {
      try {
        while (!closed && ready.length < size) {
          const sandbox = await boots.run(() => driver.start({ warm: 'before-ready' }), { priority: 'refill' });
          if (closed) {
            await driver.destroy(sandbox.id);
            break;
          }
          ready.push(sandbox);
          logger.info({ sandboxId: sandbox.id, startupMs: sandbox.startupMs, pool: ready.length }, 'warm sandbox ready');
        }
      } catch (error) {
        // Failing because the server is stopping is no failure.
        if (closed || error instanceof BootQueueClosed) return;
        logger.error({ err: error }, 'could not fill the warm pool; retrying in 10 s');
        setTimeout(() => void fill(), RETRY_DELAY_MS).unref();
      } finally {
        filling = null;
      }
    })();
    return filling;
  }

  return {
    fill,
    /**
     * A ready sandbox from the pool, or a new one booted when its turn in line comes
     * (`line` hears its place; its signal leaves the line). The pool refills a little later.
     */
    async take(line: Omit<BootOptions, 'priority'> = {}): Promise<Sandbox> {
      setTimeout(() => void fill(), REFILL_DELAY_MS).unref();
      for (let sandbox = ready.shift(); sandbox; sandbox = ready.shift()) {
        if (driver.status(sandbox.id) === 'running') return sandbox;
      }
      return boots.run(() => driver.start({ warm: 'after-ready' }), { ...line, priority: 'session' });
    },
    /** Whether the exit was of a pooled sandbox (then it is dropped and replaced). */
    handleExit(exit: SandboxExit): boolean {
      const index = ready.findIndex((sandbox) => sandbox.id === exit.id);
      if (index < 0) return false;
      ready.splice(index, 1);
      if (!exit.expected) void fill();
      return true;
    },
    get size() {
      return ready.length;
    },
    async close() {
      closed = true;
      await filling;
      await Promise.all(ready.splice(0).map((sandbox) => driver.destroy(sandbox.id)));
    },
  };
}
