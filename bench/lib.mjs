// Shared helpers for the benchmarks: start the built server, sign up, talk to /ws,
// measure processes, and summarise samples. Benchmarks are not tests: they print and
// write figures, and assert nothing.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

export async function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Servers this benchmark started: stopped however it ends (a crash included), so that no
// server and its sandboxes outlive the run and skew the next one.
const started = new Set();
process.on('exit', () => {
  for (const child of started) child.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
process.on('uncaughtException', (error) => {
  console.error(error);
  process.exit(1);
});
process.on('unhandledRejection', (error) => {
  console.error(error);
  process.exit(1);
});

/**
 * The built server as `npm start` runs it, with its own data; `log` collects its JSON lines.
 * `entry` runs another build of it (an older checkout's, to compare).
 */
export async function startCutroom(environment = {}, { entry = path.join(root, 'apps/server/dist/main.js') } = {}) {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-bench-'));
  const port = await freePort();
  const previewPort = await freePort();
  const log = [];
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), PREVIEW_PORT: String(previewPort), LOG_LEVEL: 'info', SESSION_GRACE_MS: '0', ...environment },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
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
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (log.some((line) => line.msg === 'Cutroom is ready')) break;
    await sleep(100);
  }
  return {
    baseUrl,
    dataDir,
    log,
    child,
    warmCount: () => log.filter((line) => line.msg === 'warm sandbox ready').length,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
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

/** Children of a process, recursively (from /proc). */
async function descendants(pid) {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number);
  const all = [...children];
  for (const child of children) all.push(...(await descendants(child)));
  return all;
}

/** RSS and PSS of a process and its descendants, in MiB (PSS shares shared pages fairly). */
export async function memoryOfTree(pid) {
  let rss = 0;
  let pss = 0;
  for (const target of [pid, ...(await descendants(pid))]) {
    const rollup = await readFile(`/proc/${target}/smaps_rollup`, 'utf8').catch(() => '');
    rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
    pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  }
  return { rssMiB: Math.round(rss / 1024), pssMiB: Math.round(pss / 1024) };
}
