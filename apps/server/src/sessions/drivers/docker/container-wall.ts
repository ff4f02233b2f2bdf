import type Docker from 'dockerode';
import { engineStatus } from './docker-engine-client.js';

/**
 * The wall every container Cutroom makes runs behind: a session's sandbox, a render job,
 * the one-shot packer of a stopped sandbox's files. One place, so that the three cannot
 * drift apart: no network (never a bridge, never the host's), a read-only root, every
 * capability dropped, `no-new-privileges`, memory with swap counted, processes, CPUs and a
 * CPU weight below the server's, a sized private `/tmp`, an init as PID 1, no core files.
 *
 * `nofile` and `nproc` are set, not inherited: Podman's defaults (1048576 files, 4194304
 * processes) are above the hard limits of a service started from a shell, and runc then
 * refuses to start the container. `nproc` counts the processes of the container's uid
 * (its own): it is set at twice the pids limit, a backstop only, so that the cgroup's pids
 * limit is what a fork bomb meets (and what the limit watch sees).
 */
export type WallSettings = {
  memoryMb: number;
  pids: number;
  /** CPUs at most (`NanoCpus`); omitted: no cap beyond the weight. */
  cpus?: number;
  /** Relative weight; the server's is the default, 1024. */
  cpuShares: number;
  /** Size of the private `/tmp` tmpfs. */
  tmpMb: number;
  binds?: string[];
  mounts?: Docker.MountSettings[];
  /** The largest file it may write (`fsize`), in bytes. */
  maxFileBytes?: number;
  /** The engine's log of its stdout and stderr. */
  logMaxSize: string;
};

export const NOFILE = 4_096;

export function walledHostConfig(settings: WallSettings): Docker.HostConfig {
  const memory = settings.memoryMb * 1024 * 1024;
  return {
    NetworkMode: 'none',
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    PidsLimit: settings.pids,
    Memory: memory,
    // Swap counted too, or a hog would page the machine to a crawl instead of being stopped.
    MemorySwap: memory,
    ...(settings.cpus ? { NanoCpus: Math.round(settings.cpus * 1e9) } : {}),
    CpuShares: settings.cpuShares,
    Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${settings.tmpMb}m,mode=1777` },
    ...(settings.binds ? { Binds: settings.binds } : {}),
    ...(settings.mounts ? { Mounts: settings.mounts } : {}),
    // A small init as PID 1: it reaps what is left and passes a stop on to every process.
    Init: true,
    IpcMode: 'private',
    Ulimits: [
      // No core files (a core of a process that held project code and tokens).
      { Name: 'core', Soft: 0, Hard: 0 },
      { Name: 'nofile', Soft: NOFILE, Hard: NOFILE },
      { Name: 'nproc', Soft: settings.pids * 2, Hard: settings.pids * 2 },
      ...(settings.maxFileBytes ? [{ Name: 'fsize', Soft: settings.maxFileBytes, Hard: settings.maxFileBytes }] : []),
    ],
    LogConfig: { Type: 'json-file', Config: { 'max-size': settings.logMaxSize, 'max-file': '1' } },
  };
}

/**
 * Checks once (again after a failure) that the engine answers and holds `image`; fails
 * with what to do about it, as the error `fail(code, message)` makes.
 */
export function imageCheck(
  docker: Docker,
  image: string,
  dockerHost: string | undefined,
  fail: (code: 'image_missing' | 'engine_unreachable', message: string) => Error,
): () => Promise<void> {
  let checked: Promise<void> | undefined;
  return () =>
    (checked ??= docker
      .getImage(image)
      .inspect()
      .then(
        () => undefined,
        (error: unknown) => {
          checked = undefined;
          if (engineStatus(error) === 404) throw fail('image_missing', `the sandbox image ${image} is not in the engine: run \`npm run sandbox:image\` (or set SANDBOX_IMAGE)`);
          throw fail('engine_unreachable', `the Docker engine does not answer (${dockerHost ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'}): ${(error as Error).message}`);
        },
      ));
}
