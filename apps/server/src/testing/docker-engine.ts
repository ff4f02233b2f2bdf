import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerClient } from '../sessions/drivers/docker/docker-engine-client.js';
import { defaultImage } from '../sessions/drivers/docker/docker-driver.js';
import { isAlive } from './processes.js';

/**
 * A Docker engine for tests of the docker driver, with the sandbox image in it.
 *
 * Used, in order: DOCKER_HOST (CI starts a daemon and exports it), a daemon an earlier
 * test run started (below), the system's /var/run/docker.sock. When none answers and this
 * process is root on a machine with `dockerd`, it starts one with bridge networking and
 * iptables off (sandboxes never get a network), its own data root and socket, and leaves
 * it running for the next run (stop it with `kill $(cat /run/cutroom-test-docker/docker.pid)`).
 * `scripts/test.mjs` starts and stops its own for `npm test` instead.
 *
 * Without an engine the docker tests are skipped, except under CI=true, where they fail.
 */

export const TEST_DOCKER_DIR = '/run/cutroom-test-docker';
const TEST_DOCKER_SOCKET = `unix://${TEST_DOCKER_DIR}/docker.sock`;
const TEST_DOCKER_DATA = '/var/lib/cutroom-test-docker';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export type DockerEngine = { dockerHost: string; image: string } | { unavailable: string };

async function answers(dockerHost: string): Promise<boolean> {
  try {
    await Promise.race([dockerClient(dockerHost).ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5_000))]);
    return true;
  } catch {
    return false;
  }
}

/** Runs `body` while holding a lock folder shared by every test worker on this machine. */
async function withLock<T>(name: string, body: () => Promise<T>): Promise<T> {
  const lock = path.join(TEST_DOCKER_DIR, `${name}.lock`);
  mkdirSync(TEST_DOCKER_DIR, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const holder = Number(readFileSync(path.join(lock, 'pid'), 'utf8').trim() || NaN);
      // A lock left by a worker that died is taken over.
      if (Number.isInteger(holder) && !isAlive(holder)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`waited 10 minutes for ${lock}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function startDaemon(): Promise<string | undefined> {
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/dockerd')) return undefined;
  return withLock('daemon', async () => {
    if (await answers(TEST_DOCKER_SOCKET)) return TEST_DOCKER_SOCKET;
    mkdirSync(TEST_DOCKER_DATA, { recursive: true });
    const log = openSync(path.join(TEST_DOCKER_DIR, 'dockerd.log'), 'a');
    const daemon = spawn(
      '/usr/sbin/dockerd',
      [
        '--bridge=none',
        '--iptables=false',
        '--ip-masq=false',
        '--ip-forward=false',
        `--data-root=${TEST_DOCKER_DATA}`,
        `--exec-root=${TEST_DOCKER_DIR}/exec`,
        `--host=${TEST_DOCKER_SOCKET}`,
        `--pidfile=${TEST_DOCKER_DIR}/docker.pid`,
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    daemon.unref();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (await answers(TEST_DOCKER_SOCKET)) return TEST_DOCKER_SOCKET;
      if (daemon.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`dockerd did not answer at ${TEST_DOCKER_SOCKET}; see ${TEST_DOCKER_DIR}/dockerd.log`);
  });
}

/** Builds the sandbox image when it is missing or stale (`npm run sandbox:image` skips an up-to-date one). */
async function ensureImage(dockerHost: string, image: string) {
  await withLock('image', async () => {
    const result = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'sandbox-image.mjs')], {
      cwd: repoRoot,
      env: { ...process.env, DOCKER_HOST: dockerHost, SANDBOX_IMAGE: image },
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`npm run sandbox:image failed: ${result.stderr || result.stdout}`);
  });
}

let found: Promise<DockerEngine> | undefined;

export function dockerEngine(): Promise<DockerEngine> {
  found ??= (async (): Promise<DockerEngine> => {
    const candidates = [process.env.DOCKER_HOST, TEST_DOCKER_SOCKET, 'unix:///var/run/docker.sock'].filter((host): host is string => Boolean(host));
    let dockerHost: string | undefined;
    for (const candidate of candidates) {
      if (await answers(candidate)) {
        dockerHost = candidate;
        break;
      }
    }
    dockerHost ??= await startDaemon();
    if (!dockerHost) {
      const reason = `no Docker engine answers (${candidates.join(', ')}) and none can be started here (needs root and dockerd: apt-get install -y --no-install-recommends docker.io)`;
      if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}; the docker driver's tests must run in CI.`);
      return { unavailable: reason };
    }
    const image = process.env.SANDBOX_IMAGE || defaultImage();
    await ensureImage(dockerHost, image);
    return { dockerHost, image };
  })();
  return found;
}

/**
 * The sandbox drivers a test runs against, with the environment that selects each: the
 * local one always, docker when an engine answers (under CI=true one must: see above).
 */
export async function sandboxDriversForTests(): Promise<{ name: 'local' | 'docker'; environment: Record<string, string> }[]> {
  const engine = await dockerEngine();
  return [
    { name: 'local', environment: {} },
    ...('unavailable' in engine ? [] : [{ name: 'docker' as const, environment: { SANDBOX_DRIVER: 'docker', DOCKER_HOST: engine.dockerHost, SANDBOX_IMAGE: engine.image } }]),
  ];
}
