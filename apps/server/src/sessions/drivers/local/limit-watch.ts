import { execFileOffLoop } from '../../../exec-off-loop.js';
import type { SandboxExit } from '../driver.js';
import type { SandboxCgroup } from './cgroups.js';

export type LimitReason = NonNullable<SandboxExit['reason']>;

/**
 * How long a request for a folder's size waits for others to share its `du`: every
 * sandbox's watch asks every couple of seconds, and one `du` for all of them costs one
 * process, not one per sandbox. The `du` is started by the command helper (see
 * exec-off-loop.ts): a spawn on the event loop stopped it until the child had started,
 * up to seconds on a busy machine, and `/api/health` waited behind it.
 */
export const DISK_USAGE_BATCH_MS = 500;

/** What a folder holds: bytes on disk, and files and folders (each an inode of the host's). */
export type FolderUsage = { bytes: number; inodes: number };

/**
 * Most inodes a sandbox may hold for its disk budget: one per 8 KiB, twice the share a
 * filesystem made with ext4's defaults (one inode per 16 KiB) has. Empty files take no
 * blocks, so a byte budget alone would let a sandbox spend the host's inodes, which every
 * other sandbox and the server's own repos share.
 */
export const inodeLimit = (diskBytes: number) => Math.max(1_024, Math.floor(diskBytes / 8_192));

/** Folders waiting for the next `du`, each with whoever asked for its usage. */
let waiting: Map<string, ((usage: FolderUsage) => void)[]> | null = null;

/** Figures of the folders `du` printed (`<number>\t<folder>` a line, in the order given). */
function parseDu(stdout: string, folders: string[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    const folder = line.slice(tab + 1);
    if (tab > 0 && folders.includes(folder)) sizes.set(folder, Number(line.slice(0, tab)) || 0);
  }
  return sizes;
}

async function runBatch(batch: Map<string, ((usage: FolderUsage) => void)[]>) {
  const folders = [...batch.keys()];
  // du exits 1 when a file (or a whole folder) vanished during the walk; what it printed
  // still counts. The second walk finds the metadata the first one just read in memory.
  const [blocks, inodes] = await Promise.all([
    execFileOffLoop('du', ['-s', '-x', '-B1', '--', ...folders], { maxBuffer: 1024 * 1024 }),
    execFileOffLoop('du', ['-s', '-x', '--inodes', '--', ...folders], { maxBuffer: 1024 * 1024 }),
  ]);
  const bytes = parseDu(blocks.stdout, folders);
  const counts = parseDu(inodes.stdout, folders);
  for (const [folder, answers] of batch) {
    for (const answer of answers) answer({ bytes: bytes.get(folder) ?? 0, inodes: counts.get(folder) ?? 0 });
  }
}

/**
 * What a folder takes on disk: bytes in blocks, not apparent sizes (a sparse file costs
 * what it really holds), and inodes, without crossing into other filesystems. `du` reads
 * only metadata, so it sees files it cannot read, and it never follows links. Requests
 * within {@link DISK_USAGE_BATCH_MS} share one `du` of each kind (a file hard-linked into
 * two of its folders counts in the first only: sandboxes cannot link across folders, so
 * that is the server's own sharing). A folder that is gone measures 0.
 */
export function diskUsage(folder: string): Promise<FolderUsage> {
  return new Promise((resolve) => {
    if (!waiting) {
      const batch = new Map<string, ((usage: FolderUsage) => void)[]>();
      waiting = batch;
      setTimeout(() => {
        waiting = null;
        void runBatch(batch);
      }, DISK_USAGE_BATCH_MS);
    }
    const answers = waiting.get(folder) ?? [];
    answers.push(resolve);
    waiting.set(folder, answers);
  });
}

/**
 * The disk limit a folder's usage is over, if any: its bytes, or its inodes (see
 * {@link inodeLimit}). Reported as `disk` either way, with which in the detail.
 */
export function overDiskLimit(usage: FolderUsage, diskBytes: number): Record<string, number> | null {
  if (usage.bytes > diskBytes) return { limitBytes: diskBytes, usedBytes: usage.bytes };
  const inodes = inodeLimit(diskBytes);
  if (usage.inodes > inodes) return { limitInodes: inodes, usedInodes: usage.inodes };
  return null;
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
  /** Which disk limit the last check found crossed. */
  let over: Record<string, number> | null = null;
  const check = async (): Promise<LimitReason | undefined> => {
    const hit = await options.cgroup?.limitHit();
    if (hit) return hit;
    over = overDiskLimit(await diskUsage(options.folder), options.diskBytes);
    return over ? 'disk' : undefined;
  };
  const tick = async () => {
    if (stopped) return;
    const reason = await check().catch(() => undefined);
    if (stopped) return;
    if (reason) {
      stopped = true;
      options.onLimit(reason, reason === 'disk' ? (over ?? { limitBytes: options.diskBytes }) : {});
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
