import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundle } from '@remotion/bundler';
import { renderStill, selectComposition } from '@remotion/renderer';
import { PNG } from 'pngjs';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { projectEntryPoint, templateCompositionId, templateProjectDir } from './index.js';

const browserExecutable = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

type Rgb = [number, number, number];
const hex = (value: string): Rgb => [1, 3, 5].map((i) => parseInt(value.slice(i, i + 2), 16)) as Rgb;
const near = (a: Rgb, b: Rgb, tolerance = 12) => a.every((channel, i) => Math.abs(channel - b[i]!) <= tolerance);

describe('template', () => {
  let workDir = '';
  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('renders a still of the title scene with the design colours where they belong', async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-still-'));
    const serveUrl = await bundle({
      entryPoint: projectEntryPoint(templateProjectDir),
      outDir: path.join(workDir, 'bundle'),
      // Keeps webpack's cache out of the template folder (it would be copied into projects).
      rootDir: workDir,
    });
    const composition = await selectComposition({
      serveUrl,
      id: templateCompositionId,
      browserExecutable,
      logLevel: 'error',
    });
    expect(composition).toMatchObject({ width: 1280, height: 720, fps: 30 });

    const output = path.join(workDir, 'still.png');
    // Frame 60: the title has risen in, the accent bar is drawn, the subtitle is visible.
    await renderStill({ serveUrl, composition, frame: 60, output, browserExecutable, logLevel: 'error' });

    const png = PNG.sync.read(await readFile(output));
    expect([png.width, png.height]).toEqual([1280, 720]);
    const at = (x: number, y: number): Rgb => {
      const offset = (png.width * y + x) * 4;
      return [png.data[offset]!, png.data[offset + 1]!, png.data[offset + 2]!];
    };
    const background = hex('#0B1021');
    const accent = hex('#FF5A36');

    // Corners are the background.
    for (const [x, y] of [[5, 5], [1274, 5], [5, 714], [1274, 714]] as const) {
      expect(near(at(x, y), background), `corner ${x},${y} is ${at(x, y).join(',')}`).toBe(true);
    }
    // The accent bar is centred horizontally, below the title (8 px tall band around y≈398).
    let accentPixels = 0;
    for (let y = 380; y < 420; y++) for (let x = 560; x < 720; x++) if (near(at(x, y), accent, 20)) accentPixels++;
    expect(accentPixels).toBeGreaterThan(160 * 8);
    // The title is white text in the upper middle band; not blank, not a solid block.
    let white = 0;
    let total = 0;
    for (let y = 250; y < 350; y++) {
      for (let x = 200; x < 1080; x++) {
        total++;
        if (near(at(x, y), [255, 255, 255], 30)) white++;
      }
    }
    expect(white / total).toBeGreaterThan(0.05);
    expect(white / total).toBeLessThan(0.7);
  });
});
