// Writes the "Sessions" section of docs/benchmarks.md from docs/benchmarks-sessions.json
// (run by bench/sessions.mjs; `node bench/sessions-report.mjs` rewrites it alone): the
// baselines, then one table and one "against the targets" list per sandbox driver, each
// verdict computed from the figures.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ms = (value) => `${Math.round(value)} ms`;
const s = (value) => `${(value / 1000).toFixed(2)} s`;
const range = (summary, format) => `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const verdict = (met) => (met ? '**met**' : '**not met**');
const memory = (figures) => `${figures.rssMiB} / ${figures.pssMiB} MiB`;

/** The targets of issue 10 (and the earlier first-frame ones), for one driver. */
function targets(figures, { bareVite, studio }) {
  const { warmSessionReady, coldSessionReady, warmStart, coldStart, hotReload, idleMemory, concurrency } = figures;
  const last = concurrency.steps.at(-1);
  const reloadRatio = hotReload.median / bareVite.hotReload.median;
  const studioRatio = studio.hotReload.median / hotReload.median;
  const activeRatio = concurrency.activeHotReload.median / bareVite.hotReload.median;
  return `- \`session:ready\` from the warm pool ≤ 0.5 s: ${s(warmSessionReady.median)} — ${verdict(warmSessionReady.median <= 500)}.
- Cold start (\`session:ready\` with no warm pool) ≤ 1.5 s: ${s(coldSessionReady.median)} — ${verdict(coldSessionReady.median <= 1500)}.
- Hot reload through the socket and the proxy within 1.2× of bare Vite: ${reloadRatio.toFixed(2)}× — ${verdict(reloadRatio <= 1.2)}.
- Hot reload at least 5× faster than Studio: ${studioRatio.toFixed(1)}× — ${verdict(studioRatio >= 5)}.
- Memory of an idle session ≤ 150 MiB PSS: ${idleMemory.pssMiB} MiB — ${verdict(idleMemory.pssMiB <= 150)}.
- 40 or more concurrent sessions at ≤ 150 MiB PSS each, the active one still hot-reloading: ${last.sessions} sessions at
  ${last.perSessionPssMiB} MiB PSS (${last.perSessionRssMiB} MiB RSS) each, the active one's hot reload ${ms(concurrency.activeHotReload.median)}
  (${activeRatio.toFixed(2)}× bare Vite) — ${verdict(last.sessions >= 40 && last.perSessionPssMiB <= 150)}.
- Start to first frame from the warm pool at most bare Vite's in the same run (issue 11): ${s(warmStart.median)} against
  ${s(bareVite.start.median)} (${(warmStart.median / bareVite.start.median).toFixed(2)}×) — ${verdict(warmStart.median <= bareVite.start.median)}.
- Start to first frame ≤ 0.3 s from the warm pool (the earlier target): ${s(warmStart.median)} — ${verdict(warmStart.median <= 300)};
  after \`session:ready\`, ${s(warmStart.median - warmSessionReady.median)} is the browser loading the Player page.
- Start to first frame ≤ 1.5 s cold (the earlier target): ${s(coldStart.median)} — ${verdict(coldStart.median <= 1500)}.`;
}

/** One row of "where the first frame's time goes": the median of each phase. */
function phaseRow(label, phases, start) {
  const p = (key) => ms(phases[key].median);
  return `| ${label} | ${p('up')} | ${p('link')} | ${p('html')} | ${p('modules')} (${Math.round(phases.moduleCount.median)}) | ${p('run')} | ${range(start, s)} |`;
}

function phasesTable(results, drivers) {
  return `| | until up | link | page's HTML | its modules (how many) | running them | start to first frame |
|---|---|---|---|---|---|---|
${phaseRow('bare Vite + `<Player>`', results.bareVite.phases, results.bareVite.start)}
${drivers
  .flatMap((name) => [
    phaseRow(`Cutroom \`${name}\`, from the warm pool`, results.drivers[name].warmPhases, results.drivers[name].warmStart),
    phaseRow(`Cutroom \`${name}\`, cold`, results.drivers[name].coldPhases, results.drivers[name].coldStart),
  ])
  .join('\n')}`;
}

function driverSection(name, figures, baselines) {
  const { idleMemory, concurrency } = figures;
  const engine = idleMemory.engine ? `; besides, the engine's shim for it: ${memory(idleMemory.engine)}` : '';
  return `### Driver \`${name}\` (confinement: ${figures.confinement})

| | median (min–max) |
|---|---|
| \`session:ready\` from the warm pool | ${range(figures.warmSessionReady, ms)} |
| start to first frame from the warm pool | ${range(figures.warmStart, s)} |
| \`session:ready\` cold (no warm pool) | ${range(figures.coldSessionReady, ms)} |
| start to first frame cold | ${range(figures.coldStart, s)} |
| hot reload through the proxy | ${range(figures.hotReload, ms)} |
| idle memory of one session, RSS / PSS | ${memory(idleMemory)} (${idleMemory.processes} processes${engine}) |

Concurrent sessions, each a live sandbox; with all of them running, the first one's hot reload is measured:

| sessions | per session RSS | per session PSS | memory still available on the machine |
|---|---|---|---|
${concurrency.steps.map((step) => `| ${step.sessions} | ${step.perSessionRssMiB} MiB | ${step.perSessionPssMiB} MiB | ${step.machineAvailableMiB} MiB |`).join('\n')}

With ${concurrency.steps.at(-1).sessions} sessions running the active one hot-reloads in ${range(concurrency.activeHotReload, ms)}.

Against the targets (\`${name}\`):

${targets(figures, baselines)}`;
}

export async function writeSessionsReport() {
  const figures = JSON.parse(await readFile(path.join(root, 'docs/benchmarks-sessions.json'), 'utf8'));
  if (!figures.results?.drivers) throw new Error('docs/benchmarks-sessions.json has no figures per driver: rerun `npm run bench:sessions`');
  const { runs, concurrent, date, machine, drivers, skipped, results } = figures;
  const { bareVite, studio } = results;
  const asked = [...drivers, ...Object.keys(skipped)];
  const notMeasured = Object.entries(skipped).map(([name, reason]) => `### Driver \`${name}\`: not measured\n\nSkipped: ${reason}.`);
  const report = `## Sessions

Command: \`npm run build && BENCH_DRIVERS=${asked.join(',')} BENCH_RUNS=${runs} BENCH_CONCURRENT=${concurrent} npm run bench:sessions\`
(raw figures in \`docs/benchmarks-sessions.json\`). Measured ${date} on a ${machine.cores}-core, ${machine.memoryGiB} GiB machine whose load
average was ${machine.loadAverage.join(' / ')} (1, 5, 15 min) when the run started; the baselines and every driver in
one run, one driver after the other, each with servers of its own (\`SANDBOX_DRIVER=<driver>\`).

- "\`session:ready\`": from \`session:start\` on /ws until \`session:ready\` arrives: Cutroom's own part of a start
  (from the warm pool, or cold: the driver starting a sandbox, for \`docker\` a container, and its runtime). A warm-pool
  sandbox warms its preview (the pre-bundled packages transformed) before it is ready; a cold one is ready as soon as it
  serves and warms while the session hands it the project (\`RUNTIME_WARM\`, see \`sessions/drivers/driver.ts\`).
- "First frame": from the request (Cutroom: \`session:start\`; the others: spawning their process) until the
  composition's title is in the DOM of a fresh headless Chromium page (its own context: nothing cached). After
  \`session:ready\` it is the browser loading a Vite dev page with React, Remotion and the Player in development
  builds through the preview proxy, which bare Vite pays too (its figure includes starting its process). The page
  itself notes the moment (a MutationObserver, \`watchedPage\` in \`bench/lib.mjs\`): Playwright's \`waitFor\` polls
  with a backoff of up to 500 ms, which had added up to half a second to each figure, most to Cutroom's, whose link
  navigates once (the bootstrap page) before the page that draws.
- "Hot reload": from writing a new title into \`TitleScene.tsx\` until it is in the DOM (Cutroom: written into the
  sandbox's working copy on this machine, served through its socket and the preview proxy).
- Memory: the process tree after 5 s idle: for \`local\` the sandbox's child process and everything under it, for
  \`docker\` the container's init and everything under it (processes of this machine, where the engine runs); the
  engine's own shim per container is given apart. PSS shares the pages that processes share (node, libraries)
  fairly between them; RSS counts them in full for each: a lone container's runtime shares its image's \`node\`
  (about 43 MiB touched) with nothing, so its PSS is its RSS. Runtimes run with \`--optimize-for-size\` (about 50 MiB
  less per session, for a slower start that the warm pool hides) and with Rolldown's allocator giving memory back at
  once (60–90 MiB less; \`sessions/drivers/runtime-process.ts\`).

### Baselines

| | start to first frame, median (min–max) | hot reload, median (min–max) | idle memory, RSS / PSS |
|---|---|---|---|
| bare Vite + \`<Player>\` | ${range(bareVite.start, s)} | ${range(bareVite.hotReload, ms)} | ${memory(bareVite.idleMemory)} |
| Remotion Studio | ${range(studio.start, s)} | ${range(studio.hotReload, ms)} | ${memory(studio.idleMemory)} |

### Where the first frame's time goes

Medians of each phase (they need not add up to the median of the whole), from the page's Navigation and Resource
Timing: until up (bare Vite: its process listening; Cutroom: \`session:ready\`), the link (Cutroom: the bootstrap page
and the grant that set the preview cookie, until the document that draws starts loading; bare Vite: the browser
starting the navigation), that document's HTML, its scripts and modules (the last one's arrival), and running them
(React, the project's Root, the Player) until the title is in the DOM.

${phasesTable(results, drivers)}

${[...drivers.map((name) => driverSection(name, results.drivers[name], { bareVite, studio })), ...notMeasured].join('\n\n')}

The agent's overhead per turn, per driver, is in "Agent" (\`npm run bench:agent\`).
`;
  const file = path.join(root, 'docs/benchmarks.md');
  const existing = await readFile(file, 'utf8').catch(() => '# Benchmarks\n\nEach section is written by its benchmark; rerun the command to refresh it.\n');
  // In its place when the file has it, else at the end.
  const sections = existing.split(/\n(?=## )/).map((section) => section.trimEnd());
  const at = sections.findIndex((section) => section.startsWith('## Sessions'));
  if (at >= 0) sections[at] = report.trimEnd();
  else sections.push(report.trimEnd());
  await writeFile(file, `${sections.join('\n\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await writeSessionsReport();
