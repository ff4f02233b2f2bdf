/**
 * The sandbox runtime: one process per session (or per warm-pool slot). It serves the
 * project's live preview (Vite) and the bridge the server talks to, reports readiness
 * to its parent, stops cleanly on SIGTERM and exits when its parent is gone.
 *
 * Configuration comes from the environment the driver sets; the server's own secrets
 * are never in it.
 */
// First: the read guard must be in place before Vite (or anything else) is loaded.
import './install-read-guard.js';
import path from 'node:path';
import { type RuntimeReady, RuntimeSecret } from '@cutroom/protocol';
import { createAgentHost } from './agent-host.js';
import { startBridge } from './bridge.js';
import { startPreviewServer, warmUp } from './preview-server.js';

const startedAt = performance.now();

// Project code can make Vite's CSS pipeline reject a promise nobody awaits (a refused
// `composes … from` leaves PostCSS with no input): the preview answers that request with
// an error, and one bad file must not end the whole sandbox.
process.on('unhandledRejection', (reason) => {
  console.error('runtime: a rejected promise nobody awaited:', reason instanceof Error ? reason.message : String(reason));
});

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`runtime: ${name} is not set`);
    process.exit(64);
  }
  return value;
}

const sandboxDir = required('RUNTIME_DIR');
const workspace = required('RUNTIME_WORKSPACE');
const base = required('RUNTIME_BASE');
const sharedCacheDir = process.env.RUNTIME_SHARED_CACHE || undefined;
if (!/^\/s\/[A-Za-z0-9_-]+\/$/.test(base)) {
  console.error('runtime: RUNTIME_BASE must look like /s/<id>/');
  process.exit(64);
}

/**
 * The bridge token: over IPC from the local driver (never in the environment, which
 * `/proc/<pid>/environ` keeps for the process's life), or from the environment where
 * there is no IPC (a container, whose environment is its own).
 */
async function receiveSecrets(): Promise<{ bridgeToken: string; previewKey: string }> {
  if (!process.send) return { bridgeToken: required('RUNTIME_BRIDGE_TOKEN'), previewKey: required('RUNTIME_PREVIEW_KEY') };
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      console.error('runtime: no bridge token arrived over IPC');
      process.exit(64);
    }, 10_000);
    process.once('message', (message) => {
      clearTimeout(timer);
      const parsed = RuntimeSecret.safeParse(message);
      if (!parsed.success) {
        console.error('runtime: the first IPC message was not the bridge token');
        process.exit(64);
      }
      resolve(parsed.data);
    });
  });
}
const { bridgeToken, previewKey } = await receiveSecrets();

let stopping = false;
const cleanups: (() => Promise<void>)[] = [];
async function stop(code: number) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(code), 3_000);
  force.unref();
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  process.exit(code);
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
// Over IPC (local driver): the channel closes when the parent dies, however it dies.
process.on('disconnect', () => void stop(0));

const vite = await startPreviewServer({ workspace, base, cacheDir: path.join(sandboxDir, 'vite'), sharedCacheDir, previewKey });
cleanups.push(() => vite.close());
const address = vite.httpServer?.address();
const previewPort = typeof address === 'object' && address ? address.port : 0;
await warmUp(vite, `http://127.0.0.1:${previewPort}`, base, previewKey);

// When the watcher last saw a change in the working copy.
let lastFileEvent = 0;
vite.watcher.on('all', () => {
  lastFileEvent = performance.now();
});

/** Waits until the watcher has been quiet for a moment (at most `limitMs`). */
async function watcherSettled(quietMs = 80, limitMs = 1_500) {
  const started = performance.now();
  // Events for the files just written arrive within a few tens of ms.
  await new Promise((resolve) => setTimeout(resolve, 30));
  while (performance.now() - lastFileEvent < quietMs && performance.now() - started < limitMs) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const agentHost = createAgentHost({
  workspace,
  stateDir: path.join(sandboxDir, 'agent'),
  send: (message) => bridge.send(message),
});
cleanups.push(() => agentHost.close());

const bridge = await startBridge(bridgeToken, {
  health: () => ({ rss: process.memoryUsage().rss, uptimeMs: Math.round(performance.now() - startedAt) }),
  async onMessage(message, reply) {
    switch (message.type) {
      case 'workspace:reset': {
        // The server replaced the working copy's files: let the watcher's events for
        // them pass (or they would reload the first visitor), forget every transform,
        // and reload whoever is watching.
        await watcherSettled();
        vite.moduleGraph.invalidateAll();
        vite.ws.send({ type: 'full-reload', path: '*' });
        reply({ type: 'workspace:reset:done', requestId: message.requestId });
        return;
      }
      case 'agent:start':
        return agentHost.start(message);
      case 'prompt':
        return agentHost.prompt(message);
      case 'cancel':
        return agentHost.cancel(message.turnId);
    }
  },
});
cleanups.push(() => bridge.close());

const ready: RuntimeReady = {
  type: 'runtime:ready',
  previewPort,
  bridgePort: bridge.port,
  startupMs: Math.round(performance.now() - startedAt),
};
if (process.send) process.send(ready);
else process.stdout.write(`${JSON.stringify(ready)}\n`);

// The shared dependency cache is only read here: the server publishes it (from a new
// sandbox that has run nothing but the template), so no project can write into it.
