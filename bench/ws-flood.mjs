// Benchmark: /api/health latency while hostile clients flood /ws, against a baseline with
// no flood, in one run on one server. Each flooder sends small frames that earn an error
// reply, never reads (its socket is paused), and reconnects as soon as it is closed, so the
// pressure lasts the whole phase. Flooders run in worker threads, so that their sending
// does not delay this thread's health checks. Prints the figures; asserts nothing.
//
//   npm run build && npm run bench:ws-flood       (BENCH_FLOODERS=4, BENCH_SECONDS=10)
import { readFile } from 'node:fs/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

const FLOODERS = Number(process.env.BENCH_FLOODERS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** CPU time the process has used, in ms (user + system, from /proc). */
async function cpuMs(pid) {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** The process's peak resident memory so far, in MiB (VmHWM, from /proc). */
async function peakRssMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmHWM:\s+(\d+)/m.exec(status)[1]) / 1024);
}

/** Calls /api/health one after another for `seconds`; latencies in ms (a failed call counts as its time, and as a failure). */
async function sampleHealth(baseUrl, seconds) {
  const latencies = [];
  let failures = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const started = performance.now();
    try {
      const response = await fetch(`${baseUrl}/api/health`, { signal: AbortSignal.timeout(30_000) });
      await response.arrayBuffer();
      if (!response.ok) failures++;
    } catch {
      failures++;
    }
    latencies.push(performance.now() - started);
    await sleep(20);
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return { calls: sorted.length, failures, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) };
}

/** One flooder (in a worker thread): connect, never read, send until closed, reconnect; until told to stop. */
async function flood({ baseUrl, cookie }) {
  const counters = { frames: 0, connections: 0, closes: {} };
  let stopped = false;
  parentPort.once('message', () => {
    stopped = true;
    socket?.terminate();
  });
  let socket;
  const frame = JSON.stringify({ type: 'nope' });
  const run = async () => {
    while (!stopped) {
      socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`, { headers: { origin: baseUrl, cookie } });
      socket.on('error', () => {});
      const closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
      const opened = await Promise.race([new Promise((resolve) => socket.once('open', () => resolve(true))), closed.then(() => false)]);
      if (!opened) continue;
      socket.pause();
      counters.connections++;
      let open = true;
      void closed.then((code) => {
        open = false;
        counters.closes[code] = (counters.closes[code] ?? 0) + 1;
      });
      while (open && !stopped) {
        for (let index = 0; index < 500; index++) socket.send(frame);
        counters.frames += 500;
        // Yield, and keep this side's own buffer bounded.
        await sleep(socket.bufferedAmount > 4 * 1024 * 1024 ? 10 : 0);
      }
      socket.terminate();
      await closed;
    }
  };
  await run();
  parentPort.postMessage(counters);
}

/** Starts a flooder thread; the function it returns stops it and resolves with its counts. */
function startFlooder(baseUrl, cookie) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { baseUrl, cookie } });
  const counts = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return async () => {
    worker.postMessage('stop');
    const result = await counts;
    await worker.terminate();
    return result;
  };
}

async function main() {
  const { signUp, startCutroom } = await import('./lib.mjs');
  const server = await startCutroom({ SESSION_POOL_SIZE: '0' });
  try {
    const { cookie } = await signUp(server.baseUrl);
    await sampleHealth(server.baseUrl, 1); // warm up

    let cpuBefore = await cpuMs(server.child.pid);
    const baseline = await sampleHealth(server.baseUrl, SECONDS);
    baseline.cpuMs = (await cpuMs(server.child.pid)) - cpuBefore;
    baseline.peakRss = await peakRssMiB(server.child.pid);

    const stops = Array.from({ length: FLOODERS }, () => startFlooder(server.baseUrl, cookie));
    await sleep(500);
    cpuBefore = await cpuMs(server.child.pid);
    const flooded = await sampleHealth(server.baseUrl, SECONDS);
    flooded.cpuMs = (await cpuMs(server.child.pid)) - cpuBefore;
    flooded.peakRss = await peakRssMiB(server.child.pid);
    const counters = { frames: 0, connections: 0, closes: {} };
    for (const counts of await Promise.all(stops.map((stop) => stop()))) {
      counters.frames += counts.frames;
      counters.connections += counts.connections;
      for (const [code, count] of Object.entries(counts.closes)) counters.closes[code] = (counters.closes[code] ?? 0) + count;
    }

    const row = (name, figures) =>
      `${name.padEnd(22)} ${String(figures.calls).padStart(6)} ${String(figures.failures).padStart(9)} ${figures.p50.toFixed(1).padStart(9)} ${figures.p95.toFixed(1).padStart(9)} ${figures.max.toFixed(1).padStart(9)} ${String(Math.round(figures.cpuMs)).padStart(14)} ${String(figures.peakRss).padStart(14)}`;
    console.log(`/api/health latency (ms), ${SECONDS} s each, ${FLOODERS} flooding clients`);
    console.log(`${'phase'.padEnd(22)} ${'calls'.padStart(6)} ${'failures'.padStart(9)} ${'p50'.padStart(9)} ${'p95'.padStart(9)} ${'max'.padStart(9)} ${'server CPU ms'.padStart(14)} ${'peak RSS MiB'.padStart(14)}`);
    console.log(row('baseline (no flood)', baseline));
    console.log(row(`flood (${FLOODERS} clients)`, flooded));
    console.log(`flood: ${counters.frames} frames queued by the flooders over ${counters.connections} connections; closes by code: ${JSON.stringify(counters.closes)}`);
  } finally {
    await server.stop();
  }
}

if (isMainThread) await main();
else await flood(workerData);
