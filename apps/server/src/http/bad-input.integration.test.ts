import { apiRoutes, splitRouteKey, type RouteKey } from '@cutroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { BODY_LIMIT } from '../app.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';

/**
 * Throws a batch of bad input at every route of the protocol's table and checks that
 * each answer is a typed `{error: {code, message}}` with a fitting status, and that the
 * server is still healthy afterwards.
 */
describe('bad input on every route', () => {
  let server: TestServer;
  let cookie: string;
  let projectId: string;
  /** The project's current version, for routes under `/versions/:versionId`. */
  let versionId: string;

  beforeAll(async () => {
    server = await startTestServer();
    ({ cookie, projectId } = await server.signupWithProject('Target'));
    versionId = (await server.request('GET', `/api/projects/${projectId}`, { cookie })).json.project.currentVersion;
  });
  afterAll(async () => server.close());

  const routes = (Object.keys(apiRoutes) as RouteKey[]).map((key) => ({ key, ...splitRouteKey(key), spec: apiRoutes[key] }));
  /** A body each body route accepts (so that only the id can be what is wrong). */
  const validBody = (key: RouteKey): unknown =>
    key === 'POST /api/projects/:id/exports' ? { compositionId: 'TitleScene', format: 'png' } : { name: 'N' };
  const urlFor = (path: string, id: string, version = versionId) => path.replace(':id', id).replace(':versionId', version);
  const expectError = (response: { status: number; json: any; text: string }, status: number, code?: string) => {
    expect(response.status, response.text).toBe(status);
    expect(response.json?.error?.message, response.text).toEqual(expect.any(String));
    if (code) expect(response.json.error.code).toBe(code);
  };

  const bodyRoutes = routes.filter((route) => 'body' in route.spec);
  const paramRoutes = routes.filter((route) => 'params' in route.spec);
  const authRoutes = routes.filter((route) => !('auth' in route.spec && route.spec.auth === false));
  const queryRoutes = routes.filter((route) => 'query' in route.spec);
  const versionRoutes = routes.filter((route) => route.path.includes(':versionId'));

  it.each(bodyRoutes)('$key: malformed JSON is invalid_json', async ({ method, path }) => {
    for (const raw of ['{', '{"name": }', 'nul', '[1,,]', '{"a":1}}']) {
      const response = await server.request(method, urlFor(path, projectId), { cookie, raw, headers: { 'content-type': 'application/json' } });
      expectError(response, 400, 'invalid_json');
    }
  });

  it.each(bodyRoutes)('$key: wrong shapes and types are validation_failed with field issues', async ({ method, path }) => {
    for (const body of [null, [], 'text', 42, {}, { name: 42 }, { email: ['x'], password: {}, name: true }, { name: 'ok', extra: 1 }, { name: '' }, { name: 'x'.repeat(500) }]) {
      const response = await server.request(method, urlFor(path, projectId), { cookie, body });
      expectError(response, 400, 'validation_failed');
      expect(Array.isArray(response.json.error.issues)).toBe(true);
    }
  });

  it.each(bodyRoutes)('$key: an oversize body is payload_too_large', async ({ method, path }) => {
    const response = await server.request(method, urlFor(path, projectId), { cookie, body: { name: 'x'.repeat(BODY_LIMIT + 10) } });
    expectError(response, 413, 'payload_too_large');
  });

  it.each(bodyRoutes)('$key: another content type is refused', async ({ method, path }) => {
    const response = await server.request(method, urlFor(path, projectId), {
      cookie,
      raw: '<xml/>',
      headers: { 'content-type': 'application/xml' },
    });
    expectError(response, 415, 'unsupported_media_type');
    const form = await server.request(method, urlFor(path, projectId), {
      cookie,
      raw: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expectError(form, 400, 'validation_failed');
  });

  it.each(paramRoutes)('$key: malformed and unknown ids are not_found', async ({ method, path }) => {
    for (const id of ['not-a-uuid', '00000000-0000-0000-0000-000000000000', "1' OR '1'='1", '%2e%2e', 'x'.repeat(150)]) {
      const response = await server.request(method, urlFor(path, encodeURIComponent(id)), { cookie, body: 'body' in apiRoutes[`${method} ${path}` as RouteKey] ? validBody(`${method} ${path}` as RouteKey) : undefined });
      expectError(response, 404, 'not_found');
    }
  });

  it.each(queryRoutes)('$key: unknown or malformed query fields are validation_failed with field issues', async ({ method, path, spec }) => {
    const fields = Object.keys((spec as { query: z.ZodObject }).query.shape);
    for (const query of ['unknown=1', ...fields.map((field) => `${field}=not-valid!`), ...fields.map((field) => `${field}=1&${field}=2`)]) {
      const response = await server.request(method, `${urlFor(path, projectId)}?${query}`, { cookie });
      expectError(response, 400, 'validation_failed');
      expect(response.json.error.issues.length, query).toBeGreaterThan(0);
    }
  });

  it.each(versionRoutes)('$key: malformed and unknown version ids are not_found', async ({ method, path }) => {
    for (const id of ['not-a-version', versionId.toUpperCase(), `${versionId}0`, '0'.repeat(40), "1' OR '1'='1", '%2e%2e', 'x'.repeat(150)]) {
      const response = await server.request(method, urlFor(path, projectId, encodeURIComponent(id)), { cookie });
      expectError(response, 404, 'not_found');
    }
  });

  it.each(authRoutes)('$key: without a session it is unauthenticated', async ({ method, path }) => {
    const response = await server.request(method, urlFor(path, projectId), { body: method === 'GET' || method === 'DELETE' ? undefined : { name: 'N' } });
    expectError(response, 401, 'unauthenticated');
  });

  it('unknown routes and methods are not_found', async () => {
    for (const [method, url] of [
      ['GET', '/api/unknown'],
      ['POST', '/api/projects/x/y/z'],
      ['PUT', '/api/projects'],
      ['DELETE', '/api/auth/me'],
      ['GET', '/api'],
    ] as const) {
      expectError(await server.request(method, url, { cookie }), 404, 'not_found');
    }
  });

  it('a missing body on a body route is a typed error', async () => {
    expectError(await server.request('POST', '/api/projects', { cookie }), 400, 'validation_failed');
    expectError(await server.request('POST', '/api/projects', { cookie, raw: '', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
  });

  it('is still healthy, and nothing was created or renamed by the bad input', async () => {
    expect((await server.request('GET', '/api/health')).status).toBe(200);
    const projects = (await server.request('GET', '/api/projects', { cookie })).json.projects;
    expect(projects.map((project: { name: string }) => project.name)).toEqual(['Target']);
    expect(projects[0].currentVersion).toBe(versionId);
  });
});
