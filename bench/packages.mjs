// `npm run bench:packages` (after `npm run build`): the project-packages installer (issue 11,
// apps/server/src/packages/installer.ts) against a plain `npm install`, in one run. Writes
// docs/benchmarks-packages.json and the "Project packages" section of docs/benchmarks.md.
//
// Why: every project may bring its own packages, so what matters is what a project costs
// once others have installed the same ones. Target (issue 11): a second project with the
// same dependencies installs in ≤ 2 s and adds ≤ 5 MB of disk. Each run, with a fresh
// packages folder under os.tmpdir() (empty store), measures:
// 1. cold: install() of project A (packages/testkit/projects/with-packages) and, in another
//    fresh folder, of project B (A plus a three.js scene's packages): pnpm downloads all;
// 2. the same dependencies in another package.json (other name, version, scripts): the same
//    install key, reused without running pnpm;
// 3. the same dependencies plus one small package: another key, pnpm runs and links from
//    the warm store;
// 4. showPackages() of the install into a fresh sandbox folder (hard-link copy);
// 5. the baseline: `npm install` of the same reduced package.json (its "pnpm" field
//    dropped) with a fresh npm cache (cold), then into a second folder with that cache (warm).
// Disk: the file system's free space before and after (statfs; the machine is shared, so
// noisy) and, exactly, the inodes that appeared: every file, link and folder under the
// packages folder (or sandbox folder) whose dev:ino was not there before, counted once,
// at its allocated size (st_blocks × 512, as du counts). A hard link of an existing file
// adds no inode and no data; a new folder adds its own block(s) (4 KiB each on ext4).
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { machine, onTidyUp, root, summary, tidyUp } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const now = () => performance.now();
const dist = (file) => import(pathToFileURL(path.join(root, 'apps/server/dist', file)).href);
const [{ createInstaller, INSTALL_UID }, { installManifest }, { preparePackagesFolder, showPackages }, { bubblewrapWorks }, { default: pino }] = await Promise.all([
  dist('packages/installer.js'),
  dist('packages/manifest.js'),
  dist('sessions/drivers/sandbox-packages.js'),
  dist('sessions/drivers/local/bubblewrap.js'),
  import('pino'),
]);
const logger = pino({ level: 'silent' });

// The projects. B is what a three.js video asks for, A's packages included.
const projectA = JSON.parse(await readFile(path.join(root, 'packages/testkit/projects/with-packages/package.json'), 'utf8'));
const projectB = {
  ...projectA,
  name: 'three-scene',
  dependencies: {
    ...projectA.dependencies,
    '@remotion/three': '4.0.527',
    three: '^0.170.0',
    '@react-three/fiber': '^9',
    '@remotion/shapes': '4.0.527',
    '@remotion/paths': '4.0.527',
    '@remotion/noise': '4.0.527',
    'd3-scale': '^4.0.2',
  },
};
const sameDeps = { ...projectB, name: 'another-video', version: '2.0.0', description: 'Another project', scripts: { build: 'remotion bundle', start: 'remotion studio' } };
const EXTRA = ['lodash.kebabcase', '^4.1.1'];
const plusOne = { ...projectB, name: 'third-video', dependencies: { ...projectB.dependencies, [EXTRA[0]]: EXTRA[1] } };
// For the unwalled comparison: another small package (the first one is in the store by then).
const EXTRA_UNWALLED = ['lodash.snakecase', '^4.1.1'];
const plusOther = { ...projectB, name: 'fourth-video', dependencies: { ...projectB.dependencies, [EXTRA_UNWALLED[0]]: EXTRA_UNWALLED[1] } };
/** How many packages and files an install holds, and how many of those files are hard links (of the store's). */
const installCounts = (nodeModules) => {
  const counts = { packages: 0, files: 0, linked: 0 };
  inodes(nodeModules, new Map(), counts);
  return counts;
};
// Peers of B's packages that Cutroom provides (pnpm, auto-install-peers off, leaves them out).
const PEERS = ['react', 'react-dom', 'remotion'];
const json = (value) => `${JSON.stringify(value, null, 2)}\n`;
const directNames = (project) => Object.keys(JSON.parse(installManifest(json(project)).text).dependencies);

/**
 * Every inode under `folder` (not following links): dev:ino → its kind and allocated bytes.
 * `counts`: packages (their package.json), files, and files with other hard links (`linked`).
 */
function inodes(folder, into = new Map(), counts = { packages: 0, files: 0, linked: 0 }) {
  let info;
  try {
    info = lstatSync(folder);
  } catch {
    return into;
  }
  const kind = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'link' : 'file';
  into.set(`${info.dev}:${info.ino}`, { kind, bytes: info.blocks * 512 });
  if (kind === 'dir') for (const entry of readdirSync(folder)) inodes(path.join(folder, entry), into, counts);
  else if (kind === 'file') {
    counts.files += 1;
    if (info.nlink > 1) counts.linked += 1;
    if (/node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(folder)) counts.packages += 1;
  }
  return into;
}
/** What of `after` is not in `before`: bytes (allocated), files, folders, links. */
function added(after, before = new Map()) {
  const sum = { bytes: 0, fileBytes: 0, dirBytes: 0, files: 0, dirs: 0, links: 0 };
  for (const [key, { kind, bytes }] of after) {
    if (before.has(key)) continue;
    sum.bytes += bytes;
    if (kind === 'dir') {
      sum.dirs += 1;
      sum.dirBytes += bytes;
    } else if (kind === 'link') sum.links += 1;
    else {
      sum.files += 1;
      sum.fileBytes += bytes;
    }
  }
  return sum;
}
const free = (folder) => {
  const info = statfsSync(folder);
  return info.bavail * info.bsize;
};
/** Times `task` and measures the disk it adds under `folder` (statfs and new inodes). */
async function measured(folder, task, before = inodes(folder)) {
  const freeBefore = free(folder);
  const started = now();
  const result = await task();
  const ms = now() - started;
  const statfsBytes = freeBefore - free(folder);
  return { result, ms, statfsBytes, ...added(inodes(folder), before) };
}

function npmInstall(cwd, cache) {
  // npm's own variables (`npm run` sets them) stay out: this is a plain install in cwd.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--cache', cache], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output.trim()) : reject(new Error(`npm install in ${cwd} exited ${code}:\n${output.slice(-2_000)}`))));
  });
}

const work = await mkdtemp(path.join(os.tmpdir(), 'cutroom-bench-packages-'));
onTidyUp(() => rm(work, { recursive: true, force: true }));
const walled = bubblewrapWorks();
const asUser = process.getuid?.() === 0 ? `uid ${INSTALL_UID}` : 'the benchmark’s own user';
const startMachine = machine();
console.log(`${RUNS} run(s) in ${work}; installs walled by ${walled ? 'bubblewrap' : 'nothing (bubblewrap does not work here)'}, as ${asUser}`);

const runs = [];
for (let run = 1; run <= RUNS; run++) {
  const dir = path.join(work, `run-${run}`);
  await mkdir(dir);
  const figures = {};
  const installers = {};
  // 1. Cold, A then B, each in a packages folder of its own.
  for (const [label, project] of [['coldA', projectA], ['coldB', projectB]]) {
    const packagesDir = path.join(dir, label);
    await mkdir(packagesDir);
    const installer = createInstaller({ dataDir: packagesDir, packagesDir, logger });
    const cold = await measured(packagesDir, () => installer.install({ packageJson: json(project) }));
    if (!cold.result.ran) throw new Error(`${label}: the cold install did not run pnpm`);
    figures[label] = { ...cold, result: undefined, key: cold.result.key, install: installCounts(cold.result.nodeModules) };
    installers[label] = installer;
  }
  const packagesDir = path.join(dir, 'coldB');
  const installer = installers.coldB;
  // 2. The same dependencies, another package.json: the same key.
  const same = await measured(packagesDir, () => installer.install({ packageJson: json(sameDeps) }));
  if (same.result.ran || same.result.key !== figures.coldB.key) throw new Error('the same dependencies did not reuse the install');
  figures.sameDeps = { ...same, result: undefined };
  // 3. One package more: pnpm runs against the warm store.
  const more = await measured(packagesDir, () => installer.install({ packageJson: json(plusOne) }));
  if (!more.result.ran) throw new Error('one package more did not run pnpm');
  figures.plusOne = { ...more, result: undefined, key: more.result.key, install: installCounts(more.result.nodeModules) };
  // 3b. For comparison, another package more with the wall off (pnpm then runs where the store is on its mount).
  const unwalledInstaller = createInstaller({ dataDir: packagesDir, packagesDir, logger, bubblewrap: false });
  const unwalled = await measured(packagesDir, () => unwalledInstaller.install({ packageJson: json(plusOther) }));
  if (!unwalled.result.ran) throw new Error('the unwalled install did not run pnpm');
  figures.plusOneUnwalled = { ...unwalled, result: undefined, install: installCounts(unwalled.result.nodeModules) };
  // 4. The same-dependencies install shown to a fresh sandbox.
  const sandbox = path.join(dir, 'sandbox');
  await preparePackagesFolder(sandbox);
  const beforeShow = inodes(sandbox, inodes(packagesDir));
  figures.show = { ...(await measured(sandbox, () => showPackages(sandbox, same.result), beforeShow)), result: undefined };
  // 5. npm: cold cache, then warm cache into another folder.
  const npmManifest = JSON.parse(installManifest(json(projectB)).text);
  delete npmManifest.pnpm;
  const cache = path.join(dir, 'npm-cache');
  for (const label of ['npmCold', 'npmWarm']) {
    const folder = path.join(dir, label);
    await mkdir(folder);
    await writeFile(path.join(folder, 'package.json'), json(npmManifest));
    const beforeNpm = inodes(folder);
    const npm = await measured(folder, () => npmInstall(folder, cache), beforeNpm);
    figures[label] = { ...npm, result: undefined, install: installCounts(path.join(folder, 'node_modules')), peers: PEERS.filter((name) => existsSync(path.join(folder, 'node_modules', name))), cacheBytes: added(inodes(cache)).bytes };
  }
  runs.push(figures);
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  console.log(
    `run ${run}: cold A ${(figures.coldA.ms / 1000).toFixed(1)} s, cold B ${(figures.coldB.ms / 1000).toFixed(1)} s (${mb(figures.coldB.bytes)}), same deps ${figures.sameDeps.ms.toFixed(1)} ms, ` +
      `+1 ${(figures.plusOne.ms / 1000).toFixed(2)} s (${mb(figures.plusOne.bytes)}), +1 unwalled ${(figures.plusOneUnwalled.ms / 1000).toFixed(2)} s (${mb(figures.plusOneUnwalled.bytes)}), show ${figures.show.ms.toFixed(0)} ms (${mb(figures.show.bytes)}), ` +
      `npm cold ${(figures.npmCold.ms / 1000).toFixed(1)} s, warm ${(figures.npmWarm.ms / 1000).toFixed(1)} s (${mb(figures.npmWarm.bytes)})`,
  );
  await rm(dir, { recursive: true, force: true });
}

const CASES = ['coldA', 'coldB', 'sameDeps', 'plusOne', 'plusOneUnwalled', 'show', 'npmCold', 'npmWarm'];
const FIELDS = ['ms', 'bytes', 'statfsBytes', 'fileBytes', 'dirBytes', 'files', 'dirs', 'links'];
const results = Object.fromEntries(CASES.map((name) => [name, Object.fromEntries(FIELDS.map((field) => [field, summary(runs.map((figures) => figures[name][field]))]))]));
const figures = {
  date: new Date().toISOString().slice(0, 10),
  machine: startMachine,
  runs: RUNS,
  confinement: walled ? 'bubblewrap' : 'none',
  installUser: asUser,
  projects: { A: directNames(projectA), B: directNames(projectB), extra: EXTRA.join('@'), extraUnwalled: EXTRA_UNWALLED.join('@') },
  installs: Object.fromEntries(['coldA', 'coldB', 'plusOne', 'plusOneUnwalled', 'npmCold'].map((name) => [name, runs[0][name].install])),
  npmCacheBytes: summary(runs.map((figures) => figures.npmCold.cacheBytes)),
  results,
  raw: runs,
};
await writeFile(path.join(root, 'docs/benchmarks-packages.json'), json(figures));

// The section.
const time = (value) => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`);
const size = (value) => (Math.abs(value) >= 1e6 ? `${(value / 1e6).toFixed(1)} MB` : `${(value / 1e3).toFixed(0)} kB`);
const range = (s, format) => (format(s.min) !== format(s.max) ? `${format(s.median)} (${format(s.min)}–${format(s.max)})` : format(s.median));
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
const row = (label, name) => {
  const r = results[name];
  return `| ${label} | ${range(r.ms, time)} | ${range(r.bytes, size)} | ${size(r.fileBytes.median)} in ${plural(r.files.median, 'file')}; ${plural(r.dirs.median, 'folder')} (${size(r.dirBytes.median)}); ${plural(r.links.median, 'symlink')} | ${range(r.statfsBytes, size)} |`;
};
const names = (list) => list.map((name) => `\`${name}\``).join(', ');
const verdict = (label, ms, bytes) => `- ${label}: ${time(ms)}, ${size(bytes)} — ${ms <= 2000 && bytes <= 5e6 ? '**met**' : `**not met** (${[ms > 2000 ? 'time' : '', bytes > 5e6 ? 'disk' : ''].filter(Boolean).join(' and ')})`}.`;
const { sameDeps: same, plusOne: more, show } = results;
const { installs } = figures;
const linkedShare = (name) => `${installs[name].linked} of its ${installs[name].files} files`;
const copies = installs.plusOne.linked < installs.plusOne.files / 2;
const report = `## Project packages

Command: \`npm run build && BENCH_RUNS=${RUNS} npm run bench:packages\` (${RUNS} run${RUNS > 1 ? 's' : ''}, median (min–max); raw figures in
\`docs/benchmarks-packages.json\`). Measured ${figures.date} on a ${figures.machine.cores}-core, ${figures.machine.memoryGiB} GiB machine whose load average was
${figures.machine.loadAverage.join(' / ')} (1, 5, 15 min) when the run started; every case and the npm baseline in one run, each run in
fresh folders under \`${os.tmpdir()}\` (the one ext4 file system here), from the registry npm is configured with (over the network).

The installer (apps/server/src/packages/installer.ts) runs pnpm with \`--ignore-scripts\`, walled by ${figures.confinement === 'bubblewrap' ? 'bubblewrap' : 'nothing (bubblewrap did not work)'}, as
${asUser}, with the registry proxy its one way out, and should hard-link every file of an install from one store. It
installs the reduced manifest (manifest.ts: Remotion, React, zod and tooling come from Cutroom). Project A is
\`packages/testkit/projects/with-packages\` (installs ${names(figures.projects.A)}: ${installs.coldA.packages} packages, dependencies
included); project B adds what a three.js video asks for (installs ${names(figures.projects.B)}:
${installs.coldB.packages} packages). The rows after the cold ones add to project B's packages folder, its store warm.

| | time | disk added (new inodes) | of which | free space lost (statfs) |
|---|---|---|---|---|
${[
  row('Cold store, project A: `install()`', 'coldA'),
  row('Cold store, project B: `install()`', 'coldB'),
  row('Same dependencies, another package.json (same key: reused, pnpm does not run)', 'sameDeps'),
  row(`Same dependencies plus \`${figures.projects.extra}\` (another key: pnpm runs on the warm store)`, 'plusOne'),
  row(`For comparison: plus \`${figures.projects.extraUnwalled}\` with the wall off (\`bubblewrap: false\`)`, 'plusOneUnwalled'),
  row('`showPackages()` of the reused install into a fresh sandbox folder (`cp -al`)', 'show'),
  row("Baseline: `npm install --ignore-scripts --no-audit --no-fund` of B's reduced package.json, cold npm cache", 'npmCold'),
  row('Baseline: the same into a second folder, warm npm cache', 'npmWarm'),
].join('\n')}

Disk added is exact: every file, link and folder under the packages folder (sandbox folder, npm's project folder)
whose inode (dev:ino) was not there before, counted once at its allocated size (st_blocks × 512, as du counts); a
hard link of an existing file adds nothing, a new folder its block (4 KiB). npm's rows count its \`node_modules\`
and lock file, not its cache (${range(figures.npmCacheBytes, size)} after the cold install, which later installs share); npm installs
${installs.npmCold.packages} packages${runs[0].npmCold.peers.length ? `, among them the peers ${names(runs[0].npmCold.peers)}, which Cutroom provides` : ''}. Free space lost is the file system's
\`bavail × bsize\` before minus after: the machine is shared and ext4 allocates ahead, so it is only a cross-check.

Hard links: in the first run, the cold install of B has ${linkedShare('coldB')} hard-linked (to the store), the
install with one package more ${linkedShare('plusOne')}, the one with the wall off ${linkedShare('plusOneUnwalled')}.${
  copies && figures.confinement === 'bubblewrap'
    ? ` Walled, pnpm copies:
the wall binds the job's folder and the store as two mounts, and link(2) does not cross mounts (EXDEV), even of one
file system, so pnpm's \`hardlink\` import falls back to copying. Every new install therefore adds a full copy of its
packages beside the store's, which the wall-off row shows is avoidable.`
    : ''
}

Target (issue 11): a second project with the same dependencies installs in ≤ 2 s and adds ≤ 5 MB of disk (its
install plus its sandbox's view of it; medians):

${verdict('Exactly the same dependencies (reused install + `showPackages`)', same.ms.median + show.ms.median, same.bytes.median + show.bytes.median)}
${verdict('The same plus one small package (pnpm on a warm store + `showPackages`)', more.ms.median + show.ms.median, more.bytes.median + show.bytes.median)}
${verdict('For comparison, the same with the wall off', results.plusOneUnwalled.ms.median + show.ms.median, results.plusOneUnwalled.bytes.median + show.bytes.median)}
`;

const file = path.join(root, 'docs/benchmarks.md');
const current = await readFile(file, 'utf8');
const start = current.indexOf('## Project packages');
let next;
if (start >= 0) {
  const after = current.indexOf('\n## ', start + 1);
  next = current.slice(0, start) + report + (after >= 0 ? current.slice(after) : '');
} else {
  next = `${current.trimEnd()}\n\n${report}`;
}
await writeFile(file, next);
console.log(`\n${report}`);
await tidyUp();
