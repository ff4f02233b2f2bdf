/**
 * A render worker: one child process per render job (see render-process.ts), in its own
 * process group so that cancelling it kills Chromium and ffmpeg too. It gets one `job`
 * over IPC, makes the bundle of the version's files (or takes it from the cache, where
 * versions with the same git tree share one: bundle-cache.ts), renders, reports
 * over IPC (worker-protocol.ts) and exits. Every renderer call gets `browserExecutable`:
 * without it Remotion would try to download a browser.
 */
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bundle } from '@remotion/bundler';
import { getCompositions, openBrowser, renderMedia, renderStill } from '@remotion/renderer';
import { projectEntryPoint } from '@cutroom/template';
import { git } from '../repos/git.js';
import { failureReason } from './failure-reason.js';
import { WorkerJob, type WorkerMessage, videoCodecs } from './worker-protocol.js';

type Composition = Awaited<ReturnType<typeof getCompositions>>[number];
type Browser = Awaited<ReturnType<typeof openBrowser>>;

/** The list of compositions, kept in each cached bundle so a cached render reads no metadata twice. */
const COMPOSITIONS_FILE = 'cutroom-compositions.json';
/** Progress reports at most this often. */
const PROGRESS_EVERY_MS = 250;

/** The repo's node_modules (where remotion and react are installed), for the project's imports. */
const nodeModulesDir = (() => {
  let dir = path.dirname(createRequire(import.meta.url).resolve('remotion'));
  while (path.basename(dir) !== 'node_modules' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

class JobFailure extends Error {}

/** A failure of `stage`: the whole error goes to the worker's log, a short reason to the server. */
function failure(stage: Parameters<typeof failureReason>[0], error: unknown, projectDir?: string) {
  console.error(`${stage} failed:`, error);
  return new JobFailure(failureReason(stage, error, projectDir));
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, () => resolve());
  });
}

async function fail(reason: string): Promise<never> {
  await send({ type: 'failed', reason });
  process.exit(1);
}

/** Writes the version's files into `dir`, as a plain tree: symlinks become files holding their target's path. */
async function materialise(job: WorkerJob, dir: string) {
  await mkdir(dir, { recursive: true });
  await git(['-c', 'core.symlinks=false', '--git-dir', job.repoPath, '--work-tree', dir, 'checkout', '--quiet', job.version, '--', '.'], {
    env: { GIT_INDEX_FILE: path.join(job.jobDir, 'checkout-index') },
  });
  // The project's imports resolve from the repo's packages, as in the preview.
  await rm(path.join(dir, 'node_modules'), { recursive: true, force: true });
  await symlink(nodeModulesDir, path.join(dir, 'node_modules'), 'dir');
}

/** Modules may come only from the project's folder and the packages (their real paths). */
function confinedTo(projectDir: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const roots = [realpathSync(projectDir), realpathSync(nodeModulesDir)].map((root) => escape(root.replace(/\/+$/, '')));
  return new RegExp(`^(${roots.join('|')})/`);
}

/**
 * The bundle of the version's files and their compositions: from the cache, or built and
 * put there (the server holds the bundle against eviction and marks its use).
 */
async function prepareBundle(job: WorkerJob, browser: () => Promise<Browser>): Promise<Composition[]> {
  const started = performance.now();
  const cached = path.join(job.bundleDir, COMPOSITIONS_FILE);
  if (existsSync(cached)) {
    const compositions = JSON.parse(await readFile(cached, 'utf8')) as Composition[];
    await send({ type: 'bundle', cached: true, ms: performance.now() - started });
    return compositions;
  }

  const projectDir = path.join(job.jobDir, 'project');
  try {
    await materialise(job, projectDir);
  } catch (error) {
    throw failure('checkout', error);
  }
  const built = path.join(job.jobDir, 'bundle');
  try {
    await bundle({
      entryPoint: projectEntryPoint(projectDir),
      outDir: built,
      rootDir: projectDir,
      // Rspack: ~1 s against webpack's ~7 s cold (docs/decisions/2026-11-24-exports.md).
      rspack: true,
      // The bundle itself is the cache (one per tree of files); a bundler cache would go into node_modules.
      enableCaching: false,
      // The bundler runs with the server's file access: an import (or require.context) of any
      // path outside the version's files and the packages would put other people's files
      // (sandboxes, agent conversations, bundles) into this render. Refuse them.
      // Rspack's resolver takes RegExp restrictions (path strings refused Remotion's own entry
      // files in our test); its types list only strings.
      rspackOverride: (config) => ({
        ...config,
        resolve: { ...config.resolve, restrictions: [confinedTo(projectDir)] as unknown as string[] },
      }),
    });
  } catch (error) {
    throw failure('bundle', error, projectDir);
  }
  let compositions: Composition[];
  try {
    compositions = await getCompositions(built, { browserExecutable: job.chromiumPath, puppeteerInstance: await browser(), logLevel: 'error' });
  } catch (error) {
    throw failure('compositions', error, projectDir);
  }
  await writeFile(path.join(built, COMPOSITIONS_FILE), JSON.stringify(compositions));
  // Built aside, then renamed into place: a half-built bundle is never in the cache.
  await mkdir(path.dirname(job.bundleDir), { recursive: true });
  try {
    await rename(built, job.bundleDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another render of the same files put its bundle there first: use that one (the same
    // files make the same bundle); ours goes with the job's folder.
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
  }
  await send({ type: 'bundle', cached: false, ms: performance.now() - started });
  return compositions;
}

async function run(job: WorkerJob) {
  const opened: { browser?: Promise<Browser> } = {};
  const browser = () => (opened.browser ??= openBrowser('chrome', { browserExecutable: job.chromiumPath, logLevel: 'error' }));
  // Chromium starts while the bundle is read or built.
  void browser().catch(() => {});
  try {
    const compositions = await prepareBundle(job, browser);
    const { target } = job;
    const composition = target.kind === 'thumbnail' ? compositions[0] : compositions.find((entry) => entry.id === target.compositionId);
    if (!composition) {
      const names = compositions.map((entry) => entry.id).join(', ') || 'none';
      throw new JobFailure(
        target.kind === 'thumbnail'
          ? 'The project has no composition.'
          : `There is no composition "${target.compositionId}" in this version (it has: ${names}).`,
      );
    }
    const still = target.kind === 'thumbnail' || target.format === 'png';
    const frame = target.kind === 'thumbnail' ? Math.floor(composition.durationInFrames / 3) : (target.frame ?? 0);
    if (still && frame >= composition.durationInFrames) {
      throw new JobFailure(
        `Frame ${frame} is past the end of "${composition.id}": it has ${composition.durationInFrames} frames (0–${composition.durationInFrames - 1}).`,
      );
    }
    await send({
      type: 'rendering',
      compositionId: composition.id,
      totalFrames: still ? 1 : composition.durationInFrames,
      width: composition.width,
      height: composition.height,
      fps: composition.fps,
    });

    const common = {
      serveUrl: job.bundleDir,
      composition,
      scale: target.scale,
      browserExecutable: job.chromiumPath,
      puppeteerInstance: await browser(),
      logLevel: 'error' as const,
      overwrite: true,
    };
    try {
      if (still) {
        await renderStill({ ...common, frame, output: job.output, imageFormat: 'png' });
        await send({ type: 'progress', progress: 1, renderedFrames: 1 });
      } else {
        let lastSent = 0;
        let firstFrameSent = false;
        await renderMedia({
          ...common,
          codec: videoCodecs[target.format as keyof typeof videoCodecs],
          outputLocation: job.output,
          concurrency: job.concurrency,
          onProgress: ({ progress, renderedFrames }) => {
            const now = performance.now();
            // The first rendered frame is always reported (it is when a render visibly starts).
            const firstFrame = renderedFrames > 0 && !firstFrameSent;
            if (now - lastSent < PROGRESS_EVERY_MS && progress < 1 && !firstFrame) return;
            lastSent = now;
            if (renderedFrames > 0) firstFrameSent = true;
            void send({ type: 'progress', progress: Math.min(1, Math.max(0, progress)), renderedFrames });
          },
        });
      }
    } catch (error) {
      throw failure('render', error);
    }
    const { size } = await stat(job.output);
    await send({ type: 'done', sizeBytes: size });
  } finally {
    const open = await opened.browser?.catch(() => null);
    await open?.close({ silent: true }).catch(() => {});
  }
}

process.on('unhandledRejection', (error) => void fail(failureReason('render', error)));
process.on('uncaughtException', (error) => void fail(failureReason('render', error)));
process.once('message', (raw) => {
  const parsed = WorkerJob.safeParse(raw);
  if (!parsed.success) return void fail('The render was started with an invalid job.');
  run(parsed.data).then(
    () => process.exit(0),
    (error: unknown) => {
      if (!(error instanceof JobFailure)) console.error(error);
      void fail(error instanceof JobFailure ? error.message : failureReason('render', error));
    },
  );
});
// The server gone (its IPC channel closed): nothing to report to any more.
process.on('disconnect', () => process.exit(1));
