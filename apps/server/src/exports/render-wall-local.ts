/**
 * The local wall around a render job (render-sandbox.ts picks it for SANDBOX_DRIVER=local):
 * the worker runs as a user of its own (a range apart from the sessions'), in its own
 * cgroup (memory, processes, a CPU weight below the server's) where the server can make
 * one, else under `nice` and `prlimit`; then in bubblewrap when it works here: no network
 * (only its own loopback, where Remotion's file server and Chromium's DevTools port live),
 * the system, Node, the packages, the server's built code and Chromium read-only, a
 * private sized `/tmp`, and its working folder as the only writable place. Without
 * bubblewrap the user switch alone walls it in (said once, in the log). The worker talks
 * to the server over Node's IPC channel (render-process.ts).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { INSTALL_BUBBLEWRAP, bubblewrapWorks } from '../sessions/drivers/local/bubblewrap.js';
import { type Cgroups, type SandboxCgroup, setUpCgroups } from '../sessions/drivers/local/cgroups.js';
import { createSandboxUsers, ensureTraversable, giveTree } from '../sessions/drivers/local/sandbox-users.js';
import { wallCommand } from '../sessions/drivers/local/wall.js';
import { adoptBundle, bundleCached, checkout, makeJobFolder, nodeModulesDir, repoRoot, serverRoot, takeOutput, workerHeapMb } from './render-job-files.js';
import { RENDER_UIDS, WORKER_TMP_PREFIX, reapJobs, renderWorkerEntry, startRenderWorker } from './render-process.js';
import type { RenderConfinement, RenderJob, RenderJobRequest, RenderLimits, RenderSandbox } from './render-sandbox.js';
import type { WorkerJob } from './worker-protocol.js';

const NICE = '/usr/bin/nice';

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

export function createLocalRenderWall(options: {
  logger: Logger;
  limits: RenderLimits;
  /** Use bubblewrap (default: when it works here); `false` walls renders in by their user only. */
  bubblewrap?: boolean;
  /** Run each job as a user of its own (default: when the server runs as root). */
  isolateUsers?: boolean;
  /** Make a cgroup per job (default: when the server can). */
  cgroups?: boolean;
  /** What Node runs instead of the worker (tests put a probe of the wall there). */
  workerArgs?: string[];
}): RenderSandbox {
  const { logger, limits } = options;
  const users = createSandboxUsers({ logger, enabled: options.isolateUsers, range: RENDER_UIDS });
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
      await makeJobFolder(jobDir);
      if (uid !== undefined) {
        // The job's user passes through the folders above its own and the bundle cache.
        traversable ??= Promise.all([ensureTraversable(path.dirname(jobDir)), ensureTraversable(path.dirname(request.bundleDir))]).then(() => {});
        await traversable;
        // And through the folders above the project's install (under the data folder, which may be the server's alone).
        if (request.packages) await ensureTraversable(path.dirname(request.packages));
        await chmod(path.dirname(jobDir), 0o711);
      }
      const cached = bundleCached(request.bundleDir);
      let bundle: WorkerJob['bundle'];
      if (cached) bundle = { kind: 'cached', dir: request.bundleDir };
      else {
        const projectDir = path.join(workDir, 'project');
        await checkout(request.source, projectDir, path.join(jobDir, 'checkout-index'), nodeModulesDir, request.packages ?? undefined);
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

      const node = [process.execPath, `--max-old-space-size=${workerHeapMb(limits.memoryMb)}`, ...(options.workerArgs ?? [renderWorkerEntry])];
      const [command, args] = wallCommand(node, {
        uid,
        cgroup,
        limits: { pids: limits.pids, diskMb: limits.diskMb },
        ...(walled
          ? {
              bubblewrap: {
                readWrite: [workDir],
                readOnly: [...readOnlyPaths(request.chromiumPath, cached ? request.bundleDir : null), ...(request.packages && !cached ? [request.packages] : [])],
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

  return { confinement: confine, start, reap: reapJobs };
}
