import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * One cgroup per local sandbox: memory (and memory+swap where the kernel counts it), a
 * process count, a CPU quota and a CPU weight lower than the server's, so that a sandbox
 * that boots, renders or misbehaves cannot take the machine from the server or from other
 * sandboxes. cgroup v1 (a folder per controller) and v2 (one unified tree) both work.
 *
 * The sandboxes' cgroups live under `cutroom/` inside the server's own cgroup of each
 * controller, never above it: whatever limits the machine put on the server hold for its
 * sandboxes too.
 */

const ROOT = '/sys/fs/cgroup';
const PARENT = 'cutroom';
/**
 * The kernel's default CPU weight is 1024 (v1 shares) or 100 (v2 weight); each sandbox gets
 * a quarter. Their `cutroom` parent keeps the default: all sandboxes together weigh as
 * much as one busy thread of the server, so the server's event loop gets a core whenever
 * it wants one, however many sandboxes boot, and sandboxes still get the rest. (A lighter
 * parent would starve them whenever anything else on the machine is busy.)
 */
const SHARES_V1 = 256;
const WEIGHT_V2 = 25;
const PARENT_SHARES_V1 = 1024;
const PARENT_WEIGHT_V2 = 100;
const PERIOD_US = 100_000;

export type CgroupLimits = { memoryMb: number; pids: number; cpus: number };

/** The limit a sandbox hit, as the kernel counted it (OOM kills, refused forks). */
export type CgroupLimitHit = 'memory' | 'pids';

export class CgroupError extends Error {
  override name = 'CgroupError';
  readonly code = 'cgroup_failed';
}

export type SandboxCgroup = {
  /** `cgroup.procs` files a process writes its own pid to, before it runs anything, to join. */
  readonly procsFiles: string[];
  /** The limit the kernel enforced since the cgroup was made, if any. */
  limitHit(): Promise<CgroupLimitHit | undefined>;
  /** Every process in it (all of the sandbox's, whatever user or session they moved to). */
  pids(): Promise<number[]>;
  /** SIGKILLs everything in it, until nothing is left (a fork bomb keeps forking meanwhile). */
  killAll(): Promise<void>;
  /** Removes it (after `killAll`); missing folders are fine. */
  remove(): Promise<void>;
};

export type Cgroups = {
  version: 1 | 2;
  /** Makes a sandbox's cgroup with its limits. */
  create(id: string, limits: CgroupLimits): Promise<SandboxCgroup>;
  /** The cgroup of a sandbox left by an earlier server (for reap), made or not. */
  open(id: string): SandboxCgroup;
};

/** `/proc/self/cgroup`: controller (or '' for v2) → the server's own cgroup path. */
function ownCgroups(): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    for (const controller of match[1]!.split(',')) own.set(controller, match[2]!);
  }
  return own;
}

const readNumber = async (file: string, key: string) => {
  const text = await readFile(file, 'utf8').catch(() => '');
  const match = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
};

async function removeFolder(folder: string) {
  // A cgroup is removable once its last task is reaped, which can lag a kill by a moment.
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await rmdir(folder);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY') throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new CgroupError(`cgroup ${folder} still has processes`);
}

async function pidsIn(folders: string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const folder of folders) {
    const text = await readFile(path.join(folder, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line) pids.add(Number(line));
  }
  return [...pids];
}

async function killAllIn(folders: string[], killFile?: string) {
  if (killFile && existsSync(killFile)) {
    await writeFile(killFile, '1').catch(() => {});
  }
  for (let round = 0; round < 100; round++) {
    const pids = await pidsIn(folders);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** cgroup v1: one hierarchy per controller; a sandbox has a folder in each. */
function cgroupsV1(own: Map<string, string>): Cgroups {
  const controllers = ['memory', 'pids', 'cpu'] as const;
  const parent = (controller: string) => path.join(ROOT, controller, own.get(controller) ?? '/', PARENT);
  const folders = (id: string) => controllers.map((controller) => path.join(parent(controller), id));
  const handle = (id: string): SandboxCgroup => {
    const [memory, pids, cpu] = folders(id) as [string, string, string];
    return {
      procsFiles: [memory, pids, cpu].map((folder) => path.join(folder, 'cgroup.procs')),
      async limitHit() {
        if ((await readNumber(path.join(memory, 'memory.oom_control'), 'oom_kill')) > 0) return 'memory';
        if ((await readNumber(path.join(pids, 'pids.events'), 'max')) > 0) return 'pids';
        return undefined;
      },
      pids: () => pidsIn([memory, pids, cpu]),
      killAll: () => killAllIn([pids, memory, cpu]),
      async remove() {
        for (const folder of [memory, pids, cpu]) await removeFolder(folder);
      },
    };
  };
  return {
    version: 1,
    async create(id, limits) {
      const cgroup = handle(id);
      const [memory, pids, cpu] = folders(id) as [string, string, string];
      for (const folder of [memory, pids, cpu]) await mkdir(folder, { recursive: true });
      const bytes = String(limits.memoryMb * 1024 * 1024);
      await writeFile(path.join(memory, 'memory.limit_in_bytes'), bytes);
      // Swap counted too, or a hog would page the machine to a crawl instead of being stopped.
      if (existsSync(path.join(memory, 'memory.memsw.limit_in_bytes'))) await writeFile(path.join(memory, 'memory.memsw.limit_in_bytes'), bytes);
      await writeFile(path.join(pids, 'pids.max'), String(limits.pids));
      await writeFile(path.join(cpu, 'cpu.cfs_period_us'), String(PERIOD_US));
      await writeFile(path.join(cpu, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * PERIOD_US)));
      await writeFile(path.join(cpu, 'cpu.shares'), String(SHARES_V1));
      return cgroup;
    },
    open: handle,
  };
}

/** cgroup v2: one tree; the parent must pass the controllers down to its children. */
function cgroupsV2(own: Map<string, string>): Cgroups {
  const parent = path.join(ROOT, own.get('') ?? '/', PARENT);
  const handle = (id: string): SandboxCgroup => {
    const folder = path.join(parent, id);
    return {
      procsFiles: [path.join(folder, 'cgroup.procs')],
      async limitHit() {
        if ((await readNumber(path.join(folder, 'memory.events'), 'oom_kill')) > 0) return 'memory';
        if ((await readNumber(path.join(folder, 'pids.events'), 'max')) > 0) return 'pids';
        return undefined;
      },
      pids: () => pidsIn([folder]),
      killAll: () => killAllIn([folder], path.join(folder, 'cgroup.kill')),
      remove: () => removeFolder(folder),
    };
  };
  return {
    version: 2,
    async create(id, limits) {
      const folder = path.join(parent, id);
      await mkdir(folder, { recursive: true });
      await writeFile(path.join(folder, 'memory.max'), String(limits.memoryMb * 1024 * 1024));
      if (existsSync(path.join(folder, 'memory.swap.max'))) await writeFile(path.join(folder, 'memory.swap.max'), '0');
      await writeFile(path.join(folder, 'pids.max'), String(limits.pids));
      await writeFile(path.join(folder, 'cpu.max'), `${Math.round(limits.cpus * PERIOD_US)} ${PERIOD_US}`);
      await writeFile(path.join(folder, 'cpu.weight'), String(WEIGHT_V2));
      return handle(id);
    },
    open: handle,
  };
}

/** A cgroup made this long ago and still without a process is nobody's (a new one is joined at once). */
const ABANDONED_AFTER_MS = 2 * 60_000;

/**
 * Removes the empty cgroups under the `cutroom` parents that a server killed before it could
 * remove them left behind (every server on the machine shares the parents, so this is not
 * tied to a data folder). `rmdir` of a cgroup that holds a process fails, so a live
 * sandbox's is never touched; a young one is skipped, since its process may join it now.
 */
async function sweepAbandoned(parents: string[]) {
  for (const parent of parents) {
    for (const name of await readdir(parent).catch(() => [] as string[])) {
      const folder = path.join(parent, name);
      const info = await stat(folder).catch(() => null);
      if (!info?.isDirectory() || Date.now() - info.mtimeMs < ABANDONED_AFTER_MS) continue;
      if ((await pidsIn([folder])).length > 0) continue;
      await rmdir(folder).catch(() => {});
    }
  }
}

/**
 * The cgroups this server can make for its sandboxes, or why not (not root, a read-only
 * `/sys/fs/cgroup` in a container, a controller missing). Makes the `cutroom` parents and
 * lets them pass the controllers down (v2).
 */
export async function setUpCgroups(): Promise<Cgroups | { unavailable: string }> {
  if (process.getuid?.() !== 0) return { unavailable: 'the server does not run as root' };
  try {
    const own = ownCgroups();
    if (existsSync(path.join(ROOT, 'cgroup.controllers'))) {
      const base = path.join(ROOT, own.get('') ?? '/');
      const wanted = ['memory', 'pids', 'cpu'];
      const available = (await readFile(path.join(base, 'cgroup.controllers'), 'utf8')).trim().split(/\s+/);
      const missing = wanted.filter((controller) => !available.includes(controller));
      if (missing.length) return { unavailable: `cgroup v2 controllers missing: ${missing.join(', ')}` };
      // Fails (EBUSY) where the server's own cgroup holds processes and is not the root:
      // cgroup v2 allows controllers only on cgroups without processes of their own.
      const enable = wanted.map((controller) => `+${controller}`).join(' ');
      await writeFile(path.join(base, 'cgroup.subtree_control'), enable);
      const parent = path.join(base, PARENT);
      await mkdir(parent, { recursive: true });
      await writeFile(path.join(parent, 'cgroup.subtree_control'), enable);
      await writeFile(path.join(parent, 'cpu.weight'), String(PARENT_WEIGHT_V2));
      await sweepAbandoned([parent]);
      return cgroupsV2(own);
    }
    for (const controller of ['memory', 'pids', 'cpu']) {
      if (!own.has(controller) || !existsSync(path.join(ROOT, controller))) return { unavailable: `cgroup v1 controller ${controller} is not mounted` };
      await mkdir(path.join(ROOT, controller, own.get(controller)!, PARENT), { recursive: true });
    }
    await writeFile(path.join(ROOT, 'cpu', own.get('cpu')!, PARENT, 'cpu.shares'), String(PARENT_SHARES_V1));
    // Limits of a parent bind its children only with hierarchical accounting (v1's default on new kernels).
    const memoryParent = path.join(ROOT, 'memory', own.get('memory')!, PARENT);
    if (existsSync(path.join(memoryParent, 'memory.use_hierarchy'))) await writeFile(path.join(memoryParent, 'memory.use_hierarchy'), '1').catch(() => {});
    await sweepAbandoned(['memory', 'pids', 'cpu'].map((controller) => path.join(ROOT, controller, own.get(controller)!, PARENT)));
    return cgroupsV1(own);
  } catch (error) {
    return { unavailable: `cgroups are not writable here (${(error as Error).message})` };
  }
}

/**
 * A shell prefix that moves itself into the given `cgroup.procs` files, then `exec`s the
 * command: the process is in its cgroups before the command's first instruction.
 */
export function joinCgroupsCommand(procsFiles: string[], command: string[]): string[] {
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 70; shift; done; shift; exec "$@"';
  return ['/bin/sh', '-c', script, 'cutroom-join', ...procsFiles, '--', ...command];
}
