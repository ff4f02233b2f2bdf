import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PNG } from 'pngjs';
import { testProjectDir } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestClient, connectClient } from '../testing/ws-client.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

/**
 * A project's own packages at export: the version's package.json is installed (or its
 * install reused) and the render's bundle resolves the project's imports there, and
 * Remotion and React from Cutroom's; a package that cannot be installed fails the export
 * with the install's reason.
 */
describe("a project's own packages at export", () => {
  let server: TestServer;
  let owner: Awaited<ReturnType<TestServer['signupWithProject']>>;
  let socket: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.signupWithProject('With packages');
    socket = await connectClient(server.baseUrl, owner.cookie);
  });
  afterAll(async () => {
    await socket?.close();
    await server?.close();
  });

  const commit = (message: string, write: (dir: string) => Promise<void>) => server.commitProjectFiles(owner, message, write);

  const exportOf = (body: { format: string } & Record<string, unknown>) => server.exportProject(owner, socket, body);

  it('renders with the packages the version names', async () => {
    await commit('A project with packages', async (dir) => {
      await rm(path.join(dir, 'src'), { recursive: true, force: true });
      await cp(testProjectDir('with-packages'), dir, { recursive: true });
    });
    // Frame 25: halfway through the fade (frames 20–30) from the first slide (blue) to the second (red).
    const still = await exportOf({ compositionId: 'Slides', format: 'png', frame: 25 });
    expect(still.end, JSON.stringify(still.end)).toMatchObject({ status: 'done' });
    const png = PNG.sync.read(await readFile(path.join(server.dataDir, 'storage', 'exports', owner.projectId, `${still.id}.png`)));
    const [r, g, b] = [...png.data.subarray(0, 3)];
    // Neither slide's colour alone: both, faded (#1d4ed8 → #b91c1c).
    expect(r).toBeGreaterThan(0x40);
    expect(b).toBeGreaterThan(0x40);
    expect(g).toBeLessThan(0x60);
  });

  it('fails with the install’s reason when a package cannot be installed', async () => {
    await commit('A package that does not exist', async (dir) => {
      const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      manifest.dependencies['cutroom-no-such-package-zz9'] = '^1.0.0';
      await writeFile(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    });
    const failed = await exportOf({ compositionId: 'Slides', format: 'png', frame: 0 });
    expect(failed.end.status).toBe('failed');
    expect(failed.end.error).toContain('could not be installed');
    expect(failed.end.error).toContain('cutroom-no-such-package-zz9');
    expect(failed.end.error).not.toContain(server.dataDir);
  });
});
