import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import type { SandboxDriver } from '../driver.js';
import { setUpCgroups } from '../local/cgroups.js';
import { type LocalDriver, type SandboxLimits, createLocalDriver } from '../local/local-driver.js';
import { type DockerDriver, LABELS, createDockerDriver } from '../docker/docker-driver.js';
import { dockerClient } from '../docker/docker-engine-client.js';
import { dockerEngine } from '../../../testing/docker-engine.js';

/**
 * The drivers the contract suite (`driver.contract.test.ts`) runs against, each with what
 * the suite needs to know about it that the driver interface does not say: how to run
 * code inside a sandbox as project code would, and what "nothing left" means for it.
 *
 * `SANDBOX_DRIVERS_UNDER_TEST=local,docker` picks; by default every driver that can run
 * here. A driver that is `required` (docker under CI) fails the suite when it cannot run,
 * instead of being skipped.
 */

/** How long a sandbox may take to start on a loaded machine (2 cores shared with the rest of the suite). */
export const STARTUP_MS = 150_000;

export type ExecResult = { code: number | null; signal: string | null; stdout: string; stderr: string };

export type DriverUnderTest = {
  name: string;
  /** Why it cannot run here; undefined when it can. */
  unavailable(): Promise<string | undefined>;
  /** Fail, not skip, when unavailable. */
  required: boolean;
  create(settings: { dataDir: string; sharedCacheDir: string; limits: SandboxLimits; logger: Logger }): SandboxDriver;
  /**
   * Runs a command inside a running sandbox's wall, as its project code (the agent's
   * shell, a build script) would: its user, limits and view of the machine.
   */
  exec(driver: SandboxDriver, id: string, command: string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  /** A sandbox's working copy as code inside it sees it. */
  workspaceInside(dataDir: string, id: string): string;
  /** Whether its sandboxes are held to memory, process and disk limits here. */
  enforcesLimits(driver: SandboxDriver): Promise<boolean>;
  /**
   * Notes what makes up a running sandbox (its user, its cgroups, its container, its
   * folder), so that `leftovers` can later name what of it is still there (empty: nothing).
   */
  track(dataDir: string, sandbox: { id: string; pid?: number }): Promise<{ leftovers(): Promise<string[]> }>;
};

/** Collects a child's output and exit, killing it after `timeoutMs`. */
export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text.slice(0, 100_000)));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text.slice(0, 100_000)));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${error.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Processes whose real uid is `uid`, from /proc. */
export async function processesOf(uid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    const match = /^Uid:\s+(\d+)/m.exec(status);
    if (match && Number(match[1]) === uid) found.push(Number(name));
  }
  return found;
}

const local: DriverUnderTest = {
  name: 'local',
  required: true,
  unavailable: async () => undefined,
  create: ({ dataDir, sharedCacheDir, limits, logger }) =>
    createLocalDriver({ sandboxesDir: path.join(dataDir, 'sandboxes'), sharedCacheDir, templateDir: templateProjectDir, limits, logger, limitIntervalMs: 500, readyTimeoutMs: STARTUP_MS }),
  exec: (driver, id, command, options) => collect((driver as LocalDriver).spawnInside(id, command), options?.timeoutMs),
  workspaceInside: (dataDir, id) => path.join(dataDir, 'sandboxes', id, 'workspace'),
  async enforcesLimits() {
    const cgroups = await setUpCgroups();
    return !('unavailable' in cgroups);
  },
  async track(dataDir, sandbox) {
    const status = sandbox.pid ? await readFile(`/proc/${sandbox.pid}/status`, 'utf8').catch(() => '') : '';
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    // Only a uid of its own says which processes are the sandbox's (not the server's).
    const ownUid = Number.isInteger(uid) && uid !== process.getuid?.() ? uid : undefined;
    return {
      async leftovers() {
        const left: string[] = [];
        if (sandbox.pid && existsSync(`/proc/${sandbox.pid}`)) left.push(`process ${sandbox.pid}`);
        if (ownUid !== undefined) {
          for (const pid of await processesOf(ownUid)) {
            // Gone since the listing, or dead and waiting for its parent (the server) to reap it: not left.
            const state = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ')[0];
            if (!state || state === 'Z' || state === 'X') continue;
            const commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').slice(0, 200);
            left.push(`process ${pid} of uid ${ownUid} (${state}: ${commandLine})`);
          }
        }
        const folder = path.join(dataDir, 'sandboxes', sandbox.id);
        if (existsSync(folder)) left.push(`folder ${folder}`);
        for (const controller of ['memory', 'pids', 'cpu']) {
          for (const parent of await cgroupParents(controller)) {
            const cgroup = path.join(parent, sandbox.id);
            if (existsSync(cgroup)) left.push(`cgroup ${cgroup}`);
          }
        }
        return [...new Set(left)];
      },
    };
  },
};

/** Where the local driver's cgroups of a controller are (v1 and v2), on this machine. */
async function cgroupParents(controller: string): Promise<string[]> {
  const text = await readFile('/proc/self/cgroup', 'utf8');
  const parents: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    if (match[1] === '' && existsSync('/sys/fs/cgroup/cgroup.controllers')) parents.push(path.join('/sys/fs/cgroup', match[2]!, 'cutroom'));
    if (match[1]!.split(',').includes(controller)) parents.push(path.join('/sys/fs/cgroup', controller, match[2]!, 'cutroom'));
  }
  return parents;
}

/** The engine the docker entry uses, found by `unavailable()` (which the suite awaits first). */
let engineFound: { dockerHost: string; image: string } | undefined;

const docker: DriverUnderTest = {
  name: 'docker',
  required: process.env.CI === 'true',
  async unavailable() {
    try {
      const engine = await dockerEngine();
      if ('unavailable' in engine) return engine.unavailable;
      engineFound = engine;
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  },
  create: ({ dataDir, sharedCacheDir, limits, logger }) => {
    if (!engineFound) throw new Error('the docker engine was not looked for: call unavailable() first');
    return createDockerDriver({
      sandboxesDir: path.join(dataDir, 'sandboxes'),
      // Its own: a cache optimized outside the image names other paths.
      sharedCacheDir: `${sharedCacheDir}-docker`,
      templateDir: templateProjectDir,
      limits,
      logger,
      ...engineFound,
      limitIntervalMs: 500,
    });
  },
  exec: (driver, id, command, options) => (driver as DockerDriver).execInside(id, command, options),
  workspaceInside: () => '/sandbox/workspace',
  // The engine holds every container to its memory, process and CPU limits.
  enforcesLimits: async () => true,
  async track(dataDir, sandbox) {
    const status = sandbox.pid ? await readFile(`/proc/${sandbox.pid}/status`, 'utf8').catch(() => '') : '';
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    const ownUid = Number.isInteger(uid) && uid !== process.getuid?.() ? uid : undefined;
    return {
      async leftovers() {
        const left: string[] = [];
        const engine = dockerClient(engineFound?.dockerHost);
        const containers = await engine.listContainers({ all: true, filters: { label: [`${LABELS.sandbox}=${sandbox.id}`] } });
        for (const container of containers) left.push(`container ${container.Id.slice(0, 12)} (${container.State})`);
        if (ownUid !== undefined) {
          for (const pid of await processesOf(ownUid)) {
            // Gone since the listing, or dead and waiting for its parent (the server) to reap it: not left.
            const state = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ')[0];
            if (!state || state === 'Z' || state === 'X') continue;
            const commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').slice(0, 200);
            left.push(`process ${pid} of uid ${ownUid} (${state}: ${commandLine})`);
          }
        }
        const folder = path.join(dataDir, 'sandboxes', sandbox.id);
        if (existsSync(folder)) left.push(`folder ${folder}`);
        return left;
      },
    };
  },
};

/** Every driver the suite knows, in order. Helpers for other drivers add their entry here. */
export const ALL_DRIVERS: DriverUnderTest[] = [local, docker];

/** The drivers this run tests: `SANDBOX_DRIVERS_UNDER_TEST`, or all. Unknown names are an error. */
export function driversUnderTest(environment = process.env): DriverUnderTest[] {
  const wanted = environment.SANDBOX_DRIVERS_UNDER_TEST?.split(',').map((name) => name.trim()).filter(Boolean);
  if (!wanted?.length) return ALL_DRIVERS;
  const unknown = wanted.filter((name) => !ALL_DRIVERS.some((driver) => driver.name === name));
  if (unknown.length) throw new Error(`SANDBOX_DRIVERS_UNDER_TEST names unknown drivers: ${unknown.join(', ')} (known: ${ALL_DRIVERS.map((driver) => driver.name).join(', ')})`);
  return ALL_DRIVERS.filter((driver) => wanted.includes(driver.name));
}

