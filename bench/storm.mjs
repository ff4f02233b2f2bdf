// "50 users at once": every user opens a project at the same instant over /ws and, once
// its session is ready, sends one chat message (a scripted model, in this process: write a
// file, then answer "Done.") and waits for the turn to end, while /api/health is timed
// every 100 ms. Run twice in one go: as configured (boots in line, admission by memory)
// and a baseline with every boot at once and no admission. `BENCH_STORM_DRIVER` picks the
// sandbox driver (default local; docker wants DOCKER_HOST and the runtime image);
// `BENCH_STORM_LOG` names a folder to keep each storm's server log in.
// Part of `npm run bench:sessions`; `node bench/storm.mjs` runs this section alone.
// Writes docs/benchmarks-storm.json and the "Under load" section of docs/benchmarks.md.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startScriptedModelServer } from '../packages/testkit/dist/index.js';
import { median, root, sleep, startCutroom, tidyUp } from './lib.mjs';
import { writeStormReport } from './storm-report.mjs';

export const STORM_USERS = Number(process.env.BENCH_STORM_USERS ?? 50);
const STORM_DRIVER = process.env.BENCH_STORM_DRIVER ?? 'local';
/**
 * From session:start to session:ready. The last in line waits for every boot before it:
 * 30 s a user covers boots 20 times slower than on a quiet machine (the last of 50 timed
 * out at 15 minutes on a machine loaded by other jobs), and no less than 15 minutes.
 */
const readyTimeoutMs = (users) => Math.max(15 * 60_000, users * 30_000);
/** From message:send to agent:complete. */
const TURN_TIMEOUT_MS = 5 * 60_000;
const MODEL_KEY = 'storm-key';
/** `BENCH_STORM_LOG`: a folder to write each storm's server log to (JSON lines). */
const LOG_DIR = process.env.BENCH_STORM_LOG;

/** Every user's one turn: write a file (so the turn saves a version), then answer. */
const CHAT_SCENARIO = {
  rules: [{ match: 'Storm user (\\d+)', steps: [{ tools: [{ tool: 'write', path: 'src/storm.ts', content: 'export const storm = true;\n' }] }, { text: 'Done.' }] }],
};

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const stats = (values) => ({ p50: median(values), p95: percentile(values, 95), max: Math.max(...values), n: values.length });

/** Pairs (a, b) where a arrived before b but b was ready first. */
function inversions(order) {
  let count = 0;
  for (let i = 0; i < order.length; i++) for (let j = i + 1; j < order.length; j++) if (order[j] < order[i]) count += 1;
  return count;
}

/**
 * A user of its own: the signup limit counts per address, so each one comes from an
 * address of its own (the server trusts loopback's X-Forwarded-For in this benchmark).
 */
async function newUser(baseUrl, index) {
  const address = `10.77.${Math.floor(index / 250)}.${(index % 250) + 1}`;
  const headers = { origin: baseUrl, 'content-type': 'application/json', 'x-forwarded-for': address };
  const response = await fetch(`${baseUrl}/api/auth/signup`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ email: `storm-${index}-${Math.random().toString(36).slice(2)}@example.com`, password: 'benchmark password', name: `Storm ${index}` }),
  });
  if (response.status !== 201) throw new Error(`signup ${index}: ${response.status} ${await response.text()}`);
  const cookie = response.headers.get('set-cookie').split(';')[0];
  const created = await fetch(`${baseUrl}/api/projects`, { method: 'POST', headers: { ...headers, cookie }, body: JSON.stringify({ name: `Storm ${index}` }) });
  if (created.status !== 201) throw new Error(`project ${index}: ${created.status} ${await created.text()}`);
  const projectId = (await created.json()).project.id;
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`, { headers: { origin: baseUrl, cookie, 'x-forwarded-for': address } });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { index, projectId, socket };
}

/** /api/health every 100 ms (not waiting for the one before), until `stop` is called. */
function sampleHealth(baseUrl) {
  const latencies = [];
  const pending = new Set();
  const timer = setInterval(() => {
    const started = performance.now();
    const request = fetch(`${baseUrl}/api/health`)
      .then((response) => response.arrayBuffer())
      .then(() => latencies.push(performance.now() - started))
      .catch(() => latencies.push(Number.POSITIVE_INFINITY))
      .finally(() => pending.delete(request));
    pending.add(request);
  }, 100);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return latencies;
    },
  };
}

/**
 * One user's storm, from `started`: session:start → session:ready (or an error, or the
 * ready timeout), then message:send → agent:complete (or an error, or the turn timeout).
 * Resolves `done` either way; the figures are in the returned outcome.
 */
function followUser(client, started, readyTimeout) {
  const outcome = { index: client.index, joinedAt: null, readyAt: null, queued: [], error: null, turn: null };
  const clientMessageId = `storm-${client.index}`;
  outcome.done = new Promise((resolve) => {
    let sentAt = null;
    let reply = '';
    const finish = (error) => {
      clearTimeout(timeout);
      client.socket.off('message', onMessage);
      outcome.error ??= error;
      resolve();
    };
    let timeout = setTimeout(() => finish('timed out before ready'), readyTimeout);
    const onMessage = (data) => {
      const message = JSON.parse(String(data));
      const at = performance.now() - started;
      switch (message.type) {
        case 'session:joined':
          outcome.joinedAt ??= at;
          return;
        case 'session:queued':
          outcome.queued.push(message.position);
          return;
        case 'session:ready':
          if (outcome.readyAt !== null) return;
          outcome.readyAt = at;
          clearTimeout(timeout);
          timeout = setTimeout(() => finish('turn timed out'), TURN_TIMEOUT_MS);
          sentAt = performance.now();
          client.socket.send(JSON.stringify({ type: 'message:send', text: `Storm user ${client.index}: write the file`, clientMessageId }));
          return;
        case 'message:saved':
          // The agent's answer; a failed turn's says why.
          if (message.message.role === 'assistant') reply = message.message.content;
          return;
        case 'agent:complete':
          outcome.turn = { ms: performance.now() - sentAt, status: message.status, newVersion: message.newVersion };
          return finish(message.status === 'done' ? null : `turn ${message.status}: ${reply.slice(0, 300)}`);
        case 'session:status':
          if (message.state === 'error') finish(`session: ${message.reason ?? 'error'}`);
          return;
        case 'error':
          // Before ready: the session failed. After: the turn's (or the session's) error.
          return finish(`${sentAt === null ? 'session' : 'turn'} error ${message.code}: ${message.message}`);
      }
    };
    client.socket.on('message', onMessage);
  });
  return outcome;
}

/** One storm against a fresh server: `users` open a project at the same instant, then chat. */
export async function runStorm({ label, users = STORM_USERS, model, environment = {} }) {
  console.error(`  storm "${label}": ${users} users, ${STORM_DRIVER} driver…`);
  const server = await startCutroom({
    SANDBOX_DRIVER: STORM_DRIVER,
    SESSION_POOL_SIZE: '1',
    SESSION_GRACE_MS: '600000',
    SESSION_MAX: String(users + 10),
    TRUSTED_PROXIES: '127.0.0.1',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: MODEL_KEY,
    ...environment,
  });
  try {
    const clients = [];
    for (let i = 0; i < users; i++) clients.push(await newUser(server.baseUrl, i));
    // Let the warm pool fill and the machine settle before the storm.
    for (let i = 0; i < 600 && server.warmCount() < 1; i++) await sleep(100);
    await sleep(3_000);
    const loadBefore = os.loadavg()[0];

    // The same figure before the storm, for scale.
    const calm = sampleHealth(server.baseUrl);
    await sleep(2_000);
    const healthBefore = await calm.stop();

    const health = sampleHealth(server.baseUrl);
    const firstModelRequest = model.requests.length;
    const started = performance.now();
    const outcomes = clients.map((client) => followUser(client, started, readyTimeoutMs(users)));
    // The same instant: every session:start goes out in one synchronous loop.
    for (const client of clients) client.socket.send(JSON.stringify({ type: 'session:start', projectId: client.projectId, protocolVersion: 1 }));
    await Promise.all(outcomes.map((outcome) => outcome.done));
    const allDoneMs = performance.now() - started;
    const latencies = await health.stop();

    const ready = outcomes.filter((outcome) => outcome.readyAt !== null);
    const turns = outcomes.filter((outcome) => outcome.turn?.status === 'done');
    // Arrival order is the order the server answered session:start (session:joined).
    const byArrival = [...ready].sort((a, b) => a.joinedAt - b.joinedAt);
    const readyRank = new Map([...ready].sort((a, b) => a.readyAt - b.readyAt).map((outcome, rank) => [outcome, rank]));
    const result = {
      label,
      users,
      driver: STORM_DRIVER,
      confinement: server.confinement(),
      environment,
      loadAverageBefore: Number(loadBefore.toFixed(2)),
      healthCalmMs: stats(healthBefore),
      healthMs: stats(latencies),
      healthOver200Ms: latencies.filter((value) => value > 200).length,
      /** No answer at all (the client gave up: undici's connect or headers timeout). */
      healthFailed: latencies.filter((value) => !Number.isFinite(value)).length,
      sessionReadyMs: stats(ready.map((outcome) => outcome.readyAt)),
      allDoneMs,
      readyTimeoutMs: readyTimeoutMs(users),
      failed: outcomes.filter((outcome) => outcome.readyAt === null).map((outcome) => ({ index: outcome.index, error: outcome.error })),
      turnsCompleted: turns.length,
      turnErrors: ready.filter((outcome) => outcome.turn?.status !== 'done').map((outcome) => ({ index: outcome.index, error: outcome.error })),
      turnMs: stats(turns.map((outcome) => outcome.turn.ms)),
      newVersions: turns.filter((outcome) => outcome.turn.newVersion).length,
      modelRequests: model.requests.length - firstModelRequest,
      inversions: inversions(byArrival.map((outcome) => readyRank.get(outcome))),
      pairs: (ready.length * (ready.length - 1)) / 2,
      toldTheirPlace: outcomes.filter((outcome) => outcome.queued.length > 0).length,
      longestLine: Math.max(0, ...outcomes.flatMap((outcome) => outcome.queued)),
      memoryHolds: server.log.filter((line) => line.msg === 'not enough memory for another sandbox: boots wait').length,
      // Why sessions or turns failed, as the server logged it (the first few distinct reasons).
      serverErrors: [...new Set(server.log.filter((line) => line.level >= 50).map((line) => `${line.msg}: ${line.err?.message ?? ''}`.slice(0, 300)))].slice(0, 10),
    };
    console.error(
      `    health p50 ${Math.round(result.healthMs.p50)} ms, p95 ${Math.round(result.healthMs.p95)} ms, max ${Math.round(result.healthMs.max)} ms; ` +
        `ready median ${(result.sessionReadyMs.p50 / 1000).toFixed(1)} s, p95 ${(result.sessionReadyMs.p95 / 1000).toFixed(1)} s; ` +
        `${result.inversions} of ${result.pairs} pairs out of order; ${result.failed.length} failed; ` +
        `${result.turnsCompleted} turns done (median ${(result.turnMs.p50 / 1000).toFixed(1)} s, p95 ${(result.turnMs.p95 / 1000).toFixed(1)} s), ${result.turnErrors.length} turn errors`,
    );
    for (const client of clients) client.socket.close();
    return result;
  } finally {
    await server.stop();
    // Every line the server logged, to read why sessions or turns failed.
    if (LOG_DIR) await writeFile(path.join(LOG_DIR, `storm-${label.replace(/\W+/g, '-')}.log`), server.log.map((line) => JSON.stringify(line)).join('\n'));
  }
}

/** Both storms, one after the other, and the report. */
export async function runStorms() {
  console.error(`Cutroom, ${STORM_USERS} users at once…`);
  const model = await startScriptedModelServer({ scenario: CHAT_SCENARIO, requireApiKey: MODEL_KEY });
  let results;
  try {
    const bounded = await runStorm({ label: 'in line', model, environment: { SANDBOX_BOOT_CONCURRENCY: '2', SANDBOX_ADMIT_MB: '250' } });
    await sleep(10_000);
    const unbounded = await runStorm({ label: 'all at once', model, environment: { SANDBOX_BOOT_CONCURRENCY: '64', SANDBOX_ADMIT_MB: '0' } });
    results = { bounded, unbounded };
  } finally {
    await model.close();
  }
  await writeFile(
    path.join(root, 'docs/benchmarks-storm.json'),
    `${JSON.stringify({ date: new Date().toISOString().slice(0, 10), cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 1024 ** 3), ...(process.env.BENCH_STORM_NOTE ? { note: process.env.BENCH_STORM_NOTE } : {}), results }, null, 2)}\n`,
  );
  await writeStormReport();
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // Built server required, as for the rest of bench:sessions.
  await readFile(path.join(root, 'apps/server/dist/main.js'));
  console.log(JSON.stringify(await runStorms(), null, 2));
  await tidyUp();
}
