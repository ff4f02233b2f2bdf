// Writes the "Under load" section of docs/benchmarks.md from docs/benchmarks-storm.json
// (run by bench/storm.mjs; `node bench/storm-report.mjs` rewrites it alone).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ms = (value) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'failed');
const s = (value) => `${(value / 1000).toFixed(1)} s`;
const verdict = (met) => (met ? '**met**' : '**not met**');

export async function writeStormReport() {
  const { date, cpus, memoryGiB, results, note = '' } = JSON.parse(await readFile(path.join(root, 'docs/benchmarks-storm.json'), 'utf8'));
  const { bounded, unbounded } = results;
  const row = (run, what) =>
    `| ${what} | ${ms(run.healthMs.p50)} / ${ms(run.healthMs.p95)} / ${ms(run.healthMs.max)} | ${run.healthOver200Ms} of ${run.healthMs.n}${run.healthFailed ? ` (${run.healthFailed} no answer)` : ''} | ${run.sessionReadyMs.n ? `${s(run.sessionReadyMs.p50)} / ${s(run.sessionReadyMs.p95)}` : 'none ready'} | ${run.inversions} of ${run.pairs} | ${run.toldTheirPlace} (longest line ${run.longestLine}) | ${run.failed.length} | ${run.turnsCompleted} / ${run.turnErrors.length} | ${run.turnMs.n ? `${s(run.turnMs.p50)} / ${s(run.turnMs.p95)}` : 'none'} | ${s(run.allDoneMs)} |`;
  const report = `## Under load: ${bounded.users} users at once

Command: \`npm run build && npm run bench:sessions\` (this section alone: \`npm run build && node bench/storm.mjs\`;
\`BENCH_STORM_USERS\` changes the number of users, \`BENCH_STORM_DRIVER\` the sandbox driver). Raw figures in
\`docs/benchmarks-storm.json\`. Measured ${date} on this project's ${cpus}-core, ${memoryGiB} GiB machine with the
${bounded.driver} driver (confinement: ${bounded.confinement}), both rows in the same run, each against a fresh server (warm pool of 1, as by default).

${bounded.users} users sign up, each makes a project and opens /ws; then every one of them sends \`session:start\` in the
same instant, and once its session is ready sends one chat message (\`message:send\`) and waits for the turn to end
(\`agent:complete\`). The model is the scripted model server of \`packages/testkit\`, in the benchmark's process: each
turn writes a file, then answers "Done.", so two model requests and a new version per turn. Meanwhile
\`/api/health\` is requested every 100 ms (without waiting for the one before), from the first \`session:start\` to
the last turn's end. "Ready" is from \`session:start\` to \`session:ready\`; arrival order is the order the server
answered \`session:start\`, and a pair is out of order when the later arrival was ready first. A turn is from
\`message:send\` to \`agent:complete\`.

| | \`/api/health\` p50 / p95 / max | health over 200 ms or no answer | ready median / p95 | pairs out of order | told their place | sessions failed | turns done / failed | turn median / p95 | storm over after |
|---|---|---|---|---|---|---|---|---|---|
${row(bounded, `in line (\`SANDBOX_BOOT_CONCURRENCY=2\`, \`SANDBOX_ADMIT_MB=250\`)`)}
${row(unbounded, `all at once (\`SANDBOX_BOOT_CONCURRENCY=64\`, \`SANDBOX_ADMIT_MB=0\`)`)}

Before the storm \`/api/health\` answered in ${ms(bounded.healthCalmMs.p50)} (p50; load average ${bounded.loadAverageBefore} then).
Admission held the line for memory ${bounded.memoryHolds} times.

- \`/api/health\` p95 under 200 ms with ${bounded.users} users arriving at once: ${ms(bounded.healthMs.p95)} — ${verdict(bounded.healthMs.p95 < 200)}
  (all at once: ${ms(unbounded.healthMs.p95)}).
- Sessions ready in arrival order: ${bounded.inversions} of ${bounded.pairs} pairs out of order — ${verdict(bounded.inversions <= bounded.users)}
  (all at once: ${unbounded.inversions} of ${unbounded.pairs}). Met means at most one overtaking per user: with two boots
  at a time, a later arrival can overtake only the boot beside it.
- Every session ready, none failed: ${bounded.failed.length} failed in line, ${unbounded.failed.length} all at once — ${verdict(bounded.failed.length === 0)}.
- Every turn completed with no error: ${bounded.turnsCompleted} of ${bounded.users} in line, ${unbounded.turnsCompleted} of ${unbounded.users} all at once — ${verdict(bounded.turnsCompleted === bounded.users)}.
${note ? `\n${note.trim()}\n` : ''}`;
  const file = path.join(root, 'docs/benchmarks.md');
  const existing = await readFile(file, 'utf8').catch(() => '# Benchmarks\n\nEach section is written by its benchmark; rerun the command to refresh it.\n');
  const kept = existing.split(/\n(?=## )/).filter((section) => !section.startsWith('## Under load'));
  await writeFile(file, `${[...kept.map((section) => section.trimEnd()), report.trimEnd()].join('\n\n')}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await writeStormReport();
