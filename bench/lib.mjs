// Shared helpers for the benchmarks: pick the sandbox drivers to measure, start the built
// server (and stop it, with whatever sandboxes it left), sign up, talk to /ws, measure
// processes and sandboxes, and summarise samples. Benchmarks are not tests: they print
// and write figures, and assert nothing.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const chromiumFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
export const summary = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length });

/**
 * Installed in every document of a page's context: notes when (the page's `Date.now()`, in
 * a MutationObserver callback, so as soon as it is in the DOM) each watched text first is
 * in the document. `window.__benchText.watch(text)` adds a text (a hot reload's new title).
 */
/* global document, window, NodeFilter, MutationObserver -- textWatcher and the evaluated functions run in the page */
function textWatcher(initial) {
  const state = { wanted: [...initial], seen: {} };
  // The document's text, scripts and styles left out (as Playwright's getByText does).
  const documentText = () => {
    if (!document.body) return '';
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => (['SCRIPT', 'STYLE', 'NOSCRIPT'].includes(node.parentElement?.tagName ?? '') ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    let text = '';
    for (let node = walker.nextNode(); node; node = walker.nextNode()) text += `${node.data}\n`;
    return text;
  };
  const check = () => {
    if (state.wanted.every((wanted) => wanted in state.seen)) return;
    const text = documentText();
    for (const wanted of state.wanted) if (!(wanted in state.seen) && text.includes(wanted)) state.seen[wanted] = Date.now();
  };
  window.__benchText = { seen: state.seen, watch: (text) => (state.wanted.push(text), check()) };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
}

/**
 * A fresh page (its own context: no cache, no cookies) that notes when `texts` appear.
 * Measured in the page rather than with Playwright's `waitFor`, which polls with a backoff
 * (20, 50, 100, 100, then every 500 ms): that added up to half a second to a page that had
 * long been drawn, and more to a page that navigates once before it draws (Cutroom's
 * preview link), whose polling started earlier.
 */
export async function watchedPage(browser, texts = []) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await context.addInitScript(textWatcher, texts);
  return context.newPage();
}

/** The wall-clock time (ms since the epoch) `text` was first in `page`'s DOM; waits for it. */
export async function textSeenAt(page, text, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Undefined while the page navigates (its context is replaced) or has not drawn it yet.
    const at = await page.evaluate((wanted) => window.__benchText?.seen[wanted], text).catch(() => undefined);
    if (typeof at === 'number') return at;
    if (Date.now() > deadline) throw new Error(`"${text}" was not in the page after ${timeoutMs / 1000} s`);
    await sleep(25);
  }
}

/** Makes `page` note when `text` is first in its DOM (for `textSeenAt`). */
export const watchText = (page, text) => page.evaluate((wanted) => window.__benchText.watch(wanted), text);

/**
 * Where a page's load went, from its Navigation and Resource Timing, as wall-clock times
 * (ms since the epoch): when the navigation of the document that drew started, when its
 * HTML had arrived, and when the last script or module it fetched before `drawnAt` had.
 */
export async function pageTimeline(page, drawnAt) {
  return page.evaluate((drawn) => {
    const [navigation] = performance.getEntriesByType('navigation');
    const origin = performance.timeOrigin;
    const scripts = performance
      .getEntriesByType('resource')
      .filter((entry) => ['script', 'link', 'other'].includes(entry.initiatorType) && origin + entry.responseEnd <= drawn);
    return {
      documentStart: origin + navigation.startTime,
      htmlEnd: origin + navigation.responseEnd,
      modulesEnd: origin + Math.max(navigation.responseEnd, ...scripts.map((entry) => entry.responseEnd)),
      modules: scripts.length,
      moduleKiB: Math.round(scripts.reduce((sum, entry) => sum + (entry.encodedBodySize || 0), 0) / 1024),
    };
  }, drawnAt);
}

export async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// What this benchmark started (servers, an engine) is stopped however it ends, a crash
// or Ctrl-C included, so that no server, sandbox or container outlives the run and skews
// the next one. `tidyUp` does it on a normal end; the benchmark calls it last.
const servers = new Set();
const atEnd = [];
/** Runs `task` when the benchmark ends (after its servers are stopped), last registered first. */
export const onTidyUp = (task) => void atEnd.push(task);
export async function tidyUp() {
  for (const server of [...servers]) await server.stop().catch((error) => console.error('could not stop a server:', error));
  while (atEnd.length) await Promise.resolve(atEnd.pop()()).catch((error) => console.error('could not tidy up:', error));
}
let failing = false;
async function fail(code, error) {
  if (error) console.error(error);
  // A second signal or error while tidying up: out at once.
  if (failing) process.exit(code);
  failing = true;
  await tidyUp();
  process.exit(code);
}
// The last resort (process.exit elsewhere): the servers still get their SIGTERM and end their sandboxes.
process.on('exit', () => {
  for (const server of servers) server.child.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void fail(130));
process.on('uncaughtException', (error) => void fail(1, error));
process.on('unhandledRejection', (error) => void fail(1, error));

const serverDist = (file) => import(pathToFileURL(path.join(root, 'apps/server/dist', file)).href);

/**
 * Ends and removes whatever sandboxes (processes, containers, folders) a stopped server
 * left in its data folder, with its own driver's `reap`, as the next server's start would.
 */
async function reapSandboxes(environment) {
  const [{ loadConfig }, { createDriver }, { default: pino }] = await Promise.all([serverDist('config.js'), serverDist('sessions/drivers/registry.js'), import('pino')]);
  return createDriver(loadConfig(environment), pino({ level: 'silent' })).reap();
}

const gone = (child) => child.exitCode !== null || child.signalCode !== null;
/** Resolves true when `child` has exited, false when it still runs after `ms`. */
const exited = (child, ms) =>
  gone(child)
    ? Promise.resolve(true)
    : new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });

/**
 * The built server as `npm start` runs it, with its own data; `log` collects its JSON lines.
 * `entry` runs another build of it (an older checkout's, to compare). `stop()` ends it,
 * removes what sandboxes it left and its data folder.
 */
export async function startCutroom(environment = {}, { entry = path.join(root, 'apps/server/dist/main.js') } = {}) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-bench-'));
  const port = await freePort();
  const previewPort = await freePort();
  const log = [];
  const serverEnvironment = { ...process.env, DATA_DIR: dataDir, PORT: String(port), PREVIEW_PORT: String(previewPort), LOG_LEVEL: 'info', SESSION_GRACE_MS: '0', ...environment };
  const child = spawn(process.execPath, [entry], { env: serverEnvironment, stdio: ['ignore', 'pipe', 'inherit'] });
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (const line of lines) {
      try {
        log.push(JSON.parse(line));
      } catch {
        // not JSON
      }
    }
  });
  let stopping;
  const server = {
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    log,
    child,
    warmCount: () => log.filter((line) => line.msg === 'warm sandbox ready').length,
    /** What walls its sandboxes in (`bubblewrap`, `container`, `none`), as the server said at start. */
    confinement: () => log.find((entry) => entry.msg === 'sandbox driver')?.confinement ?? 'unknown',
    stop() {
      stopping ??= (async () => {
        if (!gone(child)) {
          child.kill('SIGTERM');
          if (!(await exited(child, 30_000))) {
            child.kill('SIGKILL');
            await exited(child, 5_000);
          }
        }
        try {
          const reaped = await reapSandboxes(serverEnvironment);
          if (reaped.length) console.error(`  the server left ${reaped.length} sandbox(es) behind: removed`);
        } catch (error) {
          console.error(`  could not reap what the server in ${dataDir} left:`, error);
        }
        await rm(dataDir, { recursive: true, force: true });
        servers.delete(server);
      })();
      return stopping;
    },
  };
  servers.add(server);
  for (let i = 0; !log.some((line) => line.msg === 'Cutroom is ready'); i++) {
    if (gone(child) || i >= 1_200) {
      await server.stop();
      throw new Error(gone(child) ? `the server exited (${child.exitCode ?? child.signalCode}) before it was ready (its output is above)` : 'the server was not ready after 120 s');
    }
    await sleep(100);
  }
  return server;
}

/** A signed-up user: its cookie, and helpers to make projects and open sessions over /ws. */
export async function signUp(baseUrl) {
  const headers = { origin: baseUrl, 'content-type': 'application/json' };
  const response = await fetch(`${baseUrl}/api/auth/signup`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ email: `bench-${Math.random().toString(36).slice(2)}@example.com`, password: 'benchmark password', name: 'Bench' }),
  });
  const cookie = response.headers.get('set-cookie').split(';')[0];
  return {
    cookie,
    async createProject(name) {
      const created = await fetch(`${baseUrl}/api/projects`, { method: 'POST', headers: { ...headers, cookie }, body: JSON.stringify({ name }) });
      return (await created.json()).project.id;
    },
    async connect() {
      const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`, { headers: { origin: baseUrl, cookie } });
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      return {
        socket,
        /** Sends session:start and resolves with session:ready. */
        start(projectId) {
          return new Promise((resolve, reject) => {
            const onMessage = (data) => {
              const message = JSON.parse(String(data));
              if (message.type === 'session:ready') {
                socket.off('message', onMessage);
                resolve(message);
              } else if (message.type === 'error') reject(new Error(message.message));
            };
            socket.on('message', onMessage);
            socket.send(JSON.stringify({ type: 'session:start', projectId, protocolVersion: 1 }));
          });
        },
        close: () => socket.close(),
      };
    },
  };
}

/** Children of a process, recursively (from /proc; those of every thread). */
async function descendants(pid) {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const lists = await Promise.all(tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')));
  const children = lists.join(' ').split(/\s+/).filter(Boolean).map(Number);
  const all = [...children];
  for (const child of children) all.push(...(await descendants(child)));
  return all;
}

/** RSS and PSS of processes, in MiB (PSS shares shared pages fairly), and how many were counted. */
async function memoryOf(pids) {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const target of pids) {
    const rollup = await readFile(`/proc/${target}/smaps_rollup`, 'utf8').catch(() => '');
    if (!rollup) continue;
    processes += 1;
    rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  }
  return { rssMiB: Math.round(rss / 1024), pssMiB: Math.round(pss / 1024), processes };
}

/** RSS and PSS of a process and its descendants, in MiB, and how many processes that is. */
export async function memoryOfTree(pid) {
  return memoryOf([pid, ...(await descendants(pid))]);
}

/**
 * The host pid at the top of a sandbox's processes: the local driver's child (its
 * `sandbox.json`), or a docker sandbox's container init, asked of the engine (a
 * container's processes are processes of this machine when the engine runs here).
 */
async function sandboxPid(dataDir, sandboxId) {
  const info = JSON.parse(await readFile(path.join(dataDir, 'sandboxes', sandboxId, 'sandbox.json'), 'utf8'));
  if (info.pid) return info.pid;
  if (!info.container) throw new Error(`sandbox ${sandboxId}: its sandbox.json names no process and no container`);
  const { dockerClient } = await serverDist('sessions/drivers/docker/docker-engine-client.js');
  const { State } = await dockerClient(process.env.DOCKER_HOST).getContainer(info.container).inspect();
  if (!State.Pid) throw new Error(`sandbox ${sandboxId}: its container is not running`);
  return State.Pid;
}

/** The runtime's entry, in the checkout (local) and in the image (docker). */
const RUNTIME_ENTRY = 'packages/runtime/dist/main.js';

/**
 * Memory of one sandbox's processes (see memoryOfTree). Fails unless its runtime is among
 * them, so that a figure never stands for some other tree. For a container, `engine` is
 * what the engine keeps on this machine for it besides (its containerd shim).
 */
export async function memoryOfSandbox(dataDir, sandboxId) {
  const pid = await sandboxPid(dataDir, sandboxId);
  const tree = [pid, ...(await descendants(pid))];
  const commands = await Promise.all(tree.map((target) => readFile(`/proc/${target}/cmdline`, 'utf8').catch(() => '')));
  if (!commands.some((command) => command.includes(RUNTIME_ENTRY))) {
    throw new Error(`sandbox ${sandboxId}: no runtime among the ${tree.length} processes under pid ${pid} (is the engine on another machine?)`);
  }
  const memory = await memoryOf(tree);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // `pid (comm) state ppid …`; comm may hold anything, so from its last ')'.
  const parent = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
  const parentName = parent ? (await readFile(`/proc/${parent}/comm`, 'utf8').catch(() => '')).trim() : '';
  if (parentName.startsWith('containerd-shim')) memory.engine = await memoryOf([parent]);
  return memory;
}

/** Where a file of a sandbox's working copy is on this machine (both drivers keep it under DATA_DIR). */
export const sandboxFile = (dataDir, sandboxId, file) => path.join(dataDir, 'sandboxes', sandboxId, 'workspace', file);

/** A sandbox's id, from the preview URL of its session:ready (`…/s/<id>/…`). */
export const sandboxIdOf = (previewUrl) => new URL(previewUrl).pathname.split('/')[2];

const DRIVER_NAMES = ['local', 'docker'];

/**
 * The drivers a benchmark measures: `BENCH_DRIVERS` (default `local,docker`). Docker needs
 * root (a uid per sandbox), an engine (DOCKER_HOST when it answers, else the one
 * scripts/docker-for-tests.mjs finds or starts, stopped again at the end) and the sandbox
 * image (built there when missing or stale); without them it is skipped, with the reason.
 */
export async function benchDrivers() {
  const names = (process.env.BENCH_DRIVERS ?? DRIVER_NAMES.join(',')).split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !DRIVER_NAMES.includes(name));
  if (unknown.length || !names.length) throw new Error(`BENCH_DRIVERS=${process.env.BENCH_DRIVERS}: name one or more of ${DRIVER_NAMES.join(', ')}`);
  const drivers = [];
  const skipped = {};
  for (const name of new Set(names)) {
    const reason = name === 'docker' ? await dockerUnavailable() : undefined;
    if (reason) {
      skipped[name] = reason;
      console.error(`${name} driver skipped: ${reason}`);
    } else drivers.push(name);
  }
  return { drivers, skipped };
}

/** Why the docker driver cannot be measured here, or undefined when it can. */
async function dockerUnavailable() {
  if (process.getuid?.() !== 0) return 'the docker driver needs the server to run as root, and this benchmark does not';
  const { dockerForTests } = await import('../scripts/docker-for-tests.mjs');
  onTidyUp(await dockerForTests());
  const dockerHost = process.env.DOCKER_HOST;
  if (!dockerHost) return 'no Docker engine answers (DOCKER_HOST, /run/cutroom-test-docker, /var/run/docker.sock) and none could be started here (see above)';
  const [{ dockerClient }, { defaultImage }] = await Promise.all([serverDist('sessions/drivers/docker/docker-engine-client.js'), serverDist('sessions/drivers/docker/docker-driver.js')]);
  const image = process.env.SANDBOX_IMAGE || defaultImage();
  try {
    await dockerClient(dockerHost).getImage(image).inspect();
  } catch (error) {
    return `the sandbox image ${image} is not in the engine at ${dockerHost} (npm run sandbox:image): ${error.message}`;
  }
  return undefined;
}

/** Load average (1, 5, 15 min) and size of this machine, for the reports. */
export const machine = () => ({
  loadAverage: os.loadavg().map((value) => Number(value.toFixed(2))),
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
});
