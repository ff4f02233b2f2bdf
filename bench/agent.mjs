// Benchmark: the time of a chat turn spent outside the model server, Cutroom under each
// sandbox driver (BENCH_DRIVERS, default `local,docker`) against the bare Claude Agent
// SDK, in one run. Writes docs/benchmarks-agent.json and the "Agent" section of
// docs/benchmarks.md.
//
// Every turn is the same scripted exchange (the model writes a file, then answers), so
// two model requests per turn. Overhead = (first model request arrives − message sent)
// + (turn reported complete − the model's last byte). The model server runs in this
// process, so all times are on one clock.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { isTemplateFile, templateProjectDir } from '../packages/template/dist/index.js';
import { startScriptedModelServer } from '../packages/testkit/dist/index.js';
import { benchDrivers, machine, root, signUp, sleep, startCutroom, summary, tidyUp } from './lib.mjs';

const TURNS = Number(process.env.BENCH_TURNS ?? 15);
const WARMUP = 2;
const now = () => performance.timeOrigin + performance.now();
// Before anything of ours runs: how busy the machine already is.
const startedOn = machine();
const { drivers, skipped } = await benchDrivers();

/** The exchange of turn `n`: the file's content names the turn, so every turn is a new version. */
const scenario = (n) => ({
  rules: [
    {
      match: 'Turn (\\d+)',
      steps: [{ tools: [{ tool: 'write', path: 'src/bench.ts', content: `export const turn = ${n};\n` }] }, { text: 'Done.' }],
    },
  ],
});
let turnCounter = 0;
const model = await startScriptedModelServer({ scenario: scenario(0), requireApiKey: 'bench-key' });

/** Overhead of the turn whose model requests are `requests`, sent at `sentAt`, complete at `doneAt`. */
function overhead(requests, sentAt, doneAt) {
  const first = requests[0];
  const last = requests.at(-1);
  const before = first.receivedAt - sentAt;
  const after = doneAt - last.finishedAt;
  return { before, after, total: before + after, requests: requests.length };
}

/** Runs `turn(i)` for warm-up and measured turns; each returns {sentAt, doneAt}. */
async function measure(label, turn) {
  const samples = [];
  for (let i = 0; i < WARMUP + TURNS; i++) {
    model.setScenario(scenario(++turnCounter));
    const firstRequest = model.requests.length;
    const { sentAt, doneAt } = await turn(i);
    const requests = model.requests.slice(firstRequest);
    if (requests.length !== 2 || requests.some((request) => request.finishedAt === undefined)) {
      throw new Error(`${label}: turn ${i} made ${requests.length} model requests`);
    }
    if (i >= WARMUP) samples.push({ ...overhead(requests, sentAt, doneAt), lastByte: requests.at(-1).finishedAt });
    await sleep(100);
  }
  const pick = (key) => summary(samples.map((sample) => sample[key]));
  const result = { total: pick('total'), beforeFirstRequest: pick('before'), afterLastByte: pick('after'), lastBytes: samples.map((sample) => sample.lastByte) };
  console.log(`${label}: median overhead ${result.total.median.toFixed(1)} ms (before ${result.beforeFirstRequest.median.toFixed(1)}, after ${result.afterLastByte.median.toFixed(1)})`);
  return result;
}

async function workingCopy() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-bench-agent-'));
  await cp(templateProjectDir, path.join(dir, 'work'), { recursive: true, filter: (source) => isTemplateFile(path.relative(templateProjectDir, source)) });
  return dir;
}

const sdkOptions = (dir) => ({
  cwd: path.join(dir, 'work'),
  tools: ['Read', 'Write', 'Edit', 'Glob', 'Grep'],
  allowedTools: ['Read', 'Write', 'Edit', 'Glob', 'Grep'],
  permissionMode: 'acceptEdits',
  settingSources: [],
  env: {
    PATH: process.env.PATH,
    HOME: dir,
    CLAUDE_CONFIG_DIR: path.join(dir, 'claude'),
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'bench-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  },
});

/** Baseline 1: one long-lived SDK session fed by streaming input (what Cutroom's runner does). */
async function bareStreaming() {
  const dir = await workingCopy();
  const waiting = [];
  let wake = null;
  async function* input() {
    for (;;) {
      while (waiting.length) yield waiting.shift();
      await new Promise((resolve) => (wake = resolve));
    }
  }
  const q = query({ prompt: input(), options: sdkOptions(dir) });
  let onResult = null;
  void (async () => {
    for await (const message of q) if (message.type === 'result') onResult?.(now());
  })();
  try {
    return await measure('bare SDK, streaming session', async (i) => {
      const done = new Promise((resolve) => (onResult = resolve));
      const sentAt = now();
      waiting.push({ type: 'user', message: { role: 'user', content: `Turn ${i}: write the file` }, parent_tool_use_id: null });
      wake?.();
      return { sentAt, doneAt: await done };
    });
  } finally {
    q.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Baseline 2: a fresh `query()` per turn (a process start each time). */
async function bareFresh() {
  const dir = await workingCopy();
  try {
    return await measure('bare SDK, query() per turn', async (i) => {
      const sentAt = now();
      let doneAt = 0;
      for await (const message of query({ prompt: `Turn ${i}: write the file`, options: sdkOptions(dir) })) {
        if (message.type === 'result') doneAt = now();
      }
      return { sentAt, doneAt };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Cutroom under `driver`: message:send over /ws until agent:complete (with the version committed). */
async function cutroom(driver) {
  const server = await startCutroom({ SANDBOX_DRIVER: driver, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'bench-key', SESSION_POOL_SIZE: '1' });
  try {
    const account = await signUp(server.baseUrl);
    const projectId = await account.createProject('Agent bench');
    const connection = await account.connect();
    // The new project's first thumbnail renders 1.5 s after it was made: measured turns
    // must not share the cores with it (nor with the warm pool refilling after this
    // session took its sandbox). Later thumbnails wait for a pause in the versions, which
    // back-to-back turns never leave.
    const thumbnail = new Promise((resolve) => {
      const onMessage = (data) => {
        if (JSON.parse(String(data)).type === 'thumbnail:ready') {
          connection.socket.off('message', onMessage);
          resolve();
        }
      };
      connection.socket.on('message', onMessage);
    });
    await connection.start(projectId);
    const settled = Date.now() + 60_000;
    await Promise.race([thumbnail, sleep(60_000)]);
    while (server.warmCount() < 2 && Date.now() < settled) await sleep(100);
    await sleep(1_000); // the agent process starts with the session, ahead of the first message
    const listeners = new Set();
    connection.socket.on('message', (data) => {
      const message = JSON.parse(String(data));
      for (const listener of listeners) listener(message);
    });
    let versions = 0;
    const result = await measure(`Cutroom, ${driver} driver`, async (i) => {
      const clientMessageId = `bench-${i}`;
      const done = new Promise((resolve, reject) => {
        const listener = (message) => {
          if (message.type === 'agent:complete') {
            listeners.delete(listener);
            if (message.newVersion) versions++;
            if (message.status === 'done') resolve(now());
            else reject(new Error(`turn ${i} ended ${message.status}`));
          } else if (message.type === 'error') reject(new Error(message.message));
        };
        listeners.add(listener);
      });
      const sentAt = now();
      connection.socket.send(JSON.stringify({ type: 'message:send', text: `Turn ${i}: write the file`, clientMessageId }));
      return { sentAt, doneAt: await done };
    });
    result.newVersions = versions;
    result.confinement = server.confinement();
    // Where the time after the model's last byte goes: to the server's receipt of the
    // runtime's \`complete\`, then saving (commit, messages) until agent:complete.
    const completes = server.log.filter((line) => line.msg === 'turn complete').slice(WARMUP);
    result.serverSave = summary(completes.map((line) => line.saveMs));
    // Where the save's time goes, as the server logs it (see agent/turns.ts).
    const phases = completes.map((line) => line.phases).filter(Boolean);
    if (phases.length) result.savePhases = Object.fromEntries(['readMs', 'commitMs', 'storeMs'].map((key) => [key, summary(phases.map((phase) => phase[key]))]));
    result.completeTimes = completes.map((line) => line.completeAt);
    console.log('server save', result.serverSave);
    result.toServer = summary(result.completeTimes.map((at, index) => at - result.lastBytes[index]));
    console.log('model last byte → server has complete', result.toServer);
    connection.close();
    return result;
  } finally {
    await server.stop();
  }
}

const results = { drivers: {} };
for (const driver of drivers) results.drivers[driver] = await cutroom(driver);
results.bareStreaming = await bareStreaming();
results.bareFresh = await bareFresh();
await model.close();

await writeFile(
  path.join(root, 'docs/benchmarks-agent.json'),
  `${JSON.stringify({ turns: TURNS, date: new Date().toISOString().slice(0, 10), machine: startedOn, drivers, skipped, results }, null, 2)}\n`,
);
const { writeAgentReport } = await import('./agent-report.mjs');
await writeAgentReport();
console.log(await readFile(path.join(root, 'docs/benchmarks.md'), 'utf8').then((text) => text.slice(text.indexOf('## Agent'), text.indexOf('## Agent') + 2_500)));
await tidyUp();
process.exit(0);
