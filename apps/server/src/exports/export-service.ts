import { randomUUID } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { Logger } from 'pino';
import {
  type CreateExportRequest,
  FRAME_IMAGE_MAX_SIDE,
  MAX_FRAME_IMAGE_BYTES,
  type Export,
  MAX_QUEUED_EXPORTS_PER_USER,
  type ServerMessage,
  exportDownloadPath,
  finishedExportStatuses,
  thumbnailKey,
} from '@cutroom/protocol';
import { AppError, notFound } from '../errors.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { ExportChanges, ExportRecord } from '../store/export-store.js';
import type { Store } from '../store/store.js';
import { type Installer, LOCKFILES } from '../packages/installer.js';
import { PackagesError } from '../packages/manifest.js';
import { git } from '../repos/git.js';
import { type BundleLease, createBundleCache } from './bundle-cache.js';
import { type RenderPaths, createRenderPaths, downloadFileName, moveInto } from './render-paths.js';
import { type RenderConfinement, type RenderJob, type RenderLimits, createRenderSandbox } from './render-sandbox.js';
import type { DockerRenderSettings } from './render-wall-docker.js';
import { type QueuedRender, pickNext } from './render-queue.js';
import { COMPOSITIONS_FILE, CompositionInfo, type RenderTarget, type WorkerMessage, formatFiles, frameScale } from './worker-protocol.js';

/** Default disk budget of the bundle cache (BUNDLE_CACHE_MAX_BYTES). */
const BUNDLE_CACHE_MAX_BYTES = 1024 ** 3;
/** A thumbnail is rendered once a project's versions have paused this long. */
const THUMBNAIL_DELAY_MS = 1_500;
/** Thumbnails are this fraction of the composition's size: sharp on the project cards (about 340 CSS pixels wide) on high-density screens. */
const THUMBNAIL_SCALE = 0.5;
/** Jobs whose details `inspect` still knows. */
const INSPECTED_JOBS = 200;

export type ExportServiceDeps = {
  /** Installs a version's own packages (without it, renders get Cutroom's packages only). */
  installer?: Installer;
  store: Store;
  repos: ProjectRepos;
  logger: Logger;
  dataDir: string;
  storageUrl: string;
  chromiumPath: string;
  /** Renders running at once (exports and thumbnails), and exports per user. */
  concurrency: number;
  perUserConcurrency: number;
  /** Sends a message to every open /ws connection of a user. */
  notify: (userId: string, message: ServerMessage) => void;
  /** Render a thumbnail whenever a version lands (default true). */
  thumbnails?: boolean;
  /** Frames one render draws in parallel (default: 1 on up to 3 cores, else 2). */
  renderConcurrency?: number;
  /** Disk the bundle cache may take (default 1 GiB); least recently used bundles go first. */
  bundleCacheMaxBytes?: number;
  /** SANDBOX_DRIVER: renders run in a sandbox of that driver. */
  sandboxDriver?: 'local' | 'docker';
  /** The engine, image and server label renders use with SANDBOX_DRIVER=docker. */
  dockerRenders?: DockerRenderSettings;
  /** Limits of one render job (default: render-sandbox.ts). */
  renderLimits?: RenderLimits;
  /** Wall renders in with bubblewrap (default: when it works here). */
  bubblewrap?: boolean;
};

/** What a job did, for logs, tests and the benchmark. */
export type JobInfo = {
  jobId: string;
  jobDir: string;
  version: string | null;
  pid: number | null;
  /** The worker's temporary folder on this machine (removed with it); null inside a sandbox's private `/tmp`. */
  tmpDir: string | null;
  /** The job's own user (null where the server does not switch users). */
  uid: number | null;
  /** The git tree of the version: its bundle's key in the cache (null until known). */
  bundleTree: string | null;
  /** Whether the version's bundle came from the cache (null until known). */
  bundleCached: boolean | null;
  bundleMs: number | null;
};

type Running = {
  render: QueuedRender;
  info: JobInfo;
  worker: RenderJob | null;
  /** The bundle this render holds (kept from eviction until the job is over). */
  lease: BundleLease | null;
  cancelled: boolean;
  /** Resolves when the job is over: worker and its group gone, its folder removed. */
  finished: Promise<void>;
};

/**
 * Exports and thumbnails: a queue of renders with a server-wide and a per-user limit,
 * each render a worker process (render-worker.ts) in a sandbox of its own
 * (render-sandbox.ts) that renders one version of the project (the one current when
 * asked) from its git repo. Progress goes to the store and
 * to the owner's open /ws connections (`export:progress`); finished files go to storage
 * (render-paths.ts). Thumbnails are low-priority renders of the newest version of a
 * project, coalesced per project.
 */
type CompositionsResult = { ok: true; compositions: CompositionInfo[] } | { ok: false; reason: string };

export function createExportService(deps: ExportServiceDeps) {
  const { store, repos, logger } = deps;

  /** The media a version pins, as the stored files a render copies in (one missing from the store is left out). */
  async function versionMedia(projectId: string, version: string) {
    const media = repos.media;
    if (!media) return [];
    const found: { path: string; stored: string }[] = [];
    for (const asset of (await repos.readManifest(projectId, version)).media) {
      if (await media.has(asset.sha256)) found.push({ path: asset.path, stored: media.file(asset.sha256) });
      else logger.error({ projectId, version, name: asset.name, sha256: asset.sha256 }, 'a media file the version pins is not in the storage');
    }
    return found;
  }
  const paths: RenderPaths = createRenderPaths({ dataDir: deps.dataDir, storageUrl: deps.storageUrl });
  const bundles = createBundleCache({
    root: paths.bundlesRoot,
    projectsRoot: paths.bundleProjectsRoot,
    maxBytes: deps.bundleCacheMaxBytes ?? BUNDLE_CACHE_MAX_BYTES,
    logger,
  });
  const thumbnailsEnabled = deps.thumbnails ?? true;
  const renderConcurrency = deps.renderConcurrency ?? (os.availableParallelism() <= 3 ? 1 : 2);
  const limits = { global: deps.concurrency, perUser: deps.perUserConcurrency };
  const sandbox = createRenderSandbox({
    driver: deps.sandboxDriver ?? 'local',
    logger,
    ...(deps.renderLimits ? { limits: deps.renderLimits } : {}),
    ...(deps.dockerRenders ? { docker: deps.dockerRenders } : {}),
    ...(deps.bubblewrap === undefined ? {} : { bubblewrap: deps.bubblewrap }),
  });

  const waiting: QueuedRender[] = [];
  const running = new Map<string, Running>();
  /** Exports being inserted, per user, so two requests at once cannot both take the last queue place. */
  const reserving = new Map<string, number>();
  /** The newest version whose thumbnail each project waits for. */
  const thumbnailRequests = new Map<string, { ownerId: string; version: string }>();
  const thumbnailTimers = new Map<string, NodeJS.Timeout>();
  /** A thumbnail (version and composition, as `thumbnailKey` names it) that failed is not tried again. */
  const failedThumbnails = new Map<string, string>();
  const jobs = new Map<string, JobInfo>();
  /** Lists of compositions being worked out, by version tree: one job answers every asker. */
  const compositionLists = new Map<string, { version: string; settle: (result: CompositionsResult) => void; result: Promise<CompositionsResult> }>();
  /** Frames the agent asked for, by queue id: the worker's answer goes to `settle`. */
  const frameRequests = new Map<string, { tree: string; compositionId?: string; frame: number; settle: (result: FrameRenderResult) => void }>();
  let closed = false;

  const toExport = (record: ExportRecord): Export => ({
    id: record.id,
    projectId: record.projectId,
    version: record.version,
    compositionId: record.compositionId,
    format: record.format,
    scale: record.scale,
    frame: record.frame,
    status: record.status,
    progress: record.progress,
    renderedFrames: record.renderedFrames,
    totalFrames: record.totalFrames,
    error: record.error,
    sizeBytes: record.sizeBytes,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    downloadUrl: record.status === 'done' ? exportDownloadPath(record.projectId, record.id) : null,
  });

  const emit = (record: ExportRecord) => deps.notify(record.ownerId, { type: 'export:progress', export: toExport(record) });

  async function ownedProject(ownerId: string, projectId: string) {
    const project = await store.projects.get(ownerId, projectId);
    if (!project) throw notFound('That project');
    return project;
  }

  async function ownedExport(ownerId: string, projectId: string, exportId: string) {
    const record = await store.exports.get(ownerId, projectId, exportId);
    if (!record) throw notFound('That export');
    return record;
  }

  function remember(info: JobInfo, key: string) {
    jobs.set(key, info);
    if (jobs.size > INSPECTED_JOBS) jobs.delete(jobs.keys().next().value!);
  }

  function pump() {
    if (closed) return;
    for (;;) {
      const next = pickNext(waiting, [...running.values()].map((entry) => entry.render), limits);
      if (!next) return;
      waiting.splice(waiting.indexOf(next), 1);
      start(next);
    }
  }

  function start(render: QueuedRender) {
    const jobId = randomUUID();
    const info: JobInfo = { jobId, jobDir: paths.jobDir(jobId), version: null, pid: null, tmpDir: null, uid: null, bundleTree: null, bundleCached: null, bundleMs: null };
    const entry: Running = { render, info, worker: null, lease: null, cancelled: false, finished: Promise.resolve() };
    running.set(render.id, entry);
    if (render.kind === 'export') remember(info, render.id);
    entry.finished = (async () => {
      try {
        if (render.kind === 'export') await runExport(entry);
        else if (render.kind === 'compositions') await runCompositions(entry);
        else if (render.kind === 'frame') await runFrame(entry);
        else await runThumbnail(entry);
      } catch (error) {
        logger.error({ err: error, render }, 'render job failed');
        if (render.kind === 'export') {
          const updated = await store.exports
            .update(render.id, { status: 'failed', error: error instanceof PackagesError ? error.message : 'The render could not be started.', finished: true })
            .catch(() => null);
          if (updated) emit(updated);
        }
      } finally {
        // The worker, its user's processes, its cgroup and its folder go.
        await (entry.worker ? entry.worker.dispose() : rm(info.jobDir, { recursive: true, force: true })).catch((error: unknown) => {
          logger.warn({ err: error, jobDir: info.jobDir }, 'could not remove a render job folder');
        });
        running.delete(render.id);
        // Marks the bundle used and trims the cache to its budget (in the background).
        void entry.lease?.release();
        pump();
      }
    })();
  }

  /**
   * The version's own packages, installed (an earlier install of the same manifest and
   * lockfile is reused at once): where their `node_modules` is, or null when it needs none
   * beyond Cutroom's. A failed install fails the render with pnpm's reason.
   */
  async function versionPackages(repoPath: string, version: string): Promise<string | null> {
    if (!deps.installer) return null;
    const show = (file: string) => git(['--git-dir', repoPath, 'show', `${version}:${file}`]).catch(() => null);
    const packageJson = await show('package.json');
    if (packageJson === null) return null;
    let lockfile: { name: (typeof LOCKFILES)[number]; text: string } | undefined;
    for (const name of LOCKFILES) {
      const text = await show(name);
      if (text !== null) {
        lockfile = { name, text };
        break;
      }
    }
    const install = await deps.installer.install({ packageJson, ...(lockfile ? { lockfile } : {}) });
    return install.nodeModules;
  }

  /**
   * Runs a worker for `target` of `version` in its sandbox; resolves once it is gone, with
   * its output (checked, the server's) and what ended it.
   */
  async function runWorker(
    entry: Running,
    version: string,
    target: RenderTarget,
    outputName: string,
    onMessage: (message: WorkerMessage) => void,
  ) {
    const { projectId } = entry.render;
    entry.info.version = version;
    // Keyed by the version's files, not the commit: identical trees (new projects) share a bundle.
    const tree = await bundles.treeOf(repos.repoPath(projectId), version);
    entry.info.bundleTree = tree;
    entry.lease = await bundles.acquire(tree, projectId);
    const packages = await versionPackages(repos.repoPath(projectId), version);
    const job = await sandbox.start({
      jobDir: entry.info.jobDir,
      source: { repoPath: repos.repoPath(projectId), version, media: await versionMedia(projectId, version) },
      bundleDir: entry.lease.dir,
      packages,
      outputName,
      chromiumPath: deps.chromiumPath,
      concurrency: renderConcurrency,
      target,
      background: entry.render.kind === 'thumbnail',
      logger,
      onMessage: (message) => {
        if (message.type === 'bundle') {
          entry.info.bundleCached = message.cached;
          entry.info.bundleMs = message.ms;
          logger.info({ render: entry.render, version, cached: message.cached, ms: Math.round(message.ms) }, 'render bundle ready');
        }
        onMessage(message);
      },
    });
    entry.worker = job;
    entry.info.pid = job.pid;
    entry.info.tmpDir = job.tmpDir;
    entry.info.uid = job.uid ?? null;
    // Cancelled while the worker was being started.
    if (entry.cancelled) await job.kill();
    const exit = await job.exited;
    return { exit, output: await job.output(), limitHit: await job.limitHit(), logTail: job.logTail };
  }

  async function runExport(entry: Running) {
    const exportId = entry.render.id;
    const started = await store.exports.update(exportId, { status: 'preparing', started: true });
    if (!started) return;
    emit(started);
    if (entry.cancelled) return;
    const record = started;

    // Every change of the row goes through one chain, in the order the worker reported it.
    let chain: Promise<unknown> = Promise.resolve();
    const apply = (changes: ExportChanges) => {
      chain = chain
        .then(async () => {
          const updated = await store.exports.update(exportId, changes);
          if (updated) emit(updated);
        })
        .catch((error: unknown) => logger.error({ err: error, exportId }, 'could not save the progress of an export'));
    };
    let ended = false;
    let totalFrames: number | null = null;
    let done = null as { sizeBytes: number } | null;
    const { exit, output, limitHit, logTail } = await runWorker(
      entry,
      record.version,
      { kind: 'export', compositionId: record.compositionId, format: record.format, scale: record.scale, frame: record.frame },
      `output.${formatFiles[record.format].extension}`,
      (message) => {
        switch (message.type) {
          case 'rendering':
            totalFrames = message.totalFrames;
            return apply({ status: 'rendering', totalFrames: message.totalFrames });
          case 'progress':
            return apply({ progress: message.progress, renderedFrames: message.renderedFrames });
          case 'failed':
            ended = true;
            logger.info({ exportId, reason: message.reason }, 'export failed');
            return apply({ status: 'failed', error: message.reason, finished: true });
          case 'done':
            // Stored once the worker and every process of its sandbox are gone (runWorker).
            ended = true;
            done = { sizeBytes: message.sizeBytes };
            return;
        }
      },
    );
    await chain;
    if (done && !entry.cancelled) {
      const { sizeBytes } = done;
      if (output) await storeExport(record, output, sizeBytes, totalFrames);
      else {
        logger.warn({ exportId, exit }, 'render worker reported a result but left no plain output file');
        apply({ status: 'failed', error: 'The render left no file.', finished: true });
        await chain;
      }
    }
    if (!ended && !entry.cancelled) {
      logger.warn({ exportId, exit, limitHit, log: await logTail() }, 'render worker stopped without a result');
      apply({ status: 'failed', error: stoppedReason(limitHit), finished: true });
      await chain;
    }
  }

  async function storeExport(record: ExportRecord, output: string, sizeBytes: number, totalFrames: number | null) {
    const relative = paths.exportFile(record.projectId, record.id, record.format);
    const target = paths.resolveStored(relative);
    try {
      await moveInto(output, target);
      const updated = await store.exports.update(record.id, {
        status: 'done',
        progress: 1,
        ...(totalFrames === null ? {} : { renderedFrames: totalFrames }),
        outputPath: relative,
        sizeBytes,
        finished: true,
      });
      // Cancelled (or its project deleted) at the last moment: the file has no owner.
      if (!updated) return void (await rm(target, { force: true }));
      emit(updated);
      logger.info({ exportId: record.id, projectId: record.projectId, format: record.format, sizeBytes }, 'export done');
    } catch (error) {
      logger.error({ err: error, exportId: record.id }, 'could not store an export');
      const failed = await store.exports.update(record.id, { status: 'failed', error: 'The file could not be stored.', finished: true });
      if (failed) emit(failed);
    }
  }

  /** A list of compositions from a file a worker wrote (project code ran there: checked). */
  const parseCompositions = (text: string): CompositionInfo[] | null => {
    try {
      const parsed = CompositionInfo.array().max(10_000).safeParse(
        (JSON.parse(text) as unknown[]).map((entry) => {
          const { id, width, height, fps, durationInFrames } = (entry ?? {}) as Record<string, unknown>;
          return { id, width, height, fps, durationInFrames };
        }),
      );
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  };

  async function runCompositions(entry: Running) {
    const tree = entry.render.id.slice('compositions:'.length);
    const request = compositionLists.get(tree);
    if (!request) return;
    let failed: string | null = null;
    try {
      const { exit, output, limitHit, logTail } = await runWorker(entry, request.version, { kind: 'compositions' }, 'compositions.json', (message) => {
        if (message.type === 'failed') failed = message.reason;
      });
      const list = output ? parseCompositions(await readFile(output, 'utf8').catch(() => '')) : null;
      if (list) request.settle({ ok: true, compositions: list });
      else {
        if (!failed) logger.warn({ projectId: entry.render.projectId, exit, limitHit, log: await logTail() }, 'compositions job stopped without a result');
        request.settle({ ok: false, reason: failed ?? stoppedReason(limitHit) });
      }
    } finally {
      compositionLists.delete(tree);
    }
  }

  async function runFrame(entry: Running) {
    const request = frameRequests.get(entry.render.id);
    frameRequests.delete(entry.render.id);
    if (!request) return;
    let failed: string | null = null;
    let shown: Extract<WorkerMessage, { type: 'rendering' }> | null = null;
    try {
      const target = { kind: 'frame' as const, frame: request.frame, maxSide: FRAME_IMAGE_MAX_SIDE, ...(request.compositionId ? { compositionId: request.compositionId } : {}) };
      const { exit, output, limitHit, logTail } = await runWorker(entry, request.tree, target, 'frame.jpg', (message) => {
        if (message.type === 'failed') failed = message.reason;
        if (message.type === 'rendering') shown = message;
      });
      // The file is the worker's (project code ran there): a JPEG of at most the limit, or nothing.
      const size = output ? await stat(output).then((info) => info.size, () => 0) : 0;
      const image = size > 0 && size <= MAX_FRAME_IMAGE_BYTES ? await readFile(output!) : null;
      const rendering = shown as Extract<WorkerMessage, { type: 'rendering' }> | null;
      if (image && rendering && image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff) {
        const scale = frameScale(rendering.width, rendering.height, FRAME_IMAGE_MAX_SIDE);
        request.settle({
          ok: true,
          image,
          compositionId: rendering.compositionId,
          frame: request.frame,
          width: Math.round(rendering.width * scale),
          height: Math.round(rendering.height * scale),
          fps: rendering.fps,
          durationInFrames: rendering.durationInFrames ?? 1,
        });
        return;
      }
      if (!failed) logger.warn({ projectId: entry.render.projectId, exit, limitHit, size, log: await logTail() }, 'frame job stopped without a picture');
      request.settle({ ok: false, error: failed || (size > MAX_FRAME_IMAGE_BYTES ? 'The picture of that frame came out too large.' : stoppedReason(limitHit)) });
    } catch (error) {
      request.settle({ ok: false, error: error instanceof PackagesError ? error.message : 'The frame could not be rendered.' });
      throw error;
    }
  }

  async function runThumbnail(entry: Running) {
    const { projectId } = entry.render;
    const request = thumbnailRequests.get(projectId);
    thumbnailRequests.delete(projectId);
    if (!request) return;
    const project = await store.projects.get(request.ownerId, projectId);
    if (!project || entry.cancelled) return;
    // The composition its owner chose (the first when none was, or it is gone from this version).
    const composition = project.compositionId;
    const key = thumbnailKey(request.version, composition);
    if (failedThumbnails.get(projectId) === key) return;
    if (project.thumbnailVersion === request.version && project.thumbnailComposition === composition) return;
    let done = false;
    let reason: string | null = null;
    const target = { kind: 'thumbnail' as const, scale: THUMBNAIL_SCALE, ...(composition ? { compositionId: composition } : {}) };
    const { exit, output } = await runWorker(entry, request.version, target, 'thumbnail.png', (message) => {
      if (message.type === 'done') done = true;
      if (message.type === 'failed') reason = message.reason;
    });
    if (entry.cancelled) return;
    if (!done || !output) {
      failedThumbnails.set(projectId, key);
      logger.warn({ projectId, version: request.version, composition, reason, exit }, 'thumbnail failed');
      return;
    }
    await moveInto(output, paths.thumbnailFile(projectId));
    if (await store.projects.setThumbnailVersion(projectId, request.version, composition)) {
      deps.notify(request.ownerId, { type: 'thumbnail:ready', projectId, thumbnailVersion: request.version, thumbnailComposition: composition });
      logger.info({ projectId, version: request.version, bundleCached: entry.info.bundleCached }, 'thumbnail ready');
    }
  }

  /** A new version of a project landed (created, a chat turn, a restore): its thumbnail is rendered. */
  function versionLanded(projectId: string, ownerId: string, version: string) {
    if (!thumbnailsEnabled || closed) return;
    thumbnailRequests.set(projectId, { ownerId, version });
    // While the agent makes version after version, wait for a pause: one render, later.
    clearTimeout(thumbnailTimers.get(projectId));
    const timer = setTimeout(() => {
      thumbnailTimers.delete(projectId);
      if (closed) return;
      if (!waiting.some((render) => render.kind === 'thumbnail' && render.projectId === projectId)) {
        waiting.push({ id: `thumbnail:${projectId}`, kind: 'thumbnail', userId: ownerId, projectId });
      }
      pump();
    }, THUMBNAIL_DELAY_MS);
    timer.unref();
    thumbnailTimers.set(projectId, timer);
  }

  /** Stops the project's renders that are queued or running (without changing their rows). */
  async function stopProjectRenders(projectId: string) {
    for (let index = waiting.length - 1; index >= 0; index--) {
      if (waiting[index]!.projectId !== projectId) continue;
      const [removed] = waiting.splice(index, 1);
      frameRequests.get(removed!.id)?.settle({ ok: false, error: 'The project is gone.' });
      frameRequests.delete(removed!.id);
    }
    const entries = [...running.values()].filter((entry) => entry.render.projectId === projectId);
    for (const entry of entries) {
      entry.cancelled = true;
      void entry.worker?.kill();
    }
    await Promise.all(entries.map((entry) => entry.finished));
  }

  return {
    paths,
    /** What renders are walled in by on this machine. */
    confinement: (): RenderConfinement => sandbox.confinement(),
    /** The render bundle cache (shared by identical trees, within its budget). */
    bundles,

    /** At start: fails what a crash interrupted, reaps its processes, and queues missing thumbnails. */
    async start() {
      const failed = await store.exports.failUnfinished('The server restarted during the render.');
      if (failed.length) logger.warn({ exports: failed }, 'exports interrupted by a restart were marked failed');
      const reaped = await sandbox.reap(paths.jobsRoot);
      if (reaped.length) logger.info({ reaped }, 'removed render jobs left by an earlier run');
      await bundles.sweep();
      if (thumbnailsEnabled) {
        for (const row of await store.exports.staleThumbnails()) versionLanded(row.id, row.owner_id, row.current_version);
      }
    },

    async create(ownerId: string, projectId: string, request: CreateExportRequest): Promise<Export> {
      const project = await ownedProject(ownerId, projectId);
      if (!project.currentVersion) throw new AppError('export_not_ready', 'This project has no version to export yet.', 409);
      const reserved = reserving.get(ownerId) ?? 0;
      reserving.set(ownerId, reserved + 1);
      try {
        const queued = await store.exports.countQueued(ownerId);
        if (queued + reserved >= MAX_QUEUED_EXPORTS_PER_USER) {
          throw new AppError(
            'too_many_exports',
            `You already have ${MAX_QUEUED_EXPORTS_PER_USER} exports waiting; let one finish or cancel one first.`,
            429,
          );
        }
        const record = await store.exports.create({
          id: randomUUID(),
          ownerId,
          projectId,
          version: project.currentVersion,
          compositionId: request.compositionId,
          format: request.format,
          scale: request.scale ?? 1,
          frame: request.format === 'png' ? (request.frame ?? 0) : null,
        });
        logger.info({ exportId: record.id, projectId, version: record.version, format: record.format }, 'export queued');
        emit(record);
        waiting.push({ id: record.id, kind: 'export', userId: ownerId, projectId });
        pump();
        return toExport(record);
      } finally {
        const left = (reserving.get(ownerId) ?? 1) - 1;
        if (left > 0) reserving.set(ownerId, left);
        else reserving.delete(ownerId);
      }
    },

    /**
     * The compositions of a version (default: the current one) as Remotion computes them
     * (`calculateMetadata` applied): from the version's bundle when it is cached, else by a
     * job that builds it (and so caches it for exports). A project whose code fails to
     * bundle or to list its compositions gets a typed 422 with the reason.
     */
    async compositions(ownerId: string, projectId: string, versionId?: string): Promise<{ version: string; compositions: CompositionInfo[] }> {
      const project = await ownedProject(ownerId, projectId);
      const version = versionId ?? project.currentVersion;
      if (!version) throw new AppError('export_not_ready', 'This project has no version yet.', 409);
      await repos.versions.requireOnMain(projectId, version);
      const tree = await bundles.treeOf(repos.repoPath(projectId), version);
      const cached = await readFile(path.join(bundles.bundleDir(tree), COMPOSITIONS_FILE), 'utf8').catch(() => null);
      const fromCache = cached === null ? null : parseCompositions(cached);
      if (fromCache) return { version, compositions: fromCache };
      if (closed) throw new AppError('internal', 'The server is shutting down.', 503);
      let request = compositionLists.get(tree);
      if (!request) {
        let settle!: (result: CompositionsResult) => void;
        const result = new Promise<CompositionsResult>((resolve) => (settle = resolve));
        request = { version, settle, result };
        compositionLists.set(tree, request);
        waiting.push({ id: `compositions:${tree}`, kind: 'compositions', userId: ownerId, projectId });
        pump();
      }
      const result = await request.result;
      if (!result.ok) throw new AppError('compositions_failed', result.reason, 422);
      return { version, compositions: result.compositions };
    },

    /**
     * A frame of a project's files as they are in `tree` (a git tree or commit of its repo:
     * the working copy of a turn under way, saved as a tree), as a JPEG the agent looks at
     * (view_frame). Rendered like an export, in a render sandbox, ahead of thumbnails.
     * Never throws: a failure is a reason the agent can act on.
     */
    async frame(ownerId: string, projectId: string, tree: string, request: { compositionId?: string; frame: number }, signal?: AbortSignal): Promise<FrameRenderResult> {
      if (closed) return { ok: false, error: 'The server is shutting down.' };
      if (signal?.aborted) return { ok: false, error: 'The frame is no longer wanted.' };
      const id = `frame:${projectId}:${randomUUID()}`;
      const result = new Promise<FrameRenderResult>((settle) => frameRequests.set(id, { tree, ...request, settle }));
      waiting.push({ id, kind: 'frame', userId: ownerId, projectId });
      // No longer wanted (the agent gave up, its turn or session ended): out of the line, or its worker stopped.
      signal?.addEventListener(
        'abort',
        () => {
          const at = waiting.findIndex((render) => render.id === id);
          if (at >= 0) {
            waiting.splice(at, 1);
            frameRequests.get(id)?.settle({ ok: false, error: 'The frame is no longer wanted.' });
            frameRequests.delete(id);
          }
          const entry = running.get(id);
          if (entry) {
            entry.cancelled = true;
            void entry.worker?.kill();
          }
        },
        { once: true },
      );
      pump();
      return result;
    },

    async list(ownerId: string, projectId: string): Promise<Export[]> {
      await ownedProject(ownerId, projectId);
      return (await store.exports.list(ownerId, projectId)).map(toExport);
    },

    async get(ownerId: string, projectId: string, exportId: string): Promise<Export> {
      return toExport(await ownedExport(ownerId, projectId, exportId));
    },

    /** Stops a queued or running export; its process group, folder and partial file are gone when this resolves. */
    async cancel(ownerId: string, projectId: string, exportId: string): Promise<Export> {
      const record = await ownedExport(ownerId, projectId, exportId);
      if (finishedExportStatuses.includes(record.status)) return toExport(record);
      const queuedAt = waiting.findIndex((render) => render.id === exportId);
      if (queuedAt >= 0) waiting.splice(queuedAt, 1);
      const entry = running.get(exportId);
      if (entry) {
        entry.cancelled = true;
        await entry.worker?.kill();
        await entry.finished;
      }
      const updated = await store.exports.update(exportId, { status: 'cancelled', finished: true });
      if (updated) {
        emit(updated);
        logger.info({ exportId, projectId }, 'export cancelled');
      }
      return toExport(updated ?? (await ownedExport(ownerId, projectId, exportId)));
    },

    /** A done export's file, for its owner. */
    async download(ownerId: string, projectId: string, exportId: string) {
      const project = await ownedProject(ownerId, projectId);
      const record = await ownedExport(ownerId, projectId, exportId);
      if (record.status !== 'done' || !record.outputPath) {
        throw new AppError('export_not_ready', `This export is ${record.status}, not done: there is nothing to download.`, 409);
      }
      const file = paths.resolveStored(record.outputPath);
      const size = (await stat(file).catch(() => null))?.size;
      if (size === undefined) throw notFound('That export\'s file');
      return { file, size, contentType: formatFiles[record.format].contentType, fileName: downloadFileName(project.name, record) };
    },

    /** The project's thumbnail file and the version it shows, for its owner; null until there is one. */
    async thumbnail(ownerId: string, projectId: string) {
      const project = await ownedProject(ownerId, projectId);
      // A thumbnail behind the project (one that failed, a server that was down) is asked for again.
      const stale = project.thumbnailVersion !== project.currentVersion || project.thumbnailComposition !== project.compositionId;
      if (project.currentVersion && stale && failedThumbnails.get(project.id) !== thumbnailKey(project.currentVersion, project.compositionId)) {
        versionLanded(project.id, ownerId, project.currentVersion);
      }
      if (!project.thumbnailVersion) return null;
      const file = paths.thumbnailFile(projectId);
      const size = (await stat(file).catch(() => null))?.size;
      return size === undefined ? null : { file, size, key: thumbnailKey(project.thumbnailVersion, project.thumbnailComposition) };
    },

    versionLanded,

    /** A project was deleted: its renders stop and its files go (its rows went with it). */
    async projectDeleted(projectId: string) {
      clearTimeout(thumbnailTimers.get(projectId));
      thumbnailTimers.delete(projectId);
      thumbnailRequests.delete(projectId);
      failedThumbnails.delete(projectId);
      await stopProjectRenders(projectId);
      await Promise.all([
        rm(paths.projectExportsDir(projectId), { recursive: true, force: true }),
        rm(paths.thumbnailFile(projectId), { force: true }),
        bundles.projectDeleted(projectId),
      ]);
    },

    /** What a job did (its folder, worker pid, whether its bundle was cached), by export id. */
    inspect: (exportId: string): JobInfo | undefined => jobs.get(exportId),

    /** Renders running and waiting, by kind. */
    load: () => ({ running: [...running.values()].map((entry) => entry.render), waiting: [...waiting] }),

    /** Stops every render; running exports are failed ("the server stopped"). */
    async close() {
      closed = true;
      for (const timer of thumbnailTimers.values()) clearTimeout(timer);
      thumbnailTimers.clear();
      waiting.length = 0;
      for (const request of compositionLists.values()) request.settle({ ok: false, reason: 'The server is shutting down.' });
      // Waiting frames (a running one is answered when its worker is gone).
      for (const [id, request] of frameRequests) {
        if (!running.has(id)) request.settle({ ok: false, error: 'The server is shutting down.' });
      }
      const entries = [...running.values()];
      for (const entry of entries) {
        entry.cancelled = true;
        void entry.worker?.kill();
      }
      await Promise.all(entries.map((entry) => entry.finished));
      for (const entry of entries) {
        if (entry.render.kind !== 'export') continue;
        await store.exports
          .update(entry.render.id, { status: 'failed', error: 'The server stopped during the render.', finished: true })
          .catch(() => null);
      }
    },
  };
}

export type ExportService = ReturnType<typeof createExportService>;

/** A frame rendered for the agent (`frame()`), or why it could not be. */
export type FrameRenderResult =
  | { ok: true; image: Buffer; compositionId: string; frame: number; width: number; height: number; fps: number; durationInFrames: number }
  | { ok: false; error: string };

/** Why a render stopped without a result, for people: a limit it hit, or a crash. */
function stoppedReason(limitHit: 'memory' | 'pids' | undefined) {
  if (limitHit === 'memory') return 'The render ran out of memory (its sandbox’s limit); try a smaller scale.';
  if (limitHit === 'pids') return 'The render started too many processes (its sandbox’s limit).';
  return 'The render stopped unexpectedly (the renderer crashed).';
}
