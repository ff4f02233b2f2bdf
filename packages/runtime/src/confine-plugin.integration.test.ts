import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { templateProjectDir } from '@cutroom/template';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIEW_KEY_HEADER } from '@cutroom/protocol';
import { startPreviewServer } from './preview-server.js';

const SECRET = 'TOPSECRET-confine-4f1c';

/**
 * Project code cannot make the preview serve a file outside the working copy and the
 * read-only folders, whatever form the import takes. Every form gets its own secret
 * file: Vite admits a file to `/@fs/` URLs once any import has resolved it.
 */
describe('preview confinement', () => {
  let dir = '';
  let workspace = '';
  let vite: ViteDevServer;
  let origin = '';
  const base = '/s/confineconfineconf1/';
  const previewKey = 'k'.repeat(32);

  const get = async (url: string) => {
    const response = await fetch(origin + url, { headers: { [PREVIEW_KEY_HEADER]: previewKey } });
    return { status: response.status, body: await response.text() };
  };

  /** Fetches a module and every preview URL it names (two levels): whether any of them held the secret. */
  async function leaks(url: string, depth = 2): Promise<{ leaked: boolean; bodies: string[] }> {
    const { body } = await get(url);
    const bodies = [body];
    let leaked = body.includes(SECRET);
    if (depth > 0) {
      const urls = [...body.matchAll(/["'`(](\/s\/[^"'`)\s]+)/g)].map((match) => match[1]!).filter((found) => !/@vite|@react-refresh|\/deps\//.test(found));
      for (const found of urls) {
        const nested = await leaks(found, depth - 1);
        leaked ||= nested.leaked;
        bodies.push(...nested.bodies);
      }
    }
    return { leaked, bodies };
  }

  const secretFile = async (name: string) => {
    const file = path.join(dir, 'outside', name);
    await writeFile(file, name.endsWith('.json') ? JSON.stringify({ key: SECRET }) : name.endsWith('.css') ? `.x{content:"${SECRET}"}` : name.endsWith('.js') ? `export default "${SECRET}";` : SECRET);
    return file;
  };
  const projectFile = (name: string, code: string) => writeFile(path.join(workspace, 'src', name), code);
  const moduleUrl = (name: string) => `${base}@fs${workspace}/src/${name}`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cutroom-confine-'));
    workspace = path.join(dir, 'workspace');
    await mkdir(path.join(dir, 'outside'));
    await cp(templateProjectDir, workspace, { recursive: true, filter: (source) => !source.includes('node_modules') });
    vite = await startPreviewServer({ workspace, base, cacheDir: path.join(dir, 'vite'), previewKey });
    const address = vite.httpServer!.address();
    origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await vite?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });

  const forms: [string, (outside: string) => string, string][] = [
    ['absolute ?raw', (file) => `import x from '${file}?raw'; export default x;`, 'a.txt'],
    ['relative ?raw', () => `import x from '../../outside/b.txt?raw'; export default x;`, 'b.txt'],
    ['?url', () => `import x from '../../outside/c.txt?url'; export default x;`, 'c.txt'],
    ['?inline', () => `import x from '../../outside/d.css?inline'; export default x;`, 'd.css'],
    ['.json', () => `import x from '../../outside/e.json'; export default x;`, 'e.json'],
    ['.js', () => `import x from '../../outside/f.js'; export default x;`, 'f.js'],
    ['?worker&url', () => `import x from '../../outside/g.js?worker&url'; export default x;`, 'g.js'],
    ['?worker', () => `import W from '../../outside/g2.js?worker'; export default W;`, 'g2.js'],
    ['/@fs/ specifier', (file) => `import x from '/@fs${file}?raw'; export default x;`, 'h.txt'],
    ['new URL(…, import.meta.url)', () => `export default new URL('../../outside/i.txt', import.meta.url).href;`, 'i.txt'],
    ['dynamic import()', () => `export default () => import('../../outside/j.js');`, 'j.js'],
    ['import.meta.glob', () => `export default import.meta.glob('../../outside/k*.txt', { query: '?raw', eager: true });`, 'k.txt'],
  ];

  for (const [form, code, name] of forms) {
    it(`refuses ${form}`, async () => {
      const file = await secretFile(name);
      const module = `leak-${name.replace(/\W/g, '-')}.ts`;
      await projectFile(module, code(file));
      const { leaked, bodies } = await leaks(moduleUrl(module));
      expect(leaked, bodies.join('\n')).toBe(false);
    });
  }

  it('refuses a symlink in the working copy that points out, and says why, relative to the project', async () => {
    await symlink(await secretFile('l.txt'), path.join(workspace, 'src', 'link.txt'));
    await projectFile('leak-link.ts', `import x from './link.txt?raw'; export default x;`);
    const errors: string[] = [];
    vite.environments.client.hot.on('vite:error', () => {});
    const original = vite.environments.client.hot.send.bind(vite.environments.client.hot);
    vite.environments.client.hot.send = ((...args: Parameters<typeof original>) => {
      errors.push(JSON.stringify(args[0]));
      return original(...args);
    }) as typeof original;
    const response = await get(moduleUrl('leak-link.ts'));
    expect(response.body).not.toContain(SECRET);
    expect(response.status).toBe(500);
    expect(response.body + errors.join('')).toMatch(/The import \\?"\.\/link\.txt\?raw\\?" in src\/leak-link\.ts is refused: it is outside the project/);
  });

  it('refuses CSS @import of an outside file, and url() to one', async () => {
    await secretFile('m.css');
    await secretFile('n.txt');
    await projectFile('leak-import.css', `@import '../../outside/m.css';\n`);
    await projectFile('leak-url.css', `.b { background: url('../../outside/n.txt'); }\n`);
    const imported = await leaks(moduleUrl('leak-import.css'));
    expect(imported.leaked, imported.bodies.join('\n')).toBe(false);
    const linked = await leaks(moduleUrl('leak-url.css'));
    expect(linked.leaked, linked.bodies.join('\n')).toBe(false);
  });

  it('refuses a package folder that is a symlink out of node_modules, and node_modules/../ paths', async () => {
    // In this monorepo `node_modules/@cutroom/server` links to apps/server.
    await projectFile('leak-package.ts', `import x from '@cutroom/server/package.json?raw'; export default x;`);
    const packageResponse = await get(moduleUrl('leak-package.ts'));
    expect(packageResponse.body).not.toContain('"name": "@cutroom/server"');
    expect(packageResponse.status).toBe(500);
    const outside = await secretFile('o.txt');
    const nodeModules = path.resolve(path.dirname(createRequire(import.meta.url).resolve('remotion')), '..', '..', '..');
    const escape = path.relative(nodeModules, outside);
    await projectFile('leak-nm.ts', `import x from '${nodeModules}/${escape}?raw'; export default x;`);
    expect((await leaks(moduleUrl('leak-nm.ts'))).leaked).toBe(false);
  });

  it('refuses /@fs/ and /@id/ URLs to outside files, /proc and the deny list, in every spelling', async () => {
    const file = await secretFile('p.txt');
    // First let an import resolve it would have put it in Vite's safe list; the URL is refused anyway.
    for (const url of [
      `${base}@fs${file}`,
      `${base}@fs${file}?raw`,
      `${base}@fs${file}?import&raw`,
      `${base}%40fs${file}?raw`,
      `${base}@fs${file.replace(/\//g, '%2F')}?raw`,
      `${base}@id/${file}?raw`,
      `${base}@id/__x00__${file}?raw`,
      `${base}@fs/proc/self/environ`,
      `${base}@fs/proc/self/environ?raw`,
      `${base}@id/__x00__/proc/self/environ?raw`,
    ]) {
      const response = await get(url);
      expect(response.body, url).not.toContain(SECRET);
      expect(response.body, url).not.toContain('PATH=');
      // Refused, or (an encoded slash is no path) answered with the page itself.
      expect(response.status >= 400 || response.body.includes('<div id="root">'), url).toBe(true);
    }
  });

  it('refuses public files that are symlinks out, or on the deny list (.env, keys, .git)', async () => {
    const file = await secretFile('public-target.txt');
    const publicDir = path.join(workspace, 'public');
    await mkdir(path.join(publicDir, '.git'), { recursive: true });
    await symlink(file, path.join(publicDir, 'linked.txt'));
    for (const name of ['.env', 'key.pem', '.git/config']) await writeFile(path.join(publicDir, name), SECRET);
    await writeFile(path.join(publicDir, 'fine.txt'), 'public and fine');
    // Vite learns of new public files from its watcher: wait until it serves the one
    // written last, so that the refusals below are refusals and not "not seen yet".
    const deadline = Date.now() + 15_000;
    while ((await get(`${base}fine.txt`)).body !== 'public and fine' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    for (const name of ['linked.txt', '.env', 'key.pem', '.git/config', '%2Eenv', 'linked.txt?raw']) {
      const response = await get(`${base}${name}`);
      expect(response.body, name).not.toContain(SECRET);
    }
    expect((await get(`${base}fine.txt`)).body).toBe('public and fine');
  });

  it('still serves the project, the Player page and its packages', async () => {
    expect((await get(base)).status).toBe(200);
    expect((await get(`${base}main.tsx`)).status).toBe(200);
    const compositions = await get(moduleUrl('Root.tsx'));
    expect(compositions.status).toBe(200);
    expect(compositions.body).toContain('TitleScene');
  });
});
