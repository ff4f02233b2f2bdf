import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { RuntimeReady, type RuntimeSecret } from '@cutroom/protocol';
import { runtimeEntry, shareDependencyCache } from '@cutroom/runtime';
import { isTemplateFile } from '@cutroom/template';
import type { Sandbox, SandboxDriver, SandboxExit, SandboxOwner, SandboxStatus } from '../driver.js';
import { SETPRIV, createSandboxUsers, ensureTraversable, giveTree, giveWorkspace, killEveryProcessOf, switchUserArguments } from './sandbox-users.js';

export type LocalDriverSettings = {
  /** `DATA_DIR/sandboxes`: one folder per sandbox. */
  sandboxesDir: string;
  /** Dependency cache shared by all sandboxes. */
  sharedCacheDir: string;
  templateDir: string;
  logger: Logger;
  /** V8 heap limit of a runtime, in MiB. */
  heapLimitMb?: number;
  readyTimeoutMs?: number;
  /** Run each sandbox as a user of its own (default: when the server runs as root). */
  isolateUsers?: boolean;
};

type Entry = {
  sandbox?: Sandbox;
  child: ChildProcess;
  status: SandboxStatus;
  stopping: boolean;
  uid?: number;
  /** A session took it (it may run project code and the agent from now on). */
  claimed?: boolean;
};

const PRLIMIT = '/usr/bin/prlimit';

/**
 * Wraps the runtime's command line in what this machine offers (each `exec`s the next,
 * so the pid stays the runtime's): `prlimit` caps open files and disables core dumps
 * (a core of a process that held project code and tokens); `setpriv --pdeathsig KILL`
 * makes the kernel kill the runtime the moment the server dies. Memory is capped by
 * V8's heap limit; per-sandbox process counts and total memory need a cgroup (a
 * container driver), which a plain child process cannot have.
 */
function launchCommand(command: string[], uid: number | undefined): [string, string[]] {
  let line = command;
  if (existsSync(SETPRIV)) line = [SETPRIV, ...(uid === undefined ? [] : switchUserArguments(uid)), '--pdeathsig', 'KILL', '--', ...line];
  if (existsSync(PRLIMIT)) line = [PRLIMIT, '--nofile=4096', '--core=0', '--', ...line];
  return [line[0]!, line.slice(1)];
}

const execFileAsync = promisify(execFile);

/** A sandbox id: 144 random bits, URL-safe; it is also the preview's path, so unguessable. */
const newSandboxId = () => randomBytes(18).toString('base64url');

/**
 * The local driver: each sandbox is one runtime process in its own process group and
 * its own folder, listening on loopback ports the OS picks. Its environment holds no
 * secret of the server's; its heap is capped; it dies with the server (parent-death
 * signal where `setpriv` exists, and the IPC channel closing in any case). Where the
 * server runs as root, each sandbox runs as a user of its own (`sandbox-users.ts`): its
 * folder is `sandboxes/<id>/` (root's, 0711: passable, not listable; the server's
 * `sandbox.json` and log stay out of its reach) holding `workspace`, `agent`, `vite` and
 * `home`, which are the sandbox's (0700).
 */
export function createLocalDriver(settings: LocalDriverSettings): SandboxDriver {
  const { sandboxesDir, logger } = settings;
  const entries = new Map<string, Entry>();
  const exitListeners: ((exit: SandboxExit) => void)[] = [];
  const users = createSandboxUsers({ logger, enabled: settings.isolateUsers });
  let traversable: Promise<void> | undefined;

  async function start(): Promise<Sandbox> {
    const id = newSandboxId();
    const dir = path.join(sandboxesDir, id);
    const workspace = path.join(dir, 'workspace');
    const uid = users.take();
    const base = `/s/${id}/`;
    const bridgeToken = randomBytes(24).toString('base64url');
    const previewKey = randomBytes(24).toString('base64url');
    let entry: Entry | undefined;
    try {
      await mkdir(dir, { recursive: true });
      if (uid !== undefined) {
        traversable ??= ensureTraversable(sandboxesDir);
        await traversable;
        await chmod(dir, 0o711);
      }
      await cp(settings.templateDir, workspace, {
        recursive: true,
        filter: (source) => isTemplateFile(path.relative(settings.templateDir, source)),
      });
      for (const folder of ['agent', 'vite', 'home']) await mkdir(path.join(dir, folder), { recursive: true, mode: 0o700 });
      if (uid !== undefined) {
        for (const folder of ['agent', 'vite', 'home']) await giveTree(path.join(dir, folder), uid);
        await giveWorkspace(workspace, uid);
      }
      const log = await open(path.join(dir, 'runtime.log'), 'a', 0o600);
      // Small young generation and size-optimized code: about 200 → 140 MiB per idle
      // session (docs/benchmarks.md), for a slower runtime start that the warm pool hides.
      const nodeArgs = [`--max-old-space-size=${settings.heapLimitMb ?? 384}`, '--max-semi-space-size=1', '--optimize-for-size', runtimeEntry];
      const [command, args] = launchCommand([process.execPath, ...nodeArgs], uid);
      let child: ChildProcess;
      try {
        child = spawn(command, args, {
          cwd: dir,
          detached: true,
          stdio: ['ignore', log.fd, log.fd, 'ipc'],
          env: {
            PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
            HOME: path.join(dir, 'home'),
            NODE_ENV: 'development',
            RUNTIME_DIR: dir,
            RUNTIME_WORKSPACE: workspace,
            RUNTIME_BASE: base,
            RUNTIME_SHARED_CACHE: settings.sharedCacheDir,
          },
        });
      } finally {
        await log.close();
      }
      const started: Entry = { child, status: 'starting', stopping: false, uid };
      entry = started;
      entries.set(id, started);
      // Written at once, so a server that dies now leaves enough for the next one to reap.
      await writeFile(path.join(dir, 'sandbox.json'), JSON.stringify({ pid: child.pid, startedAt: new Date().toISOString() }), { mode: 0o600 });
      // Listen at once: a failed spawn (EAGAIN, ENOMEM…) is an 'error' event, which
      // would crash the server if nobody listened, and an early exit must not be missed.
      const early = new Promise<never>((_, reject) => {
        child.once('error', (error) => reject(new Error(`the sandbox could not be started: ${error.message}`)));
        child.once('exit', async (code) => {
          const tail = (await readFile(path.join(dir, 'runtime.log'), 'utf8').catch(() => '')).slice(-2_000);
          reject(new Error(`the sandbox exited with code ${code} before it was ready: ${tail}`));
        });
      });
      early.catch(() => {});
      child.on('error', (error) => logger.warn({ err: error, sandboxId: id }, 'sandbox process error'));
      child.on('exit', (code, signal) => {
        const expected = started.stopping;
        started.status = expected || code === 0 ? 'stopped' : 'error';
        logger.info({ sandboxId: id, code, signal, expected }, 'sandbox exited');
        for (const listener of exitListeners) listener({ id, code, signal, expected });
      });
      child.send({ type: 'runtime:secret', bridgeToken, previewKey } satisfies RuntimeSecret, (error) => {
        if (error) logger.warn({ err: error, sandboxId: id }, 'could not hand the sandbox its secrets');
      });

      const ready = await Promise.race([
        early,
        new Promise<RuntimeReady>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the sandbox did not become ready in time')), settings.readyTimeoutMs ?? 60_000);
          child.once('message', (message) => {
            clearTimeout(timer);
            const parsed = RuntimeReady.safeParse(message);
            if (parsed.success) resolve(parsed.data);
            else reject(new Error('the sandbox sent an invalid ready message'));
          });
        }),
      ]);
      const sandbox: Sandbox = {
        id,
        base,
        workspace,
        agentStateDir: path.join(dir, 'agent'),
        previewOrigin: `http://127.0.0.1:${ready.previewPort}`,
        bridgeUrl: `ws://127.0.0.1:${ready.bridgePort}`,
        bridgeToken,
        previewKey,
        pid: child.pid,
        ...(uid === undefined ? {} : { uid }),
        startupMs: ready.startupMs,
      };
      await writeFile(
        path.join(dir, 'sandbox.json'),
        JSON.stringify({ pid: child.pid, previewPort: ready.previewPort, bridgePort: ready.bridgePort, startedAt: new Date().toISOString() }),
        { mode: 0o600 },
      );
      started.sandbox = sandbox;
      started.status = 'running';
      void publishDependencyCache(started, dir);
      return sandbox;
    } catch (error) {
      if (entry) await destroy(id);
      else {
        users.release(uid);
        await rm(dir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /**
   * Shares a new sandbox's optimized dependencies with the next ones, from the server:
   * sandboxes only read the shared cache (one that could write it could put code into
   * every other user's preview). Published only while the sandbox has run nothing but the
   * template: once its optimizer is done, and never after a session took it (`label`).
   */
  async function publishDependencyCache(entry: Entry, dir: string) {
    const cacheDir = path.join(dir, 'vite');
    const untouched = () => !entry.claimed && !entry.stopping && entry.status === 'running';
    for (let attempt = 0; attempt < 60 && untouched(); attempt++) {
      if (existsSync(path.join(cacheDir, 'deps', '_metadata.json'))) {
        try {
          await shareDependencyCache(cacheDir, settings.sharedCacheDir);
          // Readable by every sandbox, writable by none (its parent is made passable at start).
          if (users.isolating) await execFileAsync('chmod', ['-R', 'u+rwX,go+rX,go-w', '--', settings.sharedCacheDir]);
        } catch (error) {
          logger.warn({ err: error }, 'could not share the dependency cache');
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
    if (!child.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }

  async function stop(id: string) {
    const entry = entries.get(id);
    if (!entry) return;
    entry.stopping = true;
    if (entry.child.exitCode !== null || entry.child.signalCode !== null) {
      // The runtime is gone; whatever it started goes too.
      killGroup(entry.child, 'SIGKILL');
      if (entry.uid !== undefined) await killEveryProcessOf(entry.uid);
      return;
    }
    const exited = new Promise<void>((resolve) => entry.child.once('exit', () => resolve()));
    killGroup(entry.child, 'SIGTERM');
    const timeout = setTimeout(() => killGroup(entry.child, 'SIGKILL'), 3_000);
    await exited;
    clearTimeout(timeout);
    // Whatever the runtime started in its group goes with it, and whatever left the group.
    killGroup(entry.child, 'SIGKILL');
    if (entry.uid !== undefined) await killEveryProcessOf(entry.uid);
  }

  /** Idempotent, also when called twice at once (two removals of one tree collide). */
  const destroying = new Map<string, Promise<void>>();
  function destroy(id: string): Promise<void> {
    const running = destroying.get(id);
    if (running) return running;
    const removal = (async () => {
      await stop(id);
      users.release(entries.get(id)?.uid);
      entries.delete(id);
      await rm(path.join(sandboxesDir, id), { recursive: true, force: true });
    })().finally(() => destroying.delete(id));
    destroying.set(id, removal);
    return removal;
  }

  return {
    name: 'local',
    start,
    stop,
    destroy,
    status: (id) => entries.get(id)?.status ?? 'missing',
    list: () => [...entries].map(([id, entry]) => ({ id, status: entry.status })),
    onExit: (listener) => void exitListeners.push(listener),

    async adopt(id: string) {
      const uid = entries.get(id)?.uid;
      if (uid === undefined) return;
      const dir = path.join(sandboxesDir, id);
      await giveWorkspace(path.join(dir, 'workspace'), uid);
      await giveTree(path.join(dir, 'agent'), uid);
    },

    async label(id: string, owner: SandboxOwner) {
      const entry = entries.get(id);
      if (entry) entry.claimed = true;
      const file = path.join(sandboxesDir, id, 'sandbox.json');
      const info = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(file, JSON.stringify({ ...info, owner }), { mode: 0o600 });
    },

    async reap(recover) {
      await mkdir(sandboxesDir, { recursive: true });
      const reaped: string[] = [];
      for (const id of await readdir(sandboxesDir)) {
        if (entries.has(id)) continue;
        const dir = path.join(sandboxesDir, id);
        const info = await readFile(path.join(dir, 'sandbox.json'), 'utf8').then(
          (text) => JSON.parse(text) as { pid?: number; owner?: SandboxOwner },
          () => ({}) as { pid?: number; owner?: SandboxOwner },
        );
        if (info.pid && (await isOurRuntime(info.pid))) {
          try {
            process.kill(-info.pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        const owner = info.owner;
        if (recover && owner && typeof owner.projectId === 'string' && typeof owner.ownerId === 'string') {
          await recover({ id, workspace: path.join(dir, 'workspace'), owner }).catch((error: unknown) => {
            logger.error({ err: error, sandboxId: id }, 'could not recover the work of a sandbox left by a crash');
          });
        }
        await rm(dir, { recursive: true, force: true });
        reaped.push(id);
      }
      if (reaped.length) logger.info({ reaped }, 'reaped sandboxes left by an earlier run');
      return reaped;
    },
  };
}

/** Only kill a pid from a stale file if it still is a runtime (pids get reused). */
async function isOurRuntime(pid: number): Promise<boolean> {
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return commandLine.includes(runtimeEntry);
}
