import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testProjectDir } from '@cutroom/testkit';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxDriversForTests } from '../apps/server/src/testing/docker-engine.js';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, compositionPicker, previewFrame, ProjectImport } from './pages.js';

const run = promisify(execFile);

/**
 * Projects people bring, in the browser against the real server: a three.js scene
 * (`@remotion/three`, its packages installed for it) draws with WebGL in the preview, and
 * a project with its own font and audio in `public/` (`@remotion/fonts`,
 * `@remotion/media-utils`) plays with the font loaded, the audio decoded and shown on the
 * timeline, and a Tailwind v3 project is styled. Each is
 * imported through the UI. (Their exports are compared with `npx remotion render` frame by
 * frame in `remotion-parity.integration.test.ts`.) With each sandbox driver: the local one,
 * and a container per session (under CI=true an engine is required; elsewhere the docker
 * run is skipped when none can be started).
 */
const drivers = await sandboxDriversForTests();

describe.each(drivers)('projects of other shapes in the preview: three.js, a font and audio, Tailwind v3 ($name driver)', ({ name: driver, environment }) => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let scratch: string;

  const preview = () => previewFrame(page);
  const picker = () => compositionPicker(page);

  async function importProject(name: 'three-scene' | 'media-assets' | 'tailwind-v3') {
    await page.goto('/');
    const imports = new ProjectImport(page);
    await imports.open();
    await imports.uploadArchive(path.join(scratch, `${name}.tar.gz`));
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/, { timeout: 60_000 });
  }

  beforeAll(async () => {
    server = await startServer({ SESSION_POOL_SIZE: '1', ...environment });
    browser = await launchBrowser({ webgl: true });
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-e2e-real-'));
    for (const name of ['three-scene', 'media-assets', 'tailwind-v3']) {
      await cp(testProjectDir(name as 'three-scene'), path.join(scratch, name), { recursive: true });
      await run('tar', ['-czf', path.join(scratch, `${name}.tar.gz`), name], { cwd: scratch });
    }
    const person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    await new AuthPage(page).signUp('Reese Real', `reese-real-${driver}@example.com`, 'real projects password 1');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('a three.js scene draws its cube with WebGL once its packages are installed', async () => {
    await importProject('three-scene');
    const canvas = preview().locator('canvas');
    await canvas.waitFor({ timeout: 120_000 }).catch(async (error: unknown) => {
      await screenshot(page, `54-three-project-${driver}-failed`);
      throw error;
    });
    await expect.poll(async () => (await picker().locator('option').allTextContents()).map((text) => text.trim()), { timeout: 60_000 }).toContain('Spinning');
    // The middle of the picture is the lit orange cube, not the dark background.
    const middle = async () => {
      const shot = PNG.sync.read(await page.locator('iframe[title="Video preview"]').screenshot());
      const at = (Math.floor(shot.height / 2) * shot.width + Math.floor(shot.width / 2)) * 4;
      return [...shot.data.subarray(at, at + 3)];
    };
    await expect.poll(async () => {
      const [r, g, b] = await middle();
      return r! > 0x90 && r! > g! + 0x30 && r! > b! + 0x60;
    }, { timeout: 60_000 }).toBe(true);
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    await screenshot(page, `54-three-project-${driver}`);
  }, 300_000);

  it("a project's own font and audio from public/ are loaded and decoded in the preview", async () => {
    await importProject('media-assets');
    const title = preview().getByRole('heading', { name: /^LEVEL \d\d$/ });
    await title.waitFor({ timeout: 120_000 });
    // The font of public/fonts is the one the heading is drawn with.
    await expect.poll(() => title.evaluate(() => document.fonts.check('700 48px BrandMono')), { timeout: 60_000 }).toBe(true);
    expect(await title.evaluate((element) => getComputedStyle(element).fontFamily)).toContain('BrandMono');
    // The audio of public/audio was fetched and decoded: the meter has its 16 bars. (Its
    // decoder's packages are pre-bundled by the sandbox's Vite first: on a loaded machine
    // with a container per session that took over a minute.)
    await expect.poll(() => title.evaluate((element) => element.nextElementSibling?.children.length ?? 0), { timeout: 150_000 }).toBe(16);
    // The timeline shows the <Audio> as a sequence of the composition, named by its file.
    await page.getByRole('group', { name: 'Sequences' }).getByRole('button', { name: /^tone\.wav, audio, from frame 0/ }).waitFor({ timeout: 60_000 });
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    await screenshot(page, `55-media-project-${driver}`);
  }, 300_000);

  it('a Tailwind v3 project is styled by its tailwind.config.js, read as data', async () => {
    await importProject('tailwind-v3');
    const badge = preview().getByTestId('badge');
    await badge.waitFor({ timeout: 120_000 });
    await expect
      .poll(() => badge.evaluate((element) => [getComputedStyle(element.parentElement!).backgroundColor, getComputedStyle(element).borderTopLeftRadius]), { timeout: 60_000 })
      .toEqual(['rgb(8, 145, 178)', '24px']);
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
  }, 300_000);
});
