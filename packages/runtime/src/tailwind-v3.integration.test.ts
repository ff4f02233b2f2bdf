import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testProjectDir } from '@cutroom/testkit';
import postcss from 'postcss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectCssPlugin, stylesheetCodeNotices } from './project-css.js';
import { anchoredGlobs, tailwind3, tailwindV3Notices, tailwindV3Setup } from './tailwind-v3.js';

/**
 * The preview's Tailwind v3 with a real Tailwind 3 (Cutroom's 3.4.13, the one
 * `@remotion/tailwind` depends on) on the test project: its configuration read as data,
 * its content globs anchored in the working copy, nothing outside it scanned or watched.
 */
describe('Tailwind v3 in the preview', () => {
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-tailwind3-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function project(name: string) {
    const workspace = path.join(dir, name);
    await cp(testProjectDir('tailwind-v3'), workspace, { recursive: true });
    const stylesheet = path.join(workspace, 'src', 'index.css');
    const compile = async (remotionConfig = '') => {
      const setup = tailwindV3Setup(workspace, remotionConfig);
      if (!setup.ok) throw new Error(setup.reason);
      return postcss([tailwind3().tailwind(setup.config)]).process(await readFile(stylesheet, 'utf8'), { from: stylesheet });
    };
    return { workspace, compile };
  }

  it("compiles the project's stylesheet with its tailwind.config.js, scanning only the working copy, and follows new classes", async () => {
    const { workspace, compile } = await project('plain');
    const { css, messages } = await compile();
    // A colour of the project's configuration, an @apply'd component class, an arbitrary value.
    expect(css).toMatch(/\.bg-brand\s*{[^}]*(8 145 178|#0891b2)/);
    expect(css).toMatch(/\.badge\s*{[^}]*border-radius:\s*1\.5rem/);
    expect(css).toMatch(/\.text-\\\[44px\\\]\s*{[^}]*font-size:\s*44px/);
    expect(css).not.toContain('@tailwind');
    // Only what the project's files use.
    expect(css).not.toContain('.bg-red-500');
    const watched = messages.filter((message) => message.type === 'dir-dependency' || message.type === 'dependency');
    expect(watched.some((message) => message.type === 'dir-dependency' && message.dir === path.join(workspace, 'src'))).toBe(true);
    for (const message of watched) expect(String(message.dir ?? message.file).startsWith(workspace + path.sep)).toBe(true);
    expect(tailwindV3Notices(workspace, '')).toEqual([]);

    await writeFile(path.join(workspace, 'src', 'Extra.tsx'), 'export const Extra = () => <p className="bg-red-500" />;\n');
    expect((await compile()).css).toContain('.bg-red-500');
  });

  it('scans nothing outside the working copy, and says which globs it left out', async () => {
    const { workspace, compile } = await project('outside');
    const secret = path.join(dir, 'secret.html');
    await writeFile(secret, '<p class="bg-lime-500"></p>');
    const config = path.join(workspace, 'tailwind.config.js');
    await writeFile(config, (await readFile(config, 'utf8')).replace("content: ['./src/**/*.{ts,tsx}']", `content: ['./src/**/*.{ts,tsx}', '../*.html', '${secret}', './{..,src}/*.html', './.{.,x}/*.html', './\\\\.\\\\./*.html', './src/../../*.html']`));
    const { css, messages } = await compile();
    expect(css).toContain('.bg-brand');
    expect(css).not.toContain('.bg-lime-500');
    for (const message of messages) if (message.dir || message.file) expect(String(message.dir ?? message.file).startsWith(workspace + path.sep)).toBe(true);
    expect(tailwindV3Notices(workspace, '')).toEqual([
      `Tailwind v3: the preview leaves out the content glob "../*.html" (outside the project), the content glob "${secret}" (outside the project), the content glob "./{..,src}/*.html" (outside the project), the content glob "./.{.,x}/*.html" (outside the project), the content glob "./\\.\\./*.html" (outside the project), the content glob "./src/../../*.html" (outside the project) (it runs no project code); exports apply them.`,
    ]);
  });

  it('expands braces before judging a glob, and refuses escapes and patterns that would expand without end', () => {
    const workspace = path.join(dir, 'globs');
    expect(anchoredGlobs(workspace, workspace, './src/**/*.{ts,tsx}')).toEqual([path.join(workspace, 'src/**/*.ts'), path.join(workspace, 'src/**/*.tsx')]);
    expect(anchoredGlobs(workspace, workspace, 'scenes/{1..3}.tsx')).toHaveLength(3);
    for (const glob of ['{..,src}/*', '.{.,x}/*', 'src/{a,../..}/*', '\\.\\./*', '{1..100000}', `{${'a,'.repeat(20)}b}`, '{1..3}/{1..3}']) {
      expect(anchoredGlobs(workspace, workspace, glob), glob).toBeNull();
    }
  });

  it('takes the configuration remotion.config names, and refuses one outside the project', async () => {
    const { workspace, compile } = await project('located');
    await writeFile(path.join(workspace, 'brand.tailwind.js'), "module.exports = { content: ['./src/**/*.tsx'], theme: { extend: { colors: { brand: '#123456' } } } };\n");
    const named = "Config.overrideWebpackConfig((c) => enableTailwind(c, { configLocation: './brand.tailwind.js' }));";
    expect((await compile(named)).css).toMatch(/\.bg-brand\s*{[^}]*(18 52 86|#123456)/);
    expect(tailwindV3Setup(workspace, "enableTailwind(c, { configLocation: '../../etc/tailwind.js' })")).toEqual({ ok: false, reason: expect.stringMatching(/outside the project/) });
    expect(tailwindV3Setup(workspace, 'enableTailwind(c, { configLocation: "nope.js" })')).toEqual({ ok: false, reason: expect.stringMatching(/no such file/) });
  });

  it('says so when the configuration is code, and compiles nothing with it', async () => {
    const { workspace } = await project('code');
    await writeFile(path.join(workspace, 'tailwind.config.js'), "module.exports = { content: require('fs').readdirSync('/').map((entry) => '/' + entry) };\n");
    expect(tailwindV3Setup(workspace, '')).toMatchObject({ ok: false });
    expect(tailwindV3Notices(workspace, '')).toEqual([
      "Tailwind v3: tailwind.config.js computes its configuration (a function call at line 1). Exports apply it; the preview runs no project code, so its stylesheets are not compiled here.",
    ]);
  });

  it("runs no @config a stylesheet names (Tailwind v3's directive loads JavaScript), and says so", async () => {
    const { workspace } = await project('config-directive');
    const marker = path.join(dir, 'config-ran');
    await writeFile(path.join(workspace, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = { content: [] };\n`);
    await writeFile(path.join(workspace, 'remotion.config.ts'), "import { enableTailwind } from '@remotion/tailwind';\nConfig.overrideWebpackConfig((c) => enableTailwind(c));\n");
    const from = path.join(workspace, 'src', 'index.css');
    const source = `@config "../evil.js";\n${await readFile(from, 'utf8')}`;
    await writeFile(from, source);
    const { css } = await postcss([projectCssPlugin(workspace)]).process(source, { from });
    expect(existsSync(marker)).toBe(false);
    // Compiled with the tailwind.config.js it has, read as data.
    expect(css).toContain('.bg-brand');
    expect(stylesheetCodeNotices(workspace, 'Tailwind v3')).toEqual(['Tailwind v3: src/index.css loads @config "../evil.js": that is JavaScript, which the preview does not run (exports do), so what it adds has no styles here.']);
  });
});
