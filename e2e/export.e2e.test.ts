import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ProjectListResponse } from '@cutroom/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, previewFrame, ProjectExports, ProjectsPage } from './pages.js';

const NAME = 'Launch teaser';
const SECOND = 'Made in another tab';
/** The template's background colour. */
const BACKGROUND = [0x0b, 0x10, 0x21];

/** Exports and thumbnails in the browser: real renders on the built server, no model needed. */
describe('exports and thumbnails in the browser', () => {
  let server: RunningServer;
  let browser: Browser;
  let person: BrowserContext;
  let page: Page;
  let projects: ProjectsPage;
  let exports: ProjectExports;
  let downloads = '';

  const preview = () => previewFrame(page);
  const thumbnail = (name: string) => projects.card(name).getByRole('img', { name: `${name} thumbnail` });
  /** The image's natural width once it has loaded (0 before). */
  const naturalWidth = (name: string) => thumbnail(name).evaluate((image: HTMLImageElement) => (image.complete ? image.naturalWidth : 0));
  const projectNamed = async (name: string) =>
    ((await (await page.request.get('/api/projects')).json()) as ProjectListResponse).projects.find((project) => project.name === name)!;
  /** The card's picture box (the thumbnail's, or the placeholder's). */
  const pictureBox = async (name: string) => (await projects.card(name).locator('.aspect-video').boundingBox())!;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
    person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    projects = new ProjectsPage(page);
    exports = new ProjectExports(page);
    downloads = await mkdtemp(path.join(os.tmpdir(), 'cutroom-downloads-'));
    await new AuthPage(page).signUp('Ada Export', 'ada-export@example.com', 'export password 1');
    await projects.create(NAME);
    await preview().getByText('Your video starts here').waitFor({ timeout: 60_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (downloads) await rm(downloads, { recursive: true, force: true });
  });

  it('shows a still of the project’s current version in the project list', async () => {
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'Projects' }).click();
    await thumbnail(NAME).waitFor({ timeout: 60_000 });
    await expect.poll(() => naturalWidth(NAME), { timeout: 30_000 }).toBe(640);
    const project = await projectNamed(NAME);
    expect(await thumbnail(NAME).getAttribute('src')).toBe(`/api/projects/${project.id}/thumbnail?v=${project.currentVersion}`);
    const box = await pictureBox(NAME);
    expect(box.width / box.height).toBeCloseTo(16 / 9, 1);
    await screenshot(page, '40-export-thumbnail');
  });

  it('shows a placeholder, then the still as it lands, without a reload or a shift', async () => {
    // A project made elsewhere (another tab): the list reads it again when the window gets the focus.
    const status = await page.evaluate(
      async (name) => (await fetch('/api/projects', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })).status,
      SECOND,
    );
    expect(status).toBe(201);
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await projects.card(SECOND).getByTestId('thumbnail-placeholder').waitFor();
    const before = await pictureBox(SECOND);
    // The placeholder takes the room a still takes.
    expect(before.height).toBeCloseTo((await pictureBox(NAME)).height, 1);
    await screenshot(page, '41-export-thumbnail-placeholder');
    // The server renders its still and says so over the page's /ws connection.
    await thumbnail(SECOND).waitFor({ timeout: 60_000 });
    await expect.poll(() => naturalWidth(SECOND), { timeout: 30_000 }).toBe(640);
    await projects.card(SECOND).getByTestId('thumbnail-placeholder').waitFor({ state: 'detached' });
    expect(await pictureBox(SECOND)).toEqual(before);
  });

  it('exports a PNG still of frame 60 and downloads it', async () => {
    await projects.card(NAME).getByRole('link', { name: NAME, exact: true }).click();
    await preview().getByText('Your video starts here').waitFor({ timeout: 60_000 });
    await exports.open();
    const dialog = exports.dialog();
    // The composition comes from the preview.
    await dialog.getByText('TitleScene', { exact: true }).waitFor();
    expect(await dialog.getByRole('radio', { name: 'MP4 (H.264)' }).isChecked()).toBe(true);
    expect(await dialog.getByRole('spinbutton', { name: 'Frame' }).count()).toBe(0);
    await dialog.getByRole('radio', { name: 'PNG still' }).check();
    // Past the end: refused here, with why.
    await dialog.getByRole('spinbutton', { name: 'Frame' }).fill('150');
    await dialog.getByRole('button', { name: 'Start export' }).click();
    await dialog.getByText('Choose a frame from 0 to 149.').waitFor();
    expect(await dialog.getByRole('option', { name: '0.5× · 640×360' }).count()).toBe(1);
    await screenshot(page, '42-export-dialog');

    await exports.start({ format: 'PNG still', frame: 60 });
    const item = exports.latest();
    await item.getByText('PNG still · frame 60 · 1×').waitFor();
    await expect.poll(() => exports.status(item).innerText(), { timeout: 60_000 }).toBe('Done');
    const project = await projectNamed(NAME);
    expect(await item.getByTestId('export-version').innerText()).toBe(project.currentVersion!.slice(0, 7));
    await screenshot(page, '43-export-png-done');

    const [download] = await Promise.all([page.waitForEvent('download'), item.getByRole('link', { name: /^Download/ }).click()]);
    expect(download.suggestedFilename()).toMatch(/^Launch teaser-[0-9a-f]{7}-frame60\.png$/);
    const file = path.join(downloads, download.suggestedFilename());
    await download.saveAs(file);
    const png = PNG.sync.read(await readFile(file));
    expect([png.width, png.height]).toEqual([1280, 720]);
    for (const [x, y] of [
      [2, 2],
      [png.width - 3, png.height - 3],
    ]) {
      const offset = (png.width * y! + x!) * 4;
      expect([...png.data.subarray(offset, offset + 3)], `pixel ${x},${y}`).toEqual(BACKGROUND);
    }
  });

  it('follows an MP4’s progress, in the dialog and on the Export button, and cancels it', async () => {
    await exports.start({ format: 'MP4 (H.264)', scale: '0.5' });
    const item = exports.latest();
    await item.getByText('MP4 (H.264) · 0.5×').waitFor();
    const bar = item.getByRole('progressbar', { name: 'Export progress' });
    const progress = async () => Number(await bar.getAttribute('aria-valuenow'));
    await expect.poll(progress, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    const first = await progress();
    await expect.poll(progress, { timeout: 30_000, interval: 100 }).toBeGreaterThan(first);
    expect(await exports.status(item).innerText()).toMatch(/^Rendering \d+% \(\d+ of 150 frames\)$/);
    await screenshot(page, '44-export-rendering');

    // Closed, the dialog's export goes on: the header button says how far.
    await exports.close();
    await expect.poll(async () => (await exports.button().innerText()).replace(/\s+/g, ' '), { interval: 100 }).toMatch(/^Export \d+%$/);
    await screenshot(page, '45-export-button-progress');
    await exports.open();

    await item.getByRole('button', { name: 'Cancel', exact: true }).click();
    // A render now runs behind its own wall (uid, cgroup, bubblewrap): a cancel ends every process
    // of the job's user before the export is marked cancelled, which takes a few seconds.
    await expect.poll(() => exports.status(item).innerText(), { timeout: 20_000 }).toBe('Cancelled');
    expect(await bar.count()).toBe(0);
    expect(await item.getByRole('link', { name: /^Download/ }).count()).toBe(0);
    expect((await exports.button().innerText()).trim()).toBe('Export');
    await screenshot(page, '46-export-cancelled');
  });

  it('lists the exports after a reload', async () => {
    await page.reload();
    await exports.open();
    await expect.poll(() => exports.items().count()).toBe(2);
    expect(await exports.items().getByTestId('export-status').allInnerTexts()).toEqual(['Cancelled', 'Done']);
    await exports.latest().getByText(/^Version [0-9a-f]{7} \(current\)$/).waitFor();
  });
});
