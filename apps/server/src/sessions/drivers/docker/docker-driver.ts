import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { z } from 'zod';
import { RuntimeReady } from '@cutroom/protocol';
import { publishDependencyCache } from '../dependency-cache.js';
import { runtimeEnv, runtimeNodeFlags } from '../runtime-process.js';
import { sandboxInfoNote } from '../sandbox-info.js';
import { isTemplateFile } from '@cutroom/template';
import type { Sandbox, SandboxArea, SandboxDriver, SandboxExit, SandboxOwner, SandboxStatus, StartOptions } from '../driver.js';
import { diskUsage, overDiskLimit } from '../local/limit-watch.js';
import { createSandboxUsers, giveTree, giveWorkspace } from '../local/sandbox-users.js';
import { runtimeMoves } from '../runtime-files.js';
import { PACKAGES_FOLDER, preparePackagesFolder, showPackages } from '../sandbox-packages.js';
import { hardenSocketFolder, prepareSocketFolder, socketEndpoints } from '../socket-folder.js';
import { imageCheck, walledHostConfig } from './container-wall.js';
import { attachStdio, dockerClient, execStream, textSink, tolerate } from './docker-engine-client.js';


export type DockerDriverSettings = {
  /** `DATA_DIR/sandboxes`: one folder per sandbox (its files, bound into its container). */
  sandboxesDir: string;
  /** Dependency cache shared by all sandboxes (bound read-only). */
  sharedCacheDir: string;
  templateDir: string;
  limits: SandboxLimits;
  /** SANDBOX_IMAGE; default `cutroom-runtime:<version>`, built by `npm run sandbox:image`. */
  image?: string;
  /** DOCKER_HOST; default: dockerode's reading of the environment (unix:///var/run/docker.sock). */
  dockerHost?: string;
  logger: Logger;
  /** V8 heap limit of a runtime, in MiB. */
  heapLimitMb?: number;
  readyTimeoutMs?: number;
  /** How often the limits are sampled (disk use, the container's cgroup counters). */
  limitIntervalMs?: number;
};

export type SandboxLimits = { memoryMb: number; pids: number; cpus: number; diskMb: number };

export type ExecResult = { code: number | null; signal: string | null; stdout: string; stderr: string };

/** The docker driver: the common verbs, plus running a command in a sandbox's container. */
export type DockerDriver = SandboxDriver & {
  /** Runs `command` in a running sandbox's container, as its project code would (its user, limits, mounts). */
  execInside(id: string, command: string[], options?: { timeoutMs?: number; workingDir?: string }): Promise<ExecResult>;
  /** The engine's id of a sandbox's container (tests inspect it). */
  containerId(id: string): string | undefined;
};

/** Where things are inside the image (scripts/sandbox-image.mjs, Dockerfile). */
export const IMAGE_PATHS = {
  node: '/usr/bin/node',
  app: '/opt/cutroom',
  runtime: '/opt/cutroom/packages/runtime/dist/main.js',
  sandboxFiles: '/opt/cutroom/packages/runtime/dist/sandbox-files.js',
  sandbox: '/sandbox',
  sharedCache: '/cache/vite-deps',
} as const;

/** The sandbox's user when the server cannot give each one its own (it does not run as root). */
export const DEFAULT_SANDBOX_UID = 10001;

export const LABELS = {
  sandbox: 'cutroom.sandbox',
  server: 'cutroom.server',
  /** The one-shot container that packs a stopped sandbox's files. */
  packer: 'cutroom.packer',
} as const;

/** `cutroom-runtime:<version of the root package.json>`. */
export function defaultImage(): string {
  const manifest = new URL('../../../../../../package.json', import.meta.url);
  const version = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(manifest, 'utf8'))).version;
  return `cutroom-runtime:${version}`;
}

/**
 * One server (one DATA_DIR on one machine) among others on the same engine: its
 * containers carry this id, so its reap never touches another server's.
 */
export function serverLabel(sandboxesDir: string): string {
  return createHash('sha256').update(`${os.hostname()}\0${path.resolve(sandboxesDir)}`).digest('hex').slice(0, 24);
}

/** A sandbox id: 144 random bits, URL-safe; it is also the preview's path, so unguessable. */
const newSandboxId = () => randomBytes(18).toString('base64url');
/** What `newSandboxId` makes: 18 bytes in base64url. */
const SANDBOX_ID = /^[A-Za-z0-9_-]{24}$/;

const AREAS = ['workspace', 'agent', 'home', 'vite'] as const;

type Entry = {
  id: string;
  dir: string;
  container: Docker.Container;
  containerId: string;
  status: SandboxStatus;
  stopping: boolean;
  uid: number;
  isolated: boolean;
  limit?: NonNullable<SandboxExit['reason']>;
  stopWatch?: () => void;
  claimed?: boolean;
  /** The copy of its optimized dependencies into the shared cache, while it runs: a claim waits for it. */
  publishing?: Promise<void>;
  sandbox?: Sandbox;
};

export class DockerDriverError extends Error {
  override name = 'DockerDriverError';
  constructor(
    readonly code: 'image_missing' | 'engine_unreachable' | 'sandbox_missing' | 'sandbox_start_failed' | 'sandbox_files_failed',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The docker driver: one container per sandbox, from the sandbox image, walled in by the
 * engine: no network at all (`none`: not even a bridge; the server reaches it through the
 * Unix sockets in its bound `sock/` folder), a read-only root, no capabilities,
 * `no-new-privileges`, a non-root user (one per sandbox when the server runs as root, so
 * the files on the host are each sandbox's own), limits on memory (swap included),
 * processes and CPU, a CPU weight under the server's, and a sized tmpfs `/tmp`. Its
 * folders on the host (`workspace`, `agent`, `home`, `vite`, `sock`) are bound one by
 * one, so the server's own `sandbox.json` and `runtime.log` beside them stay out of its
 * sight. Files move in and out with the runtime's `sandbox-files` run by `docker exec`
 * inside the container, as the sandbox's user.
 *
 * Unlike a local child, a container does not die with the server: a server that was
 * killed leaves its containers running, and the next one's `reap` ends them (they carry
 * this server's label).
 */
export function createDockerDriver(settings: DockerDriverSettings): DockerDriver {
  const { sandboxesDir, logger, limits } = settings;
  const image = settings.image ?? defaultImage();
  const server = serverLabel(sandboxesDir);
  const docker = dockerClient(settings.dockerHost);
  const entries = new Map<string, Entry>();
  const exitListeners: ((exit: SandboxExit) => void)[] = [];
  // A uid of its own per sandbox when the server is root; `enabled` needs no setpriv here.
  const users = createSandboxUsers({ logger, enabled: process.getuid?.() === 0 });
  const tmpMb = Math.max(16, Math.floor(limits.diskMb / 4));
  const folderBytes = (limits.diskMb - tmpMb) * 1024 * 1024;

  /** Fails with what to do when the engine does not answer or has no image. */
  const checkImage = imageCheck(docker, image, settings.dockerHost, (code, message) => new DockerDriverError(code, message));

  function containerOptions(id: string, dir: string, uid: number, gid: number, secrets: { bridgeToken: string; previewKey: string }, options: StartOptions): Docker.ContainerCreateOptions {
    const inside = IMAGE_PATHS.sandbox;
    return {
      name: `cutroom-${id}`,
      Image: image,
      Cmd: [IMAGE_PATHS.node, ...runtimeNodeFlags(settings.heapLimitMb), IMAGE_PATHS.runtime],
      User: `${uid}:${gid}`,
      WorkingDir: inside,
      Env: [
        'PATH=/usr/local/bin:/usr/bin:/bin',
        `HOME=${inside}/home`,
        'NODE_ENV=development',
        `RUNTIME_DIR=${inside}`,
        `RUNTIME_WORKSPACE=${inside}/workspace`,
        `RUNTIME_BASE=/s/${id}/`,
        `RUNTIME_SHARED_CACHE=${IMAGE_PATHS.sharedCache}`,
        'RUNTIME_LISTEN=unix',
        ...Object.entries(runtimeEnv({ cpus: limits.cpus, ...options })).map(([name, value]) => `${name}=${value}`),
        // A container's environment is its own (only the engine's API shows it, to root).
        `RUNTIME_BRIDGE_TOKEN=${secrets.bridgeToken}`,
        `RUNTIME_PREVIEW_KEY=${secrets.previewKey}`,
      ],
      Labels: { [LABELS.sandbox]: id, [LABELS.server]: server },
      HostConfig: walledHostConfig({
        memoryMb: limits.memoryMb,
        pids: limits.pids,
        cpus: limits.cpus,
        // A quarter of the default weight: the server stays responsive while sandboxes boot.
        cpuShares: 256,
        tmpMb,
        binds: [
          ...AREAS.map((area) => `${path.join(dir, area)}:${inside}/${area}:rw`),
          `${path.join(dir, 'sock')}:${inside}/sock:rw`,
          `${settings.sharedCacheDir}:${IMAGE_PATHS.sharedCache}:ro`,
          `${path.join(dir, PACKAGES_FOLDER)}:${inside}/${PACKAGES_FOLDER}:ro`,
        ],
        logMaxSize: '5m',
      }),
      StopTimeout: 3,
    };
  }

  async function start(options: StartOptions = {}): Promise<Sandbox> {
    await checkImage();
    const id = newSandboxId();
    const dir = path.join(sandboxesDir, id);
    const poolUid = users.take();
    const isolated = poolUid !== undefined;
    // Without root, the server cannot hand files to another user: the sandbox runs as the
    // server's own (non-root) user, walled in by the container alone.
    const uid = poolUid ?? (process.getuid?.() || DEFAULT_SANDBOX_UID);
    const gid = poolUid ?? (process.getgid?.() || DEFAULT_SANDBOX_UID);
    const bridgeToken = randomBytes(24).toString('base64url');
    const previewKey = randomBytes(24).toString('base64url');
    let entry: Entry | undefined;
    try {
      await mkdir(dir, { recursive: true });
      // Only the server's: the sandbox sees the folders bound into it, never this one.
      await chmod(dir, 0o700);
      await mkdir(settings.sharedCacheDir, { recursive: true });
      const workspace = path.join(dir, 'workspace');
      await cp(settings.templateDir, workspace, { recursive: true, filter: (source) => isTemplateFile(path.relative(settings.templateDir, source)) });
      for (const folder of ['agent', 'vite', 'home']) await mkdir(path.join(dir, folder), { recursive: true, mode: 0o700 });
      await preparePackagesFolder(dir);
      if (isolated) {
        for (const folder of ['agent', 'vite', 'home']) await giveTree(path.join(dir, folder), uid);
        await giveWorkspace(workspace, uid);
      }
      await prepareSocketFolder(dir, isolated ? { uid, gid } : undefined);
      await writeInfo(dir, { uid, isolated, startedAt: new Date().toISOString() });

      const container = await docker.createContainer(containerOptions(id, dir, uid, gid, { bridgeToken, previewKey }, options));
      const started: Entry = { id, dir, container, containerId: container.id, status: 'starting', stopping: false, uid, isolated };
      entry = started;
      entries.set(id, started);
      await writeInfo(dir, { container: container.id });
      await container.start();
      const exited = watchExit(started);
      const ready = await Promise.race([
        waitForReady(started),
        exited.then(async (code) => {
          const tail = (await readFile(path.join(dir, 'runtime.log'), 'utf8').catch(() => '')).slice(-2_000);
          throw new DockerDriverError('sandbox_start_failed', `the sandbox exited with code ${code} before it was ready: ${tail}`);
        }),
      ]);
      // Its own loopback is out of the server's reach: only its sockets will do.
      if (ready.listen.kind !== 'unix') throw new DockerDriverError('sandbox_start_failed', 'the sandbox listens on TCP ports, not on its sockets');
      // Before any project code runs in it: the socket folder becomes root's.
      await hardenSocketFolder(dir, { takeOwnership: isolated });
      const info = await container.inspect();
      started.stopWatch = watchLimits(started, info.State.Pid);
      const sandbox: Sandbox = {
        id,
        base: `/s/${id}/`,
        ...socketEndpoints(dir),
        bridgeToken,
        previewKey,
        confinement: 'container',
        ...(info.State.Pid ? { pid: info.State.Pid } : {}),
        startupMs: ready.startupMs,
      };
      started.sandbox = sandbox;
      if (started.status === 'starting') started.status = 'running';
      void publishDependencyCache(started, { viteDir: path.join(started.dir, 'vite'), sharedCacheDir: settings.sharedCacheDir, readableByAll: true, logger });
      return sandbox;
    } catch (error) {
      if (entry) await destroy(id);
      else {
        users.release(poolUid);
        await rm(dir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /**
   * Follows the container's output into the server's `runtime.log` (capped) and resolves
   * with the runtime's ready line: a container has no IPC channel, so the runtime prints it.
   */
  async function waitForReady(entry: Entry): Promise<RuntimeReady> {
    const stream = (await entry.container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
    const log = createWriteStream(path.join(entry.dir, 'runtime.log'), { flags: 'a', mode: 0o600 });
    log.on('error', () => {});
    let logged = 0;
    const toLog = (chunk: Buffer) => {
      if (logged > 2 * 1024 * 1024) return;
      logged += chunk.length;
      log.write(chunk);
    };
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stderr.on('data', toLog);
    docker.modem.demuxStream(stream, stdout, stderr);
    stream.on('end', () => {
      stdout.end();
      stderr.end();
      log.end();
    });
    stream.on('error', () => log.end());
    return new Promise<RuntimeReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DockerDriverError('sandbox_start_failed', 'the sandbox did not become ready in time')), settings.readyTimeoutMs ?? 60_000);
      // An early exit settles the start first; this must not hold the process open after it.
      timer.unref();
      let pending = '';
      let found = false;
      stdout.on('data', (chunk: Buffer) => {
        toLog(chunk);
        if (found) return;
        pending += chunk.toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (!line.startsWith('{')) continue;
          let message: unknown;
          try {
            message = JSON.parse(line);
          } catch {
            continue;
          }
          const parsed = RuntimeReady.safeParse(message);
          if (!parsed.success) continue;
          found = true;
          clearTimeout(timer);
          resolve(parsed.data);
          return;
        }
        // A line without an end that keeps growing is not the ready message.
        if (pending.length > 64 * 1024) pending = '';
      });
    });
  }

  /** Resolves with the exit code when the container stops, and tells the listeners. */
  function watchExit(entry: Entry): Promise<number | null> {
    return entry.container.wait().then(
      async (result: { StatusCode?: number }) => {
        const code = typeof result?.StatusCode === 'number' ? result.StatusCode : null;
        entry.stopWatch?.();
        const state = await tolerate(entry.container.inspect()).catch(() => undefined);
        if (!entry.limit && state?.State.OOMKilled) entry.limit = 'memory';
        const reason = entry.limit;
        const expected = entry.stopping && !reason;
        entry.status = expected || (code === 0 && !reason) ? 'stopped' : 'error';
        logger[reason ? 'warn' : 'info']({ sandboxId: entry.id, code, expected, ...(reason ? { reason } : {}) }, 'sandbox exited');
        for (const listener of exitListeners) listener({ id: entry.id, code, signal: null, expected, ...(reason ? { reason } : {}) });
        return code;
      },
      (error: unknown) => {
        logger.warn({ err: error, sandboxId: entry.id }, 'lost the watch on a sandbox container');
        return null;
      },
    );
  }

  /**
   * Samples a sandbox's limits: its container's cgroup counters (an OOM kill of any of
   * its processes, a refused fork), where the engine runs on this machine, and its folders'
   * size. The first limit hit ends the whole container, as with the local driver: a
   * sandbox whose process was killed by a limit is not in a state anyone can trust.
   */
  function watchLimits(entry: Entry, pid: number | undefined): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const counters = pid ? cgroupCounters(pid) : [];
    const tick = async () => {
      if (stopped) return;
      let reason: Entry['limit'];
      for (const counter of counters) {
        if (!reason && (await counter.read()) > 0) reason = counter.reason;
      }
      const over = reason ? null : overDiskLimit(await diskUsage(entry.dir), folderBytes);
      if (over) reason = 'disk';
      if (stopped) return;
      if (reason) {
        stopped = true;
        entry.limit = reason;
        logger.warn({ sandboxId: entry.id, reason, ...over }, 'sandbox hit a limit: ending it');
        await tolerate(entry.container.kill()).catch(() => {});
        return;
      }
      timer = setTimeout(() => void tick(), settings.limitIntervalMs ?? 2_000);
      timer.unref();
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }

  /** Files moving through running sandboxes' runtimes. */
  const moves = runtimeMoves();

  async function stop(id: string) {
    const entry = entries.get(id);
    if (!entry) return;
    entry.stopping = true;
    entry.stopWatch?.();
    // Files still moving through the runtime (a turn's agent state) finish first.
    await moves.idle(id);
    // SIGTERM to the runtime (through the init), SIGKILL after StopTimeout.
    await tolerate(entry.container.stop({ t: 3 }));
    if (entry.status === 'starting' || entry.status === 'running') entry.status = 'stopped';
  }

  /** Idempotent, also when called twice at once. */
  const destroying = new Map<string, Promise<void>>();
  function destroy(id: string): Promise<void> {
    const running = destroying.get(id);
    if (running) return running;
    const removal = (async () => {
      const entry = entries.get(id);
      if (entry) {
        entry.stopping = true;
        entry.stopWatch?.();
        await tolerate(entry.container.remove({ force: true, v: true }));
        if (entry.isolated) users.release(entry.uid);
      }
      entries.delete(id);
      await rm(path.join(sandboxesDir, id), { recursive: true, force: true });
    })().finally(() => destroying.delete(id));
    destroying.set(id, removal);
    return removal;
  }

  function running(id: string): Entry {
    const entry = entries.get(id);
    if (!entry || (entry.status !== 'running' && entry.status !== 'starting')) {
      throw new DockerDriverError('sandbox_missing', `no running sandbox ${id}`);
    }
    return entry;
  }

  /** An area's files as `sandbox-files pack` writes them, read inside the container. */
  async function packInside(container: Docker.Container, area: SandboxArea): Promise<Readable> {
    const { stdout, done } = await execStream(docker, container, [IMAGE_PATHS.node, IMAGE_PATHS.sandboxFiles, 'pack', `${IMAGE_PATHS.sandbox}/${area}`]);
    const out = new PassThrough();
    stdout.pipe(out, { end: false });
    // A cut-off archive must never pass for a whole one: the stream fails instead of ending.
    Promise.all([done, new Promise((resolve) => stdout.once('end', resolve))]).then(
      ([outcome]) => {
        if (outcome.exitCode === 0) out.end();
        else out.destroy(new DockerDriverError('sandbox_files_failed', `sandbox-files pack ended with ${outcome.exitCode}: ${outcome.stderr.trim()}`));
      },
      (error: unknown) => out.destroy(error as Error),
    );
    out.once('close', () => {
      if (!stdout.readableEnded) stdout.destroy();
    });
    return out;
  }

  /**
   * A stopped container's area (a crashed sandbox, recovery after a crash), packed by
   * `sandbox-files` in a one-shot container of the same image and user, behind the same
   * wall, with only that area bound, read-only. Not the engine's archive API: Podman reads
   * a stopped container's root filesystem without its binds (an empty folder comes back).
   */
  async function archiveOf(container: Docker.Container, area: SandboxArea): Promise<Readable> {
    const info = await container.inspect();
    const inside = `${IMAGE_PATHS.sandbox}/${area}`;
    const source = info.Mounts.find((mount) => mount.Destination === inside)?.Source;
    if (!source) throw new DockerDriverError('sandbox_files_failed', `container ${info.Id.slice(0, 12)} has no ${area} folder`);
    const packer = await docker.createContainer({
      Image: info.Config.Image,
      User: info.Config.User,
      Cmd: [IMAGE_PATHS.node, IMAGE_PATHS.sandboxFiles, 'pack', inside],
      Env: ['HOME=/tmp'],
      AttachStdout: true,
      AttachStderr: true,
      NetworkDisabled: true,
      // Not a sandbox: one left by a crash is removed by the next reap.
      Labels: { [LABELS.server]: server, [LABELS.packer]: '1' },
      HostConfig: walledHostConfig({ memoryMb: 256, pids: 64, cpuShares: 256, tmpMb: 16, binds: [`${source}:${inside}:ro`], logMaxSize: '1m' }),
    });
    const remove = () => tolerate(packer.remove({ force: true, v: true })).catch(() => {});
    try {
      const stdio = await attachStdio(docker, packer);
      stdio.stdin.end();
      const stderr = textSink();
      stdio.stderr.pipe(stderr);
      await packer.start();
      const out = new PassThrough();
      stdio.stdout.pipe(out, { end: false });
      // A cut-off archive must never pass for a whole one: the stream fails instead of ending.
      Promise.all([packer.wait() as Promise<{ StatusCode: number }>, new Promise((resolve) => stdio.stdout.once('end', resolve))])
        .then(
          ([outcome]) => {
            if (outcome.StatusCode === 0) out.end();
            else out.destroy(new DockerDriverError('sandbox_files_failed', `sandbox-files pack ended with ${outcome.StatusCode}: ${stderr.text().trim()}`));
          },
          (error: unknown) => out.destroy(error as Error),
        )
        .finally(() => void remove());
      out.once('close', () => {
        if (!stdio.stdout.readableEnded) stdio.close();
      });
      return out;
    } catch (error) {
      await remove();
      throw error;
    }
  }

  async function readFilesOf(container: Docker.Container, area: SandboxArea): Promise<Readable> {
    const info = await container.inspect();
    return info.State.Running ? packInside(container, area) : archiveOf(container, area);
  }

  const writeInfo = sandboxInfo.write;

  return {
    name: 'docker',
    confinement: 'container',
    start,
    stop,
    destroy,
    status: (id) => entries.get(id)?.status ?? 'missing',
    list: () => [...entries].map(([id, entry]) => ({ id, status: entry.status })),
    onExit: (listener) => void exitListeners.push(listener),
    containerId: (id) => entries.get(id)?.containerId,

    async readFiles(id, area, options = {}) {
      const entry = entries.get(id);
      if (!entry) throw new DockerDriverError('sandbox_missing', `no sandbox ${id}`);
      // Running: its runtime serves its files (no `docker exec` per move).
      if (entry.status === 'running' && !entry.stopping && entry.sandbox) return moves.pack(id, entry.sandbox.files, entry.sandbox.bridgeToken, area, options);
      return readFilesOf(entry.container, area);
    },

    async writeFiles(id, area, archive, options = {}) {
      const entry = running(id);
      if (entry.status === 'running' && !entry.stopping && entry.sandbox) {
        return moves.unpack(id, entry.sandbox.files, entry.sandbox.bridgeToken, area, archive, { replace: options.replace ?? false });
      }
      const command = [IMAGE_PATHS.node, IMAGE_PATHS.sandboxFiles, 'unpack', `${IMAGE_PATHS.sandbox}/${area}`, ...(options.replace ? ['--replace'] : [])];
      const { stdout, done } = await execStream(docker, entry.container, command, { stdin: archive });
      stdout.resume();
      const outcome = await done;
      if (outcome.exitCode !== 0) {
        throw new DockerDriverError('sandbox_files_failed', outcome.stderr.trim().replace(/^sandbox-files: /, '') || `sandbox-files unpack ended with ${outcome.exitCode}`);
      }
    },

    async execInside(id, command, options = {}) {
      const entry = running(id);
      const { stdout, done } = await execStream(docker, entry.container, command, options.workingDir ? { workingDir: options.workingDir } : {});
      const output = textSink(100_000);
      stdout.pipe(output);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        stdout.destroy();
      }, options.timeoutMs ?? 60_000);
      try {
        const outcome = await done;
        return { code: outcome.exitCode, signal: null, stdout: output.text(), stderr: outcome.stderr };
      } catch (error) {
        if (timedOut) return { code: null, signal: 'SIGKILL', stdout: output.text(), stderr: 'timed out' };
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },

    async setPackages(id: string, install: { key: string; nodeModules: string | null }) {
      const entry = entries.get(id);
      if (!entry) throw new DockerDriverError('sandbox_missing', `no sandbox ${id}`);
      await showPackages(entry.dir, install);
    },

    async label(id: string, owner: SandboxOwner) {
      const entry = entries.get(id);
      if (entry) entry.claimed = true;
      // No project file goes in while root still copies from its folder into the shared cache.
      await entry?.publishing;
      // A container's labels cannot change after it is made: the owner goes in the server's note.
      await writeInfo(path.join(sandboxesDir, id), { owner });
    },

    async reap(recover) {
      await mkdir(sandboxesDir, { recursive: true });
      const reaped: string[] = [];
      const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.server}=${server}`] } });
      for (const found of containers) {
        const id = found.Labels[LABELS.sandbox];
        if (id && entries.has(id)) continue;
        // Another part's containers under this server's label (renders) are its own to reap.
        if (!id && !(LABELS.packer in found.Labels)) continue;
        const container = docker.getContainer(found.Id);
        // A label is only text whoever can reach the engine may set: never a path unless it is an id of ours.
        if (!id || !SANDBOX_ID.test(id)) {
          await tolerate(container.remove({ force: true, v: true }));
          continue;
        }
        // Stopped first: nothing may write while its work is read.
        await tolerate(container.kill()).catch(() => {});
        await tolerate(container.wait()).catch(() => {});
        const dir = path.join(sandboxesDir, id);
        const owner = (await readInfo(dir)).owner;
        if (recover && owner) {
          await recover({ id, owner, readFiles: (area) => archiveOf(container, area) }).catch((error: unknown) => {
            logger.error({ err: error, sandboxId: id }, 'could not recover the work of a sandbox left by a crash');
          });
        }
        await tolerate(container.remove({ force: true, v: true }));
        await rm(dir, { recursive: true, force: true });
        reaped.push(id);
      }
      // Folders whose container is gone (removed by hand, or never made): nothing runs there.
      for (const id of await readdir(sandboxesDir)) {
        if (entries.has(id) || reaped.includes(id)) continue;
        const dir = path.join(sandboxesDir, id);
        if ((await readInfo(dir)).owner) logger.warn({ sandboxId: id }, 'removing the folder of a sandbox whose container is gone: its unsaved work is lost');
        await rm(dir, { recursive: true, force: true });
        reaped.push(id);
      }
      if (reaped.length) logger.info({ reaped }, 'reaped sandboxes left by an earlier run');
      return reaped;
    },

    async close() {
      await Promise.all([...entries.keys()].map((id) => stop(id)));
    },
  };
}

/**
 * The counters of a container's cgroup that say a limit was hit, found from its first
 * process's `/proc/<pid>/cgroup` (cgroup v1 or v2). Empty when the engine runs elsewhere
 * or the files cannot be read: the limits still hold, the sandbox is just not ended.
 */
function cgroupCounters(pid: number): { reason: 'memory' | 'pids'; read(): Promise<number> }[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  const counters: { reason: 'memory' | 'pids'; read(): Promise<number> }[] = [];
  const add = (reason: 'memory' | 'pids', file: string, key: string) => {
    if (!existsSync(file)) return;
    counters.push({ reason, read: () => readCounter(file, key) });
  };
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const controllers = match[1]!.split(',');
    const where = match[2]!;
    if (controllers.includes('memory')) add('memory', path.join('/sys/fs/cgroup/memory', where, 'memory.oom_control'), 'oom_kill');
    if (controllers.includes('pids')) add('pids', path.join('/sys/fs/cgroup/pids', where, 'pids.events'), 'max');
    if (match[1] === '' && existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      add('memory', path.join('/sys/fs/cgroup', where, 'memory.events'), 'oom_kill');
      add('pids', path.join('/sys/fs/cgroup', where, 'pids.events'), 'max');
    }
  }
  return counters;
}

async function readCounter(file: string, key: string): Promise<number> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const match = new RegExp(`^${key}\\s+(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

/** The server's note about a sandbox (`sandbox.json`). */
const sandboxInfo = sandboxInfoNote({
  uid: z.number().int().min(1).optional(),
  isolated: z.boolean().optional(),
  container: z.string().optional(),
});
const readInfo = sandboxInfo.read;
