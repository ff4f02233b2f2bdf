import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { testProjectDir } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestServer, startTestServer } from '../testing/test-server.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

/**
 * `GET /api/projects/:id/compositions`: what Remotion computes for a version (its own
 * bundler and `getCompositions` in the render sandbox), for the template and for a
 * project of another shape; a project whose Root fails gets a typed 422.
 */
describe('GET /api/projects/:id/compositions', () => {
  let server: TestServer;
  let owner: Awaited<ReturnType<TestServer['signupWithProject']>>;
  let stranger: Awaited<ReturnType<TestServer['signup']>>;
  const url = (version?: string) => `/api/projects/${owner.projectId}/compositions${version ? `?version=${version}` : ''}`;

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.signupWithProject('Several videos');
    stranger = await server.signup();
  });
  afterAll(async () => {
    await server?.close();
  });

  const commit = (message: string, write: (dir: string) => Promise<void>) => server.commitProjectFiles(owner, message, write);

  it("lists the template's composition, then those of a project with folders, a still and calculateMetadata", async () => {
    const first = await server.request('GET', url(), { cookie: owner.cookie });
    expect(first.status, first.text).toBe(200);
    expect(first.json.compositions).toEqual([{ id: 'TitleScene', width: 1280, height: 720, fps: 30, durationInFrames: 150 }]);
    const templateVersion = first.json.version as string;

    const shaped = await commit('Another shape', async (dir) => {
      await rm(path.join(dir, 'src'), { recursive: true, force: true });
      await cp(testProjectDir('folders-and-stills'), dir, { recursive: true });
    });
    const listed = await server.request('GET', url(), { cookie: owner.cookie });
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json).toEqual({
      version: shaped,
      compositions: [
        { id: 'Slate', width: 640, height: 360, fps: 30, durationInFrames: 60 },
        // calculateMetadata: 3 seconds at 30 fps.
        { id: 'Countdown', width: 640, height: 360, fps: 30, durationInFrames: 90 },
        { id: 'Poster', width: 400, height: 600, fps: 1, durationInFrames: 1 },
      ],
    });

    // An older version, by id (its bundle is cached from the first call).
    const older = await server.request('GET', url(templateVersion), { cookie: owner.cookie });
    expect(older.json).toEqual({ version: templateVersion, compositions: [{ id: 'TitleScene', width: 1280, height: 720, fps: 30, durationInFrames: 150 }] });
  });

  it('answers a Root that fails with a typed 422 naming the cause, with no path of the server', async () => {
    await commit('Broken metadata', async (dir) => {
      const root = path.join(dir, 'src', 'Root.tsx');
      await writeFile(root, (await readFile(root, 'utf8')).replace('durationInFrames: props.seconds * 30,', "durationInFrames: (() => { throw new Error('no duration for the countdown'); })(),"));
    });
    const failed = await server.request('GET', url(), { cookie: owner.cookie });
    expect(failed.status, failed.text).toBe(422);
    expect(failed.json.error.code).toBe('compositions_failed');
    expect(failed.json.error.message).toContain('no duration for the countdown');
    expect(failed.text).not.toContain(server.dataDir);
  });

  it("is the owner's alone, and a version must be one of the project's", async () => {
    expect((await server.request('GET', url(), { cookie: stranger.cookie })).status).toBe(404);
    expect((await server.request('GET', url())).status).toBe(401);
    expect((await server.request('GET', url('0'.repeat(40)), { cookie: owner.cookie })).status).toBe(404);
    const malformed = await server.request('GET', url('HEAD~1'), { cookie: owner.cookie });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.code).toBe('validation_failed');
  });
});
