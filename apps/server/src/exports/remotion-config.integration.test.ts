import { execFile } from 'node:child_process';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { dir as compositorDir } from '@remotion/compositor-linux-x64-gnu';
import { testProjectDir } from '@cutroom/testkit';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

const execFileAsync = promisify(execFile);
vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

/**
 * A project's `remotion.config.ts` is honoured at export as `remotion render` honours it:
 * its webpack override (here an alias that only the override knows: without it the bundle
 * fails), and its pixel format; a configuration that throws is the export's failure
 * reason. A picture from the internet fails clearly: renders have no network.
 */
describe('remotion.config.ts at export', () => {
  let server: TestServer;
  let owner: Awaited<ReturnType<TestServer['signupWithProject']>>;
  let socket: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.signupWithProject('Configured');
    socket = await connectClient(server.baseUrl, owner.cookie);
  });
  afterAll(async () => {
    await socket?.close();
    await server?.close();
  });

  const commit = (message: string, write: (dir: string) => Promise<void>) => server.commitProjectFiles(owner, message, write);

  const exportOf = (body: { format: string } & Record<string, unknown>) => server.exportProject(owner, socket, body);

  it('bundles with the webpack override and renders with the pixel format', async () => {
    await commit('A configured project', async (dir) => {
      await rm(path.join(dir, 'src'), { recursive: true, force: true });
      await cp(testProjectDir('webpack-config'), dir, { recursive: true });
    });
    const still = await exportOf({ compositionId: 'Brand', format: 'png', frame: 0 });
    expect(still.end, JSON.stringify(still.end)).toMatchObject({ status: 'done' });
    const png = PNG.sync.read(await readFile(path.join(server.dataDir, 'storage', 'exports', owner.projectId, `${still.id}.png`)));
    // The brand colour, #16a34a, from the module only the alias reaches.
    expect([...png.data.subarray(0, 3)]).toEqual([0x16, 0xa3, 0x4a]);

    const video = await exportOf({ compositionId: 'Brand', format: 'mp4', scale: 1 });
    expect(video.end, JSON.stringify(video.end)).toMatchObject({ status: 'done' });
    const file = path.join(server.dataDir, 'storage', 'exports', owner.projectId, `${video.id}.mp4`);
    const probe = JSON.parse(
      (
        await execFileAsync(path.join(compositorDir, 'ffprobe'), ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=pix_fmt', '-of', 'json', file], {
          env: { ...process.env, LD_LIBRARY_PATH: compositorDir },
        })
      ).stdout,
    ).streams[0];
    // 4:4:4 as configured (the default is 4:2:0; ffmpeg names the full-range variant `yuvj…`).
    expect(probe.pix_fmt).toMatch(/^yuvj?444p$/);
  });

  it('fails the export with the reason when the configuration throws', async () => {
    await commit('A broken configuration', async (dir) => {
      const config = path.join(dir, 'remotion.config.ts');
      await import('node:fs/promises').then(async (fs) => fs.writeFile(config, `${await fs.readFile(config, 'utf8')}\nthrow new Error('this configuration is broken');\n`));
    });
    const failed = await exportOf({ compositionId: 'Brand', format: 'png', frame: 0 });
    expect(failed.end.status).toBe('failed');
    expect(failed.end.error).toContain('this configuration is broken');
    expect(failed.end.error).not.toContain(server.dataDir);
  });

  it('fails the export of a picture fetched from the internet (renders have no network), naming what could not be fetched', async () => {
    await commit('A picture from the internet', async (dir) => {
      await rm(path.join(dir, 'remotion.config.ts'), { force: true });
      await writeFile(path.join(dir, 'src', 'index.ts'), `import { registerRoot } from 'remotion';\nimport { Root } from './Root';\nregisterRoot(Root);\n`);
      await writeFile(
        path.join(dir, 'src', 'Root.tsx'),
        `import { AbsoluteFill, Composition, Img } from 'remotion';

const Remote: React.FC = () => (
  <AbsoluteFill>
    <Img src="https://images.example.com/cutroom-test/logo.png" />
  </AbsoluteFill>
);

export const Root: React.FC = () => <Composition id="Brand" component={Remote} durationInFrames={10} fps={10} width={320} height={180} />;
`,
      );
    });
    const failed = await exportOf({ compositionId: 'Brand', format: 'png', frame: 0 });
    expect(failed.end.status).toBe('failed');
    expect(failed.end.error).toContain('https://images.example.com/cutroom-test/logo.png');
  });
});
