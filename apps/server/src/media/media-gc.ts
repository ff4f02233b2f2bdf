import type { Logger } from 'pino';
import type { ProjectRepos } from '../repos/project-repos.js';

/** A stored file younger than this is never collected: its upload may not have its version yet. */
export const MEDIA_GC_GRACE_MS = 60 * 60 * 1000;
/** A deletion's collection waits this long, so a run of deletions makes one. */
const AFTER_DELETE_MS = 10_000;

/**
 * The media store's collection: bytes that no version of any project pins any more (a
 * deleted project's, an upload whose version was never made) are removed. Every version of
 * every remaining project keeps its media, since a restore may bring any of them back. Runs
 * at start and a little after projects are deleted, one run at a time.
 */
export function createMediaCollector(deps: {
  repos: Pick<ProjectRepos, 'media' | 'pinnedHashes' | 'idsOnDisk'>;
  /** The projects that exist (their repos are read, and so is every repo on disk, owned or not). */
  projectIds: () => Promise<Iterable<string>>;
  logger: Logger;
  graceMs?: number;
  /** How long a deletion's collection waits (default 10 s). */
  afterDeleteMs?: number;
}) {
  let running: Promise<{ removed: number; bytes: number }> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  async function collect() {
    const media = deps.repos.media;
    if (!media) return { removed: 0, bytes: 0 };
    const keep = new Set<string>();
    // A repo no project owns (a database that is not the one these repos belong to) keeps its
    // media too; a project whose repo is missing stops the run (below).
    const projects = new Set([...(await deps.projectIds()), ...(await deps.repos.idsOnDisk())]);
    for (const projectId of projects) {
      // A repo that cannot be read keeps everything: never remove what might be pinned.
      const pinned = await deps.repos.pinnedHashes(projectId).catch((error: unknown) => {
        deps.logger.error({ err: error, projectId }, 'could not read the media a project pins; nothing is collected');
        throw error;
      });
      for (const hash of pinned) keep.add(hash);
    }
    const result = await media.collect(keep, deps.graceMs ?? MEDIA_GC_GRACE_MS);
    if (result.removed > 0) deps.logger.info(result, 'removed media no version pins');
    return result;
  }

  function run(): Promise<{ removed: number; bytes: number }> {
    if (closed) return Promise.resolve({ removed: 0, bytes: 0 });
    if (running) {
      again = true;
      return running;
    }
    running = collect().finally(() => {
      running = null;
      if (again) {
        again = false;
        void run().catch(() => {});
      }
    });
    return running;
  }

  return {
    run,
    /** A project was deleted: collect a little later. */
    projectDeleted() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void run().catch(() => {});
      }, deps.afterDeleteMs ?? AFTER_DELETE_MS);
      timer.unref();
    },
    close() {
      closed = true;
      again = false;
      if (timer) clearTimeout(timer);
      timer = null;
      return running?.catch(() => {});
    },
  };
}

export type MediaCollector = ReturnType<typeof createMediaCollector>;
