import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectCss, resolvePackageStylesheet } from './project-css.js';

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
});
