import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, open, readFile, readdir, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { RuntimeReady, type RuntimeSecret } from '@cutroom/protocol';
import { runtimeEntry } from '@cutroom/runtime';
import { publishDependencyCache } from '../dependency-cache.js';
import { runtimeEnv, runtimeNodeFlags } from '../runtime-process.js';
import { sandboxInfoNote } from '../sandbox-info.js';
import { isTemplateFile } from '@cutroom/template';
import type { Confinement, Sandbox, SandboxArea, SandboxDriver, SandboxExit, SandboxOwner, SandboxStatus, StartOptions } from '../driver.js';
import { runtimeMoves } from '../runtime-files.js';
import { hardenSocketFolder, prepareSocketFolder, socketEndpoints } from '../socket-folder.js';
import { localConfinement } from './bubblewrap.js';
import { type Cgroups, type SandboxCgroup, setUpCgroups } from './cgroups.js';
import { type LimitReason, watchLimits } from './limit-watch.js';
import { packArea, unpackArea } from './local-files.js';
import { createSandboxUsers, ensureTraversable, giveTree, giveWorkspace, killEveryProcessOf } from './sandbox-users.js';
import { PACKAGES_FOLDER, preparePackagesFolder, showPackages } from '../sandbox-packages.js';
import { readOnlyPaths, wallCommand } from './wall.js';

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
  /** Limits of one sandbox (SANDBOX_MEMORY_MB, SANDBOX_PIDS, SANDBOX_CPUS, SANDBOX_DISK_MB). */
  limits?: SandboxLimits;
  /** Wall sandboxes in with bubblewrap (default: when it works here). `false` runs them unconfined. */
  bubblewrap?: boolean;
  /** How often the limits are sampled (the disk use, the cgroup's counters). */
  limitIntervalMs?: number;
  /** Give each sandbox a cgroup (default: where the server may make them). `false`: `nice` and `prlimit` only. */
  cgroups?: boolean;
};

export type SandboxLimits = { memoryMb: number; pids: number; cpus: number; diskMb: number };

/** The configuration's defaults, for callers that do not pass limits (tests). */
const DEFAULT_LIMITS: SandboxLimits = { memoryMb: 1_536, pids: 512, cpus: 1, diskMb: 2_048 };

/** The local driver: the common driver verbs, plus running a command inside a sandbox's wall. */
export type LocalDriver = SandboxDriver & {
  /**
   * Starts `command` inside a running sandbox's wall (its user, cgroup, bubblewrap view;
   * a new set of namespaces with the same binds), as project code would run: for the
   * contract suite's escape and limit cases, and for work that must run confined.
   */
  spawnInside(id: string, command: string[], options?: { cwd?: string; env?: Record<string, string> }): ChildProcess;
};

type Entry = {
  sandbox?: Sandbox;
  child: ChildProcess;
  status: SandboxStatus;
  stopping: boolean;
  uid?: number;
  dir: string;
  cgroup?: SandboxCgroup;
  /** The limit that ended it, when one did. */
  limit?: LimitReason;
  stopWatch?: () => void;
  /** A session took it (it may run project code and the agent from now on). */
  claimed?: boolean;
  /** The copy of its optimized dependencies into the shared cache, while it runs: a claim waits for it. */
  publishing?: Promise<void>;
};


/** A sandbox id: 144 random bits, URL-safe; it is also the preview's path, so unguessable. */
const newSandboxId = () => randomBytes(18).toString('base64url');

/**
 * The local driver: each sandbox is one runtime process (and what it starts) on this
 * machine, in its own folder `sandboxes/<id>/` (root's, 0711: passable, not listable; the
 * server's `sandbox.json` and log stay out of its reach) holding `workspace`, `agent`,
 * `vite`, `home` and `sock`, which are the sandbox's. Its wall, as strong as the machine
 * allows (`wall.ts`):
 * - bubblewrap where it works: no network but its own loopback, its own PIDs, a root
 *   with nothing but read-only system folders, Node, the runtime and its packages, its own
 *   folder read-write and a private sized `/tmp`;
 * - a user of its own where the server runs as root (`sandbox-users.ts`);
 * - a cgroup of its own where the server may make one (`cgroups.ts`): memory, processes,
 *   CPU quota and a CPU weight under the server's; else `nice` and `prlimit --nproc`;
 * - a watch that ends it when it hits a limit (`limit-watch.ts`): an OOM kill, a refused
 *   fork, its folder over the disk limit.
 * It dies with the server (parent-death signals, and the IPC channel closing in any case).
 */
export function createLocalDriver(settings: LocalDriverSettings): LocalDriver {
  const { sandboxesDir, logger } = settings;
  const limits = settings.limits ?? DEFAULT_LIMITS;
  // The private /tmp takes a quarter of the disk limit; the folder may use the rest.
  const tmpBytes = Math.max(16, Math.floor(limits.diskMb / 4)) * 1024 * 1024;
  const folderBytes = limits.diskMb * 1024 * 1024 - tmpBytes;
  const entries = new Map<string, Entry>();
  const exitListeners: ((exit: SandboxExit) => void)[] = [];
  const users = createSandboxUsers({ logger, enabled: settings.isolateUsers });
  let traversable: Promise<void> | undefined;
  let confinement: Confinement | undefined;
  /** Probed at the first use, not at construction (which does no I/O). */
  const confined = () => (confinement ??= settings.bubblewrap === false ? 'none' : localConfinement().confinement) === 'bubblewrap';
  let cgroupsReady: Promise<Cgroups | undefined> | undefined;
  const cgroups = () =>
    (cgroupsReady ??= (settings.cgroups === false ? Promise.resolve({ unavailable: 'turned off in the settings' }) : setUpCgroups()).then((result) => {
      if ('unavailable' in result) {
        logger.warn(
          { reason: result.unavailable },
          `sandboxes run without cgroup limits (${result.unavailable}): only V8's heap limit caps their memory; nice -n 10 lowers their CPU weight${users.isolating ? ' and prlimit --nproc caps their processes per user' : ''}`,
        );
        return undefined;
      }
      return result;
    }));

  /** The wall around a sandbox's processes: the runtime and whatever runs beside it. */
  const wallFor = (entry: Pick<Entry, 'uid' | 'cgroup' | 'dir'>, command: string[]) =>
    wallCommand(command, {
      ...(entry.uid === undefined ? {} : { uid: entry.uid }),
      ...(entry.cgroup ? { cgroup: entry.cgroup } : {}),
      ...(confined() ? { bubblewrap: { readWrite: [entry.dir], readOnly: readOnlyPaths(settings.sharedCacheDir), readOnlyInside: [path.join(entry.dir, PACKAGES_FOLDER)], tmpBytes, cwd: entry.dir } } : {}),
      limits,
    });
  const sandboxPath = () => (confined() ? '/usr/local/bin:/usr/bin:/bin' : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'));

  async function start(options: StartOptions = {}): Promise<Sandbox> {
    const id = newSandboxId();
    const dir = path.join(sandboxesDir, id);
    const workspace = path.join(dir, 'workspace');
    const uid = users.take();
    const base = `/s/${id}/`;
    const bridgeToken = randomBytes(24).toString('base64url');
    const previewKey = randomBytes(24).toString('base64url');
    let entry: Entry | undefined;
    let cgroup: SandboxCgroup | undefined;
    try {
      await mkdir(dir, { recursive: true });
      if (uid !== undefined) {
        traversable ??= ensureTraversable(sandboxesDir);
        await traversable;
        await chmod(dir, 0o711);
      }
      // bubblewrap binds it read-only at start: it must exist before the first sandbox does.
      await mkdir(settings.sharedCacheDir, { recursive: true });
      await cp(settings.templateDir, workspace, {
        recursive: true,
        filter: (source) => isTemplateFile(path.relative(settings.templateDir, source)),
      });
      for (const folder of ['agent', 'vite', 'home']) await mkdir(path.join(dir, folder), { recursive: true, mode: 0o700 });
      await preparePackagesFolder(dir);
      if (uid !== undefined) {
        for (const folder of ['agent', 'vite', 'home']) await giveTree(path.join(dir, folder), uid);
        await giveWorkspace(workspace, uid);
      }
      // The runtime's sockets go there: the sandbox's until it is ready (see socket-folder.ts).
      await prepareSocketFolder(dir, uid === undefined ? undefined : { uid });
      cgroup = await (await cgroups())?.create(id, limits);
      const log = await open(path.join(dir, 'runtime.log'), 'a', 0o600);
      const nodeArgs = [...runtimeNodeFlags(settings.heapLimitMb), runtimeEntry];
      const [command, args] = wallFor({ uid, cgroup, dir }, [process.execPath, ...nodeArgs]);
      let child: ChildProcess;
      try {
        child = spawn(command, args, {
          cwd: dir,
          detached: true,
          stdio: ['ignore', log.fd, log.fd, 'ipc'],
          env: {
            PATH: sandboxPath(),
            HOME: path.join(dir, 'home'),
            NODE_ENV: 'development',
            RUNTIME_DIR: dir,
            RUNTIME_WORKSPACE: workspace,
            RUNTIME_BASE: base,
            RUNTIME_SHARED_CACHE: settings.sharedCacheDir,
            RUNTIME_LISTEN: 'unix',
            ...runtimeEnv({ cpus: limits.cpus, ...options }),
          },
        });
      } finally {
        await log.close();
      }
      const started: Entry = { child, status: 'starting', stopping: false, uid, dir, ...(cgroup ? { cgroup } : {}) };
      entry = started;
      entries.set(id, started);
      // Written at once, so a server that dies now leaves enough for the next one to reap.
      await writeInfo(id, { pid: child.pid, ...(uid === undefined ? {} : { uid }), startedAt: new Date().toISOString() });
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
      child.on('exit', (code, signal) => void exited(id, started, code, signal));
      started.stopWatch = watchLimits({
        folder: dir,
        diskBytes: folderBytes,
        ...(cgroup ? { cgroup } : {}),
        ...(settings.limitIntervalMs ? { intervalMs: settings.limitIntervalMs } : {}),
        onLimit: (reason, detail) => {
          if (started.stopping) return;
          started.limit = reason;
          logger.warn({ sandboxId: id, reason, ...detail }, 'sandbox hit a limit: ending it');
          void killEverything(started);
        },
      }).stop;
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
      // Its own loopback is out of the server's reach: only its sockets will do.
      if (ready.listen.kind !== 'unix') throw new Error('the sandbox listens on TCP ports, not on its sockets');
      // Before any project code runs in it: the socket folder becomes root's.
      await hardenSocketFolder(dir, { takeOwnership: uid !== undefined });
      const sandbox: Sandbox = {
        id,
        base,
        ...socketEndpoints(dir),
        bridgeToken,
        previewKey,
        confinement: confined() ? 'bubblewrap' : 'none',
        pid: child.pid,
        startupMs: ready.startupMs,
      };
      started.sandbox = sandbox;
      started.status = 'running';
      void publishDependencyCache(started, { viteDir: path.join(dir, 'vite'), sharedCacheDir: settings.sharedCacheDir, readableByAll: users.isolating, logger });
      return sandbox;
    } catch (error) {
      if (entry) await destroy(id);
      else {
        users.release(uid);
        await cgroup?.remove().catch(() => {});
        await rm(dir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /** Merges into the server's own note about a sandbox (what the next server needs to reap it). */
  const writeInfo = (id: string, fields: Parameters<typeof sandboxInfo.write>[1]) => sandboxInfo.write(path.join(sandboxesDir, id), fields);

  /** What ends an entry whose runtime exited: its reason, its status, the listeners. */
  async function exited(id: string, entry: Entry, code: number | null, signal: NodeJS.Signals | null) {
    entry.stopWatch?.();
    const expected = entry.stopping && !entry.limit;
    entry.status = expected || (code === 0 && !entry.limit) ? 'stopped' : 'error';
    // The OOM killer may have taken the runtime itself before the watch looked.
    const reason = entry.limit ?? (expected ? undefined : await entry.cgroup?.limitHit().catch(() => undefined));
    if (reason) {
      entry.status = 'error';
      // Whatever else it had goes too: a sandbox past a limit is not to be trusted.
      await killEverything(entry);
    }
    logger[reason ? 'warn' : 'info']({ sandboxId: id, code, signal, expected, ...(reason ? { reason } : {}) }, 'sandbox exited');
    for (const listener of exitListeners) listener({ id, code, signal, expected, ...(reason ? { reason } : {}) });
  }

  function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
    if (!child.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }

  /**
   * SIGKILLs every process of a sandbox: its process group, its cgroup (whatever session
   * or user they moved to) and its uid (`kill -1` as that uid, which also reaches
   * processes that left the group where there is no cgroup).
   */
  async function killEverything(entry: Entry) {
    killGroup(entry.child, 'SIGKILL');
    await entry.cgroup?.killAll();
    if (entry.uid !== undefined) await killEveryProcessOf(entry.uid);
  }

  const isRunning = (entry: Entry) => entry.child.exitCode === null && entry.child.signalCode === null;

  async function stop(id: string) {
    const entry = entries.get(id);
    if (!entry) return;
    entry.stopping = true;
    entry.stopWatch?.();
    // Files still moving through the runtime (a turn's agent state) finish first.
    await moves.idle(id);
    if (isRunning(entry)) {
      const exitedNow = new Promise<void>((resolve) => entry.child.once('exit', () => resolve()));
      // The runtime stops cleanly (Vite, the agent) when its IPC channel closes. A SIGTERM
      // to bubblewrap would end it at once, so only an unconfined runtime gets one.
      if (entry.child.connected) entry.child.disconnect();
      if (!confined()) killGroup(entry.child, 'SIGTERM');
      const timeout = setTimeout(() => void killEverything(entry), 3_000);
      await exitedNow;
      clearTimeout(timeout);
    }
    // Whatever the runtime started goes with it, also what left its group.
    await killEverything(entry);
  }

  /** Idempotent, also when called twice at once (two removals of one tree collide). */
  const destroying = new Map<string, Promise<void>>();
  function destroy(id: string): Promise<void> {
    const running = destroying.get(id);
    if (running) return running;
    const removal = (async () => {
      await stop(id);
      const entry = entries.get(id);
      await entry?.cgroup?.remove().catch((error: unknown) => logger.warn({ err: error, sandboxId: id }, 'could not remove the cgroup of a sandbox'));
      users.release(entry?.uid);
      entries.delete(id);
      await rm(path.join(sandboxesDir, id), { recursive: true, force: true });
    })().finally(() => destroying.delete(id));
    destroying.set(id, removal);
    return removal;
  }

  /** Files moving through running sandboxes' runtimes. */
  const moves = runtimeMoves();

  function runningSandbox(id: string): Sandbox | undefined {
    const entry = entries.get(id);
    return entry?.status === 'running' && !entry.stopping ? entry.sandbox : undefined;
  }

  function areaOf(id: string, area: SandboxArea) {
    const entry = entries.get(id);
    if (!entry) throw new SandboxMissingError(id);
    return { folder: path.join(entry.dir, area), uid: entry.uid };
  }

  return {
    name: 'local',
    get confinement() {
      return confined() ? 'bubblewrap' : 'none';
    },
    start,
    stop,
    destroy,
    status: (id) => entries.get(id)?.status ?? 'missing',
    list: () => [...entries].map(([id, entry]) => ({ id, status: entry.status })),
    onExit: (listener) => void exitListeners.push(listener),

    async readFiles(id, area, options = {}): Promise<Readable> {
      // Running: its runtime serves its files (no process started per move).
      const sandbox = runningSandbox(id);
      if (sandbox) return moves.pack(id, sandbox.files, sandbox.bridgeToken, area, options);
      const { folder, uid } = areaOf(id, area);
      return packArea(folder, uid);
    },

    async writeFiles(id, area, tar, options = {}) {
      const sandbox = runningSandbox(id);
      if (sandbox) return moves.unpack(id, sandbox.files, sandbox.bridgeToken, area, tar, { replace: options.replace ?? false });
      const { folder, uid } = areaOf(id, area);
      await unpackArea(folder, tar, { replace: options.replace ?? false, ...(uid === undefined ? {} : { uid }) });
    },

    spawnInside(id, command, options = {}) {
      const entry = entries.get(id);
      if (!entry || !isRunning(entry)) throw new SandboxMissingError(id);
      const [file, args] = wallFor(entry, command);
      return spawn(file, args, {
        cwd: options.cwd ?? path.join(entry.dir, 'workspace'),
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { PATH: sandboxPath(), HOME: path.join(entry.dir, 'home'), ...options.env },
      });
    },

    async setPackages(id: string, install: { key: string; nodeModules: string | null }) {
      const entry = entries.get(id);
      if (!entry) throw new Error(`no sandbox ${id}`);
      await showPackages(entry.dir, install);
    },

    async label(id: string, owner: SandboxOwner) {
      const entry = entries.get(id);
      if (entry) entry.claimed = true;
      // No project file goes in while root still copies from its folder into the shared cache.
      await entry?.publishing;
      await writeInfo(id, { owner });
    },

    async reap(recover) {
      await mkdir(sandboxesDir, { recursive: true });
      const found = await cgroups();
      const reaped: string[] = [];
      for (const id of await readdir(sandboxesDir)) {
        if (entries.has(id)) continue;
        const dir = path.join(sandboxesDir, id);
        const info = await readInfo(dir);
        if (info.pid && (await isOurRuntime(info.pid))) {
          try {
            process.kill(-info.pid, 'SIGKILL');
          } catch {
            // gone meanwhile
          }
        }
        // What left the runtime's group: everything in its cgroup, everything of its uid.
        const cgroup = found?.open(id);
        await cgroup?.killAll();
        if (info.uid !== undefined) await killEveryProcessOf(info.uid);
        await cgroup?.remove().catch((error: unknown) => logger.warn({ err: error, sandboxId: id }, 'could not remove the cgroup of a sandbox left by a crash'));
        const owner = info.owner;
        if (recover && owner) {
          const uid = info.uid;
          await recover({ id, owner, readFiles: async (area) => packArea(path.join(dir, area), uid) }).catch((error: unknown) => {
            logger.error({ err: error, sandboxId: id }, 'could not recover the work of a sandbox left by a crash');
          });
        }
        await rm(dir, { recursive: true, force: true });
        reaped.push(id);
      }
      if (reaped.length) logger.info({ reaped }, 'reaped sandboxes left by an earlier run');
      return reaped;
    },

    async close() {
      // Files stay for the next server's reap (and its recovery); an empty cgroup is of no use to it.
      await Promise.all(
        [...entries].map(async ([id, entry]) => {
          await stop(id);
          await entry.cgroup?.remove().catch((error: unknown) => logger.warn({ err: error, sandboxId: id }, 'could not remove the cgroup of a sandbox'));
        }),
      );
    },
  };
}

export class SandboxMissingError extends Error {
  override name = 'SandboxMissingError';
  readonly code = 'sandbox_missing';
  constructor(readonly sandboxId: string) {
    super(`no running sandbox ${sandboxId}`);
  }
}

/** The server's note about a sandbox (`sandbox.json`). */
const sandboxInfo = sandboxInfoNote({
  pid: z.number().int().positive().optional(),
  // `kill -1` as this uid ends its processes at reap: never a uid below the sandboxes' range.
  uid: z.number().int().min(200_000).optional(),
});
const readInfo = sandboxInfo.read;

/** Only kill a pid from a stale file if it still is a runtime (pids get reused). */
async function isOurRuntime(pid: number): Promise<boolean> {
  const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return commandLine.includes(runtimeEntry);
}
