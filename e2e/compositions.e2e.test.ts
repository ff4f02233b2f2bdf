import { type Scenario, type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, compositionPicker, previewFrame, ProjectExports, ProjectsPage } from './pages.js';

const ROOT = `import { Composition, Folder, Still } from 'remotion';
import { Outro } from './scenes/Outro';
import { TitleScene } from './scenes/TitleScene';

export const RemotionRoot: React.FC = () => (
  <>
    <Composition id="TitleScene" component={TitleScene} durationInFrames={150} fps={30} width={1280} height={720} />
    <Folder name="Extras">
      <Composition
        id="Outro"
        component={Outro}
        defaultProps={{ seconds: 2 }}
        calculateMetadata={({ props }) => ({ durationInFrames: props.seconds * 25 })}
        fps={25}
        width={640}
        height={640}
      />
      <Still id="Card" component={Outro} width={300} height={200} defaultProps={{ seconds: 1 }} />
    </Folder>
  </>
);
`;

const OUTRO = `import { AbsoluteFill, Sequence } from 'remotion';

export const Outro: React.FC<{ seconds: number }> = ({ seconds }) => (
  <AbsoluteFill style={{ backgroundColor: '#7c3aed', alignItems: 'center', justifyContent: 'center' }}>
    <Sequence name="Thanks" durationInFrames={seconds * 10}>
      <AbsoluteFill style={{ alignItems: 'center', justifyContent: 'center', color: '#fff', fontSize: 60 }}>Thanks for watching</AbsoluteFill>
    </Sequence>
    <Sequence name="Subscribe" from={seconds * 10}>
      <AbsoluteFill style={{ alignItems: 'center', justifyContent: 'center', color: '#fff', fontSize: 40 }}>Subscribe</AbsoluteFill>
    </Sequence>
  </AbsoluteFill>
);
`;

const scenario: Scenario = {
  rules: [
    {
      match: 'outro',
      steps: [
        { text: 'Reading the Root first.', tools: [{ tool: 'read', path: 'src/Root.tsx' }] },
        {
          tools: [
            { tool: 'write', path: 'src/scenes/Outro.tsx', content: OUTRO },
            { tool: 'write', path: 'src/Root.tsx', content: ROOT },
          ],
        },
        { text: 'Added an outro and a card in the Extras folder.' },
      ],
    },
  ],
  fallback: [{ text: 'Done.' }],
};

/**
 * Every composition of the project in the browser: the agent adds a second composition
 * (in a folder, with calculateMetadata) and a still; the picker lists them, the preview,
 * its timeline and the export dialog follow the choice, and the choice survives a reload;
 * the project keeps it (another browser starts on it, the thumbnail shows it).
 */
describe('compositions in the browser', () => {
  let model: ScriptedModelServer;
  let server: RunningServer;
  let browser: Browser;
  let person: BrowserContext;
  let page: Page;

  const preview = () => previewFrame(page);
  const picker = () => compositionPicker(page);
  const timeline = () => page.getByRole('group', { name: 'Sequences' });

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', SESSION_POOL_SIZE: '1' });
    browser = await launchBrowser();
    person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    await new AuthPage(page).signUp('Ada Compositions', 'ada-compositions@example.com', 'compositions password 1');
    await new ProjectsPage(page).create('Several videos');
    await preview().getByText('Your video starts here').waitFor({ timeout: 60_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await model?.close();
  });

  it('lists what the Root registers; the preview, timeline and export follow the chosen composition; a reload keeps it', async () => {
    // The template's Root has one composition.
    await expect.poll(() => picker().locator('option').allTextContents()).toEqual(['TitleScene']);

    await page.getByRole('textbox', { name: 'Message' }).fill('Add an outro');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Added an outro and a card in the Extras folder.').waitFor({ timeout: 60_000 });
    // The Root's new compositions show without a reload, in their folder.
    await expect.poll(() => picker().locator('option').allTextContents(), { timeout: 30_000 }).toEqual(['TitleScene', 'Outro', 'Card (still)']);
    expect(await picker().locator('optgroup').getAttribute('label')).toBe('Extras');
    expect(await picker().inputValue()).toBe('TitleScene');

    await picker().selectOption('Outro');
    await preview().getByText('Thanks for watching').waitFor({ timeout: 30_000 });
    await timeline().getByRole('button', { name: /^Thanks, from frame 0, 20 frames/ }).waitFor();
    await timeline().getByRole('button', { name: /^Subscribe, from frame 20/ }).waitFor();
    // calculateMetadata: 2 seconds at 25 fps.
    await expect.poll(() => page.getByLabel('Current time').textContent()).toMatch(/\/ 0:02\.0 · frame/);
    await screenshot(page, '40-composition-picker');

    const exports = new ProjectExports(page);
    await exports.open();
    await exports.dialog().getByText('Outro', { exact: true }).waitFor();
    await exports.dialog().getByText('50 frames at 25 fps', { exact: false }).waitFor();
    await exports.close();

    await page.reload();
    await preview().getByText('Thanks for watching').waitFor({ timeout: 60_000 });
    expect(await picker().inputValue()).toBe('Outro');

    await picker().selectOption('Card');
    await preview().getByText('Thanks for watching').waitFor();
    await exports.open();
    await exports.dialog().getByText('Card', { exact: true }).waitFor();
    await exports.close();

    // The project keeps the choice: the same person in another browser (signed in, nothing
    // of this one's storage) starts on it, and the projects page's thumbnail shows it.
    const projectUrl = page.url();
    const elsewhere = await browser.newContext({ baseURL: server.baseUrl, viewport: { width: 1440, height: 900 }, storageState: { cookies: (await person.storageState()).cookies, origins: [] } });
    try {
      const other = await elsewhere.newPage();
      await other.goto(projectUrl);
      await expect.poll(() => other.getByRole('combobox', { name: 'Composition' }).inputValue(), { timeout: 60_000 }).toBe('Card');
      await other.goto('/');
      const thumbnail = other.getByRole('img', { name: 'Several videos thumbnail' });
      await expect.poll(() => thumbnail.getAttribute('src'), { timeout: 240_000, interval: 1_000 }).toContain('.Card');
      await expect.poll(() => thumbnail.evaluate((image: HTMLImageElement) => image.naturalWidth / Math.max(1, image.naturalHeight))).toBeCloseTo(300 / 200, 1);
    } finally {
      await elsewhere.close();
    }
  });
});
