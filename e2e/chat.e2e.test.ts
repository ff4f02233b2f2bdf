import path from 'node:path';
import { type Scenario, type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../apps/server/src/repos/git.js';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, previewFrame, ProjectsPage } from './pages.js';

const TITLE_FILE = 'src/scenes/TitleScene.tsx';
const TITLE_LINE = "title = 'Your video starts here'";
// The title component's first line, where a scripted edit can make it throw.
const ANCHOR = 'const Title: React.FC<{ text: string }> = ({ text }) => {';
const throwing = (message: string) => `${ANCHOR}\n  if (text) throw new Error('${message}');`;

/**
 * The scripted model's replies. Automatic-fix reports start with "The preview shows an
 * error" and quote the error's message, so their rules come first.
 */
const scenario: Scenario = {
  rules: [
    {
      match: 'preview shows an error[\\s\\S]*Title exploded',
      steps: [
        { text: 'The title threw on purpose; removing that line.', tools: [{ tool: 'edit', path: TITLE_FILE, old: throwing('Title exploded'), new: ANCHOR }] },
        { text: 'Fixed: the title renders again.' },
      ],
    },
    { match: 'preview shows an error[\\s\\S]*Boom forever', steps: [{ text: 'I looked, but I cannot find the cause.' }] },
    {
      match: 'title say Hello',
      steps: [
        { text: 'Let me look at the title scene.', tools: [{ tool: 'read', path: TITLE_FILE }] },
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: TITLE_LINE, new: "title = 'Hello from the agent'" }] },
        { text: 'Done: the title now says "Hello from the agent".' },
      ],
    },
    {
      match: 'break the title$',
      steps: [
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: ANCHOR, new: throwing('Title exploded') }] },
        { text: 'I changed the title component.' },
      ],
    },
    {
      match: 'break it for good',
      steps: [
        { tools: [{ tool: 'edit', path: TITLE_FILE, old: ANCHOR, new: throwing('Boom forever') }] },
        { text: 'I changed the title component again.' },
      ],
    },
    { match: 'count slowly', steps: [{ text: 'One, two, three, four, five, six, seven, eight, nine, ten.', delayMs: 600 }] },
    { match: 'remember', steps: [{ text: 'Yes: you asked me to make the title say Hello.' }] },
  ],
  fallback: [{ text: 'Done.' }],
};

/** Chat in the browser: the real server, the real Claude Agent SDK in the sandbox, the scripted model. */
describe('chat with the agent in the browser', () => {
  let model: ScriptedModelServer;
  let server: RunningServer;
  let browser: Browser;
  let person: BrowserContext;
  let page: Page;
  let projectId = '';

  const preview = () => previewFrame(page);
  const history = () => page.getByRole('list', { name: 'Chat history' });
  const composer = () => page.getByRole('textbox', { name: 'Message' });
  const send = async (text: string) => {
    await composer().fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  };
  const assistantMessages = () => history().locator('[data-testid="chat-message"][data-role="assistant"]');
  const versions = async () =>
    (await git(['--git-dir', path.join(server.dataDir, 'repos', `${projectId}.git`), 'rev-list', 'main'])).trim().split('\n');

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', SESSION_GRACE_MS: '1500', SESSION_POOL_SIZE: '1' });
    browser = await launchBrowser();
    person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    await new AuthPage(page).signUp('Ada Chat', 'ada-chat@example.com', 'chat password 1');
    await new ProjectsPage(page).create('Chatty');
    projectId = new URL(page.url()).pathname.split('/').at(-1)!;
    await preview().getByText('Your video starts here').waitFor({ timeout: 60_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await model?.close();
  });

  it('asks for a new title: the reply streams, the edit shows with its diff, the preview changes, a version is made', async () => {
    const before = await versions();
    await send('Make the title say Hello');
    // The message shows at once; the reply streams in.
    await history().getByText('Make the title say Hello').waitFor();
    await history().getByText('Let me look at the title scene.').waitFor();
    await preview().getByText('Hello from the agent').waitFor({ timeout: 30_000 });
    const reply = assistantMessages().last();
    await reply.getByText('Done: the title now says "Hello from the agent".').waitFor();
    const edit = reply.locator('[data-testid="agent-action"][data-tool="edit"]');
    await expect.poll(() => edit.getAttribute('data-status')).toBe('done');
    await edit.getByRole('button').first().click();
    const diff = reply.getByTestId('action-diff');
    await diff.getByText("+  title = 'Hello from the agent',").waitFor();
    await screenshot(page, '20-chat-turn');
    expect((await versions()).length).toBe(before.length + 1);
    expect(await composer().isEnabled()).toBe(true);
  });

  it('shows the whole history again after a reload', async () => {
    await page.reload();
    await history().getByText('Make the title say Hello').waitFor();
    await history().getByText('Done: the title now says "Hello from the agent".').waitFor();
    await history().locator('[data-testid="agent-action"][data-tool="edit"][data-status="done"]').first().waitFor();
    await preview().getByText('Hello from the agent').waitFor({ timeout: 30_000 });
  });

  it('queues a message sent during a turn, and cancels a running turn', async () => {
    const replies = await assistantMessages().count();
    await send('Count slowly please');
    await page.getByTestId('live-turn').waitFor();
    await send('And then say hi');
    await history().getByTestId('queued-label').waitFor();
    await screenshot(page, '23-queued');
    await page.getByRole('region', { name: 'Chat' }).getByRole('button', { name: 'Cancel' }).click();
    await history().locator('[data-role="assistant"][data-status="cancelled"]').getByTestId('turn-result').getByText('Cancelled').waitFor();
    // The queued message runs next, and its turn completes.
    await expect.poll(async () => history().getByTestId('queued-label').count(), { timeout: 30_000 }).toBe(0);
    await expect.poll(async () => assistantMessages().count(), { timeout: 30_000 }).toBe(replies + 2);
    await expect.poll(async () => assistantMessages().last().getAttribute('data-status'), { timeout: 30_000 }).toBe('done');
  });

  it('fixes a preview error automatically: the report goes to the agent, and the preview comes back', async () => {
    await send('Now break the title');
    await page.getByRole('alert', { name: 'Preview errors' }).getByText('Title exploded').first().waitFor({ timeout: 30_000 });
    const report = history().locator('[data-auto-fix="true"]').first();
    await report.getByTestId('auto-fix-label').waitFor({ timeout: 30_000 });
    await history().getByText('Fixed: the title renders again.').waitFor({ timeout: 30_000 });
    await preview().getByText('Hello from the agent').waitFor({ timeout: 30_000 });
    await screenshot(page, '21-auto-fix');
    const sent = model.requests.find((request) => request.userText.startsWith('The preview shows an error'));
    expect(sent?.userText).toContain('Title exploded');
    expect(sent?.userText).toContain(TITLE_FILE);
  });

  it('stops after 3 automatic fixes of the same error and tells the user', async () => {
    await send('Please break it for good');
    await page.getByTestId('chat-notice').getByText(/Automatic fixing stopped after 3 attempts/).waitFor({ timeout: 90_000 });
    // Exactly 3 reports of this error went to the agent.
    await page.waitForTimeout(3_000);
    const reports = model.requests.filter((request) => request.step === 0 && /Boom forever/.test(request.userText) && request.userText.startsWith('The preview shows an error'));
    expect(reports).toHaveLength(3);
    expect(await history().locator('[data-auto-fix="true"]').filter({ hasText: 'Boom forever' }).count()).toBe(3);
    await screenshot(page, '22-auto-fix-stopped');
  });

  it('resumes the conversation in a new session: the model gets the earlier turns', async () => {
    await page.goto('/');
    // After the grace period the session and its sandbox are gone.
    await page.waitForTimeout(4_000);
    await page.goto(`/projects/${projectId}`);
    await preview().locator('body').waitFor({ timeout: 60_000 });
    const earlier = model.requests.length;
    await send('Do you remember what I asked first?');
    await history().getByText('Yes: you asked me to make the title say Hello.').waitFor({ timeout: 30_000 });
    const request = model.requests.slice(earlier).find((entry) => entry.userText.includes('remember'));
    expect(JSON.stringify(request!.body)).toContain('Make the title say Hello');
    const scene = await git(['--git-dir', path.join(server.dataDir, 'repos', `${projectId}.git`), 'show', `main:${TITLE_FILE}`]);
    expect(scene).toContain('Boom forever'); // the unfixed edit is a version too: nothing is lost
  });
});
