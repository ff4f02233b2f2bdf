import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type User, VersionId } from '@cutroom/protocol';
import { AppError, notFound } from '../errors.js';
import { contentDisposition } from '../http/content-disposition.js';
import { zodIssues } from '../http/error-handler.js';
import type { ProjectRepos } from '../repos/project-repos.js';
import type { ProjectService } from './project-service.js';

const ArchiveParams = z.strictObject({ id: z.uuid() });
const ArchiveQuery = z.strictObject({ version: VersionId.optional() });

/** A folder name for the archive's files, from the project's name: plain ASCII, never empty. */
export function archiveFolderName(projectName: string) {
  const slug = projectName
    .normalize('NFKD')
    .replace(/[^\w\s-]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '-')
    .slice(0, 60)
    .replace(/^-+|-+$/g, '');
  return slug || 'project';
}

/**
 * `GET /api/projects/:id/archive?version=<id>`: a version's files (default: the current
 * one) as a zip, under one folder named after the project, ready for `npm install` and
 * Remotion Studio. Owner only: anyone else gets the same 404 as for a project that does not
 * exist; a version that is not the project's is a 404 too, answered before any byte.
 */
export function registerArchiveRoute(
  app: FastifyInstance,
  deps: { projects: Pick<ProjectService, 'get'>; repos: Pick<ProjectRepos, 'versions'>; currentUser: (request: FastifyRequest) => Promise<User | null> },
) {
  app.get('/api/projects/:id/archive', async (request, reply) => {
    const user = await deps.currentUser(request);
    if (!user) throw new AppError('unauthenticated', 'Sign in to continue.', 401);
    const params = ArchiveParams.safeParse(request.params);
    if (!params.success) throw notFound('That project');
    const query = ArchiveQuery.safeParse(request.query ?? {});
    if (!query.success) throw new AppError('validation_failed', 'The query is not valid.', 400, zodIssues(query.error));
    const project = await deps.projects.get(user.id, params.data.id);
    if (!project) throw notFound('That project');
    const folder = archiveFolderName(project.name);
    const { version, stream } = await deps.repos.versions.zip(project.id, query.data.version, folder);
    request.log.info({ projectId: project.id, version }, 'project archive downloaded');
    reply
      .type('application/zip')
      .header('content-disposition', contentDisposition(`${folder}-${version.slice(0, 7)}.zip`, 'project.zip'))
      .header('cache-control', 'private, no-store');
    return reply.send(stream);
  });
}
