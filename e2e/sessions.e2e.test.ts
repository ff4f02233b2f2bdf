import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { isAlive } from '../apps/server/src/testing/processes.js';
import { AuthPage, ProjectsPage } from './pages.js';

/**
 * Long enough for a reopened tab to load the app and send its session:start on a busy
 * 2-core machine (2.5 s was not: a cold load there took 2–5 s, and the session was gone).
 */
const GRACE_MS = 8_000;

/** The live preview in the browser: Player, hot reload, timeline, sessions' lifecycle. */
describe('live preview in the browser', () => {
  let server: RunningServer;
  let browser: Browser;
  let owner: BrowserContext;
  let page: Page;
  let projectPath = '';

  const previewFrame = (target: Page) => target.frameLocator('iframe[title="Video preview"]');
  const previewSrc = async (target: Page) => (await target.locator('iframe[title="Video preview"]').getAttribute('src'))!;
  const sandboxId = (src: string) => new URL(src).pathname.split('/')[2]!;
  const sandboxDir = (id: string) => path.join(server.dataDir, 'sandboxes', id);
  const sandboxInfo = async (id: string) =>
    JSON.parse(await readFile(path.join(sandboxDir(id), 'sandbox.json'), 'utf8')) as { pid: number };
  const frameOf = (target: Page): Frame => target.frames().find((frame) => frame.url().includes('/s/'))!;

  beforeAll(async () => {
    server = await startServer({ SESSION_GRACE_MS: String(GRACE_MS), SESSION_POOL_SIZE: '1' });
    browser = await launchBrowser();
    owner = await newPerson(browser, server.baseUrl);
    page = await owner.newPage();
    await new AuthPage(page).signUp('Vera Preview', 'vera@example.com', 'preview password');
    await new ProjectsPage(page).create('Live title');
    projectPath = new URL(page.url()).pathname;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("opens a project and shows the template's first frame, with its sequences on the timeline", async () => {
    await previewFrame(page).getByText('Your video starts here').waitFor({ timeout: 60_000 });
    const timeline = page.getByRole('group', { name: 'Sequences' });
    await timeline.getByRole('button', { name: /^Title, from frame 0/ }).waitFor();
    await timeline.getByRole('button', { name: /^Accent bar, from frame 10, 140 frames/ }).waitFor();
    await timeline.getByRole('button', { name: /^Subtitle, from frame 30, 120 frames/ }).waitFor();
    await page.waitForTimeout(500);
    await screenshot(page, '10-live-preview');
  });

  it('an edit of the working copy on disk shows in the preview without a page reload', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await frameOf(page).evaluate(() => ((window as unknown as { marker: number }).marker = 7));
    const file = path.join(sandboxDir(sandboxId(await previewSrc(page))), 'workspace', 'src', 'scenes', 'TitleScene.tsx');
    const source = await readFile(file, 'utf8');
    await writeFile(file, source.replace("title = 'Your video starts here'", "title = 'Hello from disk'"));
    await previewFrame(page).getByText('Hello from disk').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(await frameOf(page).evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7);
  });

  it('clicking a sequence seeks the Player there; the playhead and the time follow; play and pause work', async () => {
    const subtitle = previewFrame(page).getByText('Describe what you want in the chat');
    expect(await subtitle.count()).toBe(0);
    await page.getByRole('button', { name: /^Subtitle, from frame 30/ }).click();
    await page.getByLabel('Current time').filter({ hasText: 'frame 30' }).waitFor();
    await subtitle.waitFor();
    const playhead = await page.getByTestId('playhead').getAttribute('style');
    expect(playhead).toContain('left: 20%');

    // A click on the track seeks proportionally: at the very start → frame 0.
    const track = page.getByRole('group', { name: 'Sequences' });
    const box = (await track.boundingBox())!;
    await page.mouse.click(box.x + 1, box.y + box.height - 2);
    await page.getByLabel('Current time').filter({ hasText: /frame [0-2]$/ }).waitFor();

    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
    await page.getByLabel('Current time').filter({ hasText: /frame ([1-9]\d+|[3-9])$/ }).waitFor();
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
  });

  it('an error in the composition shows in the error panel; messages from other windows are ignored', async () => {
    // A forged report from a window that is not the preview iframe.
    await page.evaluate(() => window.postMessage({ type: 'remotion:error', message: 'Forged by the page', stack: null }, '*'));
    const file = path.join(sandboxDir(sandboxId(await previewSrc(page))), 'workspace', 'src', 'scenes', 'TitleScene.tsx');
    const source = await readFile(file, 'utf8');
    await writeFile(file, source.replace('const Title: React.FC<{ text: string }> = ({ text }) => {', "const Title: React.FC<{ text: string }> = ({ text }) => {\n  if (text) throw new Error('Boom from the scene');"));
    const panel = page.getByRole('alert', { name: 'Preview errors' });
    try {
      await panel.getByText('Boom from the scene').first().waitFor({ timeout: 30_000 });
      expect(await panel.getByText('Forged by the page').count()).toBe(0);
      await screenshot(page, '12-preview-error');
      await panel.getByRole('button', { name: 'Dismiss' }).click();
      await panel.waitFor({ state: 'detached' });
      // Not asserted here: a second broken edit right after Dismiss shows its error again
      // only most of the time under load (React Refresh vs the Player's error boundary);
      // see the note on the live-sessions issue.
    } finally {
      await writeFile(file, source);
    }
    // Fixed: the video renders again (and the panel stays clear).
    await previewFrame(page).getByText('Hello from disk').waitFor({ timeout: 30_000 });
    await panel.waitFor({ state: 'detached' });
  });

  it("another user cannot load the first user's preview URL", async () => {
    const src = await previewSrc(page);
    const intruder = await newPerson(browser, server.baseUrl);
    const other = await intruder.newPage();
    await new AuthPage(other).signUp('Ian Truder', 'ian@example.com', 'intruder password');
    const response = await other.goto(src);
    expect(response?.status()).toBe(403);
    expect(await other.content()).not.toContain('main.tsx');
    await intruder.close();
  });

  it('kill -9 of the runtime: the page shows the error, and a restart brings the preview back', async () => {
    const before = sandboxId(await previewSrc(page));
    process.kill((await sandboxInfo(before)).pid, 'SIGKILL');
    const alert = page.getByRole('alert').filter({ hasText: 'The preview stopped' });
    await alert.waitFor();
    await screenshot(page, '11-preview-killed');
    await alert.getByRole('button', { name: 'Restart preview' }).click();
    await previewFrame(page).getByText('Hello from disk').waitFor({ timeout: 60_000 });
    expect(sandboxId(await previewSrc(page))).not.toBe(before);
  });

  it('closing the tab and reopening within the grace period keeps the session; after it the process and port are gone', async () => {
    const id = sandboxId(await previewSrc(page));
    const info = await sandboxInfo(id);
    // The working copy's unsaved edit is what shows the session was kept. An earlier test
    // made it; run alone (-t), this test makes it itself.
    const file = path.join(sandboxDir(id), 'workspace', 'src', 'scenes', 'TitleScene.tsx');
    const source = await readFile(file, 'utf8');
    if (!source.includes("title = 'Hello from disk'")) {
      await writeFile(file, source.replace("title = 'Your video starts here'", "title = 'Hello from disk'"));
    }
    await previewFrame(page).getByText('Hello from disk').waitFor({ timeout: 30_000 });
    await page.close();
    await new Promise((resolve) => setTimeout(resolve, 500));

    page = await owner.newPage();
    await page.goto(projectPath);
    await previewFrame(page).getByText('Hello from disk').waitFor({ timeout: 30_000 });
    expect(sandboxId(await previewSrc(page))).toBe(id);

    await page.close();
    const deadline = Date.now() + GRACE_MS + 10_000;
    while (isAlive(info.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(isAlive(info.pid)).toBe(false);
    // Nothing answers on its preview socket any more.
    const previewAnswers = await new Promise<boolean>((resolve) => {
      const socket = net.connect(path.join(sandboxDir(id), 'sock', 'preview.sock'), () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    expect(previewAnswers).toBe(false);
    // The folder goes right after the process (its removal takes a moment).
    while (existsSync(sandboxDir(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(existsSync(sandboxDir(id))).toBe(false);

    // Reopening later starts a new session from the project's repo.
    page = await owner.newPage();
    await page.goto(projectPath);
    await previewFrame(page).getByText('Your video starts here').waitFor({ timeout: 30_000 });
    expect(sandboxId(await previewSrc(page))).not.toBe(id);
  });

  it('when the server restarts, the page shows it is reconnecting and comes back without a reload', async () => {
    await previewFrame(page).getByText('Your video starts here').waitFor({ timeout: 30_000 });
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 99));
    const before = sandboxId(await previewSrc(page));

    const restarted = server.restart();
    await page.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor({ timeout: 15_000 });
    await screenshot(page, '13-reconnecting');
    expect(await restarted).toBe(0);

    // The old iframe still shows its last frame: wait for the new session's preview.
    await page.locator(`iframe[title="Video preview"]:not([src*="/s/${before}/"])`).waitFor({ timeout: 60_000 });
    await previewFrame(page).getByText('Your video starts here').waitFor({ timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(99);
  });
});
