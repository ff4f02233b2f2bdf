import type { RouteHandlers } from '../http/api-routes.js';
import { AppError } from '../errors.js';
import type { ExportService } from './export-service.js';

type ExportRoutes =
  | 'POST /api/projects/:id/exports'
  | 'GET /api/projects/:id/exports'
  | 'GET /api/projects/:id/exports/:exportId'
  | 'POST /api/projects/:id/exports/:exportId/cancel'
  | 'GET /api/projects/:id/compositions';

/** The export routes of the protocol's table (the download is a binary route: export-routes.ts). */
export function createExportHandlers(exports: ExportService | undefined): Pick<RouteHandlers, ExportRoutes> {
  const service = () => {
    if (!exports) throw new AppError('not_found', 'Exports are switched off on this server.', 404);
    return exports;
  };
  return {
    'POST /api/projects/:id/exports': async ({ user, params, body }) => ({ export: await service().create(user.id, params.id, body) }),
    'GET /api/projects/:id/exports': async ({ user, params }) => ({ exports: await service().list(user.id, params.id) }),
    'GET /api/projects/:id/exports/:exportId': async ({ user, params }) => ({
      export: await service().get(user.id, params.id, params.exportId),
    }),
    'POST /api/projects/:id/exports/:exportId/cancel': async ({ user, params }) => ({
      export: await service().cancel(user.id, params.id, params.exportId),
    }),
    'GET /api/projects/:id/compositions': async ({ user, params, query }) => service().compositions(user.id, params.id, query.version),
  };
}
