import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Logger } from 'pino';

/**
 * Admission by memory: a sandbox starts only when the machine has the memory for it. A
 * session with its agent settles at about 250 MiB (PSS); starting one more than the machine
 * holds would push every session (and the server) into swap or the OOM killer, so the boot
 * waits in line instead (see boot-queue.ts) and its user sees that it waits.
 */

/** Kept free for the server, its database and the kernel, whatever sandboxes need. */
export const DEFAULT_RESERVE_MB = 512;

/** `neededMb`: the MemAvailable a refused boot waits for (its need, the boots under way and the reserve). */
export type AdmissionDecision = { admit: true } | { admit: false; availableMb: number; neededMb: number };

export type Admission = {
  /** Whether one more boot may start while `bootsRunning` others are still booting. */
  check(bootsRunning: number): AdmissionDecision;
};

/** MemAvailable of /proc/meminfo in MiB; null where there is no such file (not Linux). */
export function readMemAvailableMb(file = '/proc/meminfo'): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const match = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(text);
  return match ? Math.floor(Number(match[1]) / 1024) : null;
}

export type AdmissionSettings = {
  /** SANDBOX_ADMIT_MB: what one session with its agent needs. */
  admitMb: number;
  reserveMb?: number;
  /** Where the memory figure comes from (tests inject their own). */
  readAvailableMb?: () => number | null;
  logger?: Logger;
};

export function createAdmission(settings: AdmissionSettings): Admission {
  const { admitMb } = settings;
  if (!(admitMb > 0)) throw new RangeError(`admission needs a positive amount of memory per session, not ${admitMb}`);
  const reserveMb = settings.reserveMb ?? DEFAULT_RESERVE_MB;
  const read = settings.readAvailableMb ?? (() => readMemAvailableMb());
  let warnedUnknown = false;
  return {
    check(bootsRunning) {
      const availableMb = read();
      if (availableMb === null) {
        // Refusing every boot because a figure is missing would stop the service: let it
        // through, and say once that admission is blind here.
        if (!warnedUnknown) settings.logger?.warn('no MemAvailable in /proc/meminfo: sandboxes are started without a memory check');
        warnedUnknown = true;
        return { admit: true };
      }
      // Boots under way have not taken their memory yet: count it as taken.
      const neededMb = admitMb * (bootsRunning + 1);
      return availableMb - reserveMb >= neededMb ? { admit: true } : { admit: false, availableMb, neededMb: neededMb + reserveMb };
    },
  };
}

/**
 * Sandboxes run at a lower CPU weight than the server (the drivers set it); the server
 * itself must not run niced, or the weights would not matter. Started with `nice`, it
 * takes its normal priority back when it may (as root), else says so.
 */
export function ensureServerNotNiced(logger: Logger) {
  let niceness: number;
  try {
    niceness = os.getPriority();
  } catch {
    return;
  }
  if (niceness <= 0) return;
  try {
    os.setPriority(0);
    logger.info({ was: niceness }, 'the server was started niced; back to normal priority');
  } catch {
    logger.warn(
      { niceness },
      'the server runs niced and cannot undo it: sandboxes may compete with it for the CPU. Start it without nice.',
    );
  }
}
