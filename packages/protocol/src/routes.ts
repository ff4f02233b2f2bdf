import { z } from 'zod';
import { CompositionsQuery, CompositionsResponse, CreateExportRequest, ExportListResponse, ExportResponse } from './exports.js';
import {
  CreateProjectRequest,
  HealthResponse,
  LoginRequest,
  MessageListResponse,
  ProjectListResponse,
  ProjectResponse,
  ProjectWithMessagesResponse,
  RestoreVersionResponse,
  SignupRequest,
  UpdateProjectRequest,
  UserResponse,
  VersionDiffQuery,
  VersionId,
  VersionDiffResponse,
  VersionListQuery,
  VersionListResponse,
} from './rest.js';

/**
 * Every `/api` route: method and path, what it takes and what it answers. The server
 * must implement a handler for each key (its handler map is typed from this table) and
 * the web client calls routes by key, so neither side can drift from the other.
 */
export type RouteSpec = {
  body?: z.ZodType;
  params?: z.ZodType;
  /** The query string's fields; a query that does not parse is `validation_failed`. */
  query?: z.ZodType;
  response: z.ZodType | null;
  /** Status of a successful answer. */
  status: 200 | 201 | 204;
  /** Whether the route needs a signed-in user (default true). */
  auth?: boolean;
};

const ProjectParams = z.strictObject({ id: z.uuid() });
const ExportParams = z.strictObject({ id: z.uuid(), exportId: z.uuid() });
const VersionParams = z.strictObject({ id: z.uuid(), versionId: VersionId });

export const apiRoutes = {
  'GET /api/health': { response: HealthResponse, status: 200, auth: false },
  'POST /api/auth/signup': { body: SignupRequest, response: UserResponse, status: 201, auth: false },
  'POST /api/auth/login': { body: LoginRequest, response: UserResponse, status: 200, auth: false },
  'POST /api/auth/logout': { response: null, status: 204, auth: false },
  'GET /api/auth/me': { response: UserResponse, status: 200 },
  'GET /api/projects': { response: ProjectListResponse, status: 200 },
  'POST /api/projects': { body: CreateProjectRequest, response: ProjectResponse, status: 201 },
  'GET /api/projects/:id': { params: ProjectParams, response: ProjectWithMessagesResponse, status: 200 },
  'PATCH /api/projects/:id': {
    params: ProjectParams,
    body: UpdateProjectRequest,
    response: ProjectResponse,
    status: 200,
  },
  'DELETE /api/projects/:id': { params: ProjectParams, response: null, status: 204 },
  'GET /api/projects/:id/messages': { params: ProjectParams, response: MessageListResponse, status: 200 },
  'GET /api/projects/:id/versions': { params: ProjectParams, query: VersionListQuery, response: VersionListResponse, status: 200 },
  'GET /api/projects/:id/versions/:versionId/diff': {
    params: VersionParams,
    query: VersionDiffQuery,
    response: VersionDiffResponse,
    status: 200,
  },
  'POST /api/projects/:id/versions/:versionId/restore': { params: VersionParams, response: RestoreVersionResponse, status: 200 },
  // Exports (exports.ts). Another user's export answers 404, like a missing one.
  'POST /api/projects/:id/exports': { params: ProjectParams, body: CreateExportRequest, response: ExportResponse, status: 201 },
  /** Newest first. */
  'GET /api/projects/:id/exports': { params: ProjectParams, response: ExportListResponse, status: 200 },
  'GET /api/projects/:id/exports/:exportId': { params: ExportParams, response: ExportResponse, status: 200 },
  /** Stops a queued or running export (status `cancelled`); a finished one is returned as it is. */
  'POST /api/projects/:id/exports/:exportId/cancel': { params: ExportParams, response: ExportResponse, status: 200 },
  /** A version's compositions as Remotion computes them (`calculateMetadata` applied); a project that fails to list them: 422 `compositions_failed`. */
  'GET /api/projects/:id/compositions': { params: ProjectParams, query: CompositionsQuery, response: CompositionsResponse, status: 200 },
} as const satisfies Record<string, RouteSpec>;

export type ApiRoutes = typeof apiRoutes;
export type RouteKey = keyof ApiRoutes;

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;
export type RouteBody<K extends RouteKey> = ApiRoutes[K] extends { body: infer B } ? Infer<B> : undefined;
export type RouteParams<K extends RouteKey> = ApiRoutes[K] extends { params: infer P } ? Infer<P> : undefined;
/** The parsed query (what the server gets). */
export type RouteQuery<K extends RouteKey> = ApiRoutes[K] extends { query: infer Q } ? Infer<Q> : undefined;
/** The query as a caller gives it (before coercion, e.g. `limit` as a number). */
export type RouteQueryInput<K extends RouteKey> = ApiRoutes[K] extends { query: infer Q extends z.ZodType } ? z.input<Q> : undefined;
export type RouteResponse<K extends RouteKey> = Infer<ApiRoutes[K]['response']>;

/** `'PATCH /api/projects/:id'` → `{method: 'PATCH', path: '/api/projects/:id'}`. */
export function splitRouteKey(key: RouteKey): { method: string; path: string } {
  const space = key.indexOf(' ');
  return { method: key.slice(0, space), path: key.slice(space + 1) };
}
