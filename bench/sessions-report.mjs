// Writes the "Sessions" section of docs/benchmarks.md from docs/benchmarks-sessions.json
// (run by bench/sessions.mjs; `node bench/sessions-report.mjs` rewrites it alone).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ms = (value) => `${Math.round(value)} ms`;
const s = (value) => `${(value / 1000).toFixed(2)} s`;
const range = (summary, format) => `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`;
const verdict = (met) => (met ? '**met**' : '**not met**');

export async function writeSessionsReport() {
  const { runs, concurrent, date, results } = JSON.parse(await readFile(path.join(root, 'docs/benchmarks-sessions.json'), 'utf8'));
  const { bareVite, studio, cutroom, concurrency } = results;
  const last = concurrency.steps.at(-1);
  const warmBrowser = cutroom.warmStart.median - cutroom.warmSessionReady.median;
  const reloadRatio = cutroom.hotReload.median / bareVite.hotReload.median;
  const studioRatio = studio.hotReload.median / cutroom.hotReload.median;
  const report = `## Sessions

Command: \`npm run build && npm run bench:sessions\` (runs: ${runs}; concurrent sessions: ${concurrent}; raw figures in
\`docs/benchmarks-sessions.json\`). Measured ${date} on this project's 2-core, 24 GiB machine, everything in one run.

- "First frame": from the request (Cutroom: \`session:start\` on /ws; the others: spawning their process) until the
  composition's title is in the DOM of a fresh headless Chromium page. Cutroom's figure also says when
  \`session:ready\` arrived: the rest is the browser loading the Player page through the preview proxy.
- "Hot reload": from writing a new title into \`TitleScene.tsx\` until it is in the DOM (Cutroom: through the proxy).
- Memory: the process tree after 5 s idle. PSS shares the pages that processes share (node, libraries) fairly
  between them; RSS counts them in full for each.

| | start to first frame, median (min–max) | hot reload, median (min–max) | idle memory, RSS / PSS |
|---|---|---|---|
| Cutroom, warm pool | ${range(cutroom.warmStart, s)}; \`session:ready\` after ${ms(cutroom.warmSessionReady.median)} | ${range(cutroom.hotReload, ms)} | ${cutroom.idleMemory.rssMiB} / ${cutroom.idleMemory.pssMiB} MiB |
| Cutroom, cold (no pool) | ${range(cutroom.coldStart, s)}; \`session:ready\` after ${ms(cutroom.coldSessionReady.median)} | (same runtime) | (same runtime) |
| bare Vite + \`<Player>\` | ${range(bareVite.start, s)} | ${range(bareVite.hotReload, ms)} | ${bareVite.idleMemory.rssMiB} / ${bareVite.idleMemory.pssMiB} MiB |
| Remotion Studio | ${range(studio.start, s)} | ${range(studio.hotReload, ms)} | ${studio.idleMemory.rssMiB} / ${studio.idleMemory.pssMiB} MiB |

Concurrent sessions, each a live runtime; with all of them running, the first one's hot reload is measured:

| sessions | per session RSS | per session PSS | memory still available on the machine |
|---|---|---|---|
${concurrency.steps.map((step) => `| ${step.sessions} | ${step.perSessionRssMiB} MiB | ${step.perSessionPssMiB} MiB | ${step.machineAvailableMiB} MiB |`).join('\n')}

With ${last.sessions} sessions running the active one hot-reloads in ${range(concurrency.activeHotReload, ms)}.

### Against the targets

- Hot reload within 1.2× of bare Vite: ${reloadRatio.toFixed(2)}× — ${verdict(reloadRatio <= 1.2)}.
- Hot reload at least 5× faster than Studio: ${studioRatio.toFixed(1)}× — ${verdict(studioRatio >= 5)}.
- 40 or more concurrent sessions at ≤ 150 MB each, the active one still quick: ${last.sessions} sessions at ${last.perSessionPssMiB} MiB PSS
  (${last.perSessionRssMiB} MiB RSS) each, hot reload ${ms(concurrency.activeHotReload.median)} — ${verdict(last.sessions >= 40 && last.perSessionPssMiB <= 150)}
  (by PSS; by RSS, which counts shared pages once per process, not).
- Start to first frame ≤ 0.3 s from the warm pool: ${s(cutroom.warmStart.median)} — ${verdict(cutroom.warmStart.median <= 300)}.
  Cutroom's own part, up to \`session:ready\`, is ${ms(cutroom.warmSessionReady.median)}; the remaining ${s(warmBrowser)} is the browser
  loading a Vite dev page with React, Remotion and the Player in development builds, which bare Vite pays
  too (its ${s(bareVite.start.median)} includes starting its process).
- Start to first frame ≤ 1.5 s cold: ${s(cutroom.coldStart.median)} — ${verdict(cutroom.coldStart.median <= 1500)}. The runtime runs with
  \`--optimize-for-size\` (about 50 MiB less per session), which slows its own start; the warm pool hides that.
`;
  const file = path.join(root, 'docs/benchmarks.md');
  const existing = await readFile(file, 'utf8').catch(() => '# Benchmarks\n\nEach section is written by its benchmark; rerun the command to refresh it.\n');
  const kept = existing.split(/\n(?=## )/).filter((section) => !section.startsWith('## Sessions'));
  await writeFile(file, `${[...kept.map((section) => section.trimEnd()), report.trimEnd()].join('\n\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await writeSessionsReport();
