import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import fastifyMultipart from '@fastify/multipart';
import { FileStore } from '@tus/file-store';
import { Server as TusServer } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type AssetListResponse, type Project, type User, assetUploadsPath } from '@cutroom/protocol';
import { AppError, notFound } from '../errors.js';
import { multipartError } from '../http/multipart-errors.js';
import type { ProjectService } from '../projects/project-service.js';
import type { AssetService } from './asset-service.js';

const ProjectParams = z.strictObject({ id: z.string().uuid() });
const AssetParams = z.strictObject({ id: z.string().uuid(), name: z.string().min(1).max(1_000) });
const VersionQuery = z.strictObject({ version: z.string().regex(/^[0-9a-f]{40}$/).optional() });
/** A resumable upload's id: its project's id, a dot, and a random UUID (checked against the route's project). */
const UPLOAD_ID = /^([0-9a-f-]{36})\.([0-9a-f-]{36})$/;

/** Resumable uploads left unfinished this long are removed. */
export const UPLOAD_EXPIRY_MS = 24 * 60 * 60_000;

type Deps = {
  assets: AssetService;
  projects: Pick<ProjectService, 'get'>;
  currentUser: (request: FastifyRequest) => Promise<User | null>;
  dataDir: string;
};

/** The error body the app sends everywhere, for answers written outside Fastify's reply (tus). */
const errorBody = (error: AppError) => JSON.stringify({ error: { code: error.code, message: error.message } });

/** A typed error thrown the way tus answers it (status and body); anything else as it is. */
function asTusError(error: unknown): never {
  if (error instanceof AppError) throw { status_code: error.status, body: errorBody(error) };
  throw error;
}

/**
 * The media routes of a project (owner only; anyone else gets the 404 of a project that does
 * not exist):
 *
 * - `GET /api/projects/:id/assets[?version=]`: `{assets, version, limits}`
 * - `POST /api/projects/:id/assets`: `multipart/form-data` with `file`; `201 {asset, version}`
 * - `GET /api/projects/:id/assets/:name[?version=]`: the bytes (ranges answered), for the app
 * - `DELETE /api/projects/:id/assets/:name`: `{version}`, a version without it
 * - `/api/projects/:id/asset-uploads[/:uploadId]`: resumable uploads (tus 1.0: creation,
 *   termination, expiration). The request that finishes one answers `201 {asset, version}`
 *   like the multipart route, or the typed error; either way the upload's file is gone.
 */
export async function registerAssetRoutes(app: FastifyInstance, deps: Deps) {
  const { assets } = deps;
  const stagingDir = path.join(deps.dataDir, 'tmp', 'media-uploads');
  const tusDir = path.join(deps.dataDir, 'uploads');
  // What a crash left of multipart uploads; unfinished resumable ones stay (they can be resumed) until they expire.
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true, mode: 0o700 });
  await mkdir(tusDir, { recursive: true, mode: 0o700 });

  async function ownedProject(request: FastifyRequest): Promise<{ user: User; project: Project }> {
    const user = await deps.currentUser(request);
    if (!user) throw new AppError('unauthenticated', 'Sign in to continue.', 401);
    const params = ProjectParams.safeParse({ id: (request.params as { id?: string }).id });
    if (!params.success) throw notFound('That project');
    const project = await deps.projects.get(user.id, params.data.id);
    if (!project) throw notFound('That project');
    return { user, project };
  }

  const versionOf = (request: FastifyRequest) => {
    const query = VersionQuery.safeParse(request.query ?? {});
    if (!query.success) throw new AppError('validation_failed', 'The query is not valid.', 400);
    return query.data.version;
  };

  app.get('/api/projects/:id/assets', async (request): Promise<AssetListResponse> => {
    const { project } = await ownedProject(request);
    return { ...(await assets.list(project, versionOf(request))), limits: assets.limits };
  });

  app.get('/api/projects/:id/assets/:name', async (request, reply) => {
    const { project } = await ownedProject(request);
    const params = AssetParams.safeParse(request.params);
    if (!params.success) throw notFound('That media file');
    const asset = await assets.find(project, params.data.name, versionOf(request));
    return sendBytes(request, reply, asset.size, asset.mime, (range) => assets.media.read(asset.sha256, range));
  });

  app.delete('/api/projects/:id/assets/:name', async (request) => {
    const { user, project } = await ownedProject(request);
    const params = AssetParams.safeParse(request.params);
    if (!params.success) throw notFound('That media file');
    return assets.remove(project, user.id, params.data.name);
  });

  await app.register(async (scope) => {
    await scope.register(fastifyMultipart, { limits: { fileSize: assets.limits.fileBytes, files: 1, fields: 0, parts: 2 }, throwFileSizeLimit: false });
    scope.post('/api/projects/:id/assets', async (request, reply) => {
      const { user, project } = await ownedProject(request);
      if (!request.isMultipart()) throw new AppError('unsupported_media_type', 'Send the file as multipart/form-data, in the field "file".', 415);
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > assets.limits.fileBytes + 64 * 1024) {
        throw new AppError('media_too_large', `The upload is larger than ${Math.round(assets.limits.fileBytes / (1024 * 1024))} MiB, the most a media file may be.`, 413);
      }
      const staged = path.join(stagingDir, randomUUID());
      try {
        const upload = await readOneFile(request, staged);
        reply.status(201);
        return await assets.add(project, user.id, staged, upload.filename, upload.bytes);
      } finally {
        await rm(staged, { force: true });
      }
    });
  });

  // Resumable uploads (tus). The route checks the user and the project, then hands the raw
  // request to the tus server; its hooks check the name and sizes first and take the finished file.
  const datastore = new FileStore({ directory: tusDir, expirationPeriodInMilliseconds: UPLOAD_EXPIRY_MS });
  /** Owners of the projects whose upload requests are being handled (the route checked them; the hooks only see a URL). */
  const handling = new Map<string, { owner: { user: User; project: Project }; count: number }>();
  const ownerOf = (req: { url: string }) => handling.get(projectIdOf(req.url))?.owner ?? null;
  const uploads = new TusServer({
    path: '/api/projects/asset-uploads',
    datastore,
    maxSize: assets.limits.fileBytes,
    respectForwardedHeaders: false,
    namingFunction: (req) => `${projectIdOf(req.url)}.${randomUUID()}`,
    generateUrl: (_req, { id }) => `${assetUploadsPath(id.split('.')[0]!)}/${id}`,
    getFileIdFromRequest: (_req, lastPath) => (lastPath && UPLOAD_ID.test(lastPath) ? lastPath : undefined),
    onUploadCreate: async (req, upload) => {
      const owner = ownerOf(req);
      if (!owner) throw { status_code: 401, body: errorBody(new AppError('unauthenticated', 'Sign in to continue.', 401)) };
      const filename = upload.metadata?.filename ?? '';
      await assets.precheck(owner.project, filename, upload.size).catch(asTusError);
      return {};
    },
    onUploadFinish: async (req, upload) => {
      const owner = ownerOf(req);
      if (!owner) throw { status_code: 401, body: errorBody(new AppError('unauthenticated', 'Sign in to continue.', 401)) };
      const file = path.join(tusDir, upload.id);
      try {
        const created = await assets.add(owner.project, owner.user.id, file, upload.metadata?.filename ?? '', upload.offset);
        return { status_code: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify(created) };
      } catch (error) {
        if (!(error instanceof AppError)) app.log.error({ err: error }, 'a finished upload could not be taken');
        asTusError(error instanceof AppError ? error : new AppError('internal', 'The upload could not be saved; try again.', 500));
      } finally {
        // `add` took the file (into the store, or away when refused); the upload's record goes too.
        await rm(`${file}.json`, { force: true });
      }
    },
  });
  const sweep = setInterval(() => {
    uploads.cleanUpExpiredUploads().catch((error: unknown) => app.log.warn({ err: error }, 'could not remove expired uploads'));
  }, 60 * 60_000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  await app.register(async (scope) => {
    // The tus server reads the body itself.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const handle = async (request: FastifyRequest, reply: FastifyReply) => {
      const owner = await ownedProject(request);
      const uploadId = (request.params as { uploadId?: string }).uploadId;
      if (uploadId !== undefined && UPLOAD_ID.exec(uploadId)?.[1] !== owner.project.id) throw notFound('That upload');
      reply.hijack();
      const id = owner.project.id;
      const entry = handling.get(id) ?? { owner, count: 0 };
      entry.count += 1;
      handling.set(id, entry);
      try {
        await uploads.handle(request.raw, reply.raw);
      } finally {
        entry.count -= 1;
        if (entry.count === 0) handling.delete(id);
      }
    };
    for (const url of ['/api/projects/:id/asset-uploads', '/api/projects/:id/asset-uploads/:uploadId']) {
      scope.route({ method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'], url, handler: handle });
    }
  });
}

/** The project id in an upload route's URL. */
function projectIdOf(url: string): string {
  const match = /\/api\/projects\/([0-9a-f-]{36})\/asset-uploads/.exec(new URL(url, 'http://x').pathname);
  if (!match) throw { status_code: 404, body: errorBody(notFound('That project')) };
  return match[1]!;
}

/** Reads the one `file` part of a multipart body into `target` (at most the limit fastify-multipart was given). */
async function readOneFile(request: FastifyRequest, target: string): Promise<{ filename: string; bytes: number }> {
  let found: { filename: string; bytes: number } | null = null;
  let problem: AppError | null = null;
  try {
    for await (const part of request.parts()) {
      if (part.type !== 'file' || part.fieldname !== 'file' || found) {
        problem ??= new AppError('validation_failed', 'Send one file, in the field "file".', 400, [{ path: part.fieldname, message: 'Send one file, in the field "file".' }]);
        if (part.type === 'file') part.file.resume();
        continue;
      }
      let bytes = 0;
      part.file.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      await pipeline(part.file, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
      if (part.file.truncated) {
        problem ??= new AppError('media_too_large', `"${part.filename}" is larger than the most a media file may be.`, 413);
        continue;
      }
      found = { filename: part.filename, bytes };
    }
  } catch (error) {
    multipartError(error, request, () => new AppError('validation_failed', 'Send one file, in the field "file".', 400));
  }
  if (problem) throw problem;
  if (!found) throw new AppError('validation_failed', 'Choose a file to upload, in the field "file".', 400, [{ path: 'file', message: 'Choose a file to upload.' }]);
  return found;
}

/**
 * Answers a GET for stored bytes with one byte range when asked (`206`, or `416` for a
 * range outside the file), whole otherwise. Served to the app's own origin: never run
 * (an SVG's scripts stay off: `sandbox`), never sniffed.
 */
function sendBytes(request: FastifyRequest, reply: FastifyReply, size: number, mime: string, read: (range?: { start: number; end: number }) => NodeJS.ReadableStream) {
  reply
    .header('accept-ranges', 'bytes')
    .header('content-type', mime)
    .header('cache-control', 'private, max-age=0, must-revalidate')
    .header('content-security-policy', "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; media-src 'self'");
  const header = request.headers.range;
  if (typeof header === 'string' && header.startsWith('bytes=')) {
    const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
    let start = match?.[1] ? Number(match[1]) : NaN;
    let end = match?.[2] ? Number(match[2]) : size - 1;
    if (match && !match[1] && match[2]) {
      start = Math.max(0, size - Number(match[2]));
      end = size - 1;
    }
    if (!match || !Number.isFinite(start) || start > end || start >= size) {
      reply.status(416).header('content-range', `bytes */${size}`);
      return reply.send();
    }
    end = Math.min(end, size - 1);
    reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`).header('content-length', end - start + 1);
    return reply.send(read({ start, end }));
  }
  reply.header('content-length', size);
  return reply.send(read());
}
