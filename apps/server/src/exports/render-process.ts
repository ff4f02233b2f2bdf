import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { setUpCgroups } from '../sessions/drivers/local/cgroups.js';
import { killEveryProcessOf } from '../sessions/drivers/local/sandbox-users.js';
import { type WorkerJob, WorkerMessage } from './worker-protocol.js';

/**
 * The worker's entry point, always the built file: under the tests (which run the
 * server's TypeScript sources) too, since plain Node runs the worker.
 */
export const renderWorkerEntry = path.resolve(import.meta.dirname, '..', '..', 'dist', 'exports', 'render-worker.js');

/**
 * Prefix of a worker's temporary folder outside a sandbox. Short and under the system's
 * temporary folder on purpose: Chromium puts a Unix socket in it, and socket paths are
 * limited to 107 bytes.
 */
export const WORKER_TMP_PREFIX = 'cutroom-render-';
const isJobTmp = (dir: unknown): dir is string =>
  typeof dir === 'string' && path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith(WORKER_TMP_PREFIX);

/**
 * User ids of render jobs (one per job, render-wall-*.ts): a range of their own, apart
 * from the sessions' (200 000 up, sandbox-users.ts), so a job never shares a user with a
 * session, and every process of a job's user is that job's.
 */
export const RENDER_UIDS = { first: 1_300_000, size: 1 << 18 };

type ProcessInfo = { pid: number; ppid: number; pgid: number };

/** Every live (not zombie) process, from /proc. */
async function processes(): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command's closing parenthesis: state ppid pgrp …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat && fields[0] !== 'Z') found.push({ pid: Number(entry), ppid: Number(fields[1]), pgid: Number(fields[2]) });
  }
  return found;
}

/** Pids of the live processes in process group `pgid`. */
export async function processGroupMembers(pgid: number): Promise<number[]> {
  return (await processes()).filter((info) => info.pgid === pgid).map((info) => info.pid);
}

/** Which of `pids` are still alive (zombies, dead but not yet reaped, are not). */
export async function livePids(pids: number[]): Promise<number[]> {
  const live = new Set((await processes()).map((info) => info.pid));
  return pids.filter((pid) => live.has(pid));
}

/** Pids of the live descendants of `pid`, and their process groups. */
export async function processTree(pid: number): Promise<{ pids: number[]; groups: number[] }> {
  const all = await processes();
  const pids: number[] = [];
  let frontier = [pid];
  while (frontier.length) {
    const children = all.filter((info) => frontier.includes(info.ppid)).map((info) => info.pid);
    pids.push(...children);
    frontier = children;
  }
  const groups = new Set(all.filter((info) => pids.includes(info.pid)).map((info) => info.pgid));
  return { pids, groups: [...groups] };
}

/** Our own process group: never one to kill. */
const ownGroup = (async () => {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => '');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) || -1;
})();

/** SIGKILLs the groups until none of their processes is left (or `timeoutMs` passed). */
export async function killProcessGroups(pgids: Iterable<number>, timeoutMs = 5_000) {
  const own = await ownGroup;
  const targets = new Set([...pgids].filter((pgid) => pgid > 1 && pgid !== own));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const pgid of targets) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // none left to signal
      }
    }
    const alive = (await processes()).some((info) => targets.has(info.pgid));
    if (!alive || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export type WorkerExit = { code: number | null; signal: NodeJS.Signals | null };

export type RenderWorker = {
  pid: number;
  /** The worker's temporary folder on this machine, when it has one here (removed when it has exited); null inside a sandbox's own `/tmp`. */
  tmpDir: string | null;
  /** Resolves when the worker has exited and every process it started is gone. */
  exited: Promise<WorkerExit>;
  /** Kills the worker and everything it started; resolves like `exited`. */
  kill(): Promise<WorkerExit>;
  /** Notes the process groups of the worker's descendants (Remotion starts Chromium in a group of its own). */
  learnGroups(): Promise<void>;
  /** The end of the worker's log (stderr of the renderer, Chromium's complaints). */
  logTail(): Promise<string>;
};

/**
 * Starts a render worker for `job` with `command` (render-wall-local.ts builds it: the
 * worker inside its wall), in a process group of its own (so a kill reaches the
 * compositor and ffmpeg; Remotion starts Chromium in another group, which is noted while
 * the worker runs and killed with it), with the environment it is given (no secret of
 * the server's), stdout and stderr into `<jobDir>/worker.log`, messages over IPC parsed
 * with the worker protocol (anything else is logged and dropped). `<jobDir>/worker.json`
 * records what the next start must reap if the server dies (see `reapJobs`).
 */
export async function startRenderWorker(options: {
  job: WorkerJob;
  command: string[];
  env: Record<string, string>;
  cwd: string;
  /** The server's folder of the job (its log and `worker.json`; the sandbox cannot reach them). */
  jobDir: string;
  tmpDir: string | null;
  /** The job's own user, whose every process goes when the job ends (and at the next start). */
  uid?: number;
  logger: Logger;
  onMessage: (message: WorkerMessage) => void;
  /** Runs once the worker and everything it started are gone, before `exited` resolves. */
  afterExit?: () => Promise<void>;
}): Promise<RenderWorker> {
  const { job, logger, jobDir, tmpDir } = options;
  const logFile = path.join(jobDir, 'worker.log');
  const log = await open(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(options.command[0]!, options.command.slice(1), {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', log.fd, log.fd, 'ipc'],
      env: options.env,
    });
  } finally {
    await log.close();
  }
  if (!child.pid) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`the render worker could not be started: ${error.message}`);
  }
  const pid: number = child.pid;
  child.on('error', (error) => logger.warn({ err: error, pid }, 'render worker error'));
  const groups = new Set([pid]);
  const record = () =>
    writeFile(path.join(jobDir, 'worker.json'), JSON.stringify({ pid, tmp: tmpDir, groups: [...groups], ...(options.uid === undefined ? {} : { uid: options.uid }) }), {
      mode: 0o600,
    });
  // Written at once, so the next start can reap what a crash left behind.
  await record();
  let exitedYet = false;
  async function learnGroups() {
    if (exitedYet) return;
    const before = groups.size;
    for (const group of (await processTree(pid)).groups) groups.add(group);
    if (groups.size > before) await record().catch(() => {});
  }

  // Messages the worker sent just before exiting may be read after its exit: the end
  // counts once the IPC channel has closed too (or shortly after the exit, at the latest).
  const channelClosed = new Promise<void>((resolve) => child.once('disconnect', resolve));
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedYet = true;
      // Whatever the worker left running goes with it, then its temporary files.
      void Promise.race([channelClosed, new Promise((settle) => setTimeout(settle, 1_000))])
        .then(() => killProcessGroups(groups))
        .then(async () => {
          if (options.uid !== undefined) await killEveryProcessOf(options.uid);
        })
        .then(() => (tmpDir ? rm(tmpDir, { recursive: true, force: true }) : undefined))
        .then(() => options.afterExit?.())
        .catch((error: unknown) => logger.warn({ err: error, jobDir }, 'could not clean up after a render worker'))
        .then(() => resolve({ code, signal }));
    });
  });
  child.on('message', (raw) => {
    const parsed = WorkerMessage.safeParse(raw);
    if (!parsed.success) return logger.warn({ pid }, 'render worker sent an invalid message');
    // Chromium is up by the time the bundle is ready or rendering starts.
    if (parsed.data.type === 'bundle' || parsed.data.type === 'rendering') void learnGroups();
    options.onMessage(parsed.data);
  });
  child.send(job, (error) => {
    if (error) logger.warn({ err: error, pid }, 'could not hand the render worker its job');
  });

  return {
    pid,
    tmpDir,
    exited,
    async kill() {
      await learnGroups();
      await killProcessGroups(groups);
      return exited;
    },
    learnGroups,
    logTail: async () => (await readFile(logFile, 'utf8').catch(() => '')).slice(-2_000),
  };
}

/**
 * At start: kills what render jobs of an earlier run left alive (the process groups and
 * the user recorded in each job folder, its cgroup) and removes their folders.
 */
export async function reapJobs(jobsRoot: string): Promise<string[]> {
  await mkdir(jobsRoot, { recursive: true });
  const reaped: string[] = [];
  const entries = await readdir(jobsRoot);
  const cgroups = entries.length ? await setUpCgroups() : null;
  for (const id of entries) {
    const dir = path.join(jobsRoot, id);
    const info = await readFile(path.join(dir, 'worker.json'), 'utf8').then(
      (text) => JSON.parse(text) as { pid?: number; tmp?: string; groups?: unknown[]; uid?: unknown },
      () => ({}) as { pid?: number; tmp?: string; groups?: unknown[]; uid?: unknown },
    );
    // A group id is not reused while any member lives, so members of a recorded group are
    // that job's; a group whose leader still lives must still be led by a worker or by
    // Chromium (pids get reused).
    const recorded = new Set([info.pid, ...(info.groups ?? [])].filter((group): group is number => typeof group === 'number' && group > 1));
    const stale: number[] = [];
    for (const group of recorded) {
      if ((await processGroupMembers(group)).length === 0) continue;
      const leader = await readFile(`/proc/${group}/cmdline`, 'utf8').catch(() => null);
      if (leader === null || leader.includes(renderWorkerEntry) || /chrom/i.test(leader)) stale.push(group);
    }
    if (stale.length) await killProcessGroups(stale);
    // A job's user is its own (render-wall-local.ts): whatever still runs as it was that job's.
    if (typeof info.uid === 'number' && Number.isInteger(info.uid) && info.uid >= RENDER_UIDS.first) await killEveryProcessOf(info.uid);
    // Its cgroup (render-wall-local.ts names it after the job): whatever is still in it, then the folder.
    if (cgroups && !('unavailable' in cgroups)) {
      const cgroup = cgroups.open(`render-${id}`);
      await cgroup.killAll();
      await cgroup.remove().catch(() => {});
    }
    if (isJobTmp(info.tmp)) await rm(info.tmp, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    reaped.push(id);
  }
  return reaped;
}
