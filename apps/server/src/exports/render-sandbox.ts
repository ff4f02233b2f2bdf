/**
 * The wall around a render job (exports and thumbnails). A render runs project code: the
 * bundler reads the project's files and Chromium runs its compositions, and Remotion's
 * Node side fetches the URLs a composition names (offthread video, audio). So the worker
 * runs inside a sandbox of the configured driver, never as the server; this is the one
 * place that picks it:
 *
 * - **local** (render-wall-local.ts): a user of its own, its own cgroup, and bubblewrap
 *   when it works here (no network, a read-only view of what it needs); the worker talks
 *   over Node's IPC channel.
 * - **docker** (render-wall-docker.ts): a container of the sandbox image per job, walled
 *   in by the engine as the docker driver's sandboxes are (no network at all, a read-only
 *   root, no capabilities, a user of its own, limits); the worker talks over the
 *   container's stdin and stdout.
 *
 * The job's folder `DATA_DIR/tmp/renders/<jobId>/` is the server's (its log, `worker.json`);
 * only `work/` in it is the job's. Files go in before the worker starts (the version's
 * files, when its bundle must be built) and come out after it is gone and every process
 * of the job is dead (render-job-files.ts).
 */
import os from 'node:os';
import type { Logger } from 'pino';
import type { CgroupLimitHit } from '../sessions/drivers/local/cgroups.js';
import type { RenderSource } from './render-job-files.js';
import type { RenderWorker } from './render-process.js';
import { type DockerRenderSettings, createDockerRenderWall } from './render-wall-docker.js';
import { createLocalRenderWall } from './render-wall-local.js';
import type { RenderTarget, WorkerMessage } from './worker-protocol.js';

/** What walls a render in on this machine. */
export type RenderConfinement = 'container' | 'bubblewrap' | 'user' | 'none';

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
  source: RenderSource;
  /** Where the version's bundle is kept in the cache (`DATA_DIR/cache/bundles/<tree>`); one the job builds is put there. */
  bundleDir: string;
  /** The version's own packages (an install's `node_modules`, read-only), when it has any beyond Cutroom's. */
  packages?: string | null;
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
  /**
   * At start: ends what render jobs of an earlier run left (their processes, containers,
   * cgroups) and removes their folders under `jobsRoot`; returns their ids.
   */
  reap(jobsRoot: string): Promise<string[]>;
};

export function createRenderSandbox(options: {
  /** SANDBOX_DRIVER: renders run in a sandbox of the same driver. */
  driver: 'local' | 'docker';
  logger: Logger;
  limits?: RenderLimits;
  /** The engine, image and server label of the docker driver (SANDBOX_DRIVER=docker). */
  docker?: DockerRenderSettings;
  /** Local wall: use bubblewrap (default: when it works here); `false` walls renders in by their user only. */
  bubblewrap?: boolean;
  /** Local wall: run each job as a user of its own (default: when the server runs as root). */
  isolateUsers?: boolean;
  /** Local wall: make a cgroup per job (default: when the server can). */
  cgroups?: boolean;
  /** Local wall: what Node runs instead of the worker (tests put a probe of the wall there). */
  workerArgs?: string[];
}): RenderSandbox {
  const limits = options.limits ?? defaultRenderLimits();
  if (options.driver === 'docker') {
    if (!options.docker) throw new Error('renders in docker need the docker settings (the engine, the image, the server label)');
    return createDockerRenderWall({ ...options.docker, logger: options.logger, limits, onPodman: createLocalRenderWall({ ...options, limits }) });
  }
  return createLocalRenderWall({ ...options, limits });
}
