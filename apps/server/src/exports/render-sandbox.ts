/**
 * The wall around a render job (exports and thumbnails). A render runs project code: the
 * bundler reads the project's files and Chromium runs its compositions, and Remotion's
 * Node side fetches the URLs a composition names (offthread video, audio). So the worker
 * runs inside a sandbox of the configured driver, never as the server:
 *
 * - **local**: a user of its own (a range apart from the sessions'), its own cgroup
 *   (memory, processes, a CPU weight below the server's) where the server can make one,
 *   else `nice` and `prlimit`; then bubblewrap when it works here: no network (only its own
 *   loopback, where Remotion's file server and Chromium's DevTools port live), the system,
 *   Node, the packages, the server's built code and Chromium read-only, a private sized
 *   `/tmp`, and its working folder as the only writable place. Without bubblewrap the
 *   user switch alone walls it in (said once, in the log).
 * - **docker**: not yet; its renders run in the local wall (said once, in the log).
 *
 * The job's folder `DATA_DIR/tmp/renders/<jobId>/` is the server's (its log, `worker.json`);
 * only `work/` in it is the job's. Files go in before the worker starts (the version's
 * files, when its bundle must be built) and come out after it is gone and every process
 * of its user is dead: the output (checked to be a plain file it wrote) and a bundle it
 * built (links and special files dropped, made the server's) for the cache.
 */
import { execFile } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { git } from '../repos/git.js';
import { INSTALL_BUBBLEWRAP, bubblewrapWorks } from '../sessions/drivers/local/bubblewrap.js';
import { type Cgroups, type CgroupLimitHit, type SandboxCgroup, setUpCgroups } from '../sessions/drivers/local/cgroups.js';
import { createSandboxUsers, ensureTraversable, giveTree } from '../sessions/drivers/local/sandbox-users.js';
import { wallCommand } from '../sessions/drivers/local/wall.js';
import { RENDER_UIDS, type RenderWorker, WORKER_TMP_PREFIX, renderWorkerEntry, startRenderWorker } from './render-process.js';
import { COMPOSITIONS_FILE, type RenderTarget, type WorkerJob, type WorkerMessage } from './worker-protocol.js';

const execFileAsync = promisify(execFile);
const NICE = '/usr/bin/nice';

/** What walls a render in on this machine. */
export type RenderConfinement = 'bubblewrap' | 'user' | 'none';

export type RenderLimits = {
  /** Memory of the whole job (Node, the bundler, Chromium, ffmpeg), in MiB. */
  memoryMb: number;
  /** Processes and threads (Chromium has many). */
  pids: number;
  /** CPUs the job may use at most (its weight stays below the server's). */
  cpus: number;
  /** Its private `/tmp`, and the largest file it may write, in MiB. */
  diskMb: number;
};

export const defaultRenderLimits = (): RenderLimits => ({ memoryMb: 2_048, pids: 2_048, cpus: os.availableParallelism(), diskMb: 4_096 });

export type RenderJobRequest = {
  /** `DATA_DIR/tmp/renders/<jobId>`: made here, removed by `dispose`. */
  jobDir: string;
  /** The version to render, from the project's bare repo (checked out only when its bundle must be built). */
  source: { repoPath: string; version: string };
  /** Where the version's bundle is kept in the cache (`DATA_DIR/cache/bundles/<tree>`); one the job builds is put there. */
  bundleDir: string;
  /** File name of the output inside the job's folder (`output.mp4`, `thumbnail.png`). */
  outputName: string;
  chromiumPath: string;
  concurrency: number;
  target: RenderTarget;
  /** Background work (thumbnails) goes lower still than other renders. */
  background?: boolean;
  logger: Logger;
  onMessage: (message: WorkerMessage) => void;
};

export type RenderJob = RenderWorker & {
  /** The job's user (where the server switches users). */
  uid: number | undefined;
  /**
   * After `exited`: the output, checked to be a plain file of the job's folder (not a link,
   * not a hard link to another file) and made the server's; null when there is none.
   */
  output(): Promise<string | null>;
  /** The limit the kernel enforced on the job (its cgroup's counters), if any. */
  limitHit(): Promise<CgroupLimitHit | undefined>;
  /** Kills what is left, removes the job's folder and frees its user. Idempotent. */
  dispose(): Promise<void>;
};

export type RenderSandbox = {
  /** What renders are walled in by here (known after the first job). */
  confinement(): RenderConfinement;
  start(request: RenderJobRequest): Promise<RenderJob>;
};

/** The repo's node_modules (where remotion and react are installed): a project's `node_modules` links there. */
const nodeModulesDir = (() => {
  let dir = path.dirname(createRequire(import.meta.url).resolve('remotion'));
  while (path.basename(dir) !== 'node_modules' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
const repoRoot = path.dirname(nodeModulesDir);
/** `apps/server`: its built code (the worker) and its manifest (which makes `.js` ES modules). */
const serverRoot = path.resolve(path.dirname(renderWorkerEntry), '..', '..');

/**
 * What a render may read besides its working folder: Node, the packages, the server's
 * built code, Chromium (under `/usr`, with its `/etc` files in bubblewrap's list), the
 * font cache and `/etc/hosts` (Remotion's file server is `localhost`). Never the whole
 * checkout: `DATA_DIR` (`./data`) and `.env` files often live there.
 */
function readOnlyPaths(chromiumPath: string, cachedBundle: string | null): string[] {
  const outsideUsr = (file: string) => (path.resolve(file).startsWith('/usr/') ? [] : [file]);
  return [
    ...outsideUsr(path.dirname(process.execPath)),
    ...outsideUsr(chromiumPath),
    nodeModulesDir,
    path.join(repoRoot, 'packages'),
    path.join(repoRoot, 'package.json'),
    path.join(serverRoot, 'dist'),
    path.join(serverRoot, 'package.json'),
    path.join(serverRoot, 'node_modules'),
    '/var/cache/fontconfig',
    '/etc/hosts',
    ...(cachedBundle ? [cachedBundle] : []),
  ];
}

/**
 * A bundle the job built, made fit for the cache once no process of the job is left:
 * only folders and plain files with one link stay (a link or a hard link there could make
 * the server, or the next job, read something else), owned by the server, readable by
 * every job, writable by none.
 */
async function sanitiseBundle(dir: string, isolating: boolean) {
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder)) {
      const full = path.join(folder, entry);
      const info = await lstat(full);
      if (info.isDirectory()) await walk(full);
      else if (!info.isFile() || info.nlink !== 1) await rm(full, { force: true });
    }
  };
  await walk(dir);
  if (isolating) await execFileAsync('chown', ['-R', '-h', '-P', '0:0', '--', dir]);
  await execFileAsync('chmod', ['-R', 'u=rwX,go=rX', '--', dir]);
}

/** Writes the version's files into `dir` as a plain tree (symlinks become files holding their target's path), with the packages linked in. */
async function checkout(source: RenderJobRequest['source'], dir: string, indexFile: string) {
  await mkdir(dir, { recursive: true });
  await git(['-c', 'core.symlinks=false', '--git-dir', source.repoPath, '--work-tree', dir, 'checkout', '--quiet', source.version, '--', '.'], {
    env: { GIT_INDEX_FILE: indexFile },
  });
  // The project's imports resolve from the repo's packages, as in the preview.
  await rm(path.join(dir, 'node_modules'), { recursive: true, force: true });
  await symlink(nodeModulesDir, path.join(dir, 'node_modules'), 'dir');
}

export function createRenderSandbox(options: {
  /** SANDBOX_DRIVER: `docker` renders run in the local wall for now. */
  driver: 'local' | 'docker';
  logger: Logger;
  limits?: RenderLimits;
  /** Use bubblewrap (default: when it works here); `false` walls renders in by their user only. */
  bubblewrap?: boolean;
  /** Run each job as a user of its own (default: when the server runs as root). */
  isolateUsers?: boolean;
  /** Make a cgroup per job (default: when the server can). */
  cgroups?: boolean;
  /** What Node runs instead of the worker (tests put a probe of the wall there). */
  workerArgs?: string[];
}): RenderSandbox {
  const { logger } = options;
  const limits = options.limits ?? defaultRenderLimits();
  const users = createSandboxUsers({ logger, enabled: options.isolateUsers, range: RENDER_UIDS });
  if (options.driver === 'docker') {
    logger.warn('renders do not run in containers yet (SANDBOX_DRIVER=docker): exports and thumbnails run in the local wall (bubblewrap and a user of their own)');
  }
  let confinement: RenderConfinement | undefined;
  const confine = (): RenderConfinement => {
    if (confinement) return confinement;
    const walled = (options.bubblewrap ?? true) && bubblewrapWorks();
    confinement = walled ? 'bubblewrap' : users.isolating ? 'user' : 'none';
    if (!walled) {
      logger.warn(
        `renders run without bubblewrap: ${users.isolating ? 'as a user of their own, but' : 'as the server’s own user, and'} with the server’s network (127.0.0.1: the database, other services) and its view of the disk. Fix: ${INSTALL_BUBBLEWRAP} (see docs/security.md)`,
      );
    }
    return confinement;
  };
  let cgroups: Promise<Cgroups | null> | undefined;
  const cgroupsHere = () =>
    (cgroups ??= options.cgroups === false
      ? Promise.resolve(null)
      : setUpCgroups().then((made) => {
          if ('unavailable' in made) {
            logger.warn({ reason: made.unavailable }, 'renders run without a cgroup: memory is capped by V8’s heap limit only, processes per user');
            return null;
          }
          return made;
        }));
  let traversable: Promise<void> | undefined;

  async function start(request: RenderJobRequest): Promise<RenderJob> {
    const walled = confine() === 'bubblewrap';
    const { jobDir } = request;
    const workDir = path.join(jobDir, 'work');
    const output = path.join(workDir, request.outputName);
    const uid = users.take();
    let cgroup: SandboxCgroup | undefined;
    let tmpDir: string | null = null;
    let disposed: Promise<void> | undefined;
    const cleanUp = async () => {
      await cgroup?.killAll().catch(() => {});
      await cgroup?.remove().catch((error: unknown) => logger.warn({ err: error, jobDir }, 'could not remove a render job’s cgroup'));
      if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
      await rm(jobDir, { recursive: true, force: true });
      users.release(uid);
    };
    try {
      // The job folder is the server's (passable, not listable); `work/` is the job's.
      await mkdir(path.dirname(jobDir), { recursive: true, mode: 0o711 });
      await mkdir(jobDir, { mode: 0o711 });
      // The server's umask (077) takes what mkdir's mode gives: the job's user must pass through.
      await chmod(jobDir, 0o711);
      await mkdir(workDir, { mode: 0o700 });
      if (uid !== undefined) {
        // The job's user passes through the folders above its own and the bundle cache.
        traversable ??= Promise.all([ensureTraversable(path.dirname(jobDir)), ensureTraversable(path.dirname(request.bundleDir))]).then(() => {});
        await traversable;
        await chmod(path.dirname(jobDir), 0o711);
      }
      const cached = existsSync(path.join(request.bundleDir, COMPOSITIONS_FILE));
      let bundle: WorkerJob['bundle'];
      if (cached) bundle = { kind: 'cached', dir: request.bundleDir };
      else {
        const projectDir = path.join(workDir, 'project');
        await checkout(request.source, projectDir, path.join(jobDir, 'checkout-index'));
        bundle = { kind: 'build', projectDir, outDir: path.join(workDir, 'bundle') };
      }
      const home = path.join(workDir, 'home');
      await mkdir(home);
      if (!walled) {
        // Outside bubblewrap /tmp is shared: the worker gets a folder of its own there.
        tmpDir = await mkdtemp(path.join(os.tmpdir(), WORKER_TMP_PREFIX));
        await chmod(tmpDir, 0o700);
      }
      if (uid !== undefined) {
        await giveTree(workDir, uid);
        if (tmpDir) await giveTree(tmpDir, uid);
      }
      const here = await cgroupsHere();
      if (here) cgroup = await here.create(`render-${path.basename(jobDir)}`, limits);

      // V8's heap: a part of the job's memory (Chromium and the bundler take the rest).
      const heapMb = Math.max(256, Math.min(2_048, Math.floor(limits.memoryMb / 2)));
      const node = [process.execPath, `--max-old-space-size=${heapMb}`, ...(options.workerArgs ?? [renderWorkerEntry])];
      const [command, args] = wallCommand(node, {
        uid,
        cgroup,
        limits: { pids: limits.pids, diskMb: limits.diskMb },
        ...(walled
          ? {
              bubblewrap: {
                readWrite: [workDir],
                readOnly: readOnlyPaths(request.chromiumPath, cached ? request.bundleDir : null),
                tmpBytes: limits.diskMb * 1024 * 1024,
                cwd: workDir,
              },
            }
          : {}),
      });
      // A thumbnail is nobody's wait: below exports, which are below the server.
      const line = request.background && existsSync(NICE) ? [NICE, '-n', '5', command, ...args] : [command, ...args];
      const worker = await startRenderWorker({
        job: {
          type: 'job',
          workDir,
          bundle,
          output,
          chromiumPath: request.chromiumPath,
          concurrency: request.concurrency,
          target: request.target,
        },
        command: line,
        env: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          HOME: home,
          // Remotion's frames and Chromium's profile: the sandbox's private /tmp, or its own folder there.
          TMPDIR: tmpDir ?? '/tmp',
          LANG: 'C.UTF-8',
        },
        cwd: walled ? jobDir : workDir,
        jobDir,
        tmpDir,
        ...(uid === undefined ? {} : { uid }),
        logger: request.logger,
        onMessage: request.onMessage,
        afterExit: async () => {
          await cgroup?.killAll();
          if (bundle.kind === 'build') await adoptBundle(bundle.outDir, request.bundleDir, uid !== undefined, request.logger);
        },
      });
      return {
        ...worker,
        uid,
        async output() {
          await worker.exited;
          return takeOutput(output, uid !== undefined);
        },
        limitHit: async () => cgroup?.limitHit(),
        dispose() {
          return (disposed ??= (async () => {
            await worker.kill().catch(() => {});
            await cleanUp();
          })());
        },
      };
    } catch (error) {
      await cleanUp().catch(() => {});
      throw error;
    }
  }

  return { confinement: confine, start };
}

/** Puts a bundle the job built into the cache (unless another job put the same files' bundle there first). */
async function adoptBundle(built: string, target: string, isolating: boolean, logger: Logger) {
  // The bundle folder itself must be a real folder: a link the job left in its place could
  // point the cache at another bundle (or another job's folder).
  const folder = await lstat(built).catch(() => null);
  if (!folder?.isDirectory()) return;
  const complete = await lstat(path.join(built, COMPOSITIONS_FILE)).catch(() => null);
  if (!complete?.isFile() || existsSync(target)) return;
  try {
    await sanitiseBundle(built, isolating);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(built, target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another render of the same files put its bundle there first: the same files make the same bundle.
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') logger.warn({ err: error, target }, 'could not put a render bundle into the cache');
  }
}

/**
 * The job's output once its processes are gone: a plain file with one link (never a
 * link the job planted to a file of the server's), given to the server; null otherwise.
 */
async function takeOutput(file: string, isolating: boolean): Promise<string | null> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return null;
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.nlink !== 1) return null;
    if (isolating) await handle.chown(0, 0);
    await handle.chmod(0o644);
    return file;
  } finally {
    await handle.close();
  }
}
