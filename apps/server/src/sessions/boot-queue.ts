import type { Admission } from './admission.js';

/**
 * One line for every sandbox boot (a session's, or a warm-pool refill's). Each runtime start
 * costs about 1.3 s of CPU: fifty of them at once on two cores made every boot take a
 * minute and the server itself answer in seconds. So at most `concurrency` boots run at
 * once, first come first served; a session's boot goes before any refill; and, with
 * `admission`, the next boot starts only when the machine has the memory for one more.
 */

/** Why a boot waits: every slot is taken, or the machine lacks the memory for one more. */
export type WaitReason = 'slots' | 'memory';

/** A boot's place in line: 1 is the next to start. */
export type Place = { position: number; reason: WaitReason };

export type BootPriority = 'session' | 'refill';

export type BootOptions = {
  /** Sessions go before refills; within a priority, first come first served. */
  priority: BootPriority;
  /** Called when its place (or why it waits) changes; only while it waits. */
  onPlace?: (place: Place) => void;
  /** Called when it leaves the line to start, if it ever waited. */
  onStart?: () => void;
  /** Leaves the line (the caller rejects with `BootCancelled`); a boot already started is not stopped. */
  signal?: AbortSignal;
};

export class BootCancelled extends Error {
  override name = 'BootCancelled';
  readonly code = 'boot_cancelled';
}

export class BootQueueClosed extends Error {
  override name = 'BootQueueClosed';
  readonly code = 'boot_queue_closed';
}

type Entry = {
  priority: BootPriority;
  options: BootOptions;
  start: () => void;
  reject: (error: Error) => void;
  /** The place last told, so the same place is not told twice. */
  told: Place | null;
};

export type BootQueueSettings = {
  concurrency: number;
  /** Checked before each start; without it only `concurrency` bounds boots. */
  admission?: Admission;
  /** How often a line held for memory looks again. */
  recheckMs?: number;
  /** Told when admission holds the line, and when it lets go. */
  onHeld?: (held: { availableMb: number; neededMb: number } | null) => void;
};

export function createBootQueue(settings: BootQueueSettings) {
  if (!Number.isInteger(settings.concurrency) || settings.concurrency < 1) {
    throw new RangeError(`boot concurrency must be a whole number ≥ 1, not ${settings.concurrency}`);
  }
  const recheckMs = settings.recheckMs ?? 500;
  const sessions: Entry[] = [];
  const refills: Entry[] = [];
  let running = 0;
  let heldForMemory = false;
  let recheck: NodeJS.Timeout | null = null;
  let closed = false;

  const line = () => [...sessions, ...refills];

  function tell() {
    const reason: WaitReason = heldForMemory ? 'memory' : 'slots';
    line().forEach((entry, index) => {
      const place = { position: index + 1, reason };
      if (entry.told?.position === place.position && entry.told.reason === place.reason) return;
      entry.told = place;
      entry.options.onPlace?.(place);
    });
  }

  function pump() {
    if (closed) return;
    while (running < settings.concurrency) {
      const head = sessions[0] ?? refills[0];
      if (!head) break;
      if (settings.admission) {
        const decision = settings.admission.check(running);
        if (!decision.admit) {
          if (!heldForMemory) settings.onHeld?.({ availableMb: decision.availableMb, neededMb: decision.neededMb });
          heldForMemory = true;
          recheck ??= setTimeout(() => {
            recheck = null;
            pump();
          }, recheckMs);
          break;
        }
      }
      if (heldForMemory) settings.onHeld?.(null);
      heldForMemory = false;
      (head.priority === 'session' ? sessions : refills).shift();
      running += 1;
      if (head.told) head.options.onStart?.();
      head.start();
    }
    tell();
  }

  function remove(entry: Entry) {
    for (const list of [sessions, refills]) {
      const index = list.indexOf(entry);
      if (index >= 0) {
        list.splice(index, 1);
        return true;
      }
    }
    return false;
  }

  return {
    /**
     * Runs `boot` when its turn comes. Rejects with `BootCancelled` when `signal` aborts
     * while it waits, and with `BootQueueClosed` when the queue closes first.
     */
    run<T>(boot: () => Promise<T>, options: BootOptions): Promise<T> {
      if (closed) return Promise.reject(new BootQueueClosed('the boot queue is closed'));
      if (options.signal?.aborted) return Promise.reject(new BootCancelled('left the line before it started'));
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          if (!remove(entry)) return;
          reject(new BootCancelled('left the line before it started'));
          pump();
        };
        const entry: Entry = {
          priority: options.priority,
          options,
          told: null,
          reject,
          start: () => {
            options.signal?.removeEventListener('abort', onAbort);
            let booting: Promise<T>;
            try {
              booting = boot();
            } catch (error) {
              booting = Promise.reject(error as Error);
            }
            // A boot that fails still frees its slot.
            void booting
              .then(resolve, reject)
              .finally(() => {
                running -= 1;
                pump();
              });
          },
        };
        options.signal?.addEventListener('abort', onAbort, { once: true });
        (options.priority === 'session' ? sessions : refills).push(entry);
        pump();
      });
    },
    /** Boots waiting in line, and boots running. */
    get waiting() {
      return sessions.length + refills.length;
    },
    get running() {
      return running;
    },
    /** Rejects every boot still waiting; boots already running finish. */
    close() {
      closed = true;
      if (recheck) clearTimeout(recheck);
      recheck = null;
      for (const entry of line()) entry.reject(new BootQueueClosed('the server is stopping'));
      sessions.length = 0;
      refills.length = 0;
    },
  };
}

export type BootQueue = ReturnType<typeof createBootQueue>;
