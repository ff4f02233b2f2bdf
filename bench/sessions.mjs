// `npm run bench:sessions`: live-session figures for each sandbox driver (BENCH_DRIVERS,
// default `local,docker`), side by side, in one run, with a bare Vite dev server + <Player>
// and with Remotion Studio on the same composition (measured once, as the baselines).
// Writes docs/benchmarks-sessions.json and the "Sessions" section of docs/benchmarks.md and
// prints the figures; then "50 users at once" (bench/storm.mjs, its own section;
// BENCH_STORM=0 leaves it out).
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  benchDrivers,
  chromiumFlags,
  freePort,
  machine,
  memoryOfSandbox,
  memoryOfTree,
  onTidyUp,
  pageTimeline,
  root,
  sandboxFile,
  sandboxIdOf,
  signUp,
  sleep,
  startCutroom,
  summary,
  textSeenAt,
  tidyUp,
  watchText,
  watchedPage,
} from './lib.mjs';
import { writeSessionsReport } from './sessions-report.mjs';
import { runStorms } from './storm.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 40);
const STORM = process.env.BENCH_STORM !== '0';
const SCENE = 'src/scenes/TitleScene.tsx';
/** The composition's title: in the DOM once the Player has drawn its first frame. */
const TITLE = 'Your video starts here';
const work = path.join(root, 'bench', '.work');
// Before anything of ours runs: how busy the machine already is.
const startedOn = machine();
const { drivers, skipped } = await benchDrivers();
const results = { drivers: {} };

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumFlags });
onTidyUp(() => rm(work, { recursive: true, force: true }));
onTidyUp(() => browser.close());
const newPage = () => watchedPage(browser, [TITLE]);

/**
 * Where a first frame's time went, from `started` (ms since the epoch) to `drawnAt`: until
 * `upAt` (Cutroom: `session:ready`; bare Vite: its process listening), then the link (for
 * Cutroom the bootstrap page and the grant, until the document that draws starts loading),
 * that document's HTML, its modules, and running them (React, the Root, the Player).
 */
async function phasesOf(page, started, upAt, drawnAt) {
  const timeline = await pageTimeline(page, drawnAt);
  return {
    up: upAt - started,
    link: timeline.documentStart - upAt,
    html: timeline.htmlEnd - timeline.documentStart,
    modules: timeline.modulesEnd - timeline.htmlEnd,
    run: drawnAt - timeline.modulesEnd,
    moduleCount: timeline.modules,
  };
}
/** The median of each phase over several loads. */
const phaseSummary = (samples) => Object.fromEntries(Object.keys(samples[0]).map((key) => [key, summary(samples.map((sample) => sample[key]))]));

/** Rewrites the title in a TitleScene.tsx and resolves when `page` shows it. */
let edits = 0;
async function hotReload(page, sceneFile) {
  const title = `Bench edit ${++edits}`;
  const source = await readFile(sceneFile, 'utf8');
  await watchText(page, title);
  const started = Date.now();
  await writeFile(sceneFile, source.replace(/title = '[^']*'/, `title = '${title}'`));
  return (await textSeenAt(page, title, 30_000)) - started;
}
async function hotReloads(page, sceneFile, count = RUNS * 2) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    samples.push(await hotReload(page, sceneFile));
    await sleep(150);
  }
  return summary(samples);
}

async function freshProjectCopy(name) {
  const dir = path.join(work, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await cp(path.join(root, 'packages/template/project'), dir, { recursive: true, filter: (source) => !source.includes('node_modules') });
  return dir;
}

function spawnLine(command, args, options) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  onTidyUp(() => stopChild(child));
  let errors = '';
  const firstLine = new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      if (buffer.includes('\n')) resolve(buffer.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${errors.slice(-2_000)}`)));
  });
  child.stderr.on('data', (chunk) => (errors += chunk));
  return { child, firstLine };
}
const stopChild = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};

// ---------------------------------------------------------------- bare Vite + Player
{
  console.error('bare Vite + <Player>…');
  const project = await freshProjectCopy('bare-vite');
  const cacheDir = path.join(work, 'bare-vite-cache');
  const starts = [];
  const phases = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    const page = await newPage();
    const started = Date.now();
    const vite = spawnLine(process.execPath, [path.join(root, 'bench/bare-vite.mjs'), project, cacheDir], { cwd: root });
    const { port } = JSON.parse(await vite.firstLine);
    const listening = Date.now();
    await page.goto(`http://127.0.0.1:${port}/`);
    const drawn = await textSeenAt(page, TITLE);
    starts.push(drawn - started);
    phases.push(await phasesOf(page, started, listening, drawn));
    if (i < RUNS - 1) {
      await page.context().close();
      await stopChild(vite.child);
    } else last = { page, vite };
  }
  await sleep(1_000);
  const reload = await hotReloads(last.page, path.join(project, SCENE));
  await sleep(5_000);
  results.bareVite = { start: summary(starts), phases: phaseSummary(phases), hotReload: reload, idleMemory: await memoryOfTree(last.vite.child.pid) };
  await last.page.context().close();
  await stopChild(last.vite.child);
}

// ---------------------------------------------------------------- Remotion Studio
{
  console.error('Remotion Studio…');
  const project = await freshProjectCopy('studio');
  const cli = path.join(root, 'node_modules/@remotion/cli/remotion-cli.js');
  const starts = [];
  let last;
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    const port = await freePort();
    const page = await newPage();
    const started = Date.now();
    const studio = spawn(process.execPath, [cli, 'studio', path.join(project, 'src/index.ts'), '--port', String(port), '--no-open', '--log=error'], {
      cwd: project,
      stdio: 'ignore',
      env: { ...process.env, BROWSER: 'none' },
    });
    onTidyUp(() => stopChild(studio));
    for (;;) {
      if (studio.exitCode !== null) throw new Error(`remotion studio exited with ${studio.exitCode}`);
      try {
        await page.goto(`http://127.0.0.1:${port}/TitleScene`, { timeout: 5_000 });
        break;
      } catch {
        await sleep(100);
      }
    }
    starts.push((await textSeenAt(page, TITLE, 120_000)) - started);
    if (i < Math.min(RUNS, 3) - 1) {
      await page.context().close();
      await stopChild(studio);
    } else last = { page, studio };
  }
  await sleep(1_000);
  const reload = await hotReloads(last.page, path.join(project, SCENE), RUNS);
  await sleep(5_000);
  results.studio = { start: summary(starts), hotReload: reload, idleMemory: await memoryOfTree(last.studio.pid) };
  await last.page.context().close();
  await stopChild(last.studio);
}

// ---------------------------------------------------------------- Cutroom, per driver
/** Starts to session:ready and to the first frame, `RUNS` times, with a warm pool of `poolSize`. */
async function cutroomStarts(environment, poolSize) {
  const server = await startCutroom({ ...environment, SESSION_POOL_SIZE: String(poolSize) });
  const user = await signUp(server.baseUrl);
  const client = await user.connect();
  const starts = [];
  const readies = [];
  const phases = [];
  for (let i = 0; i < RUNS; i++) {
    const projectId = await user.createProject(`Bench ${i}`);
    if (poolSize > 0) while (server.warmCount() < i + 1) await sleep(50);
    await sleep(300);
    const page = await newPage();
    const started = Date.now();
    const ready = await client.start(projectId);
    const readyAt = Date.now();
    readies.push(readyAt - started);
    await page.goto(ready.previewUrl);
    const drawn = await textSeenAt(page, TITLE);
    starts.push(drawn - started);
    phases.push(await phasesOf(page, started, readyAt, drawn));
    await page.context().close();
    client.socket.send(JSON.stringify({ type: 'session:end' }));
    await sleep(500);
  }
  client.close();
  return { server, start: summary(starts), phases: phaseSummary(phases), sessionReady: summary(readies) };
}

/**
 * Hot reload through the preview proxy, written into the sandbox's working copy where the
 * driver keeps it on this machine (rewritten in place, so the file keeps the sandbox
 * user's ownership and mode), then the idle memory of that one session.
 */
async function hotReloadAndMemory(server) {
  const user = await signUp(server.baseUrl);
  const client = await user.connect();
  const ready = await client.start(await user.createProject('Hot reload'));
  const page = await newPage();
  await page.goto(ready.previewUrl);
  await textSeenAt(page, TITLE);
  const sandboxId = sandboxIdOf(ready.previewUrl);
  await sleep(1_000);
  const hotReload = await hotReloads(page, sandboxFile(server.dataDir, sandboxId, SCENE));
  await sleep(5_000);
  const idleMemory = await memoryOfSandbox(server.dataDir, sandboxId);
  await page.context().close();
  client.close();
  return { hotReload, idleMemory };
}

/** `CONCURRENT` live sessions (memory every 10), then the first one's hot reload with all of them running. */
async function concurrentSessions(environment) {
  const server = await startCutroom({ ...environment, SESSION_POOL_SIZE: '0', SESSION_GRACE_MS: '600000', SESSION_MAX_PER_USER: String(CONCURRENT), SESSION_MAX: String(CONCURRENT) });
  const user = await signUp(server.baseUrl);
  const sessions = [];
  const steps = [];
  for (let i = 1; i <= CONCURRENT; i++) {
    const client = await user.connect();
    const projectId = await user.createProject(`Concurrent ${i}`);
    const ready = await client.start(projectId);
    sessions.push({ client, ready, projectId });
    if (i % 10 === 0 || i === CONCURRENT) {
      await sleep(3_000);
      let rss = 0;
      let pss = 0;
      for (const { ready: r } of sessions) {
        const memory = await memoryOfSandbox(server.dataDir, sandboxIdOf(r.previewUrl));
        rss += memory.rssMiB;
        pss += memory.pssMiB;
      }
      const freeMiB = Math.round(Number(/MemAvailable:\s+(\d+)/.exec(await readFile('/proc/meminfo', 'utf8'))[1]) / 1024);
      steps.push({ sessions: i, perSessionRssMiB: Math.round(rss / i), perSessionPssMiB: Math.round(pss / i), machineAvailableMiB: freeMiB });
      console.error(`  ${i} sessions: ${Math.round(pss / i)} MiB PSS each, ${freeMiB} MiB available`);
    }
  }
  // A fresh link for the first session (its first one has expired unused), as a
  // reopened tab gets: joining the session replays session:ready with a new token.
  const tab = await user.connect();
  const active = await tab.start(sessions[0].projectId);
  const page = await newPage();
  await page.goto(active.previewUrl);
  await textSeenAt(page, TITLE);
  await sleep(1_000);
  const activeHotReload = await hotReloads(page, sandboxFile(server.dataDir, sandboxIdOf(active.previewUrl), SCENE));
  await page.context().close();
  tab.close();
  for (const { client } of sessions) client.close();
  await server.stop();
  return { steps, activeHotReload };
}

for (const driver of drivers) {
  const environment = { SANDBOX_DRIVER: driver };
  console.error(`Cutroom, ${driver} driver, warm pool…`);
  const warm = await cutroomStarts(environment, 1);
  const confinement = warm.server.confinement();
  await warm.server.stop();
  console.error(`Cutroom, ${driver} driver, cold (no pool)…`);
  const cold = await cutroomStarts(environment, 0);
  const { hotReload, idleMemory } = await hotReloadAndMemory(cold.server);
  await cold.server.stop();
  console.error(`Cutroom, ${driver} driver, ${CONCURRENT} concurrent sessions…`);
  const concurrency = await concurrentSessions(environment);
  results.drivers[driver] = {
    confinement,
    warmStart: warm.start,
    warmPhases: warm.phases,
    warmSessionReady: warm.sessionReady,
    coldStart: cold.start,
    coldPhases: cold.phases,
    coldSessionReady: cold.sessionReady,
    hotReload,
    idleMemory,
    concurrency,
  };
}

await browser.close();
await rm(work, { recursive: true, force: true });

// ---------------------------------------------------------------- report
await writeFile(
  path.join(root, 'docs/benchmarks-sessions.json'),
  `${JSON.stringify({ runs: RUNS, concurrent: CONCURRENT, date: new Date().toISOString().slice(0, 10), machine: startedOn, drivers, skipped, results }, null, 2)}\n`,
);
await writeSessionsReport();
console.log(JSON.stringify(results, null, 2));

// ---------------------------------------------------------------- 50 users at once
// Its own figures and section (bench/storm.mjs); it needs no browser.
if (STORM) await runStorms();
await tidyUp();
