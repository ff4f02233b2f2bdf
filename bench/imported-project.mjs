// `npm run bench:imported-project` (after `npm run build`): a project that brings its own
// packages (packages/testkit/projects/with-packages: @remotion/transitions and a CommonJS
// package), imported as a person imports it, opened and edited, side by side with bare Vite
// playing the same files with the same packages installed by `npm install`. Issue 11,
// item 8. Writes docs/benchmarks-imported-project.json and its section of docs/benchmarks.md.
//
// Each run starts a server with a data folder of its own (so its package store is empty),
// then, local driver, warm pool of one:
// 1. imports the project (`POST /api/projects/import`, a .tar.gz) and opens it: from the
//    `session:start` until its first frame is in the DOM of a fresh browser context (the
//    packages are installed while it opens: cold store);
// 2. imports it again as another project and opens that one (same packages: warm store);
// 3. hot reloads in that second project (a new title written into its working copy).
// Bare Vite (bench/bare-vite.mjs, the same Player page) serves a copy of the project whose
// packages `npm install --ignore-scripts` installed once beforehand: start (process spawn)
// to first frame, and hot reload.
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { chromiumFlags, machine, onTidyUp, root, sandboxFile, sandboxIdOf, signUp, sleep, startCutroom, summary, textSeenAt, tidyUp, watchText, watchedPage } from './lib.mjs';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RELOADS = 7;
const PROJECT = path.join(root, 'packages/testkit/projects/with-packages');
const SCENE = 'src/Slides.tsx';
/** What the first slide shows once lodash.camelcase has run: the packages are there. */
const TITLE = 'helloPackagesWorld';
const work = path.join(root, 'bench', '.work', 'imported-project');
const startedOn = machine();

await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });
onTidyUp(() => rm(work, { recursive: true, force: true }));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumFlags });
onTidyUp(() => browser.close());

await cp(PROJECT, path.join(work, 'with-packages'), { recursive: true });
const archive = path.join(work, 'with-packages.tar.gz');
await run('tar', ['-czf', archive, 'with-packages'], { cwd: work });

let edits = 0;
/** Rewrites the first slide's words and resolves with how long until `page` shows them. */
async function hotReload(page, file) {
  const words = `bench edit ${++edits}`;
  const shown = `benchEdit${edits}`;
  const source = await readFile(file, 'utf8');
  await watchText(page, shown);
  const started = Date.now();
  await writeFile(file, source.replace(/camelCase\('[^']*'\)/, `camelCase('${words}')`));
  return (await textSeenAt(page, shown, 30_000)) - started;
}

async function importProject(server, user) {
  const form = new FormData();
  form.set('file', new Blob([await readFile(archive)]), 'with-packages.tar.gz');
  const started = Date.now();
  const response = await fetch(`${server.baseUrl}/api/projects/import`, { method: 'POST', headers: { origin: server.baseUrl, cookie: user.cookie }, body: form });
  if (response.status !== 201) throw new Error(`import: ${response.status} ${await response.text()}`);
  const { project } = await response.json();
  return { projectId: project.id, ms: Date.now() - started };
}

/** Opens a project: `session:start` to its first frame in a fresh browser context. */
async function open(client, projectId) {
  const page = await watchedPage(browser, [TITLE]);
  const started = Date.now();
  const ready = await client.start(projectId);
  await page.goto(ready.previewUrl);
  const drawn = await textSeenAt(page, TITLE, 180_000);
  return { page, ready, ms: drawn - started };
}

// ---------------------------------------------------------------- Cutroom
const cutroom = { importMs: [], coldOpen: [], warmImportMs: [], warmOpen: [], hotReload: [] };
for (let i = 0; i < RUNS; i++) {
  console.error(`Cutroom, run ${i + 1} of ${RUNS}…`);
  const server = await startCutroom({ SANDBOX_DRIVER: 'local', SESSION_POOL_SIZE: '1', SESSION_GRACE_MS: '0' });
  while (server.warmCount() < 1) await sleep(50);
  await sleep(500);
  const user = await signUp(server.baseUrl);
  const client = await user.connect();
  const first = await importProject(server, user);
  cutroom.importMs.push(first.ms);
  const cold = await open(client, first.projectId);
  cutroom.coldOpen.push(cold.ms);
  await cold.page.context().close();
  client.socket.send(JSON.stringify({ type: 'session:end' }));
  // The warm pool refills (a few seconds after it was taken) before the next project opens.
  while (server.warmCount() < 2) await sleep(50);
  await sleep(500);
  const second = await importProject(server, user);
  cutroom.warmImportMs.push(second.ms);
  const warm = await open(client, second.projectId);
  cutroom.warmOpen.push(warm.ms);
  await sleep(1_000);
  const file = sandboxFile(server.dataDir, sandboxIdOf(warm.ready.previewUrl), SCENE);
  for (let reload = 0; reload < RELOADS; reload++) {
    cutroom.hotReload.push(await hotReload(warm.page, file));
    await sleep(150);
  }
  await warm.page.context().close();
  client.close();
  await server.stop();
}

// ---------------------------------------------------------------- bare Vite
console.error('bare Vite + <Player>, the packages installed by npm…');
const bareProject = path.join(work, 'bare');
await cp(PROJECT, bareProject, { recursive: true });
const npmStarted = Date.now();
await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: bareProject, maxBuffer: 16 * 1024 * 1024 });
const npmMs = Date.now() - npmStarted;
const bare = { start: [], hotReload: [] };
const cacheDir = path.join(work, 'bare-cache');
for (let i = 0; i <= RUNS; i++) {
  const page = await watchedPage(browser, [TITLE]);
  const started = Date.now();
  const vite = spawn(process.execPath, [path.join(root, 'bench/bare-vite.mjs'), bareProject, cacheDir], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  onTidyUp(() => vite.kill());
  const { port } = JSON.parse(await new Promise((resolve) => vite.stdout.once('data', (chunk) => resolve(String(chunk).split('\n')[0]))));
  await page.goto(`http://127.0.0.1:${port}/`);
  const drawn = await textSeenAt(page, TITLE, 180_000);
  // The first run optimizes the project's packages into the cache; the others start from it.
  if (i > 0) bare.start.push(drawn - started);
  if (i === RUNS) {
    await sleep(1_000);
    for (let reload = 0; reload < RELOADS * RUNS; reload++) {
      bare.hotReload.push(await hotReload(page, path.join(bareProject, SCENE)));
      await sleep(150);
    }
  }
  await page.context().close();
  vite.kill();
  await new Promise((resolve) => (vite.exitCode === null ? vite.once('exit', resolve) : resolve()));
}

const results = {
  runs: RUNS,
  date: new Date().toISOString().slice(0, 10),
  machine: startedOn,
  cutroom: {
    import: summary(cutroom.importMs),
    coldOpen: summary(cutroom.coldOpen),
    warmImport: summary(cutroom.warmImportMs),
    warmOpen: summary(cutroom.warmOpen),
    hotReload: summary(cutroom.hotReload),
  },
  bareVite: { npmInstallMs: npmMs, start: summary(bare.start), hotReload: summary(bare.hotReload) },
};
await writeFile(path.join(root, 'docs/benchmarks-imported-project.json'), `${JSON.stringify(results, null, 2)}\n`);

// ---------------------------------------------------------------- report
const ms = (value) => `${Math.round(value)} ms`;
const s = (value) => `${(value / 1000).toFixed(2)} s`;
const range = (figures, format) => `${format(figures.median)} (${format(figures.min)}–${format(figures.max)})`;
const ratio = results.cutroom.hotReload.median / results.bareVite.hotReload.median;
const report = `## Imported project with packages

Command: \`npm run build && BENCH_RUNS=${RUNS} npm run bench:imported-project\` (raw figures in
\`docs/benchmarks-imported-project.json\`). Measured ${results.date} on a ${startedOn.cores}-core, ${startedOn.memoryGiB} GiB machine whose load average
was ${startedOn.loadAverage.join(' / ')} (1, 5, 15 min) when the run started. The project is
\`packages/testkit/projects/with-packages\` (\`@remotion/transitions\`, which brings \`@remotion/shapes\` and
\`@remotion/paths\`, and the CommonJS \`lodash.camelcase\`), imported as a \`.tar.gz\`; its first frame is the first
slide's \`helloPackagesWorld\` (lodash.camelcase ran). Cutroom: local driver, warm pool of one, each run a server with a
data folder of its own (an empty package store); the first import opens with a cold store, a second import of the
same project with a warm one. Bare Vite: the same Player page and files, the packages installed once beforehand by
\`npm install --ignore-scripts\` (${s(npmMs)}), its dependency cache warm. Times until the text is in the DOM of a fresh
browser context (noted by the page, \`watchedPage\` in \`bench/lib.mjs\`).

| | median (min–max) |
|---|---|
| Cutroom: \`POST /api/projects/import\` of the archive | ${range(results.cutroom.import, ms)} |
| Cutroom: open to first frame, cold store (the packages installed meanwhile) | ${range(results.cutroom.coldOpen, s)} |
| Cutroom: open to first frame, warm store (a second project with the same packages) | ${range(results.cutroom.warmOpen, s)} |
| bare Vite: process start to first frame (packages installed beforehand, cache warm) | ${range(results.bareVite.start, s)} |
| Cutroom: hot reload in that project (working copy, socket, proxy) | ${range(results.cutroom.hotReload, ms)} |
| bare Vite: hot reload of the same file | ${range(results.bareVite.hotReload, ms)} |

- Hot reload within 1.2× of bare Vite (issue 11): ${ratio.toFixed(2)}× — ${ratio <= 1.2 ? '**met**' : '**not met**'}.
- The disk a project's packages add, and the install itself against npm's, cold and warm: "Project packages" below.
`;
const file = path.join(root, 'docs/benchmarks.md');
const existing = await readFile(file, 'utf8');
const sections = existing.split(/\n(?=## )/).map((section) => section.trimEnd());
const at = sections.findIndex((section) => section.startsWith('## Imported project with packages'));
if (at >= 0) sections[at] = report.trimEnd();
else {
  const before = sections.findIndex((section) => section.startsWith('## Project packages'));
  sections.splice(before >= 0 ? before : sections.length, 0, report.trimEnd());
}
await writeFile(file, `${sections.join('\n\n')}\n`);
console.log(JSON.stringify(results, null, 2));
await tidyUp();
