/**
 * A render worker: one process per render job, started inside the job's sandbox
 * (render-sandbox.ts: its own user, no network, only its working folder writable). It
 * gets one `job`, takes the version's bundle from the cache or builds it from the files
 * the server checked out, renders, reports (worker-protocol.ts) and exits. The channel is
 * Node's IPC where the server started it as a child (render-process.ts), else lines of
 * JSON: the job on stdin, the messages on stdout (a container, render-wall-docker.ts).
 * Every renderer call gets `browserExecutable`: without it Remotion would try to download
 * a browser.
 */
import { realpathSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { bundle } from '@remotion/bundler';
import { getCompositions, openBrowser, renderMedia, renderStill } from '@remotion/renderer';
import { projectEntryPoint } from '@cutroom/template';
import { failureReason } from './failure-reason.js';
import { type ProjectRenderConfig, effectiveGl, loadProjectRenderConfig } from './remotion-config.js';
import { COMPOSITIONS_FILE, WorkerJob, type WorkerMessage, frameScale, videoCodecs } from './worker-protocol.js';

type Composition = Awaited<ReturnType<typeof getCompositions>>[number];
type Browser = Awaited<ReturnType<typeof openBrowser>>;

/** Progress reports at most this often. */
const PROGRESS_EVERY_MS = 250;

/** The repo's node_modules (where remotion and react are installed): the project's `node_modules` links there. */
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

/** No IPC channel: the messages are lines on stdout, and nothing else may print there. */
const lines = process.send
  ? null
  : (() => {
      const write = process.stdout.write.bind(process.stdout);
      // The bundler's and the libraries' own output goes to the log (stderr) instead.
      process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
      return write;
    })();

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (lines) return void lines(`${JSON.stringify(message)}\n`, () => resolve());
    if (!process.send || !process.connected) return resolve();
    process.send(message, () => resolve());
  });
}

async function fail(reason: string): Promise<never> {
  await send({ type: 'failed', reason });
  process.exit(1);
}

/** Modules may come only from the project's folder and the packages (their real paths). */
function confinedTo(projectDir: string): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  // The project's own packages, where its node_modules links to an install of them.
  const own = realpathSync(path.join(projectDir, 'node_modules'));
  const roots = [realpathSync(projectDir), realpathSync(nodeModulesDir), ...(own === realpathSync(nodeModulesDir) ? [] : [own])].map((root) => escape(root.replace(/\/+$/, '')));
  return new RegExp(`^(${roots.join('|')})/`);
}

/** What of `remotion.config.*` a render of a bundle needs (kept beside the bundle, for renders of a cached one). */
type RenderSettings = { gl: ProjectRenderConfig['gl']; pixelFormat: ProjectRenderConfig['pixelFormat'] };
const RENDER_SETTINGS_FILE = 'cutroom-render-settings.json';

/** The project's configuration: run now (a bundle to build), or as kept beside a cached bundle. */
async function projectConfig(job: WorkerJob): Promise<{ settings: RenderSettings; config: ProjectRenderConfig | null }> {
  if (job.bundle.kind === 'cached') {
    const kept = await readFile(path.join(job.bundle.dir, RENDER_SETTINGS_FILE), 'utf8').then(
      (text) => JSON.parse(text) as RenderSettings,
      () => ({ gl: null, pixelFormat: null }),
    );
    return { settings: kept, config: null };
  }
  try {
    const config = await loadProjectRenderConfig(job.bundle.projectDir);
    return { settings: { gl: config.gl, pixelFormat: config.pixelFormat }, config };
  } catch (error) {
    throw failure('bundle', error, job.bundle.projectDir);
  }
}

/** The bundle to render from (its folder) and its compositions: the cached one, or one built now. */
async function prepareBundle(
  job: WorkerJob,
  browser: () => Promise<Browser>,
  project: { settings: RenderSettings; config: ProjectRenderConfig | null },
): Promise<{ dir: string; compositions: Composition[] }> {
  const started = performance.now();
  if (job.bundle.kind === 'cached') {
    const compositions = JSON.parse(await readFile(path.join(job.bundle.dir, COMPOSITIONS_FILE), 'utf8')) as Composition[];
    await send({ type: 'bundle', cached: true, ms: performance.now() - started });
    return { dir: job.bundle.dir, compositions };
  }

  const { projectDir, outDir } = job.bundle;
  const webpackOverride = project.config?.webpackOverride ?? null;
  /** Only the version's files and the packages (see rspackOverride below). */
  /**
   * Cutroom's packages (Remotion's, React) where the project's own install left them out:
   * searched after the project's `node_modules`, as the preview falls back to them.
   */
  const modules = ['node_modules', nodeModulesDir];
  const confine = <T extends { resolve?: object }>(config: T): T => ({
    ...config,
    resolve: { ...config.resolve, modules, restrictions: [confinedTo(projectDir)] as unknown as string[] },
  });
  try {
    await bundle({
      entryPoint: projectEntryPoint(projectDir),
      outDir,
      rootDir: projectDir,
      // Rspack: ~1 s against webpack's ~7 s cold (docs/decisions/2026-11-24-exports.md).
      // A project whose remotion.config overrides the webpack configuration (Tailwind,
      // SCSS, aliases) is bundled by webpack, as `remotion render` bundles it, with its
      // override, and our confinement applied after it.
      rspack: !webpackOverride,
      ...(webpackOverride ? { webpackOverride: async (config) => confine(await webpackOverride(config)) } : {}),
      // The bundle itself is the cache (one per tree of files); a bundler cache would go into node_modules.
      enableCaching: false,
      // An import (or require.context) of a path outside the version's files and the
      // packages is refused, also where the sandbox would let the bundler read it (no
      // sandbox on this machine): other people's files must never get into a render.
      // Rspack's resolver takes RegExp restrictions (path strings refused Remotion's own entry
      // files in our test); its types list only strings.
      rspackOverride: (config) => ({
        ...config,
        resolve: { ...config.resolve, modules, restrictions: [confinedTo(projectDir)] as unknown as string[] },
      }),
    });
  } catch (error) {
    throw failure('bundle', error, projectDir);
  }
  let compositions: Composition[];
  try {
    compositions = await getCompositions(outDir, { browserExecutable: job.chromiumPath, puppeteerInstance: await browser(), logLevel: 'error' });
  } catch (error) {
    throw failure('compositions', error, projectDir);
  }
  await writeFile(path.join(outDir, RENDER_SETTINGS_FILE), JSON.stringify(project.settings));
  // Written last: the server takes a bundle into the cache only when this file is there.
  await writeFile(path.join(outDir, COMPOSITIONS_FILE), JSON.stringify(compositions));
  await send({ type: 'bundle', cached: false, ms: performance.now() - started });
  return { dir: outDir, compositions };
}

/** Kills the process groups of this worker's Chromium children (Remotion starts each in a group of its own). */
async function killChildBrowsers() {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent !== process.pid) continue;
    const command = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!/chrom/i.test(command)) continue;
    try {
      process.kill(-Number(entry), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * Chromium, given more than one chance: Remotion allows it 25 s to start, and a render
 * runs at a lower CPU weight than everything else, so a busy machine can starve a start.
 */
async function launchBrowser(chromiumPath: string, gl: RenderSettings['gl']): Promise<Browser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openBrowser('chrome', { browserExecutable: chromiumPath, logLevel: 'error', chromiumOptions: gl ? { gl } : {} });
    } catch (error) {
      if (attempt >= 4 || !/timed out/i.test(String(error))) throw error;
      console.error(`Chromium did not start in time (attempt ${attempt}); trying again`);
      // Remotion leaves the late browser running: it would compete with the next try.
      await killChildBrowsers();
    }
  }
}

async function run(job: WorkerJob) {
  const opened: { browser?: Promise<Browser> } = {};
  // The configuration first: it may choose Chromium's GL backend.
  const project = await projectConfig(job);
  const gl = effectiveGl(project.settings.gl);
  const browser = () => (opened.browser ??= launchBrowser(job.chromiumPath, gl));
  // Chromium starts while the bundle is read or built.
  void browser().catch(() => {});
  try {
    const { dir: bundleDir, compositions } = await prepareBundle(job, browser, project);
    const { target } = job;
    if (target.kind === 'compositions') {
      const list = compositions.map(({ id, width, height, fps, durationInFrames }) => ({ id, width, height, fps, durationInFrames }));
      const text = JSON.stringify(list);
      await writeFile(job.output, text);
      await send({ type: 'done', sizeBytes: Buffer.byteLength(text) });
      return;
    }
    const composition =
      target.kind === 'thumbnail' || (target.kind === 'frame' && !target.compositionId)
        ? (compositions.find((entry) => entry.id === target.compositionId) ?? compositions[0])
        : compositions.find((entry) => entry.id === target.compositionId);
    if (!composition) {
      const names = compositions.map((entry) => entry.id).join(', ') || 'none';
      throw new JobFailure(
        target.kind === 'thumbnail' || !target.compositionId
          ? 'The project has no composition.'
          : `There is no composition "${target.compositionId}" in this version (it has: ${names}).`,
      );
    }
    const still = target.kind !== 'export' || target.format === 'png';
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
      durationInFrames: composition.durationInFrames,
    });

    const common = {
      serveUrl: bundleDir,
      chromiumOptions: gl ? { gl } : {},
      composition,
      scale: target.kind === 'frame' ? frameScale(composition.width, composition.height, target.maxSide) : target.scale,
      browserExecutable: job.chromiumPath,
      puppeteerInstance: await browser(),
      logLevel: 'error' as const,
      overwrite: true,
    };
    try {
      if (still) {
        // The agent's frames go to a model: a JPEG is a tenth of the PNG, and as good to look at.
        await renderStill({ ...common, frame, output: job.output, ...(target.kind === 'frame' ? { imageFormat: 'jpeg', jpegQuality: 80 } : { imageFormat: 'png' }) });
        await send({ type: 'progress', progress: 1, renderedFrames: 1 });
      } else {
        let lastSent = 0;
        let firstFrameSent = false;
        await renderMedia({
          ...common,
          codec: videoCodecs[target.format as keyof typeof videoCodecs],
          // remotion.config's pixel format, for the video codecs (a GIF has none).
          ...(project.settings.pixelFormat && target.format !== 'gif' ? { pixelFormat: project.settings.pixelFormat } : {}),
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
function start(raw: unknown) {
  const parsed = WorkerJob.safeParse(raw);
  if (!parsed.success) return void fail('The render was started with an invalid job.');
  run(parsed.data).then(
    () => process.exit(0),
    (error: unknown) => {
      if (!(error instanceof JobFailure)) console.error(error);
      void fail(error instanceof JobFailure ? error.message : failureReason('render', error));
    },
  );
}

if (lines) {
  const input = createInterface({ input: process.stdin });
  input.once('line', (line) => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      raw = undefined;
    }
    start(raw);
  });
  // The server gone (stdin closed): nothing to report to any more.
  input.once('close', () => process.exit(1));
} else {
  process.once('message', start);
  // The server gone (its IPC channel closed): nothing to report to any more.
  process.on('disconnect', () => process.exit(1));
}
