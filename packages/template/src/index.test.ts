import { describe, expect, it } from 'vitest';
import { isTemplateFile, listTemplateFiles } from './index.js';

describe('template files', () => {
  it('lists the project files and nothing that tools generate', async () => {
    const files = await listTemplateFiles();
    expect(files).toEqual(expect.arrayContaining(['package.json', '.gitignore', 'src/index.ts', 'src/Root.tsx']));
    expect(files.filter((file) => !isTemplateFile(file))).toEqual([]);
  });

  it('filters generated folders at any depth', () => {
    expect(isTemplateFile('src/scenes/TitleScene.tsx')).toBe(true);
    expect(isTemplateFile('node_modules/.cache/x.pack')).toBe(false);
    expect(isTemplateFile('src/out/frame.png')).toBe(false);
    expect(isTemplateFile('')).toBe(true);
  });
});
