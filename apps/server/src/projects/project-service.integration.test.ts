import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProjectRepos } from '../repos/project-repos.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';

/** A failed creation, at any step, leaves no row, no repo and no temporary folder. */
describe('project creation is all or nothing', () => {
  let server: TestServer | undefined;
  afterEach(async () => server?.close());

  async function expectNothingLeft(target: TestServer, cookie: string) {
    expect((await target.request('GET', '/api/projects', { cookie })).json.projects).toEqual([]);
    const reposDir = path.join(target.dataDir, 'repos');
    expect(existsSync(reposDir) ? await readdir(reposDir) : []).toEqual([]);
  }

  it('when git fails', async () => {
    server = await startTestServer({
      repos: (repos): ProjectRepos => ({ ...repos, prepare: () => Promise.reject(new Error('git exploded')) }),
    });
    const { cookie } = await server.signup();
    const response = await server.request('POST', '/api/projects', { cookie, body: { name: 'Doomed' } });
    expect(response.status).toBe(500);
    expect(response.json.error.code).toBe('internal');
    expect(response.json.error.message).not.toContain('git exploded');
    await expectNothingLeft(server, cookie);
  });

  it('when the database refuses the row', async () => {
    server = await startTestServer({
      store: (store) => ({
        ...store,
        projects: { ...store.projects, create: () => Promise.reject(new Error('connection lost')) },
      }),
    });
    const { cookie } = await server.signup();
    expect((await server.request('POST', '/api/projects', { cookie, body: { name: 'Doomed' } })).status).toBe(500);
    await expectNothingLeft(server, cookie);
  });

  it('when publishing the repo fails after the row was written', async () => {
    server = await startTestServer({
      repos: (repos): ProjectRepos => ({
        ...repos,
        prepare: async (id) => {
          const prepared = await repos.prepare(id);
          return { ...prepared, publish: () => Promise.reject(new Error('disk full')) };
        },
      }),
    });
    const { cookie } = await server.signup();
    expect((await server.request('POST', '/api/projects', { cookie, body: { name: 'Doomed' } })).status).toBe(500);
    await expectNothingLeft(server, cookie);
  });

  it('the start-up sweep removes what a crash left mid-create, and keeps unknown repos', async () => {
    server = await startTestServer();
    const reposDir = path.join(server.dataDir, 'repos');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(path.join(reposDir, '.tmp-abc-123'), { recursive: true });
    await mkdir(path.join(reposDir, '.trash-def-456'), { recursive: true });
    await mkdir(path.join(reposDir, '11111111-1111-1111-1111-111111111111.git'), { recursive: true });
    const result = await server.repos.sweep(new Set());
    expect(result.removed.sort()).toEqual(['.tmp-abc-123', '.trash-def-456']);
    expect(result.orphans).toEqual(['11111111-1111-1111-1111-111111111111.git']);
    expect(await readdir(reposDir)).toEqual(['11111111-1111-1111-1111-111111111111.git']);
  });
});
