import { z } from 'zod';
import {
  CreateProjectRequest,
  HealthResponse,
  LoginRequest,
  MessageListResponse,
  ProjectListResponse,
  ProjectResponse,
  ProjectWithMessagesResponse,
  SignupRequest,
  UpdateProjectRequest,
  UserResponse,
} from './rest.js';

/**
 * Every `/api` route: method and path, what it takes and what it answers. The server
 * must implement a handler for each key (its handler map is typed from this table) and
 * the web client calls routes by key, so neither side can drift from the other.
 */
export type RouteSpec = {
  body?: z.ZodType;
  params?: z.ZodType;
  response: z.ZodType | null;
  /** Status of a successful answer. */
  status: 200 | 201 | 204;
  /** Whether the route needs a signed-in user (default true). */
  auth?: boolean;
};

const ProjectParams = z.strictObject({ id: z.uuid() });

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
} as const satisfies Record<string, RouteSpec>;

export type ApiRoutes = typeof apiRoutes;
export type RouteKey = keyof ApiRoutes;

type Infer<T> = T extends z.ZodType ? z.infer<T> : undefined;
export type RouteBody<K extends RouteKey> = ApiRoutes[K] extends { body: infer B } ? Infer<B> : undefined;
export type RouteParams<K extends RouteKey> = ApiRoutes[K] extends { params: infer P } ? Infer<P> : undefined;
export type RouteResponse<K extends RouteKey> = Infer<ApiRoutes[K]['response']>;

/** `'PATCH /api/projects/:id'` → `{method: 'PATCH', path: '/api/projects/:id'}`. */
export function splitRouteKey(key: RouteKey): { method: string; path: string } {
  const space = key.indexOf(' ');
  return { method: key.slice(0, space), path: key.slice(space + 1) };
}
