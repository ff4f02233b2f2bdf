// Writes the "Export" section of docs/benchmarks.md from docs/benchmarks-export.json
// (run by bench/export.mjs; `node bench/export-report.mjs` rewrites it alone).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
const range = (summary, format = seconds) => `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const fps = (value) => value.toFixed(1);

export async function writeExportReport() {
  const { runs, frames, concurrency, cores, date, results } = JSON.parse(await readFile(path.join(root, 'docs/benchmarks-export.json'), 'utf8'));
  const { cutroomFresh, cutroomRepeat, cli, cliCold } = results;
  const fpsRatio = cutroomFresh.fps.median / cli.fps.median;
  const repeatFpsRatio = cutroomRepeat.fps.median / cli.fps.median;
  const totalRatio = cli.total.median / cutroomFresh.total.median;
  const repeatStart = cutroomRepeat.rendering.median;
  const verdict = (met) => (met ? '**met**' : '**not met**');
  const report = `## Export

Command: \`npm run build && npm run bench:export\` (${runs} runs of each; raw figures in \`docs/benchmarks-export.json\`).
Measured ${date} on this project's ${cores}-core machine, everything in one run.

The template's \`TitleScene\` (1280×720, ${frames} frames at 30 fps) as H.264 MP4 at scale 1, ${concurrency} frame(s) rendered
in parallel by both (what the server picks on ${cores} cores; more is slower here, Chromium and the encoder share the cores).
Cutroom: \`POST /api/projects/:id/exports\` on the built server until its \`export:progress\` says \`done\`; the render runs in
a worker process (checkout of the version, Rspack bundle cached per version, \`renderMedia\`). "Bundle built" clears the
version's cached bundle first (a version nobody rendered yet; after a chat turn its thumbnail has usually built it
already); "repeat" exports the same version again. CLI: \`remotion render src/index.ts TitleScene out.mp4
--browser-executable=… --concurrency=${concurrency}\` in a copy of the template, its webpack cache warm from a first run
(that cold first run: first frame after ${seconds(cliCold.firstFrame)}, done after ${seconds(cliCold.total)}).

- time to first frame: from the request (the POST; spawning the CLI) until the first frame is rendered (the first
  \`export:progress\` with a rendered frame; the CLI's first "Rendered n/${frames}" line);
- total: from the request until the file is there (status \`done\`; the CLI's exit);
- fps: ${frames} frames / (total − time to first frame): rendering and encoding after the first frame.

| | time to first frame, median (min–max) | total, median (min–max) | fps, median |
|---|---|---|---|
| Cutroom, bundle built | ${range(cutroomFresh.firstFrame)} | ${range(cutroomFresh.total)} | ${fps(cutroomFresh.fps.median)} |
| Cutroom, repeat of the same version | ${range(cutroomRepeat.firstFrame)} | ${range(cutroomRepeat.total)} | ${fps(cutroomRepeat.fps.median)} |
| \`remotion render\` (CLI) | ${range(cli.firstFrame)} | ${range(cli.total)} | ${fps(cli.fps.median)} |

Cutroom's bundle step (checkout, Rspack, reading the compositions) took ${seconds(cutroomFresh.bundleMs.median)} (median) when built; the
repeats took it from the cache (${cutroomRepeat.bundleCached.every(Boolean) ? 'every run' : 'not every run: see the JSON'}).

### Against the targets

- At least as fast as the CLI (ratio ≥ 1.0): fps ${fpsRatio.toFixed(2)}× with the bundle built, ${repeatFpsRatio.toFixed(2)}× on a repeat;
  total time ${totalRatio.toFixed(2)}× (CLI total / Cutroom total, bundle built) — ${verdict(fpsRatio >= 1 && totalRatio >= 1)}.
- A repeat export of an unchanged version starts in under a second (POST → status \`rendering\`):
  ${seconds(repeatStart)} (${seconds(cutroomRepeat.rendering.min)}–${seconds(cutroomRepeat.rendering.max)}); its first frame after ${seconds(cutroomRepeat.firstFrame.median)} — ${verdict(repeatStart < 1000)}.
`;
  const file = path.join(root, 'docs/benchmarks.md');
  const current = await readFile(file, 'utf8');
  const start = current.indexOf('## Export');
  let next;
  if (start >= 0) {
    const after = current.indexOf('\n## ', start + 1);
    next = current.slice(0, start) + report + (after >= 0 ? current.slice(after + 1) : '');
  } else {
    next = `${current.trimEnd()}\n\n${report}`;
  }
  await writeFile(file, next);
}

if (import.meta.url === `file://${process.argv[1]}`) await writeExportReport();
