import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Scenario, type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../apps/server/src/repos/git.js';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, previewFrame, ProjectHistory, ProjectsPage } from './pages.js';

const TITLE_FILE = 'src/scenes/TitleScene.tsx';
const TEMPLATE = 'Create project from the template';
const FIRST = 'Make the title say Hello';
const SECOND = 'Now use the second title';

/** The scripted model's replies: two edits of the title, and a slow answer that changes nothing. */
const scenario: Scenario = {
  rules: [
    {
      match: 'title say Hello',
      steps: [
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: "title = 'Your video starts here'", new: "title = 'Hello from the agent'" }] },
        { text: 'Done: the title now says "Hello from the agent".' },
      ],
    },
    {
      match: 'second title',
      steps: [
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: "title = 'Hello from the agent'", new: "title = 'Second title'" }] },
        { text: 'Done: the title now says "Second title".' },
      ],
    },
    { match: 'count slowly', steps: [{ text: 'One, two, three, four, five, six, seven, eight, nine, ten.', delayMs: 2_500 }] },
  ],
  fallback: [{ text: 'Done.' }],
};

/** History in the browser: versions of real agent turns, their diffs, restore and undo with the live preview. */
describe('project history in the browser', () => {
  let model: ScriptedModelServer;
  let server: RunningServer;
  let browser: Browser;
  let person: BrowserContext;
  let page: Page;
  let history: ProjectHistory;
  let projectId = '';

  const preview = () => previewFrame(page);
  const chat = () => page.getByRole('list', { name: 'Chat history' });
  const assistantMessages = () => chat().locator('[data-testid="chat-message"][data-role="assistant"]');
  const send = async (text: string) => {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  };
  /** Sends a message and waits until its turn is saved (its reply done). */
  const turn = async (text: string, replies: number) => {
    await send(text);
    await expect.poll(() => assistantMessages().count(), { timeout: 30_000 }).toBe(replies);
    await expect.poll(() => assistantMessages().last().getAttribute('data-status'), { timeout: 30_000 }).toBe('done');
  };
  const authors = () => history.versions().getByTestId('version-author').allInnerTexts();
  const messages = () => history.versions().getByTestId('version-message').allInnerTexts();
  /** Seeks the preview to where the title has risen in, for a screenshot that shows it. */
  const showTitle = async () => {
    await page.getByRole('group', { name: 'Sequences' }).getByRole('button', { name: /^Subtitle,/ }).click();
    await page.getByLabel('Current time').getByText(/frame 30$/).waitFor();
  };
  const commits = async () => (await git(['--git-dir', path.join(server.dataDir, 'repos', `${projectId}.git`), 'rev-list', 'main'])).trim().split('\n');

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', SESSION_POOL_SIZE: '1' });
    browser = await launchBrowser();
    person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    history = new ProjectHistory(page);
    await new AuthPage(page).signUp('Hedy History', 'hedy-history@example.com', 'history password 1');
    await new ProjectsPage(page).create('Time machine');
    projectId = new URL(page.url()).pathname.split('/').at(-1)!;
    await preview().getByText('Your video starts here').waitFor({ timeout: 60_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await model?.close();
  });

  it('lists the template and two agent turns as versions, newest first, with their authors', async () => {
    await turn(FIRST, 1);
    await preview().getByText('Hello from the agent').waitFor({ timeout: 30_000 });
    await turn(SECOND, 2);
    await preview().getByText('Second title').waitFor({ timeout: 30_000 });

    // The chat links each turn to its version; only the latest turn can be undone from there.
    await assistantMessages().last().getByRole('button', { name: 'Undo last change' }).waitFor();
    expect(await assistantMessages().first().getByRole('button', { name: 'View changes' }).count()).toBe(1);
    expect(await assistantMessages().first().getByRole('button', { name: 'Undo last change' }).count()).toBe(0);
    await screenshot(page, '30-history-chat');

    await history.open();
    await expect.poll(() => history.versions().count()).toBe(3);
    expect(await messages()).toEqual([SECOND, FIRST, TEMPLATE]);
    expect(await authors()).toEqual(['Agent', 'Agent', 'You']);
    await history.version(SECOND).getByText('Current').waitFor();
    expect(await history.versions().getByTestId('version-current').count()).toBe(1);
    await history.version(FIRST).getByText('1 file changed').waitFor();
    // The exact time is in the tooltip of the relative one.
    expect(await history.version(FIRST).locator('time').getAttribute('title')).toMatch(/\d{4}/);
    await showTitle();
    await screenshot(page, '31-history');
  });

  it('shows the changes of a selected version: the title line, removed and added', async () => {
    await history.select(FIRST);
    const changes = history.changes(FIRST);
    await changes.getByText("-  title = 'Your video starts here',").waitFor();
    await changes.getByText("+  title = 'Hello from the agent',").waitFor();
    const file = changes.getByRole('list', { name: 'Changed files' }).getByRole('listitem');
    expect(await file.count()).toBe(1);
    await file.getByText('Modified').waitFor();
    await file.getByText(TITLE_FILE, { exact: true }).waitFor();
    expect(await changes.locator('[data-line="add"]').first().evaluate((line) => getComputedStyle(line).backgroundColor)).not.toBe('rgba(0, 0, 0, 0)');
    await screenshot(page, '32-history-diff');
  });

  it('downloads a selected version as a zip of the project at that version', async () => {
    // Selecting the selected version again would close its changes.
    if (!(await history.changes(FIRST).isVisible())) await history.select(FIRST);
    const [download] = await Promise.all([page.waitForEvent('download'), history.changes(FIRST).getByRole('link', { name: 'Download .zip' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^[a-z0-9-]+-[0-9a-f]{7}\.zip$/);
    const zip = await readFile(await download.path());
    // A zip (its entries' names are plain text in it, whatever their compression).
    expect(zip.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(zip.includes(Buffer.from('src/scenes/TitleScene.tsx'))).toBe(true);
    expect(zip.includes(Buffer.from('src/index.ts'))).toBe(true);
  });

  it('restores the template’s version after confirmation: the preview shows it, and a Restore version is current', async () => {
    // By keyboard: from the newest version, End goes to the oldest (the template), Enter selects it.
    await history.version(SECOND).getByRole('button').focus();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    const changes = history.changes(TEMPLATE);
    await changes.getByText('The project’s first version: every file is new.').waitFor();

    const before = (await commits()).length;
    await changes.getByRole('button', { name: 'Restore this version' }).click();
    const dialog = page.getByRole('dialog', { name: 'Restore version' });
    await dialog.getByText('This is saved as a new version, so you can undo it.').waitFor();
    await dialog.getByText(`“${TEMPLATE}”`, { exact: false }).waitFor();
    await screenshot(page, '33-history-restore-confirm');
    // Cancelling changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await commits()).length).toBe(before);

    await history.restore(TEMPLATE);
    await preview().getByText('Your video starts here').waitFor({ timeout: 30_000 });
    await expect.poll(() => history.versions().count()).toBe(4);
    expect((await messages())[0]).toBe(`Restore "${TEMPLATE}"`);
    expect((await authors())[0]).toBe('Restore');
    await history.versions().first().getByText('Current').waitFor();
    expect(await history.versions().getByTestId('version-current').count()).toBe(1);
    expect((await commits()).length).toBe(before + 1);
    // The restore is selected: its changes are the title line coming back.
    await history.changes(`Restore "${TEMPLATE}"`).getByText("+  title = 'Your video starts here',").waitFor();
    await showTitle();
    await screenshot(page, '34-history-restored');
  });

  it('undoes the last change after confirmation: the second title is back', async () => {
    await history.region().getByRole('button', { name: 'Undo last change' }).click();
    const dialog = page.getByRole('dialog', { name: 'Undo last change' });
    await dialog.getByText(`This undoes “Restore "${TEMPLATE}"”`, { exact: false }).waitFor();
    await screenshot(page, '35-history-undo-confirm');
    await dialog.getByRole('button', { name: 'Undo', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await preview().getByText('Second title').waitFor({ timeout: 30_000 });
    await expect.poll(() => history.versions().count()).toBe(5);
    expect((await messages())[0]).toBe(`Restore "${SECOND}"`);
    await history.versions().first().getByText('Current').waitFor();
    await showTitle();
    await screenshot(page, '36-history-undone');
  });

  it('opens a turn’s changes from the chat', async () => {
    await page.getByRole('tab', { name: 'Chat' }).click();
    // The latest change is the undo now, not a turn: the chat offers no undo.
    expect(await chat().getByRole('button', { name: 'Undo last change' }).count()).toBe(0);
    await assistantMessages().first().getByRole('button', { name: 'View changes' }).click();
    expect(await page.getByRole('tab', { name: 'History' }).getAttribute('aria-selected')).toBe('true');
    const changes = history.changes(FIRST);
    await changes.getByText("+  title = 'Hello from the agent',").waitFor();
    // Its heading has the focus, so a keyboard user lands on what they asked for.
    expect(await changes.getByRole('heading', { name: FIRST }).evaluate((heading) => heading === document.activeElement)).toBe(true);
  });

  it('keeps the history after a reload', async () => {
    await page.reload();
    await history.open();
    // A reload loads everything again at once (the app, the session, the preview's cookie
    // exchange and its modules), and the history is a git read among all that: give it
    // more than expect.poll's default second.
    await expect.poll(() => history.versions().count(), { timeout: 10_000 }).toBe(5);
    await history.versions().first().getByText('Current').waitFor();
  });

  it('refuses a restore while the agent works, with the server’s reason', async () => {
    await page.getByRole('tab', { name: 'Chat' }).click();
    const replies = await assistantMessages().count();
    await send('Count slowly please');
    await page.getByTestId('live-turn').waitFor();
    await history.open();
    await history.region().getByRole('button', { name: 'Undo last change' }).click();
    const dialog = page.getByRole('dialog', { name: 'Undo last change' });
    await dialog.getByRole('button', { name: 'Undo', exact: true }).click();
    await dialog.getByRole('alert').getByText(/agent is working/).waitFor();
    await screenshot(page, '37-history-conflict');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await history.versions().count()).toBe(5);
    // The turn goes on and ends; it changed no files, so no version was made.
    await page.getByRole('tab', { name: 'Chat' }).click();
    await expect.poll(() => assistantMessages().count(), { timeout: 60_000 }).toBe(replies + 1);
    await preview().getByText('Second title').waitFor();
  });
});
