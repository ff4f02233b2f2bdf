// `npm run bench:export` (after `npm run build`): an MP4 export through Cutroom's built
// server against `remotion render` (the CLI) of the same composition, in one run.
// Writes docs/benchmarks-export.json and the "Export" section of docs/benchmarks.md.
//
// Both render TitleScene of the template (1280×720, 150 frames at 30 fps) at scale 1 as
// H.264 with the same frame concurrency. For each run:
// - time to first frame: from the request (Cutroom: POST …/exports; CLI: spawning it) until
//   the first frame is rendered (Cutroom: the first `export:progress` with a rendered frame;
//   CLI: its first "Rendered n/150" line),
// - total: from the request until the file is done (Cutroom: status `done`; CLI: exit),
// - fps: frames / (total − time to first frame), i.e. rendering and encoding after the first frame.
import { spawn } from 'node:child_process';
import { cp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { root, signUp, sleep, startCutroom, summary } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FRAMES = 150;
// What the server picks for one render (export-service.ts): 1 on up to 3 cores, else 2.
const CONCURRENCY = os.availableParallelism() <= 3 ? 1 : 2;
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const work = path.join(root, 'bench', '.work');
const now = () => performance.now();

async function cutroomSetup() {
  const server = await startCutroom({ EXPORT_CONCURRENCY: '1', CHROMIUM_PATH: chromium });
  const account = await signUp(server.baseUrl);
  // Every message from /ws with the time it arrived; `until` waits for one that matches.
  const received = [];
  const waiters = new Set();
  const connection = await account.connect();
  connection.socket.on('message', (data) => {
    const entry = { message: JSON.parse(String(data)), at: now() };
    received.push(entry);
    for (const waiter of [...waiters]) {
      if (!waiter.predicate(entry.message)) continue;
      waiters.delete(waiter);
      waiter.resolve(entry);
    }
  });
  const until = (predicate) => {
    const seen = received.find((entry) => predicate(entry.message));
    return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.add({ predicate, resolve }));
  };
  const projectId = await account.createProject('Export bench');
  // The new project's thumbnail renders first (and would share the machine with the export).
  await until((message) => message.type === 'thumbnail:ready');

  /** One export, timed from the POST; `clearBundle` empties the bundle cache first (this server's only project). */
  async function exportOnce({ clearBundle }) {
    if (clearBundle) await rm(path.join(server.dataDir, 'cache', 'bundles'), { recursive: true, force: true });
    const started = now();
    const response = await fetch(`${server.baseUrl}/api/projects/${projectId}/exports`, {
      method: 'POST',
      headers: { origin: server.baseUrl, cookie: account.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ compositionId: 'TitleScene', format: 'mp4', scale: 1 }),
    });
    const { id } = (await response.json()).export;
    const progress = (predicate) => until((message) => message.type === 'export:progress' && message.export.id === id && predicate(message.export));
    const end = await progress((entry) => ['done', 'failed', 'cancelled'].includes(entry.status));
    if (end.message.export.status !== 'done') throw new Error(`export ${end.message.export.status}: ${end.message.export.error}`);
    const rendering = await progress((entry) => entry.status === 'rendering');
    const firstFrame = await progress((entry) => entry.renderedFrames > 0);
    await sleep(50); // the log line of the bundle
    const bundle = server.log.find((line) => line.msg === 'render bundle ready' && line.render?.id === id);
    const total = end.at - started;
    return {
      firstFrame: firstFrame.at - started,
      rendering: rendering.at - started,
      total,
      fps: FRAMES / ((total - (firstFrame.at - started)) / 1000),
      bundleCached: bundle?.cached ?? null,
      bundleMs: bundle?.ms ?? null,
      sizeBytes: end.message.export.sizeBytes,
    };
  }
  return { server, connection, exportOnce };
}

/** The CLI in a copy of the template inside this repo (its imports resolve from the repo's node_modules). */
async function cliSetup() {
  const dir = path.join(work, 'export-cli');
  await rm(dir, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await cp(path.join(root, 'packages/template/project'), dir, { recursive: true, filter: (source) => !source.includes('node_modules') });
  const cli = path.join(root, 'node_modules/.bin/remotion');
  const output = path.join(dir, 'out.mp4');
  return async function renderOnce() {
    await rm(output, { force: true });
    const started = now();
    let firstFrame = null;
    let buffer = '';
    let text = '';
    const child = spawn(
      cli,
      ['render', 'src/index.ts', 'TitleScene', output, `--browser-executable=${chromium}`, `--concurrency=${CONCURRENCY}`],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const onData = (chunk) => {
      text += chunk;
      buffer += chunk;
      const lines = buffer.split(/[\n\r]/);
      buffer = lines.pop();
      for (const line of lines) if (firstFrame === null && /Rendered [1-9]\d*\/\d+/.test(line)) firstFrame = now() - started;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const code = await new Promise((resolve) => child.once('exit', resolve));
    const total = now() - started;
    if (code !== 0 || firstFrame === null) throw new Error(`remotion render exited with ${code}: ${text.slice(-2_000)}`);
    return { firstFrame, total, fps: FRAMES / ((total - firstFrame) / 1000), sizeBytes: (await stat(output)).size };
  };
}

const pick = (runs, key) => summary(runs.map((run) => run[key]));
const round = (value) => Math.round(value);

const cutroom = await cutroomSetup();
const cliRender = await cliSetup();
const runs = { cutroomFresh: [], cutroomRepeat: [], cliCold: null, cli: [] };
try {
  // The CLI's first run fills its webpack cache; the measured runs use it, as a person's second render would.
  runs.cliCold = await cliRender();
  console.log('remotion render, cold webpack cache', runs.cliCold);
  for (let i = 0; i < RUNS; i++) {
    const fresh = await cutroom.exportOnce({ clearBundle: true });
    console.log(`Cutroom, bundle built (${i + 1}/${RUNS})`, fresh);
    runs.cutroomFresh.push(fresh);
    await sleep(500);
    const repeat = await cutroom.exportOnce({ clearBundle: false });
    console.log(`Cutroom, repeat of the same version (${i + 1}/${RUNS})`, repeat);
    runs.cutroomRepeat.push(repeat);
    await sleep(500);
    const cli = await cliRender();
    console.log(`remotion render (${i + 1}/${RUNS})`, cli);
    runs.cli.push(cli);
    await sleep(500);
  }
} finally {
  cutroom.connection.close();
  await cutroom.server.stop();
  await rm(path.join(work, 'export-cli'), { recursive: true, force: true });
}

const results = {
  cutroomFresh: { firstFrame: pick(runs.cutroomFresh, 'firstFrame'), rendering: pick(runs.cutroomFresh, 'rendering'), total: pick(runs.cutroomFresh, 'total'), fps: pick(runs.cutroomFresh, 'fps'), bundleMs: pick(runs.cutroomFresh, 'bundleMs'), bundleCached: runs.cutroomFresh.map((run) => run.bundleCached) },
  cutroomRepeat: { firstFrame: pick(runs.cutroomRepeat, 'firstFrame'), rendering: pick(runs.cutroomRepeat, 'rendering'), total: pick(runs.cutroomRepeat, 'total'), fps: pick(runs.cutroomRepeat, 'fps'), bundleCached: runs.cutroomRepeat.map((run) => run.bundleCached) },
  cli: { firstFrame: pick(runs.cli, 'firstFrame'), total: pick(runs.cli, 'total'), fps: pick(runs.cli, 'fps') },
  cliCold: runs.cliCold,
  samples: runs,
};
await writeFile(
  path.join(root, 'docs/benchmarks-export.json'),
  `${JSON.stringify({ runs: RUNS, frames: FRAMES, concurrency: CONCURRENCY, cores: os.availableParallelism(), date: new Date().toISOString().slice(0, 10), results }, null, 2)}\n`,
);
const { writeExportReport } = await import('./export-report.mjs');
await writeExportReport();
console.log(
  `fps: Cutroom ${results.cutroomRepeat.fps.median.toFixed(1)} (repeat) / ${results.cutroomFresh.fps.median.toFixed(1)} (fresh) vs CLI ${results.cli.fps.median.toFixed(1)}; ` +
    `first frame: Cutroom ${round(results.cutroomRepeat.firstFrame.median)} ms (repeat) / ${round(results.cutroomFresh.firstFrame.median)} ms (fresh) vs CLI ${round(results.cli.firstFrame.median)} ms; ` +
    `repeat starts rendering after ${round(results.cutroomRepeat.rendering.median)} ms`,
);
process.exit(0);
