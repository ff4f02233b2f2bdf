import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PROTOCOL_VERSION } from '@cutroom/protocol';
import { type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { type Socket, callApi, newProject, openSocket, signUp } from './attacker.js';

/**
 * The preview boundary as an attacker meets it (issue 9, items 1, 3 and 16): project code
 * that imports the server's files in every form Vite knows, URLs that name them, the
 * sandbox's own user reaching for the server's data and environment, preview requests
 * without the viewer's cookie or with another's, after the session or the project is
 * gone, and error reports that would show the server's paths.
 */
describe('the preview boundary', () => {
  const providerKey = `sk-secret-${randomBytes(12).toString('hex')}`;
  const planted = `PLANTED-${randomBytes(12).toString('hex')}`;
  let model: ScriptedModelServer;
  let server: RunningServer;
  let outsideDir = '';

  type Preview = { client: Socket; url: string; origin: string; base: string; sandboxId: string; workspace: string; cookie: string; projectId: string; appCookie: string };

  /** Signs up, creates a project, opens its session and trades the link for the preview cookie, as the page does. */
  async function openPreview(): Promise<Preview> {
    const { cookie: appCookie } = await signUp(server, { email: `p-${randomBytes(4).toString('hex')}@example.com`, name: 'Preview' });
    const projectId = await newProject(server, appCookie, 'Preview boundary');
    const client = await openSocket(server, appCookie);
    client.send({ type: 'session:start', projectId, protocolVersion: PROTOCOL_VERSION });
    const ready = await client.waitFor((message) => message.type === 'session:ready');
    const url = new URL(ready.previewUrl as string);
    const sandboxId = url.pathname.split('/')[2]!;
    const base = `/s/${sandboxId}/`;
    const grant = await fetch(`${url.origin}${base}__cutroom/grant`, { method: 'POST', body: url.searchParams.get('t')! });
    expect(grant.status).toBe(204);
    const cookie = grant.headers.get('set-cookie')!.split(';')[0]!;
    return { client, url: url.href, origin: url.origin, base, sandboxId, workspace: path.join(server.dataDir, 'sandboxes', sandboxId, 'workspace'), cookie, projectId, appCookie };
  }

  const get = async (preview: Preview, url: string, cookie: string | null = preview.cookie) => {
    const response = await fetch(preview.origin + url, { headers: cookie ? { cookie } : {} });
    return { status: response.status, body: await response.text() };
  };

  /** Whether text holds a secret, also inside base64 `data:` URLs (inlined assets, inline sourcemaps), two levels deep. */
  const secretsIn = (text: string, depth = 2): boolean =>
    [providerKey, planted, Buffer.from(planted).toString('base64').slice(0, 24), Buffer.from(providerKey).toString('base64').slice(0, 24)].some((secret) => text.includes(secret)) ||
    (depth > 0 && [...text.matchAll(/;base64,([A-Za-z0-9+/=]+)/g)].some((match) => secretsIn(Buffer.from(match[1]!, 'base64').toString('utf8'), depth - 1)));

  /** A module and every preview URL it names, two levels deep: whether any of them carried a secret. */
  async function leaks(preview: Preview, url: string, depth = 2): Promise<boolean> {
    const { body } = await get(preview, url);
    if (secretsIn(body)) return true;
    if (depth === 0) return false;
    const urls = [...body.matchAll(/["'`(](\/s\/[^"'`)\s]+)/g)].map((match) => match[1]!).filter((found) => !/@vite\/client|@react-refresh|\/deps\//.test(found));
    for (const found of urls) if (await leaks(preview, found, depth - 1)) return true;
    return false;
  }

  /** An HMR WebSocket handshake through the proxy: the status line's code. */
  const upgrade = (preview: Preview, cookie: string | null, query = '') =>
    new Promise<number>((resolve) => {
      const socket = net.connect(Number(new URL(preview.origin).port), '127.0.0.1', () => {
        socket.write(
          `GET ${preview.base}${query} HTTP/1.1\r\nHost: ${new URL(preview.origin).host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: vite-hmr\r\nOrigin: null\r\n` +
            (cookie ? `Cookie: ${cookie}\r\n` : '') +
            '\r\n',
        );
      });
      socket.once('data', (chunk) => {
        resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(chunk.toString())?.[1] ?? 0));
        socket.destroy();
      });
      socket.on('error', () => resolve(0));
    });
  /** Asks until the answer is not 200 (a session ends a moment after it is told to): that status. */
  const refusedWithin = async (request: () => Promise<{ status: number }>, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await request();
      if (status !== 200 || Date.now() > deadline) return status;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  const viteToken = async (preview: Preview) => /wsToken = "([^"]+)"/.exec((await get(preview, `${preview.base}@vite/client`)).body)?.[1] ?? '';

  beforeAll(async () => {
    model = await startScriptedModelServer({ scenario: { rules: [], fallback: [{ text: 'Done.' }] } });
    server = await startServer({ ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: providerKey, SESSION_POOL_SIZE: '0', SESSION_GRACE_MS: '2000' });
    // Secrets where project code might look: inside the data folder (another user's repo), and a
    // world-readable file outside it (only the preview's own guard keeps that one).
    await mkdir(path.join(server.dataDir, 'repos'), { recursive: true });
    for (const name of ['secret.txt', 'secret.json', 'secret.js', 'secret.css']) {
      const content = name.endsWith('.json') ? JSON.stringify({ planted }) : name.endsWith('.js') ? `export default '${planted}';` : name.endsWith('.css') ? `.x{content:"${planted}"}` : planted;
      await writeFile(path.join(server.dataDir, 'repos', name), content, { mode: 0o600 });
    }
    outsideDir = path.join(os.tmpdir(), `cutroom-outside-${randomBytes(4).toString('hex')}`);
    await mkdir(outsideDir, { recursive: true });
    await chmod(outsideDir, 0o755);
    for (const name of ['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.json', 'f.js', 'g.js', 'h.txt', 'i.js', 'j.css', 'k.txt', 'l.txt', 'm.txt', 'n.css', 'o.css', 'p.txt', 'q.txt']) {
      const content = name.endsWith('.json') ? JSON.stringify({ planted }) : name.endsWith('.js') ? `export default '${planted}';` : name.endsWith('.css') ? `.x{content:"${planted}"}` : planted;
      await writeFile(path.join(outsideDir, name), content, { mode: 0o644 });
    }
  });
  afterAll(async () => {
    await server?.stop();
    await model?.close();
    if (outsideDir) await rm(outsideDir, { recursive: true, force: true });
  });

  it('project code that imports files outside its working copy gets none of their bytes, in any form', async () => {
    const preview = await openPreview();
    const dataFromSrc = '../../../..'; // src → workspace → sandbox → sandboxes → data folder
    const outside = outsideDir;
    const serverPid = server.child.pid!;
    const forms: Record<string, string> = {
      'data-raw': `import x from '${dataFromSrc}/repos/secret.txt?raw'; export default x;`,
      'data-json': `import x from '${dataFromSrc}/repos/secret.json'; export default x;`,
      'data-js': `import x from '${dataFromSrc}/repos/secret.js'; export default x;`,
      'environ-raw': `import x from '/proc/${serverPid}/environ?raw'; export default x;`,
      'environ-fs': `import x from '/@fs/proc/${serverPid}/environ?raw'; export default x;`,
      'abs-raw': `import x from '${outside}/a.txt?raw'; export default x;`,
      url: `import x from '${outside}/b.txt?url'; export default x;`,
      inline: `import x from '${outside}/c.txt?inline'; export default x;`,
      'fs-raw': `import x from '/@fs${outside}/d.txt?raw'; export default x;`,
      json: `import x from '${outside}/e.json'; export default x;`,
      js: `import x from '${outside}/f.js'; export default x;`,
      worker: `import x from '${outside}/g.js?worker&url'; export default x;`,
      'new-url': `export default new URL('${path.relative(path.join(preview.workspace, 'src'), outside)}/h.txt', import.meta.url).href;`,
      dynamic: `export default () => import('${outside}/i.js');`,
      symlink: `import x from './planted-link.txt?raw'; export default x;`,
    };
    await symlink(path.join(outside, 'k.txt'), path.join(preview.workspace, 'src', 'planted-link.txt'));
    await writeFile(path.join(preview.workspace, 'src', 'leak.css'), `@import '${outside}/j.css';\n.b { background: url('${outside}/k.txt'); }\n`);
    // Reads that no module hook sees, only Vite's own CSS and asset code (the runtime's read guard ends them).
    const fromSrc = path.relative(path.join(preview.workspace, 'src'), outside);
    const sourceMap = Buffer.from(JSON.stringify({ version: 3, sources: [`${fromSrc}/q.txt`], mappings: 'AAAA' })).toString('base64');
    const unhooked: Record<string, string> = {
      'leak-css-inline.css': `.b { background: url('${fromSrc}/l.txt?inline'); }\n`,
      'leak-image-set.css': `.b { background: image-set(url('${fromSrc}/m.txt?inline') 1x); }\n`,
      'leak-composes.module.css': `.a { composes: x from "${fromSrc}/n.css"; }\n`,
      'leak-import-nospace.css': `@import"${fromSrc}/o.css";\n`,
      'leak-new-url-inline.ts': `export default new URL('${fromSrc}/p.txt?inline', import.meta.url).href;\n`,
      'leak-sourcemap.js': `export default 1;\n//# sourceMappingURL=data:application/json;base64,${sourceMap}\n`,
    };
    for (const [name, code] of Object.entries(unhooked)) await writeFile(path.join(preview.workspace, 'src', name), code);
    for (const [name, code] of Object.entries(forms)) await writeFile(path.join(preview.workspace, 'src', `leak-${name}.ts`), code);
    for (const name of [...Object.keys(forms).map((form) => `leak-${form}.ts`), 'leak.css', ...Object.keys(unhooked)]) {
      expect(await leaks(preview, `${preview.base}@fs${preview.workspace}/src/${name}`), name).toBe(false);
    }
    // The refusal is an error the preview shows, naming the import as the project wrote it:
    // the confine plugin's, or, inside bubblewrap, where the outside file is not even there,
    // Vite's own "does the file exist?".
    const refused = await get(preview, `${preview.base}@fs${preview.workspace}/src/leak-abs-raw.ts`);
    expect(refused.status).toBe(500);
    expect(refused.body).toMatch(/is refused: it is outside the project|Failed to resolve import \\"[^"\\]*a\.txt\?raw\\" from \\"workspace\/src\/leak-abs-raw\.ts\\"\. Does the file exist\?/);
    preview.client.close();
  });

  it('URLs that name files outside the project are refused, in every spelling', async () => {
    const preview = await openPreview();
    const serverPid = server.child.pid!;
    for (const url of [
      `@fs${server.dataDir}/repos/secret.txt`,
      `@fs${server.dataDir}/repos/secret.txt?raw`,
      `@fs${server.dataDir}/repos/secret.txt?import&raw`,
      `%40fs${server.dataDir}/repos/secret.txt?raw`,
      `@fs${outsideDir}/a.txt?raw`,
      `@fs${outsideDir}/a.txt?import&raw`,
      `@fs${outsideDir.replace(/\//g, '%2F')}/a.txt?raw`,
      `@id/${outsideDir}/a.txt?raw`,
      `@id/__x00__${outsideDir}/a.txt?raw`,
      `@fs/proc/self/environ`,
      `@fs/proc/self/environ?raw`,
      `@fs/proc/${serverPid}/environ?raw`,
      `@id/__x00__/proc/${serverPid}/environ?raw`,
      `@fs${server.dataDir}/db/PG_VERSION?raw`,
    ]) {
      const response = await get(preview, preview.base + url);
      expect(secretsIn(response.body), url).toBe(false);
      expect(response.body, url).not.toMatch(/ANTHROPIC|PATH=/);
    }
    preview.client.close();
  });

  it.runIf(process.getuid?.() === 0)("the sandbox's user can read neither the server's data folder nor its /proc entries", async () => {
    const preview = await openPreview();
    const { pid } = JSON.parse(await readFile(path.join(server.dataDir, 'sandboxes', preview.sandboxId, 'sandbox.json'), 'utf8')) as { pid: number };
    const uid = Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]);
    expect(uid).toBeGreaterThan(0);
    const asSandbox = (script: string) =>
      spawnSync('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', 'sh', '-c', script], { encoding: 'utf8' }).status === 0;
    expect(asSandbox(`cat /proc/${server.child.pid}/environ`)).toBe(false);
    expect(asSandbox(`ls ${server.dataDir}`)).toBe(false);
    expect(asSandbox(`cat ${server.dataDir}/repos/secret.txt`)).toBe(false);
    expect(asSandbox(`ls ${server.dataDir}/repos ${server.dataDir}/db`)).toBe(false);
    expect(asSandbox(`cat ${server.dataDir}/sandboxes/${preview.sandboxId}/sandbox.json`)).toBe(false);
    expect(asSandbox(`touch ${server.dataDir}/cache/vite-deps/injected.js`)).toBe(false);
    // Its own working copy is its own.
    expect(asSandbox(`cat ${preview.workspace}/src/Root.tsx > /dev/null`)).toBe(true);
    preview.client.close();
  });

  it('every request after the page load needs the preview cookie of this session', { timeout: 240_000 }, async () => {
    const preview = await openPreview();
    expect((await get(preview, `${preview.base}main.tsx`)).status).toBe(200);
    expect((await get(preview, `${preview.base}main.tsx`, null)).status).toBe(403);
    expect((await get(preview, `${preview.base}@vite/client`, null)).status).toBe(403);
    expect((await get(preview, preview.base, null)).status).toBe(403);
    // The page again (a reload) with the cookie alone.
    expect((await get(preview, preview.base)).body).toContain('main.tsx');
    const token = await viteToken(preview);
    expect(token).not.toBe('');
    expect(await upgrade(preview, preview.cookie, `?token=${token}`)).toBe(101);
    expect(await upgrade(preview, null, `?token=${token}`)).toBe(403);

    // Another user's session's cookie opens nothing here.
    const other = await openPreview();
    const borrowed = other.cookie;
    expect((await get(preview, `${preview.base}main.tsx`, borrowed)).status).toBe(403);
    expect(await upgrade(preview, borrowed, `?token=${token}`)).toBe(403);
    // Nor does a forged one, or the page token on a module.
    expect((await get(preview, `${preview.base}main.tsx`, `cutroom_preview=${'A'.repeat(43)}`)).status).toBe(403);
    expect((await get(preview, `${preview.base}main.tsx?t=${new URL(preview.url).searchParams.get('t')}`, null)).status).toBe(403);

    // When the session ends (its tab leaves; the grace period passes), its cookie is worth nothing.
    preview.client.send({ type: 'session:end' });
    expect([403, 404]).toContain(await refusedWithin(() => get(preview, `${preview.base}main.tsx`)));
    expect([403, 404]).toContain(await upgrade(preview, preview.cookie, `?token=${token}`));
    expect([403, 404]).toContain((await get(preview, preview.url.slice(preview.origin.length), null)).status);

    // When the project is deleted, its preview is refused to its owner's cookie too.
    expect((await get(other, `${other.base}main.tsx`)).status).toBe(200);
    expect((await callApi(server, 'DELETE', `/api/projects/${other.projectId}`, { cookie: other.appCookie })).status).toBeLessThan(300);
    expect([403, 404]).toContain(await refusedWithin(() => get(other, `${other.base}main.tsx`)));
    other.client.close();
    preview.client.close();
  });

  it("a build error's report names the project's file, never an absolute server path or the sandbox", async () => {
    const preview = await openPreview();
    const token = await viteToken(preview);
    const hmr = new WebSocket(`${preview.origin.replace('http', 'ws')}${preview.base}?token=${token}`, 'vite-hmr', {
      headers: { cookie: preview.cookie, origin: 'null' },
    });
    const payloads: string[] = [];
    hmr.on('message', (data) => payloads.push(String(data)));
    await once(hmr, 'open');
    const file = path.join(preview.workspace, 'src', 'scenes', 'TitleScene.tsx');
    await writeFile(file, `${await readFile(file, 'utf8')}\nexport const broken = (;\n`);
    // Vite learns of the edit from its watcher; until then it may answer the module as it was.
    const moduleUrl = `${preview.base}@fs${preview.workspace}/src/scenes/TitleScene.tsx`;
    const deadline = Date.now() + 15_000;
    let failed = await get(preview, moduleUrl);
    while (failed.status !== 500 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      failed = await get(preview, moduleUrl);
    }
    expect(failed.status).toBe(500);
    while (!payloads.some((payload) => payload.includes('"type":"error"')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const report = payloads.find((payload) => payload.includes('"type":"error"'))!;
    expect(report).toContain('src/scenes/TitleScene.tsx');
    for (const text of [report, failed.body]) {
      expect(text).not.toContain(server.dataDir);
      expect(text).not.toContain(preview.sandboxId);
      expect(text).not.toMatch(/\/(?:work|tmp|root|home|srv|opt)\//);
    }
    hmr.terminate();
    preview.client.close();
  });
});
