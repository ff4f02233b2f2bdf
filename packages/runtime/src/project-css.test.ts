import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import postcss from 'postcss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectCss, projectCssPlugin, resolvePackageStylesheet, stylesheetCodeNotices, withoutCodeOrOutside } from './project-css.js';

describe('how the preview reads a project’s styling', () => {
  let dir = '';
  let workspace = '';
  let install = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-project-css-'));
    workspace = path.join(dir, 'workspace');
    install = path.join(dir, 'packages', 'k1', 'node_modules');
    await mkdir(workspace, { recursive: true });
    const pkg = async (name: string, manifest: object, files: string[]) => {
      await mkdir(path.join(install, name), { recursive: true });
      await writeFile(path.join(install, name, 'package.json'), JSON.stringify(manifest));
      for (const file of files) {
        await mkdir(path.dirname(path.join(install, name, file)), { recursive: true });
        await writeFile(path.join(install, name, file), '/* css */');
      }
    };
    await pkg('tailwindcss', { style: 'index.css', exports: { '.': { style: './index.css', import: './dist/lib.mjs' }, './theme.css': './theme.css' } }, ['index.css', 'theme.css']);
    await pkg('@fontsource/inter', { main: 'index.css' }, ['index.css', '400.css']);
    await pkg('plain-js', { main: 'index.js' }, ['index.js']);
    // A package whose stylesheet is a link out of the install.
    await pkg('leaky', { style: 'index.css' }, []);
    await writeFile(path.join(dir, 'secret.css'), 'secret');
    await symlink(path.join(dir, 'secret.css'), path.join(install, 'leaky', 'index.css'));
    await symlink(install, path.join(workspace, 'node_modules'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('finds a package’s stylesheet as Vite asks for CSS (style condition, style field, subpaths), by its real path', () => {
    expect(resolvePackageStylesheet(workspace, 'tailwindcss')).toBe(path.join(install, 'tailwindcss', 'index.css'));
    expect(resolvePackageStylesheet(workspace, 'tailwindcss/theme.css')).toBe(path.join(install, 'tailwindcss', 'theme.css'));
    expect(resolvePackageStylesheet(workspace, '@fontsource/inter')).toBe(path.join(install, '@fontsource', 'inter', 'index.css'));
    expect(resolvePackageStylesheet(workspace, '@fontsource/inter/400.css')).toBe(path.join(install, '@fontsource', 'inter', '400.css'));
    expect(resolvePackageStylesheet(workspace, '@fontsource/inter/400')).toBe(path.join(install, '@fontsource', 'inter', '400.css'));
  });

  it('finds nothing for what is not an installed stylesheet, or leads out of the install', () => {
    expect(resolvePackageStylesheet(workspace, 'not-installed')).toBeNull();
    expect(resolvePackageStylesheet(workspace, 'plain-js')).toBeNull();
    expect(resolvePackageStylesheet(workspace, 'tailwindcss/../../../secret.css')).toBeNull();
    expect(resolvePackageStylesheet(workspace, '../secret.css')).toBeNull();
    expect(resolvePackageStylesheet(workspace, 'leaky')).toBeNull();
    // Readable elsewhere (the preview's own packages): then it may land there.
    expect(resolvePackageStylesheet(workspace, 'leaky', [dir])).toBe(path.join(dir, 'secret.css'));
  });

  it('reads remotion.config for Tailwind: v4, v3, plain, and commented out', async () => {
    const config = (code: string) => writeFile(path.join(workspace, 'remotion.config.ts'), code);
    await config("import { Config } from '@remotion/cli/config';\nimport { enableTailwind } from '@remotion/tailwind-v4';\nConfig.overrideWebpackConfig((c) => enableTailwind(c));\n");
    expect(projectCss(workspace)).toEqual({ kind: 'tailwind-v4', file: 'remotion.config.ts' });
    await config('import { enableTailwind } from "@remotion/tailwind";\nConfig.overrideWebpackConfig(enableTailwind);\n');
    expect(projectCss(workspace)).toEqual({ kind: 'tailwind-v3', file: 'remotion.config.ts' });
    await config("// import { enableTailwind } from '@remotion/tailwind-v4';\n// Config.overrideWebpackConfig(enableTailwind);\n/* enableTailwind */\n");
    expect(projectCss(workspace)).toEqual({ kind: 'plain' });
    await rm(path.join(workspace, 'remotion.config.ts'));
    expect(projectCss(workspace)).toEqual({ kind: 'plain' });
  });

  it("takes Tailwind v4's @plugin and @config out (JavaScript is not run), and @source or @reference that lead out of the project", () => {
    const from = path.join(workspace, 'src', 'index.css');
    const root = postcss.parse(
      [
        '@import "tailwindcss";',
        '@plugin "./evil.js";',
        "@PLUGIN '@tailwindcss/typography';",
        '@config "../tailwind.config.js";',
        '@source "../components";',
        '@source not "../src/legacy";',
        '@source inline("underline");',
        '@source "../../outside";',
        '@source "/etc";',
        '@source "../.{.,x}/*.html";',
        '@reference "../../theme.css";',
        '@reference "./theme.css";',
        '@reference "tailwindcss";',
        '@reference "tailwindcss/../../../outside/x.css";',
        '@import "tailwindcss/utilities" source("../../outside");',
        "@import 'tailwindcss/theme' SOURCE('../src') layer(theme);",
        '@tailwind utilities source("/");',
        '@tailwind utilities source(none);',
        '.card { color: red; }',
      ].join('\n'),
      { from },
    );
    withoutCodeOrOutside(root, workspace);
    expect(root.toString().split('\n')).toEqual([
      '@import "tailwindcss";',
      '@source "../components";',
      '@source not "../src/legacy";',
      '@source inline("underline");',
      '@reference "./theme.css";',
      '@reference "tailwindcss";',
      '@import "tailwindcss/utilities";',
      "@import 'tailwindcss/theme' SOURCE('../src') layer(theme);",
      '@tailwind utilities;',
      '@tailwind utilities source(none);',
      '.card { color: red; }',
    ]);
  });

  it('compiles a Tailwind v4 stylesheet without running its @plugin or scanning outside, and says what it left out', async () => {
    const project = path.join(dir, 'v4');
    await mkdir(path.join(project, 'src'), { recursive: true });
    await writeFile(path.join(project, 'remotion.config.ts'), "import { enableTailwind } from '@remotion/tailwind-v4';\nConfig.overrideWebpackConfig((c) => enableTailwind(c));\n");
    const marker = path.join(dir, 'plugin-ran');
    await writeFile(path.join(project, 'src', 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\nmodule.exports = function () {};\n`);
    await mkdir(path.join(dir, 'outside'), { recursive: true });
    await writeFile(path.join(dir, 'outside', 'page.html'), '<p class="bg-lime-500"></p>');
    await writeFile(path.join(project, 'src', 'Card.tsx'), 'export const Card = () => <div className="bg-sky-500" />;\n');
    const tailwindCss = createRequire(createRequire(import.meta.url).resolve('@tailwindcss/postcss')).resolve('tailwindcss/index.css');
    const from = path.join(project, 'src', 'index.css');
    const source = `@import ${JSON.stringify(tailwindCss)} source("../../outside");\n@plugin "./evil.js";\n@source "../../outside";\n@tailwind utilities source("../..");\n`;
    await writeFile(from, source);
    const { css } = await postcss([projectCssPlugin(project)]).process(source, { from });
    expect(existsSync(marker)).toBe(false);
    expect(css).toContain('.bg-sky-500');
    expect(css).not.toContain('.bg-lime-500');
    expect(stylesheetCodeNotices(project, 'Tailwind v4')).toEqual(['Tailwind v4: src/index.css loads @plugin "./evil.js": that is JavaScript, which the preview does not run (exports do), so what it adds has no styles here.']);
  });
});
