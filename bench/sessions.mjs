// `npm run bench:sessions`: live-session figures side by side, in one run, with a bare
// Vite dev server + <Player> and with Remotion Studio on the same composition.
// Writes docs/benchmarks.md (the "Sessions" section) and prints the figures; then
// "50 users at once" (bench/storm.mjs, its own section).
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumFlags, freePort, memoryOfTree, root, signUp, sleep, startCutroom, summary } from './lib.mjs';
import { writeSessionsReport } from './sessions-report.mjs';
import { runStorms } from './storm.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 40);
const work = path.join(root, 'bench', '.work');
const results = {};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumFlags });
const newPage = async () => (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();

/** Rewrites the title in a TitleScene.tsx and resolves when `page` shows it. */
let edits = 0;
async function hotReload(page, sceneFile) {
  const title = `Bench edit ${++edits}`;
  const source = await readFile(sceneFile, 'utf8');
  const started = performance.now();
  await writeFile(sceneFile, source.replace(/title = '[^']*'/, `title = '${title}'`));
  await page.getByText(title).first().waitFor({ state: 'attached', timeout: 30_000 });
  return performance.now() - started;
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
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(5_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
};

// ---------------------------------------------------------------- bare Vite + Player
{
  console.error('bare Vite + <Player>…');
  const project = await freshProjectCopy('bare-vite');
  const cacheDir = path.join(work, 'bare-vite-cache');
  const starts = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    const page = await newPage();
    const started = performance.now();
    const vite = spawnLine(process.execPath, [path.join(root, 'bench/bare-vite.mjs'), project, cacheDir], { cwd: root });
    const { port } = JSON.parse(await vite.firstLine);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.getByText('Your video starts here').waitFor({ state: 'attached', timeout: 60_000 });
    starts.push(performance.now() - started);
    if (i < RUNS - 1) {
      await page.context().close();
      await stopChild(vite.child);
    } else last = { page, vite };
  }
  await sleep(1_000);
  const reload = await hotReloads(last.page, path.join(project, 'src/scenes/TitleScene.tsx'));
  await sleep(5_000);
  results.bareVite = { start: summary(starts), hotReload: reload, idleMemory: await memoryOfTree(last.vite.child.pid) };
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
    const started = performance.now();
    const studio = spawn(process.execPath, [cli, 'studio', path.join(project, 'src/index.ts'), '--port', String(port), '--no-open', '--log=error'], {
      cwd: project,
      stdio: 'ignore',
      env: { ...process.env, BROWSER: 'none' },
    });
    for (;;) {
      if (studio.exitCode !== null) throw new Error(`remotion studio exited with ${studio.exitCode}`);
      try {
        await page.goto(`http://127.0.0.1:${port}/TitleScene`, { timeout: 5_000 });
        break;
      } catch {
        await sleep(100);
      }
    }
    await page.getByText('Your video starts here').first().waitFor({ state: 'attached', timeout: 120_000 });
    starts.push(performance.now() - started);
    if (i < Math.min(RUNS, 3) - 1) {
      await page.context().close();
      await stopChild(studio);
    } else last = { page, studio };
  }
  await sleep(1_000);
  const reload = await hotReloads(last.page, path.join(project, 'src/scenes/TitleScene.tsx'), RUNS);
  await sleep(5_000);
  results.studio = { start: summary(starts), hotReload: reload, idleMemory: await memoryOfTree(last.studio.pid) };
  await last.page.context().close();
  await stopChild(last.studio);
}

// ---------------------------------------------------------------- Cutroom, warm and cold
async function cutroomStarts(poolSize) {
  const server = await startCutroom({ SESSION_POOL_SIZE: String(poolSize) });
  const user = await signUp(server.baseUrl);
  const client = await user.connect();
  const starts = [];
  const readies = [];
  for (let i = 0; i < RUNS; i++) {
    const projectId = await user.createProject(`Bench ${i}`);
    if (poolSize > 0) while (server.warmCount() < i + 1) await sleep(50);
    await sleep(300);
    const page = await newPage();
    const started = performance.now();
    const ready = await client.start(projectId);
    readies.push(performance.now() - started);
    await page.goto(ready.previewUrl);
    await page.getByText('Your video starts here').waitFor({ state: 'attached', timeout: 60_000 });
    starts.push(performance.now() - started);
    await page.context().close();
    client.socket.send(JSON.stringify({ type: 'session:end' }));
    await sleep(500);
  }
  client.close();
  return { server, start: summary(starts), sessionReady: summary(readies) };
}

{
  console.error('Cutroom, warm pool…');
  const warm = await cutroomStarts(1);
  await warm.server.stop();
  console.error('Cutroom, cold…');
  const cold = await cutroomStarts(0);

  // Hot reload through the preview proxy, and idle memory of one session.
  const user = await signUp(cold.server.baseUrl);
  const client = await user.connect();
  const ready = await client.start(await user.createProject('Hot reload'));
  const page = await newPage();
  await page.goto(ready.previewUrl);
  await page.getByText('Your video starts here').waitFor({ state: 'attached' });
  const sandboxId = new URL(ready.previewUrl).pathname.split('/')[2];
  const sandboxDir = path.join(cold.server.dataDir, 'sandboxes', sandboxId);
  await sleep(1_000);
  const reload = await hotReloads(page, path.join(sandboxDir, 'workspace/src/scenes/TitleScene.tsx'));
  await sleep(5_000);
  const { pid } = JSON.parse(await readFile(path.join(sandboxDir, 'sandbox.json'), 'utf8'));
  results.cutroom = {
    warmStart: warm.start,
    warmSessionReady: warm.sessionReady,
    coldStart: cold.start,
    coldSessionReady: cold.sessionReady,
    hotReload: reload,
    idleMemory: await memoryOfTree(pid),
  };
  await page.context().close();
  client.close();
  await cold.server.stop();
}

// ---------------------------------------------------------------- concurrency
{
  console.error(`Cutroom, ${CONCURRENT} concurrent sessions…`);
  const server = await startCutroom({ SESSION_POOL_SIZE: '0', SESSION_GRACE_MS: '600000', SESSION_MAX_PER_USER: String(CONCURRENT), SESSION_MAX: String(CONCURRENT) });
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
        const id = new URL(r.previewUrl).pathname.split('/')[2];
        const { pid } = JSON.parse(await readFile(path.join(server.dataDir, 'sandboxes', id, 'sandbox.json'), 'utf8'));
        const memory = await memoryOfTree(pid);
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
  const active = { ready: await tab.start(sessions[0].projectId) };
  const page = await newPage();
  await page.goto(active.ready.previewUrl);
  await page.getByText('Your video starts here').waitFor({ state: 'attached' });
  await sleep(1_000);
  const id = new URL(active.ready.previewUrl).pathname.split('/')[2];
  const reload = await hotReloads(page, path.join(server.dataDir, 'sandboxes', id, 'workspace/src/scenes/TitleScene.tsx'));
  results.concurrency = { steps, activeHotReload: reload };
  await page.context().close();
  tab.close();
  for (const { client } of sessions) client.close();
  await server.stop();
}

await browser.close();
await rm(work, { recursive: true, force: true });

// ---------------------------------------------------------------- report
await writeFile(path.join(root, 'docs/benchmarks-sessions.json'), `${JSON.stringify({ runs: RUNS, concurrent: CONCURRENT, date: new Date().toISOString().slice(0, 10), results }, null, 2)}\n`);
await writeSessionsReport();

// ---------------------------------------------------------------- 50 users at once
// Its own figures and section (bench/storm.mjs); it needs no browser.
await runStorms();
console.log(JSON.stringify(results, null, 2));
