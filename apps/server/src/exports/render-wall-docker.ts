/**
 * The docker wall around a render job (render-sandbox.ts picks it for SANDBOX_DRIVER=docker):
 * each job is a container of the sandbox image (scripts/sandbox-image.mjs: Node, Chromium,
 * the app under /opt/cutroom), walled in by the engine as the docker driver's sandboxes
 * are: no network at all (`none`: only its own loopback, where Remotion's file server and
 * Chromium's DevTools port live), a read-only root, no capabilities, `no-new-privileges`,
 * a user of its own (from the renders' range), limits on memory (swap included),
 * processes, CPU and file size, a CPU weight under the server's, a sized tmpfs `/tmp`.
 *
 * It sees only its job's `work/` (read-write), a cached bundle (read-only) and the
 * server's built code (read-only, over the image's copy: the worker is always this
 * server's, with no image rebuild after each build). A container has no IPC channel: the
 * job goes in as a line of JSON on its stdin, the worker's messages come back as lines on
 * its stdout (each parsed with the protocol; anything else goes to the log, as stderr
 * does). Its stdin stays open while the server lives: a server that dies closes it, and
 * the worker exits. The container is removed before any file comes out of `work/`, and
 * carries this server's label and its job's id, so the next start reaps what a crash left.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { DEFAULT_SANDBOX_UID, IMAGE_PATHS, LABELS } from '../sessions/drivers/docker/docker-driver.js';
import { imageCheck, walledHostConfig } from '../sessions/drivers/docker/container-wall.js';
import { attachStdio, dockerClient, engineIsPodman, tolerate } from '../sessions/drivers/docker/docker-engine-client.js';
import { createSandboxUsers, giveTree } from '../sessions/drivers/local/sandbox-users.js';
import { adoptBundle, bundleCached, checkout, makeJobFolder, serverRoot, takeOutput, workerHeapMb } from './render-job-files.js';
import { RENDER_UIDS, type WorkerExit, reapJobs } from './render-process.js';
import type { RenderJob, RenderJobRequest, RenderLimits, RenderSandbox } from './render-sandbox.js';
import { type WorkerJob, WorkerMessage } from './worker-protocol.js';

export type DockerRenderSettings = {
  /** DOCKER_HOST (default: dockerode's reading of the environment). */
  dockerHost?: string;
  /** The sandbox image (SANDBOX_IMAGE, or the docker driver's default). */
  image: string;
  /** The docker driver's label of this server (`serverLabel`): its reap and this one's touch only its own containers. */
  server: string;
};

/** The label that makes a container a render job's (its value is the job's id). */
export const RENDER_LABEL = 'cutroom.render';

/** Where things are inside a render's container. */
const INSIDE = {
  work: '/job/work',
  bundle: '/job/bundle',
  dist: `${IMAGE_PATHS.app}/apps/server/dist`,
  worker: `${IMAGE_PATHS.app}/apps/server/dist/exports/render-worker.js`,
  nodeModules: `${IMAGE_PATHS.app}/node_modules`,
  /** The version's own packages (read-only), when it has some. */
  packages: '/job/packages',
  // The binary itself: Debian's /usr/bin/chromium is a shell script.
  chromium: '/usr/lib/chromium/chromium',
} as const;

/** A message line longer than this is not one (the protocol's largest is about 1 KiB). */
const MAX_LINE = 64 * 1024;
/** What of the worker's output the job's log keeps. */
const MAX_LOG_BYTES = 4 * 1024 * 1024;
/** CPU shares: the default is 1024 (the server's); a session's are 256, a thumbnail's lower still. */
const CPU_SHARES = { render: 256, background: 128 };

export function createDockerRenderWall(options: DockerRenderSettings & { logger: Logger; limits: RenderLimits; onPodman: RenderSandbox }): RenderSandbox {
  const { logger, limits, image, server } = options;
  const docker = dockerClient(options.dockerHost);
  // A uid of its own per job when the server is root (as the docker driver requires).
  const users = createSandboxUsers({ logger, enabled: process.getuid?.() === 0, range: RENDER_UIDS });

  /** Fails with what to do when the engine does not answer or has no image. */
  // Podman's service (4.3) cannot attach to a container before it starts, and after it
  // waits for the end of a request body that never ends: its renders run in the local wall.
  let podman: Promise<boolean> | undefined;
  const isPodman = () => (podman ??= engineIsPodman(docker));
  let toldPodman = false;
  const checkImage = imageCheck(docker, image, options.dockerHost, (_code, message) => new Error(message));

  function containerOptions(jobId: string, workDir: string, uid: number, cachedBundle: string | null, background: boolean, packages: string | null): Docker.ContainerCreateOptions {
    return {
      name: `cutroom-render-${jobId}`,
      Image: image,
      Cmd: [IMAGE_PATHS.node, `--max-old-space-size=${workerHeapMb(limits.memoryMb)}`, INSIDE.worker],
      User: `${uid}:${uid}`,
      WorkingDir: INSIDE.work,
      // Remotion's frames and Chromium's profile go to the private /tmp.
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', `HOME=${INSIDE.work}/home`, 'TMPDIR=/tmp', 'LANG=C.UTF-8'],
      Labels: { [RENDER_LABEL]: jobId, [LABELS.server]: server },
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: walledHostConfig({
        memoryMb: limits.memoryMb,
        pids: limits.pids,
        cpus: limits.cpus,
        cpuShares: background ? CPU_SHARES.background : CPU_SHARES.render,
        // Remotion's frames and Chromium's profile go to the private /tmp.
        tmpMb: limits.diskMb,
        // Mounts, not binds: a path with a colon in it stays one path.
        mounts: [
          { Type: 'bind', Source: workDir, Target: INSIDE.work, ReadOnly: false },
          ...(cachedBundle ? [{ Type: 'bind' as const, Source: cachedBundle, Target: INSIDE.bundle, ReadOnly: true }] : []),
          ...(packages ? [{ Type: 'bind' as const, Source: packages, Target: INSIDE.packages, ReadOnly: true }] : []),
          { Type: 'bind', Source: path.join(serverRoot, 'dist'), Target: INSIDE.dist, ReadOnly: true },
        ],
        // No file larger than the job's disk.
        maxFileBytes: limits.diskMb * 1024 * 1024,
        logMaxSize: '1m',
      }),
      StopTimeout: 1,
    };
  }

  /** Kills and removes a container, gone or not. */
  async function removeContainer(container: Docker.Container) {
    await tolerate(container.remove({ force: true, v: true }));
  }

  async function start(request: RenderJobRequest): Promise<RenderJob> {
    if (await isPodman()) {
      if (!toldPodman) logger.warn('renders run in the local wall: Podman\'s service cannot attach to a render container\'s stdin (see docs/security.md)');
      toldPodman = true;
      return options.onPodman.start(request);
    }
    await checkImage();
    const { jobDir } = request;
    const jobId = path.basename(jobDir);
    const workDir = path.join(jobDir, 'work');
    const output = path.join(workDir, request.outputName);
    const poolUid = users.take();
    const isolating = poolUid !== undefined;
    const uid = poolUid ?? (process.getuid?.() || DEFAULT_SANDBOX_UID);
    let container: Docker.Container | undefined;
    let io: Awaited<ReturnType<typeof attachStdio>> | undefined;
    let disposed: Promise<void> | undefined;
    const cleanUp = async () => {
      io?.close();
      if (container) await removeContainer(container);
      await rm(jobDir, { recursive: true, force: true });
      users.release(poolUid);
    };
    try {
      // The job folder is the server's (passable, not listable); `work/` is the job's.
      await makeJobFolder(jobDir);
      const cached = bundleCached(request.bundleDir);
      let bundle: WorkerJob['bundle'];
      if (cached) bundle = { kind: 'cached', dir: INSIDE.bundle };
      else {
        await checkout(request.source, path.join(workDir, 'project'), path.join(jobDir, 'checkout-index'), INSIDE.nodeModules, request.packages ? INSIDE.packages : undefined);
        bundle = { kind: 'build', projectDir: `${INSIDE.work}/project`, outDir: `${INSIDE.work}/bundle` };
      }
      await mkdir(path.join(workDir, 'home'));
      if (isolating) await giveTree(workDir, uid);

      container = await docker.createContainer(containerOptions(jobId, workDir, uid, cached ? request.bundleDir : null, request.background ?? false, cached ? null : (request.packages ?? null)));
      // Written at once: the next start removes this container if the server dies.
      await writeFile(path.join(jobDir, 'worker.json'), JSON.stringify({ container: container.id }), { mode: 0o600 });
      // Attached before it starts, so that none of its output is missed.
      const attached = await attachStdio(docker, container);
      io = attached;
      const logFile = path.join(jobDir, 'worker.log');
      const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
      log.on('error', () => {});
      let logged = 0;
      const toLog = (chunk: Buffer | string) => {
        if (logged > MAX_LOG_BYTES) return;
        logged += chunk.length;
        log.write(chunk);
      };
      attached.stderr.on('data', toLog);
      readMessages(attached.stdout, request.onMessage, toLog, request.logger);

      await container.start();
      const job: WorkerJob = {
        type: 'job',
        workDir: INSIDE.work,
        bundle,
        output: `${INSIDE.work}/${request.outputName}`,
        chromiumPath: INSIDE.chromium,
        concurrency: request.concurrency,
        target: request.target,
      };
      attached.stdin.write(`${JSON.stringify(job)}\n`);
      const started = container;
      const pid = (await started.inspect()).State.Pid;
      let oomKilled = false;
      // Whether the container is gone: until it is, no file of `work/` is taken.
      let removed = false;
      const exited = (async (): Promise<WorkerExit> => {
        const result = await started.wait().catch((): { StatusCode?: number } => ({}));
        // Messages it sent just before exiting may still be on their way.
        await Promise.race([attached.ended, new Promise((settle) => setTimeout(settle, 1_000))]);
        attached.close();
        oomKilled = (await tolerate(started.inspect()).catch(() => undefined))?.State.OOMKilled ?? false;
        try {
          await removeContainer(started);
          removed = true;
        } catch (error) {
          logger.warn({ err: error, jobDir }, 'could not remove a render container: its files stay out');
        }
        log.end();
        if (removed && bundle.kind === 'build') await adoptBundle(path.join(workDir, 'bundle'), request.bundleDir, isolating, request.logger);
        return { code: result.StatusCode ?? null, signal: null };
      })();
      const kill = async () => {
        await tolerate(started.kill()).catch(() => {});
        return exited;
      };
      return {
        pid,
        tmpDir: null,
        exited,
        kill,
        // One pid namespace: the container's init holds every process of the job.
        learnGroups: async () => {},
        logTail: async () => (await readFile(logFile, 'utf8').catch(() => '')).slice(-2_000),
        uid: isolating ? uid : undefined,
        async output() {
          await exited;
          return removed ? takeOutput(output, isolating) : null;
        },
        limitHit: async () => {
          await exited;
          return oomKilled ? 'memory' : undefined;
        },
        dispose() {
          return (disposed ??= (async () => {
            await kill().catch(() => {});
            await cleanUp();
          })());
        },
      };
    } catch (error) {
      await cleanUp().catch(() => {});
      throw error;
    }
  }

  return {
    confinement: () => (toldPodman ? options.onPodman.confinement() : 'container'),
    start,
    async reap(jobsRoot) {
      // Containers first (nothing may write while their folders go), then the folders.
      const left = await docker.listContainers({ all: true, filters: { label: [RENDER_LABEL, `${LABELS.server}=${server}`] } });
      for (const found of left) await removeContainer(docker.getContainer(found.Id));
      if (left.length) logger.info({ containers: left.map((found) => found.Labels[RENDER_LABEL]) }, 'removed render containers left by an earlier run');
      return reapJobs(jobsRoot);
    },
  };
}

/**
 * Reads the worker's messages from its stdout: one JSON object a line, each parsed with
 * the protocol (the worker is project code's neighbour: anything else is logged and
 * dropped; an overlong line is dropped whole).
 */
function readMessages(stdout: NodeJS.ReadableStream, onMessage: (message: WorkerMessage) => void, toLog: (text: string) => void, logger: Logger) {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let overlong = false;
  let warned = false;
  const line = (text: string) => {
    let parsed: ReturnType<typeof WorkerMessage.safeParse> | undefined;
    try {
      parsed = WorkerMessage.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (parsed?.success) return onMessage(parsed.data);
    // Said once per job: a flood of them must not flood the server's log.
    if (!warned) logger.warn('render worker sent an invalid message (more go to its log only)');
    warned = true;
    toLog(`${text.slice(0, 1_000)}\n`);
  };
  stdout.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk);
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      if (!overlong) line(pending.slice(0, newline));
      overlong = false;
      pending = pending.slice(newline + 1);
    }
    if (pending.length > MAX_LINE) {
      overlong = true;
      pending = '';
    }
  });
}
