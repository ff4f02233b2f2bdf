import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Scenario, type ScriptedModelServer, startScriptedModelServer, testProjectDir } from '@cutroom/testkit';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, launchBrowser, newPerson, screenshot, startServer } from './harness.js';
import { AuthPage, compositionPicker, previewFrame, ProjectImport } from './pages.js';

const run = promisify(execFile);

const TIMING = `import prettyMs from 'pretty-ms';
import { AbsoluteFill } from 'remotion';

export const Timing: React.FC = () => (
  <AbsoluteFill style={{ backgroundColor: '#0f172a', alignItems: 'center', justifyContent: 'center' }}>
    <h1 style={{ color: 'white', fontFamily: 'sans-serif' }}>Took {prettyMs(1337)}</h1>
  </AbsoluteFill>
);
`;

const scenario: Scenario = {
  rules: [
    {
      // The automatic fix: the report of the failed install names the package.
      match: 'could not be installed',
      steps: [
        {
          text: 'That package does not exist on the registry: removing it.',
          tools: [{ tool: 'edit', path: 'package.json', old: '\n    "cutroom-no-such-confetti-zz9": "^1.0.0",', new: '' }],
        },
        { text: 'Removed the package that does not exist.' },
      ],
    },
    {
      match: 'how long',
      steps: [
        { text: 'pretty-ms formats durations: adding it to the packages.', tools: [{ tool: 'read', path: 'package.json' }] },
        {
          tools: [
            { tool: 'edit', path: 'package.json', old: '"lodash.camelcase": "^4.3.0",', new: '"lodash.camelcase": "^4.3.0",\n    "pretty-ms": "^9.0.0",' },
            { tool: 'write', path: 'src/Timing.tsx', content: TIMING },
            {
              tool: 'edit',
              path: 'src/Root.tsx',
              old: "import { Slides } from './Slides';",
              new: "import { Slides } from './Slides';\nimport { Timing } from './Timing';",
            },
            {
              tool: 'edit',
              path: 'src/Root.tsx',
              old: '  </>',
              new: '    <Composition id="Timing" component={Timing} durationInFrames={30} fps={25} width={640} height={360} />\n  </>',
            },
          ],
        },
        { text: 'Added a Timing composition that uses pretty-ms.' },
      ],
    },
    {
      match: 'confetti',
      steps: [
        {
          tools: [
            { tool: 'edit', path: 'package.json', old: '"pretty-ms": "^9.0.0",', new: '"pretty-ms": "^9.0.0",\n    "cutroom-no-such-confetti-zz9": "^1.0.0",' },
          ],
        },
        { text: 'Added the confetti package.' },
      ],
    },
  ],
  fallback: [{ text: 'Done.' }],
};

/**
 * A project's own packages, in the browser against the real server: an imported project
 * that needs packages Cutroom does not have (ES modules and CommonJS) plays once they are
 * installed; the agent adds one and the preview follows; a package that cannot be
 * installed is an error the user sees and the automatic fix sends to the agent; a
 * Tailwind v4 project (tailwindcss from its own install) and a Tailwind v3 one
 * (`@remotion/tailwind`, `tailwind.config.js`) are styled in the preview and in their
 * export (rendered in the wall, from a data folder only the server may enter).
 */
describe("a project's own packages in the browser", () => {
  let model: ScriptedModelServer;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let scratch: string;

  const preview = () => previewFrame(page);
  const picker = () => compositionPicker(page);
  const history = () => page.getByRole('list', { name: 'Chat history' });
  const send = async (text: string) => {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  };

  /** Exports one frame of a composition as PNG and returns its top-left pixel. */
  async function exportedCorner(projectId: string, compositionId: string) {
    const created = await page.request.post(`${server.baseUrl}/api/projects/${projectId}/exports`, { data: { compositionId, format: 'png', frame: 29 }, headers: { origin: server.baseUrl } });
    expect(created.status()).toBe(201);
    const { export: started } = (await created.json()) as { export: { id: string } };
    let done: { status: string; downloadUrl: string | null; error: string | null } | undefined;
    await expect
      .poll(
        async () => {
          const listed = (await (await page.request.get(`${server.baseUrl}/api/projects/${projectId}/exports`)).json()) as { exports: { id: string; status: string; downloadUrl: string | null; error: string | null }[] };
          done = listed.exports.find((item) => item.id === started.id);
          return done?.status;
        },
        { timeout: 240_000, interval: 1_000 },
      )
      .toMatch(/^(done|failed)$/);
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'done' });
    const png = PNG.sync.read(await (await page.request.get(`${server.baseUrl}${done!.downloadUrl}`)).body());
    return [...png.data.subarray(0, 3)] as [number, number, number];
  }

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted', SESSION_POOL_SIZE: '1' });
    browser = await launchBrowser();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-e2e-packages-'));
    await cp(testProjectDir('with-packages'), path.join(scratch, 'with-packages'), { recursive: true });
    await run('zip', ['-q', '-r', path.join(scratch, 'Slides.zip'), 'with-packages'], { cwd: scratch });
    await cp(testProjectDir('tailwind-v4'), path.join(scratch, 'tailwind-v4'), { recursive: true });
    await run('tar', ['-czf', path.join(scratch, 'Card.tar.gz'), 'tailwind-v4'], { cwd: scratch });
    await cp(testProjectDir('tailwind-v3'), path.join(scratch, 'tailwind-v3'), { recursive: true });
    await run('zip', ['-q', '-r', path.join(scratch, 'Poster.zip'), 'tailwind-v3'], { cwd: scratch });
    const person = await newPerson(browser, server.baseUrl);
    page = await person.newPage();
    await new AuthPage(page).signUp('Pat Packages', 'pat-packages@example.com', 'packages password 1');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await model?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('an imported project plays with the packages it names', async () => {
    const imports = new ProjectImport(page);
    await imports.open();
    await imports.uploadArchive(path.join(scratch, 'Slides.zip'));
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    await expect.poll(() => picker().locator('option').allTextContents(), { timeout: 90_000 }).toEqual(['Slides']);
    // lodash.camelcase (CommonJS) made the text; @remotion/transitions lays out the slides.
    await preview().getByText('helloPackagesWorld').waitFor({ timeout: 90_000 });
    await page.getByRole('group', { name: 'Sequences' }).getByRole('button', { name: /^First slide, from frame 0/ }).waitFor();
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    await screenshot(page, '50-project-packages');
  });

  it('the agent adds a package: it is installed and the preview plays the code that uses it', async () => {
    await send('Show how long it took');
    await history().getByText('Added a Timing composition that uses pretty-ms.').waitFor({ timeout: 60_000 });
    await expect.poll(() => picker().locator('option').allTextContents(), { timeout: 90_000 }).toEqual(['Slides', 'Timing']);
    await picker().selectOption('Timing');
    await preview().getByText('Took 1.3s').waitFor({ timeout: 90_000 });
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    // The turn's version keeps the project's package-lock.json, brought up to date with the new package.
    const projectId = new URL(page.url()).pathname.split('/').at(-1)!;
    const archive = await page.request.get(`${server.baseUrl}/api/projects/${projectId}/archive`);
    expect(archive.status()).toBe(200);
    const zipFile = path.join(scratch, 'version.zip');
    await writeFile(zipFile, await archive.body());
    const { stdout: lockText } = await run('unzip', ['-p', zipFile, 'slides/package-lock.json'], { maxBuffer: 16 * 1024 * 1024 });
    const lock = JSON.parse(lockText) as { packages: Record<string, { version?: string }> };
    expect(lock.packages['']).toMatchObject({ dependencies: { 'pretty-ms': '^9.0.0' } });
    expect(lock.packages['node_modules/pretty-ms']?.version).toMatch(/^9\./);
    expect(lockText).not.toMatch(/127\.0\.0\.1/);
  });

  it('a package that cannot be installed is shown, and the automatic fix has the agent remove it', async () => {
    await send('Add confetti');
    const errors = page.getByRole('alert', { name: 'Preview errors' });
    await errors.getByText(/could not be installed/).first().waitFor({ timeout: 90_000 });
    expect(await errors.innerText()).toContain('cutroom-no-such-confetti-zz9');
    // No path of the server in what the user (and the agent) reads.
    expect(await errors.innerText()).not.toMatch(/\/tmp\/|cutroom-e2e-|\/jobs\//);
    await screenshot(page, '51-package-install-failed');
    await history().getByText('Removed the package that does not exist.').waitFor({ timeout: 90_000 });
    const report = model.requests.find((request) => request.userText.startsWith('The preview shows an error') && request.userText.includes('cutroom-no-such-confetti-zz9'));
    expect(report?.userText).toContain('package.json');
    // The install works again: the preview reloads and plays, and the panel is clear.
    await expect.poll(() => errors.count(), { timeout: 90_000 }).toBe(0);
    await preview().getByText('Took 1.3s').waitFor({ timeout: 90_000 });
    await picker().selectOption('Slides');
    await preview().getByText('helloPackagesWorld').waitFor({ timeout: 90_000 });
  });

  it('a Tailwind v4 project is styled in the preview as in its export', async () => {
    await page.goto('/');
    const imports = new ProjectImport(page);
    await imports.open();
    await imports.uploadArchive(path.join(scratch, 'Card.tar.gz'));
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    const projectId = new URL(page.url()).pathname.split('/').at(-1)!;
    // tailwindcss comes with @remotion/tailwind-v4, from the project's own install.
    const card = preview().getByTestId('card');
    await card.waitFor({ timeout: 90_000 });
    await expect.poll(() => card.evaluate((element) => getComputedStyle(element.querySelector('h1')!).fontSize), { timeout: 90_000 }).toBe('44px');
    const fill = await card.evaluate((element) => getComputedStyle(element.parentElement!).backgroundColor);
    expect(fill).not.toBe('rgba(0, 0, 0, 0)');
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    expect(await page.getByText(/the preview does not/).count()).toBe(0);
    await screenshot(page, '52-tailwind-project');
    // The export applies the same styles (through Remotion's webpack override): emerald-600.
    const [r, g, b] = await exportedCorner(projectId, 'Card');
    expect(Math.abs(r - 0x00) + Math.abs(g - 0x96) + Math.abs(b - 0x6a), JSON.stringify([r, g, b])).toBeLessThan(40);
  }, 360_000);

  it('a Tailwind v3 project (@remotion/tailwind, tailwind.config.js) is styled in the preview as in its export', async () => {
    await page.goto('/');
    const imports = new ProjectImport(page);
    await imports.open();
    await imports.uploadArchive(path.join(scratch, 'Poster.zip'));
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    const projectId = new URL(page.url()).pathname.split('/').at(-1)!;
    // tailwindcss 3 comes with @remotion/tailwind; the colour is tailwind.config.js's.
    const badge = preview().getByTestId('badge');
    await badge.waitFor({ timeout: 120_000 });
    await expect
      .poll(() => badge.evaluate((element) => [getComputedStyle(element.parentElement!).backgroundColor, getComputedStyle(element.querySelector('h1')!).fontSize, getComputedStyle(element).borderTopLeftRadius]), { timeout: 120_000 })
      .toEqual(['rgb(8, 145, 178)', '44px', '24px']);
    expect(await page.getByRole('alert', { name: 'Preview errors' }).count()).toBe(0);
    expect(await page.getByText(/the preview does not/).count()).toBe(0);
    await screenshot(page, '53-tailwind-v3-project');
    // The export, through @remotion/tailwind's webpack rule, paints the same brand colour.
    const [r, g, b] = await exportedCorner(projectId, 'Poster');
    expect(Math.abs(r - 8) + Math.abs(g - 145) + Math.abs(b - 178), JSON.stringify([r, g, b])).toBeLessThan(40);
  }, 360_000);
});
