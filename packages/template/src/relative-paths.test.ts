import { describe, expect, it } from 'vitest';
import { createRelativiser } from '../preview/relative-paths.js';

describe("the preview page's path stripping", () => {
  const page = 'http://127.0.0.1:8090/s/AbCdEfGhIjKlMnOpQrStUvWx/';
  const workspace = '/srv/cutroom/data/sandboxes/AbCdEfGhIjKlMnOpQrStUvWx/workspace';
  const relativise = createRelativiser(`/s/AbCdEfGhIjKlMnOpQrStUvWx/@fs${workspace}/`, page);

  it('names project files relative to the working copy, by URL or on disk, without queries', () => {
    expect(relativise(`at TitleScene (${page}@fs${workspace}/src/scenes/TitleScene.tsx?t=1712345:12:5)`)).toBe(
      'at TitleScene (src/scenes/TitleScene.tsx:12:5)',
    );
    expect(relativise(`${workspace}/src/scenes/TitleScene.tsx: Unexpected token (3:4)`)).toBe('src/scenes/TitleScene.tsx: Unexpected token (3:4)');
  });

  it("leaves no absolute server path, data folder or sandbox id: the Vite cache, packages, the page's own modules", () => {
    const stack = [
      `at renderWithHooks (${page}@fs/srv/cutroom/data/sandboxes/AbCdEfGhIjKlMnOpQrStUvWx/vite/deps/react-dom_client.js?v=1a2b:5:10)`,
      `at Player (${page}@fs/opt/cutroom/node_modules/@remotion/player/dist/esm/index.mjs?v=3:7:1)`,
      `at main (${page}main.tsx?t=4:1:1)`,
      'in /opt/cutroom/node_modules/remotion/dist/esm/index.mjs',
      `/srv/cutroom/data/sandboxes/AbCdEfGhIjKlMnOpQrStUvWx/vite/deps/chunk.js`,
    ].join('\n');
    const result = relativise(stack);
    expect(result).not.toMatch(/\/srv\/|\/opt\/|AbCdEfGhIjKlMnOpQrStUvWx|127\.0\.0\.1/);
    expect(result).toContain('vite/deps/react-dom_client.js:5:10');
    expect(result).toContain('node_modules/@remotion/player/dist/esm/index.mjs:7:1');
    expect(result).toContain('main.tsx:1:1');
    expect(result).toContain('in node_modules/remotion/dist/esm/index.mjs');
  });
});
