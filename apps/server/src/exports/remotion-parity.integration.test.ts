import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { dir as compositorDir } from '@remotion/compositor-linux-x64-gnu';
import { testProjectDir } from '@cutroom/testkit';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDED_PACKAGES } from '../packages/manifest.js';
import { nodeModulesDir } from './render-job-files.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

const run = promisify(execFile);
// The cases run two at a time: most of each is child processes (the CLI's webpack build
// and render, the export's worker), which wait on each other's disk and Chromium.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000, maxConcurrency: 2 });

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const remotionCli = path.join(nodeModulesDir, '@remotion', 'cli', 'remotion-cli.js');

type Project = Parameters<typeof testProjectDir>[0];

/**
 * Cutroom's export of a project is what `npx remotion render` makes of the same files:
 * real-shaped projects (an entry in `src/index.tsx`, compositions in folders and a
 * `<Still>`, `calculateMetadata` that sets the duration from props, a zod schema, their
 * own packages, Tailwind through `@remotion/tailwind-v4` and through `@remotion/tailwind` (v3), three.js with the GL renderer
 * the configuration names, a font and audio from `public/`, an entry that
 * `remotion.config` names) are exported by the server, and rendered by Remotion's own CLI in a folder
 * where the same packages are installed as `npm install` would leave them; the two videos
 * are decoded and compared frame by frame.
 */
describe.concurrent('exports match `npx remotion render`, frame by frame', () => {
  let server: TestServer;
  const sockets: TestClient[] = [];
  let scratch = '';

  beforeAll(async () => {
    server = await startTestServer();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-parity-'));
  });
  afterAll(async () => {
    for (const socket of sockets) await socket.close();
    await server?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  /** A project that holds exactly the test project's files, as its current version. */
  async function projectOf(name: Project) {
    const owner = await server.signupWithProject(name);
    // Its exports' progress reaches its owner only.
    const socket = await connectClient(server.baseUrl, owner.cookie);
    sockets.push(socket);
    await server.commitProjectFiles(owner, `The ${name} project`, async (dir) => {
      for (const entry of await readdir(dir)) if (entry !== '.git') await rm(path.join(dir, entry), { recursive: true, force: true });
      await cp(testProjectDir(name), dir, { recursive: true });
    });
    return { ...owner, socket };
  }

  /**
   * The project's files with its packages installed as `npm install` leaves them: its own
   * (the same install the export used, copied so that packages find their neighbours by
   * walking up, as in a real node_modules) and Remotion's, React's from Cutroom's.
   */
  async function referenceFolder(name: Project) {
    const folder = path.join(scratch, name);
    await cp(testProjectDir(name), folder, { recursive: true });
    const modules = path.join(folder, 'node_modules');
    await mkdir(modules);
    const install = await server.installer.install({ packageJson: await readFile(path.join(folder, 'package.json'), 'utf8') });
    if (install.nodeModules) {
      for (const entry of await readdir(install.nodeModules)) {
        if (entry === '.bin' || entry.startsWith('.')) continue;
        await run('cp', ['-a', path.join(install.nodeModules, entry), modules]);
      }
    }
    for (const provided of PROVIDED_PACKAGES) {
      const target = path.join(modules, provided);
      if (await stat(target).then(() => true, () => false)) continue;
      await mkdir(path.dirname(target), { recursive: true });
      await symlink(path.join(nodeModulesDir, provided), target);
    }
    return folder;
  }

  async function remotion(folder: string, args: string[]) {
    // The CLI is Cutroom's (linked in): what it requires for remotion.config.ts (such as
    // @remotion/tailwind-v4) it looks for beside its real path, so it is told the folder's too.
    await run(process.execPath, [remotionCli, ...args, `--browser-executable=${chromium}`, '--log=error'], {
      cwd: folder,
      env: { ...process.env, NODE_PATH: path.join(folder, 'node_modules') },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    });
  }

  /** What Remotion's ffmpeg writes to its output for `args`. */
  async function decode(file: string, args: string[]) {
    const { stdout } = (await run(path.join(compositorDir, 'ffmpeg'), ['-v', 'error', '-i', file, ...args, '-'], {
      env: { ...process.env, LD_LIBRARY_PATH: compositorDir },
      encoding: 'buffer',
      maxBuffer: 512 * 1024 * 1024,
    })) as unknown as { stdout: Buffer };
    return stdout;
  }

  /** Every frame of a video, as RGB bytes. */
  async function frames(file: string, width: number, height: number) {
    const stdout = await decode(file, ['-f', 'image2pipe', '-vcodec', 'rawvideo', '-pix_fmt', 'rgb24']);
    const size = width * height * 3;
    expect(stdout.length % size).toBe(0);
    return Array.from({ length: stdout.length / size }, (_, index) => stdout.subarray(index * size, (index + 1) * size));
  }

  /** The video's sound, as 16-bit mono samples at 48 kHz (the WAV's `data` chunk). */
  async function samples(file: string) {
    const wav = await decode(file, ['-vn', '-ac', '1', '-ar', '48000', '-f', 'wav', '-acodec', 'pcm_s16le']);
    const data = wav.indexOf('data', 12);
    expect(data).toBeGreaterThan(0);
    return wav.subarray(data + 8);
  }

  /** Mean absolute difference of two images' channels (0–255). */
  const difference = (a: Buffer | Uint8Array, b: Buffer | Uint8Array) => {
    let sum = 0;
    for (let index = 0; index < a.length; index++) sum += Math.abs(a[index]! - b[index]!);
    return sum / a.length;
  };

  /** Both videos: as many frames, each the same picture (up to the encoder's rounding). */
  async function compareVideos(ours: string, theirs: string, width: number, height: number, durationInFrames: number) {
    const [a, b] = [await frames(ours, width, height), await frames(theirs, width, height)];
    expect(a.length).toBe(durationInFrames);
    expect(b.length).toBe(durationInFrames);
    const worst = Math.max(...a.map((frame, index) => difference(frame, b[index]!)));
    expect(worst).toBeLessThan(1);
    // Not a pair of blank videos: the first and the last frame differ.
    expect(difference(a[0]!, a.at(-1)!)).toBeGreaterThan(1);
    return worst;
  }

  async function exportVideo(owner: Awaited<ReturnType<typeof projectOf>>, compositionId: string) {
    const video = await server.exportProject(owner, owner.socket, { compositionId, format: 'mp4', scale: 1 });
    expect(video.end, JSON.stringify(video.end)).toMatchObject({ status: 'done' });
    return video.file;
  }

  /** The project exported by Cutroom and rendered by Remotion's CLI from the same files: both videos. */
  async function bothRenders(name: Project, compositionId: string, cliFlags: string[] = []) {
    const owner = await projectOf(name);
    const ours = await exportVideo(owner, compositionId);
    const folder = await referenceFolder(name);
    const theirs = path.join(folder, 'out.mp4');
    await remotion(folder, ['render', compositionId, theirs, ...cliFlags]);
    return { owner, folder, ours, theirs };
  }

  it('folders, a still, calculateMetadata and a zod schema (entry src/index.tsx)', async () => {
    const { owner, folder, ours, theirs } = await bothRenders('folders-and-stills', 'Countdown');
    // calculateMetadata: 3 seconds of the default props at 30 fps.
    await compareVideos(ours, theirs, 640, 360, 90);

    const still = await server.exportProject(owner, owner.socket, { compositionId: 'Poster', format: 'png', frame: 0 });
    expect(still.end, JSON.stringify(still.end)).toMatchObject({ status: 'done' });
    await remotion(folder, ['still', 'Poster', path.join(folder, 'poster.png')]);
    const [a, b] = [PNG.sync.read(await readFile(still.file)), PNG.sync.read(await readFile(path.join(folder, 'poster.png')))];
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    expect(difference(a.data, b.data)).toBeLessThan(1);
  });

  it('its own packages (@remotion/transitions, a CommonJS package)', async () => {
    const { ours, theirs } = await bothRenders('with-packages', 'Slides');
    // Two 30-frame slides with a 10-frame fade between them.
    await compareVideos(ours, theirs, 640, 360, 50);
  });

  it('Tailwind v4 through @remotion/tailwind-v4 (webpack override in remotion.config.ts)', async () => {
    const { ours, theirs } = await bothRenders('tailwind-v4', 'Card');
    await compareVideos(ours, theirs, 640, 360, 30);
    // Styled: the background is Tailwind's emerald-600, not the page's white.
    const [last] = (await frames(ours, 640, 360)).slice(-1);
    expect([last![0], last![1], last![2]].every((channel, index) => Math.abs(channel - [0x00, 0x96, 0x6a][index]!) < 24), JSON.stringify([...last!.subarray(0, 3)])).toBe(true);
  });

  it('Tailwind v3 through @remotion/tailwind and tailwind.config.js (tailwindcss 3 comes with the package)', async () => {
    const { ours, theirs } = await bothRenders('tailwind-v3', 'Poster');
    await compareVideos(ours, theirs, 640, 360, 30);
    // Styled: the background is the brand colour of tailwind.config.js (#0891b2).
    const [last] = (await frames(ours, 640, 360)).slice(-1);
    expect([last![0], last![1], last![2]].every((channel, index) => Math.abs(channel - [0x08, 0x91, 0xb2][index]!) < 24), JSON.stringify([...last!.subarray(0, 3)])).toBe(true);
  });

  it('three.js through @remotion/three, whose remotion.config asks for ANGLE (rendered on SwiftShader: no GPU)', async () => {
    // `angle` needs a GPU, which this machine (like the render sandbox) has not: the CLI
    // fails with it too ("Error creating WebGL context"). Cutroom renders such a project
    // with ANGLE on SwiftShader; the CLI is told the same.
    const { ours, theirs } = await bothRenders('three-scene', 'Spinning', ['--gl=swangle']);
    await compareVideos(ours, theirs, 640, 360, 30);
    // WebGL drew: the middle of the picture is the orange cube, not the dark background.
    const [first] = await frames(ours, 640, 360);
    const middle = (180 * 640 + 320) * 3;
    const [r, g, b] = [first![middle]!, first![middle + 1]!, first![middle + 2]!];
    expect(r > 0x90 && r > g + 0x30 && r > b + 0x60, JSON.stringify([r, g, b])).toBe(true);
  });

  it('a font from public/ loaded with @remotion/fonts, and audio from public/ with @remotion/media-utils', async () => {
    const { ours, theirs } = await bothRenders('media-assets', 'Meter');
    await compareVideos(ours, theirs, 640, 360, 60);
    // The sound is there, and the same.
    const [a, b] = [await samples(ours), await samples(theirs)];
    expect(a.length).toBeGreaterThan(48_000);
    expect(Math.abs(a.length - b.length)).toBeLessThan(4_096);
    const loud = (pcm: Buffer) => {
      let peak = 0;
      for (let index = 0; index + 1 < pcm.length; index += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(index)));
      return peak;
    };
    expect(loud(a)).toBeGreaterThan(5_000);
    // Sample by sample, the mean difference is under 1% of the loudest sample.
    let sum = 0;
    const count = Math.floor(Math.min(a.length, b.length) / 2);
    for (let index = 0; index < count; index++) sum += Math.abs(a.readInt16LE(index * 2) - b.readInt16LE(index * 2));
    expect(sum / count).toBeLessThan(loud(a) / 100);
  });

  it('an entry point that remotion.config names (JavaScript, another folder)', async () => {
    const { ours, theirs } = await bothRenders('config-entry', 'wipe-wide');
    await compareVideos(ours, theirs, 800, 200, 45);
  });
});
