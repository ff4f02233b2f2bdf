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
import { startFilesServer } from './files-server.js';
import { type ListenTarget, checkSocketPath, listeningPort } from './listen-target.js';
import { startPreviewServer, warmUp } from './preview-server.js';
import { refreshProjectInfo } from './project-entry-plugin.js';
import { PACKAGE_FILES, linkPackages, packagesState, wantedPackages } from './project-packages.js';

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
 * `unix` (default): the preview and the bridge listen on sockets in `$RUNTIME_DIR/sock/`
 * (a sandbox with no network; the server reaches them through its folder). `tcp`:
 * ephemeral loopback ports, for drivers whose sandboxes live on another host.
 */
const listenMode = process.env.RUNTIME_LISTEN || 'unix';
if (listenMode !== 'unix' && listenMode !== 'tcp') {
  console.error(`runtime: RUNTIME_LISTEN must be unix or tcp, not ${listenMode}`);
  process.exit(64);
}
/** When the preview is warmed: see `warming` below. */
const warmWhen = process.env.RUNTIME_WARM || 'before-ready';
if (warmWhen !== 'before-ready' && warmWhen !== 'after-ready') {
  console.error(`runtime: RUNTIME_WARM must be before-ready or after-ready, not ${warmWhen}`);
  process.exit(64);
}
const socketDir = path.join(sandboxDir, 'sock');
const targets: { preview: ListenTarget; bridge: ListenTarget; files: ListenTarget } =
  listenMode === 'unix'
    ? {
        preview: { socketPath: path.join(socketDir, 'preview.sock') },
        bridge: { socketPath: path.join(socketDir, 'bridge.sock') },
        files: { socketPath: path.join(socketDir, 'files.sock') },
      }
    : { preview: { host: '127.0.0.1', port: 0 }, bridge: { host: '127.0.0.1', port: 0 }, files: { host: '127.0.0.1', port: 0 } };
/** Where the server listens for this sandbox's model requests (the agent reaches it through a forwarder). */
const modelSocketPath = path.join(socketDir, 'model.sock');
try {
  // Said at once and plainly: a path the kernel would cut short fails later in obscure ways.
  if (listenMode === 'unix') for (const name of ['preview.sock', 'bridge.sock', 'files.sock', 'model.sock']) checkSocketPath(path.join(socketDir, name));
} catch (error) {
  console.error(`runtime: ${(error as Error).message}`);
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

// The project's own packages, where the driver shows an install (project-packages.ts).
const hasPackages = await linkPackages(workspace, sandboxDir).catch((error: unknown) => {
  console.error(`runtime: the project's packages cannot be linked: ${error instanceof Error ? error.message : String(error)}`);
  return false;
});
const vite = await startPreviewServer({
  workspace,
  base,
  cacheDir: path.join(sandboxDir, 'vite'),
  sharedCacheDir,
  previewKey,
  listen: targets.preview,
  ...(hasPackages ? { projectPackages: path.join(sandboxDir, 'packages') } : {}),
});
cleanups.push(() => vite.close());
const previewPort = vite.httpServer ? listeningPort(vite.httpServer) : 0;
/**
 * A head start for the first visitor (the pre-bundled packages transformed). `before-ready`
 * (a warm-pool sandbox, the default): ready once warm, so that whoever takes it finds it
 * idle. `after-ready` (a session waits for this sandbox): ready at once, and warmed once
 * the session has handed it the project (its first `workspace:reset`; at the latest after
 * AFTER_READY_WARM_MS), so that it transforms the project's files, not the template's, and
 * never competes with the hand-over. Either way, on a machine too busy to finish it, the
 * first visitor waits instead.
 */
const AFTER_READY_WARM_MS = 5_000;
let warming: Promise<void> | null = null;
function warm(): Promise<void> {
  warming ??= warmUp(vite, 'socketPath' in targets.preview ? targets.preview : { host: '127.0.0.1', port: previewPort }, base, previewKey, workspace).catch((error: unknown) => {
    if (!stopping) console.error(`runtime: the preview's warm-up did not finish: ${error instanceof Error ? error.message : String(error)}`);
  });
  return warming;
}
if (warmWhen === 'before-ready') await warm();
else setTimeout(() => void warm(), AFTER_READY_WARM_MS).unref();

/**
 * Forgets every transform but those of the pre-bundled packages (`<cacheDir>/deps`): their
 * bytes are fixed by the `?v=` hash in their URLs, and they are most of a first page's
 * work (react-dom alone is about a third of it). A project that brings other packages
 * gets them re-bundled under a new hash, so nothing stale is served.
 */
function invalidateProjectModules() {
  const graph = vite.environments.client.moduleGraph;
  const depsDir = path.join(vite.config.cacheDir, 'deps') + path.sep;
  const seen = new Set<(typeof graph.idToModuleMap extends Map<string, infer Node> ? Node : never)>();
  const now = Date.now();
  for (const mod of graph.idToModuleMap.values()) {
    if (mod.file?.startsWith(depsDir)) continue;
    graph.invalidateModule(mod, seen, now);
  }
}

/** Drops what Vite's resolvers remember about `folder` (its packages changed under it). */
async function forgetResolutions(folder: string) {
  for (const environment of Object.values(vite.environments)) {
    await environment.pluginContainer.watchChange(folder, { event: 'create' }).catch(() => {});
  }
}

/**
 * The packages Vite pre-bundled from the project's earlier install name files of that
 * install (its real paths carry its key): drop them and bundle the rest again, so the
 * page's next load finds the new install's packages afresh (Vite discovers them again).
 */
function forgetOptimizedPackages() {
  const optimizer = vite.environments.client.depsOptimizer;
  if (!optimizer) return;
  const installs = path.join(sandboxDir, 'packages') + path.sep;
  let dropped = 0;
  for (const list of [optimizer.metadata.optimized, optimizer.metadata.discovered]) {
    for (const [name, info] of Object.entries(list)) {
      if (info.src?.startsWith(installs)) {
        delete list[name];
        dropped++;
      }
    }
  }
  if (dropped > 0) optimizer.run();
}

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

/** What was last sent as `packages:wanted` (nothing new is sent twice). */
let lastWanted = '';
let packagesTimer: NodeJS.Timeout | undefined;
/** Tells the server what the working copy's `package.json` and lockfile ask for now. */
async function reportPackages(force: boolean) {
  if (!hasPackages) return;
  const wanted = await wantedPackages(workspace);
  if (typeof wanted === 'string') {
    packagesState.error = wanted;
    refreshProjectInfo(vite);
    if (vite.ws.clients.size > 0) vite.ws.send({ type: 'full-reload', path: '*' });
    return;
  }
  const text = JSON.stringify(wanted);
  if (!force && text === lastWanted) return;
  lastWanted = text;
  // A page loaded meanwhile waits for the answer instead of failing to find the packages.
  packagesState.pending = true;
  refreshProjectInfo(vite);
  bridge.send(wanted);
}
vite.watcher.on('all', (_event, file) => {
  if (path.dirname(file) !== workspace || !(PACKAGE_FILES as readonly string[]).includes(path.basename(file))) return;
  clearTimeout(packagesTimer);
  packagesTimer = setTimeout(() => void reportPackages(false).catch(() => {}), 300);
});

const agentHost = createAgentHost({
  workspace,
  stateDir: path.join(sandboxDir, 'agent'),
  modelSocketPath,
  send: (message) => {
    if (message.type !== 'complete') return bridge.send(message);
    // A package.json the turn changed is reported before the turn ends (the watcher may
    // not have seen it yet), so the server installs it before it saves the version.
    clearTimeout(packagesTimer);
    void reportPackages(false)
      .catch(() => {})
      .finally(() => bridge.send(message));
  },
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
        invalidateProjectModules();
        // Only pages that are open reload: Vite keeps a full reload sent to nobody for the
        // first page that connects, which then loaded everything twice (every session
        // start handed its first visitor a reload, 0.15–0.45 s of its first frame).
        if (vite.ws.clients.size > 0) vite.ws.send({ type: 'full-reload', path: '*' });
        reply({ type: 'workspace:reset:done', requestId: message.requestId });
        void warm();
        void reportPackages(true).catch(() => {});
        return;
      }
      case 'packages:ready': {
        const changed = message.key !== packagesState.key;
        const errorChanged = (message.error ?? null) !== packagesState.error;
        packagesState.key = message.key;
        packagesState.error = message.error ?? null;
        const wasPending = packagesState.pending;
        packagesState.pending = false;
        console.warn(`runtime: packages ${message.key}${message.error ? ' (the install failed)' : ''}`);
        if (!changed && !errorChanged) {
          if (wasPending) {
            refreshProjectInfo(vite);
            if (vite.ws.clients.size > 0) vite.ws.send({ type: 'full-reload', path: '*' });
          }
          return;
        }
        // Vite's resolver keeps what it found (and did not find) under node_modules, which
        // the watcher ignores: tell it the folder changed, as a watcher event would.
        if (changed) {
          await forgetResolutions(path.join(workspace, 'node_modules'));
          forgetOptimizedPackages();
        }
        refreshProjectInfo(vite);
        // Other packages: every module is transformed again (its imports resolve anew).
        if (changed) invalidateProjectModules();
        if (vite.ws.clients.size > 0) vite.ws.send({ type: 'full-reload', path: '*' });
        return;
      }
      case 'agent:start':
        return agentHost.start(message);
      case 'prompt':
        return agentHost.prompt(message);
      case 'cancel':
        return agentHost.cancel(message.turnId);
      case 'frame:result':
        return agentHost.frameResult(message);
    }
  },
}, targets.bridge);
cleanups.push(() => bridge.close());

// The driver moves the sandbox's files through it while the sandbox runs (no process per move).
const files = await startFilesServer({ key: bridgeToken, folders: { workspace, agent: path.join(sandboxDir, 'agent') } }, targets.files);
cleanups.push(() => files.close());

const ready: RuntimeReady = {
  type: 'runtime:ready',
  listen: listenMode === 'unix' ? { kind: 'unix' } : { kind: 'tcp', previewPort, bridgePort: bridge.port, filesPort: files.port },
  startupMs: Math.round(performance.now() - startedAt),
};
if (process.send) process.send(ready);
else process.stdout.write(`${JSON.stringify(ready)}\n`);

// The shared dependency cache is only read here: the server publishes it (from a new
// sandbox that has run nothing but the template), so no project can write into it.
