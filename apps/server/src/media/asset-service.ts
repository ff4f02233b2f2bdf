import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { type AssetCreatedResponse, type MediaAsset, type Project, mediaPath } from '@cutroom/protocol';
import { AppError, notFound } from '../errors.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { Store } from '../store/store.js';
import { checkMedia, mediaName } from './media-check.js';
import { manifestBytes, withAsset, withoutAsset } from './media-manifest.js';
import type { MediaStore } from './media-store.js';

export type MediaLimits = { fileBytes: number; projectBytes: number };

const mib = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MiB`;

/** Uploads checked at once on the whole server (each decodes or probes a file). */
const MAX_CHECKS = 4;

/**
 * A project's media: what each version pins, and the two ways it changes (a file added or
 * replaced, a file removed), each a new version. Live sessions are held still while the
 * version changes and get the new files after (the same path as a restore), so a turn's
 * commit never undoes an upload.
 */
export function createAssetService(deps: {
  store: Store;
  repos: ProjectRepos;
  media: MediaStore;
  limits: MediaLimits;
  logger: Logger;
  sessions?: {
    changeVersion<T>(projectId: string, change: () => Promise<T>): Promise<T>;
    addFiles(projectId: string, tar: () => Promise<Readable>): Promise<void>;
  };
  onNewVersion?: (projectId: string, ownerId: string, version: string) => void;
}) {
  const { store, repos, media, limits, logger } = deps;
  let checking = 0;

  async function list(project: Project, version?: string): Promise<{ assets: MediaAsset[]; version: string }> {
    const at = version ?? (await repos.versions.current(project.id));
    if (version) await repos.versions.requireOnMain(project.id, version);
    return { assets: (await repos.readManifest(project.id, at)).media, version: at };
  }

  /** Early refusals, before any byte is read: the name, and a declared size over a limit. */
  async function precheck(project: Project, givenName: string, declaredBytes?: number): Promise<string> {
    const name = mediaName(givenName);
    if (declaredBytes !== undefined) {
      if (declaredBytes > limits.fileBytes) throw tooLarge(name, declaredBytes);
      await checkRoom(project, name, declaredBytes);
    }
    return name;
  }

  function tooLarge(name: string, bytes: number) {
    return new AppError('media_too_large', `"${name}" is ${mib(bytes)}; a media file may be at most ${mib(limits.fileBytes)}.`, 413);
  }

  async function checkRoom(project: Project, name: string, bytes: number) {
    const manifest = await repos.readManifest(project.id);
    const used = manifestBytes(withoutAsset(manifest, name));
    if (used + bytes > limits.projectBytes) {
      throw new AppError(
        'media_limit_reached',
        `This project's media would come to ${mib(used + bytes)}, more than the ${mib(limits.projectBytes)} a project may hold. Remove media it no longer uses first.`,
        413,
      );
    }
  }

  /**
   * Takes an uploaded file (a staging file or a finished resumable upload, on the storage's
   * file system): checks it by content, stores it by hash, and makes a version that pins
   * it at `public/<name>`. The file is gone afterwards, whatever the outcome.
   */
  async function add(project: Project, ownerId: string, file: string, givenName: string, size: number): Promise<AssetCreatedResponse> {
    try {
      const name = await precheck(project, givenName);
      if (size > limits.fileBytes) throw tooLarge(name, size);
      if (checking >= MAX_CHECKS) throw new AppError('rate_limited', 'The server is busy checking other uploads; try again in a moment.', 429);
      checking += 1;
      const started = performance.now();
      let checked;
      try {
        checked = await checkMedia(file, name, size);
      } finally {
        checking -= 1;
      }
      const checkedAt = performance.now();
      await checkRoom(project, name, size);
      const { sha256 } = await media.put(file, { move: true });
      const storedAt = performance.now();
      const asset: MediaAsset = { name, path: mediaPath(name), ...checked, size, sha256, addedAt: new Date().toISOString() };
      // No hold: an upload may land while the agent works. Its turn's commit keeps the latest
      // version's media (project-repos.ts); live working copies get the file and manifest added.
      const { version } = await repos.commitMedia(project.id, (current) => ({ manifest: withAsset(current, asset), dropPaths: [asset.path] }), {
        message: `Add media "${name}"`,
        author: 'user',
      });
      await store.projects.update(ownerId, project.id, { currentVersion: version });
      const versionedAt = performance.now();
      await deps.sessions?.addFiles(project.id, () => repos.mediaArchive(project.id, version, [name]));
      logger.info({ projectId: project.id, name, kind: asset.kind, size, version, checkMs: Math.round(checkedAt - started), storeMs: Math.round(storedAt - checkedAt), versionMs: Math.round(versionedAt - storedAt), liveCopiesMs: Math.round(performance.now() - versionedAt) }, 'media added');
      newVersion(project.id, ownerId, version);
      return { asset, version };
    } finally {
      await rm(file, { force: true });
    }
  }

  async function remove(project: Project, ownerId: string, givenName: string): Promise<{ version: string }> {
    const name = mediaName(givenName);
    const change = async () => {
      const { version } = await repos.commitMedia(
        project.id,
        (manifest) => {
          if (!manifest.media.some((asset) => asset.name === name)) throw notFound('That media file');
          return { manifest: withoutAsset(manifest, name) };
        },
        { message: `Remove media "${name}"`, author: 'user' },
      );
      await store.projects.update(ownerId, project.id, { currentVersion: version });
      return version;
    };
    const version = deps.sessions ? await deps.sessions.changeVersion(project.id, change) : await change();
    logger.info({ projectId: project.id, name, version }, 'media removed');
    newVersion(project.id, ownerId, version);
    return { version };
  }

  /** One media file of the current version (or of `version`), for the app to show. */
  async function find(project: Project, givenName: string, version?: string): Promise<MediaAsset> {
    const name = mediaName(givenName);
    const { assets } = await list(project, version);
    const asset = assets.find((entry) => entry.name === name);
    if (!asset || !(await media.has(asset.sha256))) throw notFound('That media file');
    return asset;
  }

  function newVersion(projectId: string, ownerId: string, version: string) {
    try {
      deps.onNewVersion?.(projectId, ownerId, version);
    } catch (error) {
      logger.error({ err: error, projectId }, 'the new-version hook failed');
    }
  }

  return { list, precheck, add, remove, find, limits, media };
}

export type AssetService = ReturnType<typeof createAssetService>;
