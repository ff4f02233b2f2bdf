import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SandboxExit } from '../driver.js';
import type { SandboxCgroup } from './cgroups.js';

const execFileAsync = promisify(execFile);

export type LimitReason = NonNullable<SandboxExit['reason']>;

/**
 * Bytes a folder takes on disk (blocks, not apparent sizes: a sparse file costs what it
 * really holds), without crossing into other filesystems. `du` reads only metadata, so it
 * sees files it cannot read, and it never follows links.
 */
export async function diskUsage(folder: string): Promise<number> {
  try {
    const { stdout } = await execFileAsync('du', ['-s', '-x', '-B1', '--', folder], { maxBuffer: 1024 * 1024 });
    return Number(stdout.split('\t')[0]) || 0;
  } catch (error) {
    // du exits 1 when a file vanished during the walk; what it printed still counts.
    const stdout = (error as { stdout?: string }).stdout ?? '';
    return Number(stdout.split('\t')[0]) || 0;
  }
}

/**
 * Samples a sandbox's limits every `intervalMs` (about 2 s): the kernel's counters of its
 * cgroup (an OOM kill, a refused fork) and the size of its folder. The first limit found
 * is reported once, and the watch stops: the driver ends the whole sandbox, since a
 * sandbox whose process the OOM killer took, or that could not fork, is not in a state
 * anyone can trust.
 */
export function watchLimits(options: {
  folder: string;
  diskBytes: number;
  cgroup?: SandboxCgroup;
  intervalMs?: number;
  onLimit: (reason: LimitReason, detail: Record<string, number>) => void;
}): { check(): Promise<LimitReason | undefined>; stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<LimitReason | undefined> => {
    const hit = await options.cgroup?.limitHit();
    if (hit) return hit;
    const used = await diskUsage(options.folder);
    if (used > options.diskBytes) return 'disk';
    return undefined;
  };
  const tick = async () => {
    if (stopped) return;
    const reason = await check().catch(() => undefined);
    if (stopped) return;
    if (reason) {
      stopped = true;
      options.onLimit(reason, reason === 'disk' ? { limitBytes: options.diskBytes } : {});
      return;
    }
    timer = setTimeout(() => void tick(), options.intervalMs ?? 2_000);
    timer.unref();
  };
  timer = setTimeout(() => void tick(), options.intervalMs ?? 2_000);
  timer.unref();
  return {
    check,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
