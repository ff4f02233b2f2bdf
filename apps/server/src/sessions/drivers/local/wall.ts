import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { runtimeEntry } from '@cutroom/runtime';
import { type BubblewrapOptions, bubblewrapArguments } from './bubblewrap.js';
import { type SandboxCgroup, joinCgroupsCommand } from './cgroups.js';
import { SETPRIV, switchUserArguments } from './sandbox-users.js';

const PRLIMIT = '/usr/bin/prlimit';
const NICE = '/usr/bin/nice';

/** The checkout the runtime runs from: `<repo>/packages/runtime/dist/main.js`. */
const repoRoot = path.resolve(path.dirname(runtimeEntry), '..', '..', '..');

/**
 * What a local sandbox may read besides its own folder: Node, the runtime and the
 * packages it loads, and the root manifests Vite reads. Never the whole checkout: the
 * server's own code and, often, `DATA_DIR` (`./data`) live there too.
 */
export function readOnlyPaths(sharedCacheDir: string): string[] {
  const manifests = readdirSync(repoRoot).filter((name) => name === 'package.json' || name === 'package-lock.json' || /^tsconfig.*\.json$/.test(name));
  return [
    path.dirname(process.execPath),
    path.join(repoRoot, 'node_modules'),
    path.join(repoRoot, 'packages'),
    ...manifests.map((name) => path.join(repoRoot, name)),
    ...referencedTsconfigs(),
    sharedCacheDir,
  ];
}

/**
 * The `tsconfig.json` files the root one references (`apps/server`'s among them): Vite's
 * TypeScript transform, looking for the config of a file no package config includes,
 * walks up to the root config and opens every reference; a missing one fails every
 * transform. Only those config files are bound, never the code beside them.
 */
function referencedTsconfigs(): string[] {
  try {
    const root = JSON.parse(readFileSync(path.join(repoRoot, 'tsconfig.json'), 'utf8')) as { references?: { path?: unknown }[] };
    return (root.references ?? [])
      .map((reference) => (typeof reference.path === 'string' ? path.resolve(repoRoot, reference.path) : undefined))
      .filter((target): target is string => target !== undefined && !target.startsWith(path.join(repoRoot, 'packages') + path.sep))
      .map((target) => (existsSync(target) && statSync(target).isDirectory() ? path.join(target, 'tsconfig.json') : target))
      .filter((file) => existsSync(file));
  } catch {
    return [];
  }
}

export type WallOptions = {
  /** The sandbox's own user (when the server can switch users). */
  uid?: number;
  /** Its cgroup, joined before the command runs anything; without one, `nice` and `prlimit --nproc` stand in. */
  cgroup?: SandboxCgroup;
  /** bubblewrap's view of the machine; absent: unconfined. */
  bubblewrap?: BubblewrapOptions;
  limits: { pids: number; diskMb: number };
};

/**
 * The command line that runs `command` inside a local sandbox's wall. Each step `exec`s
 * the next, so the first pid stays the command's (bubblewrap's, when confined):
 * - `sh` (as root) writes its pid into the sandbox's cgroups;
 * - `prlimit`: open files, no core dumps (a core of a process that held tokens), one
 *   file at most the disk limit, and where there is no cgroup, a process count per uid;
 * - `nice`, where there is no cgroup to give the sandbox a lower CPU weight;
 * - `setpriv`: the sandbox's uid, no groups, no new privileges, and SIGKILL when the
 *   server dies;
 * - `bwrap`, run by that unprivileged uid, so its namespaces are a user namespace's.
 */
export function wallCommand(command: string[], options: WallOptions): [string, string[]] {
  let line = command;
  if (options.bubblewrap) line = [...bubblewrapArguments(options.bubblewrap), ...line];
  if (existsSync(SETPRIV)) {
    const user = options.uid === undefined ? ['--no-new-privs'] : switchUserArguments(options.uid);
    line = [SETPRIV, ...user, '--pdeathsig', 'KILL', '--', ...line];
  }
  if (!options.cgroup && existsSync(NICE)) line = [NICE, '-n', '10', ...line];
  if (existsSync(PRLIMIT)) {
    const limits = ['--nofile=4096', '--core=0', `--fsize=${options.limits.diskMb * 1024 * 1024}`];
    // Per uid: a sandbox's own count only where it has a uid of its own.
    if (!options.cgroup && options.uid !== undefined) limits.push(`--nproc=${options.limits.pids}`);
    line = [PRLIMIT, ...limits, '--', ...line];
  }
  if (options.cgroup) line = joinCgroupsCommand(options.cgroup.procsFiles, line);
  return [line[0]!, line.slice(1)];
}
