import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { affectsEntryPoint, configString, findEntryPoint, insideProject } from './entry-point.js';

describe("a project's entry point, found as Remotion's CLI finds it", () => {
  let dir = '';
  const file = async (relative: string, text = '') => {
    await mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
    await writeFile(path.join(dir, relative), text);
  };
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'entry-point-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("takes Remotion's usual places in its order, .jsx included", async () => {
    expect(findEntryPoint(dir)).toMatchObject({ ok: false, message: expect.stringMatching(/no entry point.*src\/index\.ts.*registerRoot/s) });
    await file('src/remotion/index.tsx');
    expect(findEntryPoint(dir)).toEqual({ ok: true, file: 'src/remotion/index.tsx', reason: 'default' });
    await file('src/index.jsx');
    expect(findEntryPoint(dir)).toEqual({ ok: true, file: 'src/index.jsx', reason: 'default' });
    await file('src/index.tsx');
    expect(findEntryPoint(dir)).toMatchObject({ file: 'src/index.tsx' });
    await file('src/index.ts');
    expect(findEntryPoint(dir)).toMatchObject({ file: 'src/index.ts' });
    // A folder by that name is no entry point.
    await rm(path.join(dir, 'src'), { recursive: true });
    await mkdir(path.join(dir, 'src', 'index.ts'), { recursive: true });
    expect(findEntryPoint(dir).ok).toBe(false);
  });

  it('follows Config.setEntryPoint in remotion.config.*, read and never run; a commented-out call does not count', async () => {
    await file('src/index.ts');
    await file('video/main.tsx');
    await file(
      'remotion.config.ts',
      `import { Config } from '@remotion/cli/config';\n// Config.setEntryPoint('./src/index.ts');\n/* Config.setEntryPoint("nope.ts") */\nConfig.setEntryPoint("./video/main.tsx");\nprocess.exit(1);\n`,
    );
    expect(findEntryPoint(dir)).toEqual({ ok: true, file: 'video/main.tsx', reason: 'config' });
    await rm(path.join(dir, 'remotion.config.ts'));
    await file('remotion.config.mjs', 'Config.setEntryPoint(`video/main.tsx`)');
    expect(findEntryPoint(dir)).toMatchObject({ file: 'video/main.tsx', reason: 'config' });
  });

  it('refuses an entry point outside the project or missing, saying why', async () => {
    await file('src/index.ts');
    for (const outside of ['../elsewhere/index.ts', '/etc/passwd', 'src/../../x.ts']) {
      await file('remotion.config.ts', `Config.setEntryPoint('${outside}');`);
      expect(findEntryPoint(dir)).toEqual({ ok: false, message: expect.stringContaining('outside the project') });
    }
    await file('remotion.config.ts', `Config.setEntryPoint('./src/missing.ts');`);
    expect(findEntryPoint(dir)).toEqual({ ok: false, message: expect.stringContaining('no such file') });
  });

  it('judges paths by their words (the preview and the renderer judge symlinks by their real path)', async () => {
    expect(insideProject(dir, 'a/b.ts')).toBe('a/b.ts');
    expect(insideProject(dir, './a/../b.ts')).toBe('b.ts');
    expect(insideProject(dir, '.')).toBeNull();
    expect(insideProject(dir, 'a\0b')).toBeNull();
    await symlink('/etc', path.join(dir, 'etc'));
    // A link's target is for the confinement of the preview (its real path) to refuse.
    expect(insideProject(dir, 'etc/passwd')).toBe('etc/passwd');
  });

  it('reads string literals only, the last call winning', () => {
    expect(configString(`Config.setEntryPoint('a.ts'); Config.setEntryPoint("b.ts")`, 'setEntryPoint')).toBe('b.ts');
    expect(configString('Config.setEntryPoint(entry)', 'setEntryPoint')).toBeNull();
    expect(configString('Config.setEntryPoint(`${dir}/a.ts`)', 'setEntryPoint')).toBeNull();
    expect(configString('Config . setEntryPoint ( "spaced.ts" )', 'setEntryPoint')).toBe('spaced.ts');
  });

  it('names the files that can move the entry point', () => {
    expect(affectsEntryPoint('remotion.config.ts')).toBe(true);
    expect(affectsEntryPoint('src/index.tsx')).toBe(true);
    expect(affectsEntryPoint('src/Root.tsx')).toBe(false);
  });
});
