/**
 * Installs projects' packages (issue 11, item 3). One install per distinct manifest and
 * lockfile (manifest.ts decides what is installed), kept in
 * `DATA_DIR/packages/installs/<key>/node_modules`; every file in it is a hard link into the
 * machine's pnpm store `DATA_DIR/packages/area/store`, so a package version takes its disk once
 * however many projects use it, and a second project with the same packages installs in
 * the time it takes to hash its manifest.
 *
 * An install runs pnpm, never package code (`--ignore-scripts`), in a wall of its own
 * (install-worker.ts): bubblewrap where it works, with no network but its own loopback,
 * whose one way out is the registry proxy (registry-proxy.ts, the npm registry and
 * nothing else); as a user of its own where the server runs as root; with a time limit.
 * What comes out is writable by nobody but the install user, and sandboxes and renders see
 * it read-only (nothing a sandbox can write is shared with another project). Installs run one at a
 * time; the same install asked twice runs once.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { chown, lstat, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { bubblewrapWorks } from '../sessions/drivers/local/bubblewrap.js';
import { ensureTraversable } from '../sessions/drivers/local/sandbox-users.js';
import { wallCommand } from '../sessions/drivers/local/wall.js';
import { nodeModulesDir, serverRoot } from '../exports/render-job-files.js';
import { PROVIDED_PACKAGES, PackagesError, installManifest } from './manifest.js';
import { machineRegistry, startRegistryProxy } from './registry-proxy.js';

const execFileAsync = promisify(execFile);

/** The built worker (`dist/packages/install-worker.js`). */
export const installWorkerEntry = path.resolve(import.meta.dirname, '..', '..', 'dist', 'packages', 'install-worker.js');

/** pnpm's command (its package exports nothing to resolve it by). */
const pnpmEntry = path.join(nodeModulesDir, 'pnpm', 'bin', 'pnpm.cjs');

/** The registry forwarder's port inside an install's wall (its own network namespace). */
const REGISTRY_PORT = 4873;

/** The uid installs run as where the server is root: one of its own, below the render jobs' range. */
export const INSTALL_UID = 1_299_999;
/** An install that takes longer is ended. */
const INSTALL_TIMEOUT_MS = 5 * 60_000;
/** The lockfiles taken from a project (the largest a real one reaches is a few MB). */
export const LOCKFILES = ['pnpm-lock.yaml', 'package-lock.json'] as const;
export const MAX_LOCKFILE_BYTES = 2 * 1024 * 1024;

export type InstallRequest = {
  /** The project's `package.json`. */
  packageJson: string;
  /** Its lockfile, when it has one. */
  lockfile?: { name: (typeof LOCKFILES)[number]; text: string };
};

export type ProjectInstall = {
  /** Names the install: the same packages, the same key. */
  key: string;
  /** The installed packages (read-only, the server's); null when the project needs none beyond Cutroom's. */
  nodeModules: string | null;
  /** Whether this call ran pnpm (false: an earlier install was reused). */
  ran: boolean;
  /**
   * The project's `package-lock.json` brought up to date with its `package.json` (as
   * `npm install` would write it), when it has one and it was not: the caller puts it into
   * the working copy, so the version keeps it.
   */
  lockfile?: string;
};

export type Installer = {
  install(request: InstallRequest): Promise<ProjectInstall>;
  /** Where a finished install is, by key (exports find the version's install with it). */
  installed(key: string): string | null;
};

export function createInstaller(options: {
  dataDir: string;
  /** Where the store and installs live (default `DATA_DIR/packages`; tests share one across servers). */
  packagesDir?: string;
  logger: Logger;
  /** The registry and its CA (default: the machine's npm configuration). */
  registry?: () => Promise<{ registry: string; ca?: Buffer }>;
  /** Use bubblewrap (default: when it works here). */
  bubblewrap?: boolean;
}): Installer {
  const root = options.packagesDir ?? path.join(options.dataDir, 'packages');
  // The store and the jobs share one folder, bound whole into the job's wall: a hard link
  // cannot cross from one bind mount to another (EXDEV), and pnpm would copy instead.
  const area = path.join(root, 'area');
  const store = path.join(area, 'store');
  const installs = path.join(root, 'installs');
  const jobs = path.join(area, 'jobs');
  const isRoot = process.getuid?.() === 0;
  const running = new Map<string, Promise<ProjectInstall>>();
  let queue: Promise<unknown> = Promise.resolve();
  const log = options.logger.child({ part: 'installer' });

  const npmCache = path.join(area, 'npm-cache');
  const installDir = (key: string) => path.join(installs, key);
  /** The up-to-date npm lockfile an install made for `request`, if it differs from the one it had. */
  async function updatedLockfile(key: string, request: InstallRequest): Promise<string | undefined> {
    if (request.lockfile?.name !== 'package-lock.json') return undefined;
    const source = await readFile(path.join(installDir(key), 'package-lock.source'), 'utf8').catch(() => null);
    if (source !== sourceHash(request)) return undefined;
    const text = await readFile(path.join(installDir(key), 'package-lock.json'), 'utf8').catch(() => null);
    return text !== null && text !== request.lockfile.text ? text : undefined;
  }
  const installed = (key: string) => (existsSync(path.join(installDir(key), '.done')) ? path.join(installDir(key), 'node_modules') : null);

  async function runJob(key: string, manifest: string, request: InstallRequest & { lockfile: InstallRequest['lockfile'] }): Promise<void> {
    const { lockfile } = request;
    const jobDir = path.join(jobs, `${key.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    const work = path.join(jobDir, 'work');
    const project = path.join(work, 'project');
    const home = path.join(work, 'home');
    const socketPath = path.join(work, 'registry.sock');
    // The project's npm lockfile is brought up to date beside the install (see install-worker.ts).
    const npm = lockfile?.name === 'package-lock.json' && lockfileStale(request.packageJson, lockfile.text) ? npmCli() : null;
    const lockDir = path.join(work, 'lock');
    if (npm) {
      await mkdir(lockDir, { recursive: true });
      await writeFile(path.join(lockDir, 'package.json'), request.packageJson);
      await writeFile(path.join(lockDir, 'package-lock.json'), lockfile!.text);
      await mkdir(npmCache, { recursive: true });
    }
    await mkdir(project, { recursive: true });
    await mkdir(home, { recursive: true });
    await mkdir(store, { recursive: true });
    await writeFile(path.join(project, 'package.json'), manifest);
    if (lockfile) await writeFile(path.join(project, lockfile.name), lockfile.text);
    const registry = await (options.registry ?? machineRegistry)();
    const proxy = await startRegistryProxy({ socketPath, registry: registry.registry, ...(registry.ca ? { ca: registry.ca } : {}), logger: log });
    const walled = (options.bubblewrap ?? true) && bubblewrapWorks();
    const uid = isRoot ? INSTALL_UID : undefined;
    try {
      if (uid !== undefined) {
        await execFileAsync('chown', ['-R', `${uid}:${uid}`, '--', work]);
        // The store, the jobs' folder and npm's cache are the install user's.
        for (const shared of [area, store, jobs, ...(npm ? [npmCache] : [])]) {
          const info = await lstat(shared);
          if (info.uid !== uid) await chown(shared, uid, uid);
        }
        // The install user passes through the folders above its own (it lists none of them).
        await ensureTraversable(jobDir);
      }
      const [command, args] = wallCommand([process.execPath, '--max-old-space-size=1024', installWorkerEntry], {
        ...(uid === undefined ? {} : { uid }),
        limits: { pids: 512, diskMb: 8_192 },
        ...(walled
          ? {
              bubblewrap: {
                readWrite: [area],
                readOnly: [...(npm ? [npm.packageDir] : []), nodeModulesDir, path.join(serverRoot, 'dist'), path.join(serverRoot, 'package.json'), path.join(path.dirname(nodeModulesDir), 'package.json')],
                tmpBytes: 512 * 1024 * 1024,
                cwd: work,
              },
            }
          : {}),
      });
      const env = {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: home,
        XDG_CONFIG_HOME: home,
        XDG_CACHE_HOME: home,
        XDG_DATA_HOME: home,
        TMPDIR: walled ? '/tmp' : home,
        LANG: 'C.UTF-8',
        INSTALL_DIR: project,
        INSTALL_STORE: store,
        INSTALL_REGISTRY_SOCKET: socketPath,
        INSTALL_PNPM: pnpmEntry,
        // The wall's loopback is the job's own: the same port every time (see install-worker.ts).
        ...(walled ? { INSTALL_REGISTRY_PORT: String(REGISTRY_PORT) } : {}),
        ...(npm ? { INSTALL_LOCK_DIR: lockDir, INSTALL_NPM: npm.cli, INSTALL_NPM_CACHE: npmCache, INSTALL_REGISTRY_PUBLIC: registry.registry } : {}),
      };
      const output = await new Promise<{ code: number | null; tail: string }>((resolve, reject) => {
        const child = spawn(command, args, { cwd: walled ? jobDir : work, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        let tail = '';
        const keep = (chunk: Buffer) => {
          tail = (tail + chunk.toString('utf8')).slice(-8_000);
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        const timer = setTimeout(() => {
          tail += `\nThe install took longer than ${INSTALL_TIMEOUT_MS / 60_000} minutes and was stopped.`;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, INSTALL_TIMEOUT_MS);
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, tail });
        });
      });
      if (output.code !== 0) {
        log.warn({ key, code: output.code, tail: output.tail.slice(-2_000) }, 'an install failed');
        throw new PackagesError('install_failed', `The packages could not be installed: ${pnpmError(output.tail, [project, work, store, jobDir])}`);
      }
      const nodeModules = path.join(project, 'node_modules');
      await finish(nodeModules);
      const target = installDir(key);
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      if (existsSync(path.join(project, 'pnpm-lock.yaml'))) await rename(path.join(project, 'pnpm-lock.yaml'), path.join(target, 'pnpm-lock.yaml'));
      if (npm) {
        await rename(path.join(lockDir, 'package-lock.json'), path.join(target, 'package-lock.json'));
        await writeFile(path.join(target, 'package-lock.source'), sourceHash(request));
      }
      await rename(nodeModules, path.join(target, 'node_modules'));
      await writeFile(path.join(target, '.done'), `${new Date().toISOString()}\n`);
    } finally {
      await proxy.close().catch(() => {});
      await rm(jobDir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /**
   * The job's output made fit to share: Cutroom's own packages taken out (the page's copy
   * serves the project), pnpm's bookkeeping and command links dropped, nothing but folders,
   * files and links left, and all of it the server's and read-only.
   */
  async function finish(nodeModules: string) {
    if (!existsSync(nodeModules)) await mkdir(nodeModules);
    for (const name of PROVIDED_PACKAGES) await rm(path.join(nodeModules, name), { recursive: true, force: true });
    for (const name of ['.bin', '.pnpm', '.modules.yaml', '.pnpm-workspace-state-v1.json']) await rm(path.join(nodeModules, name), { recursive: true, force: true });
    const walk = async (folder: string) => {
      for (const entry of await readdir(folder)) {
        const full = path.join(folder, entry);
        const info = await lstat(full);
        if (info.isDirectory()) await walk(full);
        else if (!info.isFile() && !info.isSymbolicLink()) await rm(full, { force: true });
      }
    };
    await walk(nodeModules);
    // Left the install user's (the kernel lets a user hard-link only its own files, and the
    // next install links the same store files); nobody else may write them, and sandboxes
    // and renders see them through read-only mounts.
    await execFileAsync('chmod', ['-R', 'u+rwX,go+rX,go-w', '--', nodeModules]);
  }

  function install(request: InstallRequest): Promise<ProjectInstall> {
    const manifest = installManifest(request.packageJson);
    if (manifest.count === 0) return Promise.resolve({ key: 'none', nodeModules: null, ran: false });
    let lockfile = request.lockfile;
    if (lockfile && Buffer.byteLength(lockfile.text) > MAX_LOCKFILE_BYTES) lockfile = undefined;
    const key = createHash('sha256')
      .update(manifest.key)
      .update('\0')
      .update(lockfile ? `${lockfile.name}\0${lockfile.text}` : '')
      .digest('hex')
      .slice(0, 32);
    const done = installed(key);
    if (done) return updatedLockfile(key, request).then((updated) => ({ key, nodeModules: done, ran: false, ...(updated ? { lockfile: updated } : {}) }));
    const pending = running.get(key);
    if (pending) return pending;
    const started = performance.now();
    const job = queue
      .catch(() => {})
      .then(async () => {
        const again = installed(key);
        const ran = !again;
        if (!again) {
          await runJob(key, manifest.text, { ...request, lockfile });
          log.info({ key, packages: manifest.count, ms: Math.round(performance.now() - started) }, 'installed a project’s packages');
        }
        const updated = await updatedLockfile(key, { ...request, lockfile });
        return { key, nodeModules: installed(key), ran, ...(updated ? { lockfile: updated } : {}) };
      })
      .finally(() => running.delete(key));
    queue = job;
    running.set(key, job);
    return job;
  }

  return { install, installed };
}

const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

/**
 * Whether an npm lockfile no longer matches its package.json: the packages its root entry
 * records differ from those package.json names (npm's own test; an unreadable one is stale).
 */
export function lockfileStale(packageJson: string, lockfile: string): boolean {
  try {
    const manifest = JSON.parse(packageJson) as Record<string, unknown>;
    const root = (JSON.parse(lockfile) as { packages?: Record<string, Record<string, unknown>> }).packages?.[''];
    if (!root) return true;
    const listed = (from: Record<string, unknown>, field: string) => JSON.stringify(Object.entries((from[field] as Record<string, unknown> | undefined) ?? {}).sort());
    return DEPENDENCY_FIELDS.some((field) => listed(manifest, field) !== listed(root, field));
  } catch {
    return true;
  }
}

/** What the npm lockfile an install writes was made from (the whole manifest and the lockfile it had). */
const sourceHash = (request: InstallRequest) =>
  createHash('sha256')
    .update(request.packageJson)
    .update('\0')
    .update(request.lockfile?.text ?? '')
    .digest('hex');

let npmFound: { cli: string; packageDir: string } | null | undefined;
/** npm's command, beside this Node (null: none here, and npm lockfiles are not updated). */
function npmCli(): { cli: string; packageDir: string } | null {
  if (npmFound !== undefined) return npmFound;
  for (const candidate of [path.join(path.dirname(process.execPath), 'npm'), '/usr/lib/node_modules/npm/bin/npm-cli.js', '/usr/local/lib/node_modules/npm/bin/npm-cli.js']) {
    try {
      const cli = realpathSync(candidate);
      return (npmFound = { cli, packageDir: path.dirname(path.dirname(cli)) });
    } catch {
      // not there
    }
  }
  return (npmFound = null);
}

/** pnpm's own words for what went wrong, without the server's paths. */
function pnpmError(tail: string, paths: string[]): string {
  let text = tail;
  for (const folder of paths.sort((a, b) => b.length - a.length)) text = text.split(folder).join('.');
  text = text.replace(/http:\/\/127\.0\.0\.1:\d+\//g, 'https://registry.npmjs.org/');
  const lines = text.split('\n').map((line) => line.trimEnd()).filter(Boolean);
  const error = lines.findIndex((line) => /ERR_PNPM|ERROR|ERR!|npm error/.test(line));
  const picked = error >= 0 ? lines.slice(error, error + 6) : lines.slice(-6);
  return picked.join('\n').slice(0, 2_000) || 'pnpm stopped without saying why.';
}
