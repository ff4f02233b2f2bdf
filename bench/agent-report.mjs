// Writes the "Agent" section of docs/benchmarks.md from docs/benchmarks-agent.json
// (run by bench/agent.mjs; `node bench/agent-report.mjs` rewrites it alone): a row and a
// verdict on the overhead target per sandbox driver, computed from the figures.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ms = (value) => `${value.toFixed(1)} ms`;
const range = (summary) => `${ms(summary.median)} (${ms(summary.min)}–${ms(summary.max)})`;

export async function writeAgentReport() {
  const figures = JSON.parse(await readFile(path.join(root, 'docs/benchmarks-agent.json'), 'utf8'));
  if (!figures.results?.drivers) throw new Error('docs/benchmarks-agent.json has no figures per driver: rerun `npm run bench:agent`');
  const { turns, date, machine, drivers, skipped, results } = figures;
  const { bareStreaming, bareFresh } = results;
  const row = (label, result) =>
    `| ${label} | ${range(result.total)} | ${ms(result.beforeFirstRequest.median)} | ${ms(result.afterLastByte.median)} |`;
  const cutroomRows = drivers.map((name) => row(`Cutroom, \`${name}\` driver, ${results.drivers[name].confinement} (runtime, bridge, model proxy, commit, store)`, results.drivers[name]));
  const verdicts = drivers.map((name) => {
    const { total, newVersions } = results.drivers[name];
    return `- \`${name}\`: ${ms(total.median)} — ${total.median <= 100 ? '**met**' : '**not met**'} (${newVersions} of its ${turns + 2} turns, warm-up included, made a new version).`;
  });
  const notMeasured = Object.entries(skipped).map(([name, reason]) => `- \`${name}\`: not measured: ${reason}.`);
  const report = `## Agent

Command: \`npm run build && BENCH_DRIVERS=${[...drivers, ...Object.keys(skipped)].join(',')} BENCH_TURNS=${turns} npm run bench:agent\` (${turns} measured turns each, after
2 warm-up turns; raw figures in \`docs/benchmarks-agent.json\`). Measured ${date} on a ${machine.cores}-core, ${machine.memoryGiB} GiB machine
whose load average was ${machine.loadAverage.join(' / ')} (1, 5, 15 min) when the run started; every driver and both
baselines in one run.

Every turn is the same scripted exchange with the scripted model server (packages/testkit), which runs in the
benchmark's process: the model writes \`src/bench.ts\` (new content each turn), then answers "Done." — two model
requests per turn. Overhead = (first model request arrives − message sent) + (turn reported complete − the model's
last byte). For Cutroom "sent" is \`message:send\` on /ws and "complete" is \`agent:complete\`, after the user message
was saved, the turn streamed through the runtime's bridge (the agent runs in the sandbox, under each driver), the
working copy was committed as a new version and the assistant message saved. For the bare SDK it is pushing the
message into the session and its \`result\` message. Cutroom's turns start once the new project's first thumbnail
is rendered and the warm pool has refilled (neither shares the cores with a measured turn); later thumbnails wait
for a pause in the versions, which back-to-back turns never leave.

| | overhead per turn, median (min–max) | before the first request | after the last byte |
|---|---|---|---|
${[...cutroomRows, row('bare SDK, one streaming session', bareStreaming), row('bare SDK, a fresh `query()` per turn', bareFresh)].join('\n')}

Target: median overhead ≤ 100 ms per turn, under every driver (the bare streaming session alone is
${ms(bareStreaming.total.median)}, a fresh \`query()\` per turn ${ms(bareFresh.total.median)}):

${[...verdicts, ...notMeasured].join('\n')}
`;
  const file = path.join(root, 'docs/benchmarks.md');
  const current = await readFile(file, 'utf8');
  const start = current.indexOf('## Agent');
  let next;
  if (start >= 0) {
    const after = current.indexOf('\n## ', start + 1);
    next = current.slice(0, start) + report + (after >= 0 ? current.slice(after) : '');
  } else {
    next = `${current.trimEnd()}\n\n${report}`;
  }
  await writeFile(file, next);
}

if (import.meta.url === `file://${process.argv[1]}`) await writeAgentReport();
