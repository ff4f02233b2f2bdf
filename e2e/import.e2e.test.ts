import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testProjectDir } from '@cutroom/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, ProjectHistory, ProjectImport, ProjectsPage } from './pages.js';

const run = promisify(execFile);

describe('importing a Remotion project in the browser', () => {
  let server: RunningServer;
  let browser: Browser;
  let scratch: string;
  let film: string;
  let notAProject: string;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-e2e-import-'));
    // The test project, in its folder, with a 6 MB sound so the upload takes a while when throttled.
    await cp(testProjectDir('folders-and-stills'), path.join(scratch, 'launch-film'), { recursive: true });
    await writeFile(path.join(scratch, 'launch-film', 'public', 'music.bin'), randomBytes(6 * 1024 * 1024));
    film = path.join(scratch, 'Launch Film.zip');
    await run('zip', ['-q', '-r', film, 'launch-film'], { cwd: scratch });
    notAProject = path.join(scratch, 'notes.zip');
    await writeFile(path.join(scratch, 'notes.txt'), 'not a project\n');
    await run('zip', ['-q', notAProject, 'notes.txt'], { cwd: scratch });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('a person uploads a zip, watches its progress, lands on the project; a refusal is shown in the dialog', async () => {
    const context = await newPerson(browser, server.baseUrl);
    const page = await context.newPage();
    await new AuthPage(page).signUp('Grace Hopper', 'grace@example.com', 'compilers all the way');
    const imports = new ProjectImport(page);

    await imports.open();
    await imports.uploadArchive(notAProject);
    await expect.poll(() => imports.error().innerText()).toMatch(/There is no package\.json at the archive's top/);
    await screenshot(page, 'import-01-refused');
    expect(await imports.dialog().isVisible()).toBe(true);

    // A slow uplink (about 2 MB/s), so the progress is there to see.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 2 * 1024 * 1024 });
    await imports.uploadArchive(film);
    await imports.progress().waitFor();
    await expect.poll(async () => Number(await imports.progress().getAttribute('aria-valuenow')), { timeout: 15_000 }).toBeGreaterThan(0);
    const midway = Number(await imports.progress().getAttribute('aria-valuenow'));
    expect(midway).toBeLessThan(100);
    expect(await page.getByTestId('import-status').innerText()).toMatch(/^Uploading… \d+% \(/);
    await screenshot(page, 'import-02-uploading');

    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.getByRole('heading', { name: 'Launch Film' }).waitFor();
    // The imported project previews as Remotion plays it: its own entry (src/index.tsx),
    // its compositions in their folders, its still, its own packages (zod), its public/ logo.
    const preview = page.frameLocator('iframe[title="Video preview"]');
    const picker = page.getByRole('combobox', { name: 'Composition' });
    await expect.poll(() => picker.locator('option').allTextContents(), { timeout: 60_000 }).toEqual(['Slate', 'Countdown', 'Poster (still)']);
    // Frame 0 of Slate: the logo from public/ (its caption comes at frame 20).
    await expect.poll(() => preview.locator('img').first().evaluate((image: HTMLImageElement) => image.complete && image.naturalWidth > 0).catch(() => false), { timeout: 60_000 }).toBe(true);
    const timeline = page.getByRole('group', { name: 'Sequences' });
    await timeline.getByRole('button', { name: /^Logo, from frame 0, 40 frames/ }).waitFor();
    await picker.selectOption('Countdown');
    await preview.getByText('LIFT OFF · 0').waitFor({ timeout: 30_000 });
    await timeline.getByRole('button', { name: /^Second 3, from frame 0, 30 frames/ }).waitFor();
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    await screenshot(page, 'import-03-project');

    const history = new ProjectHistory(page);
    await history.open();
    await history.version('Import Launch Film.zip').waitFor();
    expect(await history.versions().count()).toBe(1);

    await page.goto('/');
    expect(await new ProjectsPage(page).names()).toEqual(['Launch Film']);
    await context.close();
  });
});
