import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type TestServer, startTestServer } from '../testing/test-server.js';

/** PROJECTS_MAX_PER_USER: each project costs a repo, a thumbnail render and bundle cache. */
describe('projects per user are capped', () => {
  let server: TestServer | undefined;
  afterEach(async () => server?.close());

  const repoCount = async (target: TestServer) =>
    (await readdir(path.join(target.dataDir, 'repos'))).filter((name) => name.endsWith('.git')).length;

  it('refuses one more with a typed error that says what to do, and allows one again after a delete', async () => {
    server = await startTestServer({ environment: { PROJECTS_MAX_PER_USER: '3' } });
    const { cookie } = await server.signup();
    const created: string[] = [];
    for (let index = 0; index < 3; index++) {
      const response = await server.request('POST', '/api/projects', { cookie, body: { name: `P${index}` } });
      expect(response.status, response.text).toBe(201);
      created.push(response.json.project.id as string);
    }

    const refused = await server.request('POST', '/api/projects', { cookie, body: { name: 'One too many' } });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('too_many_projects');
    expect(refused.json.error.message).toMatch(/3 projects/);
    expect(refused.json.error.message).toMatch(/Delete one/);
    expect((await server.request('GET', '/api/projects', { cookie })).json.projects).toHaveLength(3);
    // Refused before any git work: no fourth repo, not even a temporary one.
    expect(await repoCount(server)).toBe(3);
    expect((await readdir(path.join(server.dataDir, 'repos'))).filter((name) => name.startsWith('.tmp-'))).toEqual([]);

    // The cap is per user: another user is not affected.
    const other = await server.signup();
    expect((await server.request('POST', '/api/projects', { cookie: other.cookie, body: { name: 'Mine' } })).status).toBe(201);

    expect((await server.request('DELETE', `/api/projects/${created[0]}`, { cookie })).status).toBe(204);
    expect((await server.request('POST', '/api/projects', { cookie, body: { name: 'In its place' } })).status).toBe(201);
  });

  it('lets only one of many concurrent creations take the last place', async () => {
    server = await startTestServer({ environment: { PROJECTS_MAX_PER_USER: '2' } });
    const { cookie } = await server.signup();
    expect((await server.request('POST', '/api/projects', { cookie, body: { name: 'First' } })).status).toBe(201);

    const target = server;
    const burst = await Promise.all(
      Array.from({ length: 6 }, (_, index) => target.request('POST', '/api/projects', { cookie, body: { name: `Burst ${index}` } })),
    );
    expect(burst.filter((response) => response.status === 201)).toHaveLength(1);
    for (const response of burst.filter((entry) => entry.status !== 201)) {
      expect(response.status).toBe(409);
      expect(response.json.error.code).toBe('too_many_projects');
    }
    expect((await server.request('GET', '/api/projects', { cookie })).json.projects).toHaveLength(2);
    // The losers' repos were discarded.
    expect(await repoCount(server)).toBe(2);
  });
});
