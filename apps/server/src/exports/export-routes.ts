import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { User } from '@cutroom/protocol';
import { AppError, notFound } from '../errors.js';
import { contentDisposition } from '../http/content-disposition.js';
import type { ExportService } from './export-service.js';

const DownloadParams = z.strictObject({ id: z.uuid(), exportId: z.uuid() });
const ThumbnailParams = z.strictObject({ id: z.uuid() });


/**
 * The binary routes of exports, beside the JSON route table (they answer files, not
 * schemas): a done export's file, and a project's thumbnail. Owner only: anyone else
 * gets the same 404 as for something that does not exist.
 */
export function registerExportFileRoutes(
  app: FastifyInstance,
  deps: { exports: ExportService; currentUser: (request: FastifyRequest) => Promise<User | null> },
) {
  const signedIn = async (request: FastifyRequest) => {
    const user = await deps.currentUser(request);
    if (!user) throw new AppError('unauthenticated', 'Sign in to continue.', 401);
    return user;
  };

  app.get('/api/projects/:id/exports/:exportId/download', async (request, reply) => {
    const user = await signedIn(request);
    const params = DownloadParams.safeParse(request.params);
    if (!params.success) throw notFound();
    const file = await deps.exports.download(user.id, params.data.id, params.data.exportId);
    reply
      .type(file.contentType)
      .header('content-length', String(file.size))
      .header('content-disposition', contentDisposition(file.fileName, 'export'))
      .header('cache-control', 'private, no-store');
    return reply.send(createReadStream(file.file));
  });

  app.get('/api/projects/:id/thumbnail', async (request, reply) => {
    const user = await signedIn(request);
    const params = ThumbnailParams.safeParse(request.params);
    if (!params.success) throw notFound();
    const thumbnail = await deps.exports.thumbnail(user.id, params.data.id);
    if (!thumbnail) throw notFound('A thumbnail of that project');
    const etag = `"${thumbnail.key}"`;
    const asked = (request.query as Record<string, unknown> | undefined)?.v;
    // `?v=<thumbnailKey>` (its version and composition) names one image for good; without it, revalidate by ETag.
    reply.header('etag', etag).header('cache-control', asked === thumbnail.key ? 'private, max-age=31536000, immutable' : 'private, no-cache');
    if (request.headers['if-none-match'] === etag) return reply.status(304).send();
    reply.type('image/png').header('content-length', String(thumbnail.size));
    return reply.send(createReadStream(thumbnail.file));
  });
}
