import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { PREVIEW_KEY_HEADER, PreviewToApp } from '@cutroom/protocol';
import { testProjectDir } from '@cutroom/testkit';
import { chromium, type Browser } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPreviewServer } from './preview-server.js';

const require = createRequire(import.meta.url);

/**
 * The preview plays what Remotion plays: projects of other shapes than the template's,
 * started from their own entry point, every composition and still of their Root listed
 * (in their folders), `calculateMetadata` and schemas applied, and every error reported
 * with project paths. Real Vite, real Chromium; the page is opened on its own, so what
 * it posts to its parent arrives at its own window.
 */
describe('the preview of real-shaped projects', () => {
  let dir = '';
  let browser: Browser;
  const servers: ViteDevServer[] = [];
  const previewKey = 'p'.repeat(32);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-projects-'));
    // No node_modules up the tree (as a sandbox whose data folder is elsewhere): the
    // project's packages (zod, @remotion/zod-types) come from Cutroom's installed ones.
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  /** A working copy of a test project (or of nothing), served by its own preview server. */
  async function serve(name: string, from: 'folders-and-stills' | 'config-entry' | 'webpack-config' | 'tailwind-v4' | 'tailwind-v3' | null) {
    const workspace = path.join(dir, name, 'workspace');
    if (from) await cp(testProjectDir(from), workspace, { recursive: true });
    const base = `/s/${name.padEnd(24, 'x').slice(0, 24)}/`;
    const server = await startPreviewServer({ workspace, base, cacheDir: path.join(dir, name, 'vite'), previewKey });
    servers.push(server);
    const address = server.httpServer!.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}${base}`;
    return { workspace, url, write: (file: string, code: string) => writeFile(path.join(workspace, file), code) };
  }

  /** Opens the page; every message it posts is kept (parsed as the app parses it). */
  async function open(url: string) {
    const page = await browser.newPage({ viewport: { width: 800, height: 600 }, extraHTTPHeaders: { [PREVIEW_KEY_HEADER]: previewKey } });
    await page.addInitScript(() => {
      const kept: unknown[] = [];
      (window as unknown as { __posted: unknown[] }).__posted = kept;
      window.addEventListener('message', (event) => kept.push(event.data));
    });
    await page.goto(url);
    const posted = async () => ((await page.evaluate(() => (window as unknown as { __posted: unknown[] }).__posted)) ?? []).flatMap((data) => {
      // What the test itself posts to the page (commands) is no report.
      const parsed = PreviewToApp.safeParse(data);
      return parsed.success ? [parsed.data] : [];
    });
    const last = async <T extends PreviewToApp['type']>(type: T) =>
      (await posted()).filter((message): message is Extract<PreviewToApp, { type: T }> => message.type === type).at(-1);
    const waitFor = async <T extends PreviewToApp['type']>(type: T, check: (message: Extract<PreviewToApp, { type: T }>) => boolean = () => true) => {
      let found: Extract<PreviewToApp, { type: T }> | undefined;
      await expect.poll(async () => ((found = (await posted()).filter((message): message is Extract<PreviewToApp, { type: T }> => message.type === type).findLast(check)), Boolean(found)), { timeout: 60_000 }).toBe(true);
      return found!;
    };
    const send = (message: unknown) => page.evaluate((data) => window.postMessage(data, '*'), message);
    return { page, posted, last, waitFor, send };
  }

  const noServerPaths = (text: string) => {
    expect(text).not.toContain(dir);
    expect(text).not.toMatch(/\/tmp\/|\/s\/[\w-]{24}\//);
  };

  it('lists every composition and still in its folders, applies calculateMetadata and plays the chosen one; the choice survives a reload', async () => {
    const { url } = await serve('folders', 'folders-and-stills');
    const preview = await open(url);
    const listed = await preview.waitFor('remotion:compositions', (message) => message.compositions.length === 3);
    expect(listed.compositions).toEqual([
      { id: 'Slate', folder: 'Intro', still: false, width: 640, height: 360, fps: 30, durationInFrames: 60 },
      // Its duration comes from calculateMetadata alone.
      { id: 'Countdown', folder: 'Intro/Variants', still: false, width: 640, height: 360, fps: 30, durationInFrames: null },
      { id: 'Poster', folder: null, still: true, width: 400, height: 600, fps: 1, durationInFrames: 1 },
    ]);
    expect(listed.selected).toBe('Slate');
    expect(await preview.waitFor('remotion:ready')).toMatchObject({ compositionId: 'Slate', durationInFrames: 60, fps: 30, width: 640, height: 360 });
    const slate = await preview.waitFor('remotion:sequences', (message) => message.sequences.length > 0);
    // The <Img> in the Logo sequence is a row of its own, an image named by its file.
    expect(slate.sequences.map((sequence) => [sequence.name, sequence.from, sequence.durationInFrames, sequence.kind ?? 'sequence'])).toEqual([
      ['Logo', 0, 40, 'sequence'],
      ['logo.svg', 0, 40, 'image'],
      ['Caption', 20, 40, 'sequence'],
    ]);
    // The logo comes from public/ through staticFile(), under the preview's base.
    await expect.poll(() => preview.page.evaluate(() => [...document.images].some((image) => image.complete && image.naturalWidth > 0)), { timeout: 20_000 }).toBe(true);

    await preview.send({ type: 'player:select', compositionId: 'Countdown' });
    // calculateMetadata: 3 seconds at 30 fps, and the title it rewrote.
    expect(await preview.waitFor('remotion:ready', (message) => message.compositionId === 'Countdown')).toMatchObject({ durationInFrames: 90, fps: 30 });
    const countdown = await preview.waitFor('remotion:sequences', (message) => message.sequences.some((sequence) => sequence.name === 'Second 3'));
    expect(countdown.sequences.map((sequence) => sequence.name)).toEqual(['Second 3', 'Second 2', 'Second 1']);
    await preview.page.getByText('LIFT OFF · 0').waitFor({ timeout: 20_000 });
    expect(preview.page.url()).toContain('#composition=Countdown');

    await preview.page.reload();
    expect(await preview.waitFor('remotion:ready')).toMatchObject({ compositionId: 'Countdown', durationInFrames: 90 });
    expect((await preview.last('remotion:compositions'))?.selected).toBe('Countdown');

    await preview.send({ type: 'player:select', compositionId: 'Poster' });
    expect(await preview.waitFor('remotion:ready', (message) => message.compositionId === 'Poster')).toMatchObject({ durationInFrames: 1, width: 400, height: 600 });
    await preview.page.getByText('Poster').first().waitFor();
    expect((await preview.posted()).filter((message) => message.type === 'remotion:error')).toEqual([]);
    await preview.page.close();

    // The next page's HTML preloads the project's modules, as Vite has seen them: the
    // entry, the Root and its scenes load beside the page's own module, not after it.
    const html = await (await fetch(url, { headers: { [PREVIEW_KEY_HEADER]: previewKey } })).text();
    const preloads = [...html.matchAll(/<link rel="modulepreload" href="([^"]+)" crossorigin="use-credentials">/g)].map((match) => match[1]!.replace(/^.*\/workspace\//, ''));
    expect(preloads).toEqual(expect.arrayContaining(['src/index.tsx', 'src/Root.tsx', 'src/scenes/Countdown.tsx', 'src/scenes/Slate.tsx', 'src/scenes/Poster.tsx']));
  });

  it("starts from the entry point remotion.config.ts names (JavaScript, another folder), and follows an edit of the Root's compositions", async () => {
    const { url, write } = await serve('configured', 'config-entry');
    // Another Remotion version asked for: played with Cutroom's, and the user is told.
    await write('package.json', JSON.stringify({ name: 'config-entry', dependencies: { remotion: '^4.0.300', react: '^19.2.0' }, devDependencies: { '@remotion/cli': '4.0.527' } }));
    const preview = await open(`${url}#composition=wipe-square`);
    expect((await preview.waitFor('remotion:notices')).notices).toEqual([
      'package.json asks for remotion ^4.0.300: Cutroom plays and exports this project with Remotion 4.0.527.',
    ]);
    const listed = await preview.waitFor('remotion:compositions', (message) => message.compositions.length === 2);
    expect(listed.compositions.map((composition) => composition.id)).toEqual(['wipe-wide', 'wipe-square']);
    expect(await preview.waitFor('remotion:ready')).toMatchObject({ compositionId: 'wipe-square', durationInFrames: 30, fps: 15, width: 300, height: 300 });

    // A new composition in the Root shows up without a reload (React Refresh of the Root).
    await write(
      'remotion/Videos.jsx',
      `import { Composition } from 'remotion';
import { Wipe } from './scenes/Wipe.jsx';

export const Videos = () => (
  <>
    <Composition id="wipe-wide" component={Wipe} durationInFrames={45} fps={15} width={800} height={200} defaultProps={{ label: 'wide' }} />
    <Composition id="wipe-square" component={Wipe} durationInFrames={60} fps={15} width={300} height={300} defaultProps={{ label: 'square' }} />
    <Composition id="wipe-tall" component={Wipe} durationInFrames={20} fps={15} width={200} height={600} defaultProps={{ label: 'tall' }} />
  </>
);
`,
    );
    const edited = await preview.waitFor('remotion:compositions', (message) => message.compositions.length === 3);
    expect(edited.compositions.map((composition) => composition.id)).toEqual(['wipe-wide', 'wipe-square', 'wipe-tall']);
    expect(await preview.waitFor('remotion:ready', (message) => message.durationInFrames === 60)).toMatchObject({ compositionId: 'wipe-square' });
    expect((await preview.posted()).filter((message) => message.type === 'remotion:error')).toEqual([]);
    // Its configuration sets only what the preview honours (the entry point): no notice of it.
    expect((await preview.last('remotion:notices'))?.notices).toEqual([expect.stringMatching(/^package\.json asks for remotion \^4\.0\.300/)]);
    await preview.page.close();
  });

  it("says what of remotion.config.ts it cannot honour (a webpack override), and reports what then fails", async () => {
    const { url } = await serve('webpack', 'webpack-config');
    const preview = await open(url);
    const said = await preview.waitFor('remotion:notices');
    expect(said.notices).toEqual(['remotion.config.ts overrides the webpack configuration: exports apply it, the preview (Vite) does not.']);
    // The alias only the webpack override knows does not resolve here: an error, with the project's paths.
    const error = await preview.waitFor('remotion:error', (message) => message.message.includes('@brand/colors'));
    noServerPaths(JSON.stringify(error));
    await preview.page.close();
  });

  it('styles a project whose remotion.config.ts enables Tailwind v4 as its export does, and follows an edit that adds a class', async () => {
    const { workspace, url, write } = await serve('tailwind', 'tailwind-v4');
    // Before the project's packages are installed: its stylesheet's `@import 'tailwindcss'`
    // does not resolve, and the page says so.
    const early = await open(url);
    const missing = await early.waitFor('remotion:error', (message) => message.message.includes('tailwindcss'));
    noServerPaths(JSON.stringify(missing));
    await early.page.close();
    // Then the install is there (as the sandbox links it; here the tailwindcss that
    // Cutroom's Tailwind compiler comes with, the version @remotion/tailwind-v4 uses), and
    // the stylesheet is read again: Vite's own resolver for stylesheets kept the miss.
    await mkdir(path.join(workspace, 'node_modules'));
    const tailwindcss = path.dirname(createRequire(require.resolve('@tailwindcss/postcss')).resolve('tailwindcss/package.json'));
    await symlink(tailwindcss, path.join(workspace, 'node_modules', 'tailwindcss'));
    await write('src/index.css', `${await readFile(path.join(workspace, 'src', 'index.css'), 'utf8')}\n`);
    const preview = await open(url);
    await preview.waitFor('remotion:ready', (message) => message.compositionId === 'Card');
    // No notice: the preview honours this configuration.
    expect((await preview.waitFor('remotion:notices')).notices).toEqual([]);
    const styles = () =>
      preview.page.evaluate(() => {
        const card = document.querySelector('[data-testid="card"]');
        const title = card?.querySelector('h1');
        if (!card || !title) return null;
        return { card: getComputedStyle(card).backgroundColor, fill: getComputedStyle(card.parentElement!).backgroundColor, size: getComputedStyle(title).fontSize, radius: getComputedStyle(card).borderTopLeftRadius };
      });
    // A utility, a colour of the project's own @theme, an arbitrary value.
    await expect.poll(styles, { timeout: 60_000 }).toMatchObject({ card: expect.stringMatching(/^(rgb\(124, 58, 237\)|oklch|color\()/), size: '44px' });
    const first = (await styles())!;
    expect(first.card).not.toBe('rgba(0, 0, 0, 0)');
    expect(first.fill).not.toBe('rgba(0, 0, 0, 0)');
    expect(first.radius).not.toBe('0px');
    // A class no file used before: Tailwind scans the edited component again.
    const card = await readFile(path.join(workspace, 'src', 'Card.tsx'), 'utf8');
    await write('src/Card.tsx', card.replace('text-[44px]', 'text-[52px]'));
    await expect.poll(async () => (await styles())?.size, { timeout: 60_000 }).toBe('52px');
    expect((await preview.posted()).filter((message) => message.type === 'remotion:error')).toEqual([]);
    await preview.page.close();
  });

  it('styles a project whose remotion.config.ts enables Tailwind v3 (@remotion/tailwind, tailwind.config.js) as its export does, and follows edits', async () => {
    // Nothing of the project's install is needed: the compiler is Cutroom's Tailwind 3.
    const { workspace, url, write } = await serve('tailwind3', 'tailwind-v3');
    const preview = await open(url);
    await preview.waitFor('remotion:ready', (message) => message.compositionId === 'Poster');
    expect((await preview.waitFor('remotion:notices')).notices).toEqual([]);
    const styles = () =>
      preview.page.evaluate(() => {
        const badge = document.querySelector('[data-testid="badge"]');
        const title = badge?.querySelector('h1');
        if (!badge || !title) return null;
        return { fill: getComputedStyle(badge.parentElement!).backgroundColor, size: getComputedStyle(title).fontSize, radius: getComputedStyle(badge).borderTopLeftRadius };
      });
    // The configuration's colour, an arbitrary value, a class made with @apply.
    await expect.poll(styles, { timeout: 60_000 }).toEqual({ fill: 'rgb(8, 145, 178)', size: '44px', radius: '24px' });
    // A class no file used before: Tailwind scans the edited component again.
    const poster = await readFile(path.join(workspace, 'src', 'Poster.tsx'), 'utf8');
    await write('src/Poster.tsx', poster.replace('text-[44px]', 'text-[52px]'));
    await expect.poll(async () => (await styles())?.size, { timeout: 60_000 }).toBe('52px');
    // The configuration changes: the page follows.
    const config = await readFile(path.join(workspace, 'tailwind.config.js'), 'utf8');
    await write('tailwind.config.js', config.replace('#0891b2', '#dc2626'));
    await expect.poll(async () => (await styles())?.fill, { timeout: 60_000 }).toBe('rgb(220, 38, 38)');
    expect((await preview.posted()).filter((message) => message.type === 'remotion:error')).toEqual([]);
    // A configuration that is code is not run: the page says so (and is not styled by it).
    await write('tailwind.config.js', "module.exports = { content: ['./src/**/*.tsx'], theme: { extend: { colors: { brand: process.env.BRAND } } } };\n");
    const notices = await preview.waitFor('remotion:notices', (message) => message.notices.length > 0);
    expect(notices.notices).toEqual([expect.stringMatching(/^Tailwind v3: tailwind\.config\.js computes its configuration \("process", which is not a constant of the file, at line 1\)/)]);
    noServerPaths(JSON.stringify(notices));
    await preview.page.close();
  });

  it('reports every kind of error with project paths: no entry point, a module that does not resolve, a syntax error in the Root, calculateMetadata that throws, a composition that throws', async () => {
    const { url, write, workspace } = await serve('broken', 'folders-and-stills');
    await rm(path.join(workspace, 'src', 'index.tsx'));
    let preview = await open(url);
    const noEntry = await preview.waitFor('remotion:error');
    expect(noEntry.message).toMatch(/no entry point.*src\/index\.ts/s);
    await preview.page.close();

    // A module that does not resolve, imported by the Root.
    await write('src/index.tsx', `import { registerRoot } from 'remotion';\nimport { Root } from './Root';\nregisterRoot(Root);\n`);
    const root = await import('node:fs/promises').then((fs) => fs.readFile(path.join(workspace, 'src', 'Root.tsx'), 'utf8'));
    await write('src/Root.tsx', `import './scenes/Missing';\n${root}`);
    preview = await open(url);
    const unresolved = await preview.waitFor('remotion:error', (message) => /Missing/.test(message.message));
    expect(unresolved.message).toContain('./scenes/Missing');
    expect(unresolved.file).toBe('src/Root.tsx');
    noServerPaths(JSON.stringify(unresolved));

    // A syntax error in the Root, while the page is open: reported; fixed: it plays again.
    await write('src/Root.tsx', `${root}\nexport const Broken = () => <div>;\n`);
    const syntax = await preview.waitFor('remotion:error', (message) => message.file === 'src/Root.tsx' && !/Missing/.test(message.message));
    noServerPaths(JSON.stringify(syntax));
    await write('src/Root.tsx', root);
    await preview.waitFor('remotion:ready', (message) => message.compositionId === 'Slate');
    await preview.page.close();

    // calculateMetadata that throws.
    await write('src/Root.tsx', root.replace('durationInFrames: props.seconds * 30,', "durationInFrames: (() => { throw new Error('no duration for ' + props.title); })(),"));
    preview = await open(`${url}#composition=Countdown`);
    const metadata = await preview.waitFor('remotion:error', (message) => /no duration for/.test(message.message));
    expect(metadata.message).toContain('"Countdown"');
    expect(metadata.file).toBe('src/Root.tsx');
    noServerPaths(JSON.stringify(metadata));
    await preview.page.close();

    // A composition that throws while rendering.
    await write('src/Root.tsx', root);
    await write('src/scenes/Poster.tsx', `export const Poster: React.FC = () => {\n  throw new Error('the poster is torn');\n};\n`);
    preview = await open(`${url}#composition=Poster`);
    const rendering = await preview.waitFor('remotion:error', (message) => /the poster is torn/.test(message.message));
    expect(rendering.file).toBe('src/scenes/Poster.tsx');
    noServerPaths(JSON.stringify(rendering));
    await preview.page.close();
  });
});
