import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectArchivePath, projectImportPath } from '@cutroom/protocol';
import { type TestArchiveEntry, makeTar, makeTarGz, makeZip, testProjectDir } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { type GitHttpServer, startGitHttpServer } from '../testing/git-http-server.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';

const run = promisify(execFile);
const project = testProjectDir('folders-and-stills');
const KiB = 1024;
const MiB = 1024 * KiB;

/** Small limits, so that each is reached with a small archive (the defaults are in the security suite). */
const limits = {
  archiveBytes: 4 * MiB,
  totalBytes: 3 * MiB,
  fileBytes: 1 * MiB,
  files: 40,
  entries: 400,
  ratio: 100,
  ratioFloorBytes: 64 * KiB,
  unpackedBytes: 8 * MiB,
  cloneMs: 3_000,
};

/** A folder's files by relative path (what an import of it must hold). */
async function filesOf(folder: string, relative = ''): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(path.join(folder, relative), { withFileTypes: true })) {
    const child = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [name, data] of await filesOf(folder, child)) files.set(name, data);
    else files.set(child, await readFile(path.join(folder, child)));
  }
  return files;
}

/** A zip's files by path, read with yauzl (the route's own reader is not what is tested here). */
async function unzip(zip: Buffer): Promise<Map<string, Buffer>> {
  const archive = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const files = new Map<string, Buffer>();
  for await (const entry of archive.eachEntry()) {
    if (entry.fileName.endsWith('/')) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of await archive.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    files.set(entry.fileName, Buffer.concat(chunks));
  }
  return files;
}

describe('POST /api/projects/import', () => {
  let server: TestServer;
  let git: GitHttpServer;
  let owner: { cookie: string };
  let scratch: string;
  /** The test project as a user's folder would hold it: installed packages, git data, a render, macOS litter. */
  let userFolder: string;
  const expected = new Map<string, Buffer>();

  const upload = async (archive: Buffer | null, filename: string, init: { cookie?: string | null; name?: string; field?: string; extra?: Record<string, string> } = {}) => {
    const form = new FormData();
    if (init.name !== undefined) form.append('name', init.name);
    for (const [key, value] of Object.entries(init.extra ?? {})) form.append(key, value);
    if (archive) form.append(init.field ?? 'file', new Blob([archive]), filename);
    const cookie = init.cookie === undefined ? owner.cookie : init.cookie;
    const response = await fetch(server.baseUrl + projectImportPath, {
      method: 'POST',
      headers: { origin: server.baseUrl, ...(cookie ? { cookie } : {}) },
      body: form,
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined, text };
  };

  const importGit = (body: unknown, cookie = owner.cookie) => server.request('POST', projectImportPath, { cookie, body });

  const projectIds = async (cookie = owner.cookie) => ((await server.request('GET', '/api/projects', { cookie })).json.projects as { id: string }[]).map((entry) => entry.id);

  /** The project's current files, as its archive route gives them (without the archive's folder). */
  const versionFiles = async (projectId: string) => {
    const response = await fetch(server.baseUrl + projectArchivePath(projectId), { headers: { cookie: owner.cookie } });
    expect(response.status).toBe(200);
    const files = await unzip(Buffer.from(await response.arrayBuffer()));
    return new Map([...files].map(([name, data]) => [name.slice(name.indexOf('/') + 1), data]));
  };

  /** Nothing of a refused import is left: no new project, no repo or temporary repo, nothing under imports/. */
  const expectNothingLeft = async (before: string[]) => {
    expect(await projectIds()).toEqual(before);
    expect(await readdir(path.join(server.dataDir, 'imports'))).toEqual([]);
    const repos = await readdir(path.join(server.dataDir, 'repos'));
    expect(repos.filter((name) => name.startsWith('.tmp-'))).toEqual([]);
    expect(repos.filter((name) => name.endsWith('.git'))).toHaveLength(before.length);
  };

  const zipFolder = async (folder: string, into: string) => {
    await run('zip', ['-q', '-r', '-y', into, '.'], { cwd: folder });
    return readFile(into);
  };

  beforeAll(async () => {
    server = await startTestServer({ importLimits: limits, environment: { IMPORT_GIT_ALLOW_LOOPBACK: 'true' } });
    git = await startGitHttpServer();
    owner = await server.signup();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-import-test-'));
    for (const [name, data] of await filesOf(project)) expected.set(name, data);
    userFolder = path.join(scratch, 'my-film');
    await cp(project, userFolder, { recursive: true });
    await mkdir(path.join(userFolder, 'node_modules', 'remotion'), { recursive: true });
    await writeFile(path.join(userFolder, 'node_modules', 'remotion', 'index.js'), 'module.exports = {};\n');
    await mkdir(path.join(userFolder, 'node_modules', '.bin'), { recursive: true });
    await symlink('../remotion/index.js', path.join(userFolder, 'node_modules', '.bin', 'remotion'));
    await mkdir(path.join(userFolder, 'src', 'scenes', 'node_modules'), { recursive: true });
    await writeFile(path.join(userFolder, 'src', 'scenes', 'node_modules', 'nested.js'), 'nested\n');
    await mkdir(path.join(userFolder, '.git', 'objects'), { recursive: true });
    await writeFile(path.join(userFolder, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    await mkdir(path.join(userFolder, 'out'), { recursive: true });
    await writeFile(path.join(userFolder, 'out', 'video.mp4'), randomBytes(2_000));
    await writeFile(path.join(userFolder, '.DS_Store'), 'litter');
  });
  afterAll(async () => {
    await server?.close();
    await git?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('archives', () => {
    it('imports a zip made inside the project folder: the first version is the project, without node_modules, .git or build output', async () => {
      const zip = await zipFolder(userFolder, path.join(scratch, 'flat.zip'));
      const response = await upload(zip, 'flat.zip', { name: 'My imported film' });
      expect(response.status, response.text).toBe(201);
      const imported = response.json.project;
      expect(imported.name).toBe('My imported film');
      expect(await versionFiles(imported.id)).toEqual(expected);
      expect(await projectIds()).toContain(imported.id);
      // One version, the imported tree, made by the user.
      const versions = await server.request('GET', `/api/projects/${imported.id}/versions`, { cookie: owner.cookie });
      expect(versions.json.versions).toHaveLength(1);
      expect(versions.json.versions[0]).toMatchObject({ id: imported.currentVersion, parentId: null, author: 'user', message: 'Import flat.zip' });
      expect(await readdir(path.join(server.dataDir, 'imports'))).toEqual([]);
    });

    it('imports a zip whose files all sit under one folder from inside it, and names the project after the file', async () => {
      await run('zip', ['-q', '-r', '-y', path.join(scratch, 'wrapped.zip'), 'my-film'], { cwd: scratch });
      const response = await upload(await readFile(path.join(scratch, 'wrapped.zip')), 'Launch Film.zip');
      expect(response.status, response.text).toBe(201);
      expect(response.json.project.name).toBe('Launch Film');
      expect(await versionFiles(response.json.project.id)).toEqual(expected);
    });

    it('imports a tar.gz, wrapped in a folder or not (names like ./src/x.tsx)', async () => {
      const wrapped = path.join(scratch, 'wrapped.tar.gz');
      await run('tar', ['-czf', wrapped, '-C', scratch, 'my-film']);
      const flat = path.join(scratch, 'flat.tar.gz');
      await run('tar', ['-czf', flat, '-C', userFolder, '.']);
      for (const [file, name] of [[wrapped, 'my-film.tar.gz'], [flat, 'flat.tgz']] as const) {
        const response = await upload(await readFile(file), name);
        expect(response.status, response.text).toBe(201);
        expect(response.json.project.name).toBe(name === 'flat.tgz' ? 'flat' : 'my-film');
        expect(await versionFiles(response.json.project.id)).toEqual(expected);
      }
    });

    it('keeps an executable bit and empty files, and takes a plain tar too', async () => {
      const tar = makeTar([
        { name: 'package.json', data: '{"dependencies":{"remotion":"4.0.527"}}' },
        { name: 'scripts/', type: 'directory' },
        { name: 'scripts/build.sh', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
        { name: 'public/.keep', data: '' },
      ]);
      const response = await upload(tar, 'plain.tar');
      expect(response.status, response.text).toBe(201);
      const id = response.json.project.id as string;
      const tree = await run('git', ['--git-dir', server.repos.repoPath(id), 'ls-tree', '-r', 'HEAD']);
      expect(tree.stdout).toMatch(/^100755 blob \w+\tscripts\/build\.sh$/m);
      expect(tree.stdout).toMatch(/^100644 blob \w+\tpublic\/\.keep$/m);
    });
  });

  describe('refusals, each typed, each leaving nothing behind', () => {
    const pkg: TestArchiveEntry = { name: 'package.json', data: '{"dependencies":{"remotion":"4.0.527"}}' };
    const cases: { title: string; archive: () => Buffer; status: number; code: string; message?: RegExp }[] = [
      { title: 'a ../ entry (zip)', archive: () => makeZip([pkg, { name: '../evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /"\.\.\/evil\.txt" leads out of the project/ },
      { title: 'a ../ inside a path (zip)', archive: () => makeZip([pkg, { name: 'src/../../evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /leads out/ },
      { title: 'a ../ hidden under node_modules (zip)', archive: () => makeZip([pkg, { name: 'node_modules/../../evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused' },
      { title: 'an absolute path (zip)', archive: () => makeZip([pkg, { name: '/etc/cron.d/evil', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /absolute path/ },
      { title: 'a drive letter (zip)', archive: () => makeZip([pkg, { name: 'C:/evil', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /absolute path/ },
      { title: 'a backslash path (zip)', archive: () => makeZip([pkg, { name: '..\\..\\evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /backslash/ },
      { title: 'a NUL byte in a name (zip)', archive: () => makeZip([pkg, { name: Buffer.from('src/a\0.tsx'), data: 'x' }]), status: 400, code: 'import_entry_refused', message: /NUL/ },
      { title: 'a symlink (zip)', archive: () => makeZip([pkg, { name: 'src/secrets', type: 'symlink', linkname: '/etc/passwd' }]), status: 400, code: 'import_entry_refused', message: /"src\/secrets" is a symbolic link/ },
      { title: 'a device (zip)', archive: () => makeZip([pkg, { name: 'dev-null', type: 'character device' }]), status: 400, code: 'import_entry_refused', message: /character device/ },
      { title: 'the same file twice (zip)', archive: () => makeZip([pkg, { name: 'a.txt', data: '1' }, { name: './a.txt', data: '2' }]), status: 400, code: 'import_entry_refused', message: /twice/ },
      { title: 'a file below a file (zip)', archive: () => makeZip([pkg, { name: 'a', data: '1' }, { name: 'a/b', data: '2' }]), status: 400, code: 'import_entry_refused' },
      { title: 'a ../ entry (tar.gz)', archive: () => makeTarGz([pkg, { name: '../evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /leads out/ },
      { title: 'an absolute path (tar.gz)', archive: () => makeTarGz([pkg, { name: '/tmp/evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused', message: /absolute/ },
      { title: 'a symlink (tar.gz)', archive: () => makeTarGz([pkg, { name: 'public/logo.svg', type: 'symlink', linkname: '/etc/passwd' }]), status: 400, code: 'import_entry_refused', message: /symbolic link/ },
      { title: 'a symlink, then a file through it (tar.gz)', archive: () => makeTarGz([pkg, { name: 'up', type: 'symlink', linkname: '..' }, { name: 'up/evil.txt', data: 'x' }]), status: 400, code: 'import_entry_refused' },
      { title: 'a hard link (tar.gz)', archive: () => makeTarGz([pkg, { name: 'passwd', type: 'hard link', linkname: '/etc/passwd' }]), status: 400, code: 'import_entry_refused', message: /hard link/ },
      { title: 'a fifo (tar.gz)', archive: () => makeTarGz([pkg, { name: 'pipe', type: 'fifo' }]), status: 400, code: 'import_entry_refused', message: /fifo/ },
      {
        title: 'a zip bomb: one entry inflating over the ratio',
        archive: () => makeZip([pkg, { name: 'public/zeros.bin', data: Buffer.alloc(900 * KiB) }]),
        status: 413,
        code: 'import_compression_ratio',
        message: /zip bomb/,
      },
      { title: 'a tar.gz bomb', archive: () => makeTarGz([pkg, { name: 'public/zeros.bin', data: Buffer.alloc(900 * KiB) }]), status: 413, code: 'import_compression_ratio' },
      {
        title: 'a tar.gz that unpacks past its limit in skipped entries',
        // Two letters at random: packs about 7 to 1, far from a bomb's ratio, and past 8 MiB unpacked.
        archive: () => makeTarGz([pkg, ...Array.from({ length: 9 }, (_, index) => ({ name: `node_modules/x/${index}.bin`, data: Buffer.from(randomBytes(MiB).map((byte) => 97 + (byte & 1))) }))]),
        status: 413,
        code: 'import_too_large',
      },
      { title: 'one file over its limit', archive: () => makeZip([pkg, { name: 'public/big.bin', data: randomBytes(MiB + 1) }]), status: 413, code: 'import_file_too_large', message: /public\/big\.bin/ },
      {
        title: 'files over the total limit',
        archive: () => makeZip([pkg, ...Array.from({ length: 4 }, (_, index) => ({ name: `public/${index}.bin`, data: randomBytes(900 * KiB) }))]),
        status: 413,
        code: 'import_too_large',
      },
      { title: 'too many files', archive: () => makeZip([pkg, ...Array.from({ length: 40 }, (_, index) => ({ name: `src/${index}.ts`, data: `${index}` }))]), status: 413, code: 'import_too_many_files' },
      {
        title: 'too many entries, even skipped ones',
        archive: () => makeZip([pkg, ...Array.from({ length: 400 }, (_, index) => ({ name: `node_modules/x/${index}.js`, data: '' }))]),
        status: 413,
        code: 'import_too_many_files',
      },
      { title: 'no package.json', archive: () => makeZip([{ name: 'src/index.ts', data: 'x' }, { name: 'README.md', data: 'x' }]), status: 400, code: 'import_not_remotion', message: /no package\.json at the archive's top/ },
      { title: 'no package.json inside the one folder', archive: () => makeZip([{ name: 'film/src/index.ts', data: 'x' }]), status: 400, code: 'import_not_remotion', message: /in its folder "film"/ },
      { title: 'a package.json without remotion', archive: () => makeZip([{ name: 'package.json', data: '{"dependencies":{"react":"19"}}' }]), status: 400, code: 'import_not_remotion', message: /does not list remotion/ },
      { title: 'only node_modules', archive: () => makeZip([{ name: 'node_modules/remotion/package.json', data: '{}' }]), status: 400, code: 'import_not_remotion' },
      { title: 'a file that is not an archive', archive: () => Buffer.from('just some text, not an archive\n'.repeat(20)), status: 400, code: 'import_not_archive' },
      { title: 'an empty file', archive: () => Buffer.alloc(0), status: 400, code: 'import_not_archive' },
      { title: 'a cut zip', archive: () => makeZip([pkg, { name: 'src/a.ts', data: 'a'.repeat(5_000) }]).subarray(0, 200), status: 400, code: 'import_not_archive' },
      { title: 'a gzip that holds no tar', archive: () => makeTarGz([pkg]).subarray(0, 30), status: 400, code: 'import_not_archive' },
    ];

    for (const attack of cases) {
      it(`refuses ${attack.title}`, async () => {
        const before = await projectIds();
        const response = await upload(attack.archive(), 'attack.zip');
        expect(response.status, response.text).toBe(attack.status);
        expect(response.json.error.code, response.text).toBe(attack.code);
        if (attack.message) expect(response.json.error.message).toMatch(attack.message);
        await expectNothingLeft(before);
      });
    }

    it('refuses an upload over its size limit, after reading it, with a message that says what to leave out', async () => {
      const before = await projectIds();
      const response = await upload(randomBytes(limits.archiveBytes + 1), 'huge.zip');
      expect(response.status).toBe(413);
      expect(response.json.error.code).toBe('payload_too_large');
      expect(response.json.error.message).toMatch(/node_modules/);
      await expectNothingLeft(before);
    });

    it('cleans up after an upload the client cuts off midway', async () => {
      const before = await projectIds();
      const boundary = 'cutoff';
      const request = http.request(server.baseUrl + projectImportPath, {
        method: 'POST',
        headers: { origin: server.baseUrl, cookie: owner.cookie, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(3 * MiB) },
      });
      request.on('error', () => {});
      request.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.zip"\r\nContent-Type: application/zip\r\n\r\n`);
      request.write(randomBytes(MiB));
      // The server has started writing the upload aside.
      await expect.poll(async () => (await readdir(path.join(server.dataDir, 'imports'))).length).toBe(1);
      request.destroy();
      await expect.poll(async () => (await readdir(path.join(server.dataDir, 'imports'))).length).toBe(0);
      await expectNothingLeft(before);
      expect((await server.request('GET', '/api/health')).status).toBe(200);
    });

    it('refuses a form without a file, with another field, or with a bad name', async () => {
      const before = await projectIds();
      const missing = await upload(null, '', { name: 'Only a name' });
      expect(missing.status).toBe(400);
      expect(missing.json.error).toMatchObject({ code: 'validation_failed', issues: [{ path: 'file' }] });
      const zip = makeZip([{ name: 'package.json', data: '{"dependencies":{"remotion":"4"}}' }]);
      const wrongField = await upload(zip, 'a.zip', { field: 'archive' });
      expect(wrongField.status).toBe(400);
      expect(wrongField.json.error.code).toBe('validation_failed');
      const extra = await upload(zip, 'a.zip', { extra: { gitUrl: 'https://example.com/x.git' } });
      expect(extra.status).toBe(400);
      expect(extra.json.error.code).toBe('validation_failed');
      const badName = await upload(zip, 'a.zip', { name: 'x'.repeat(121) });
      expect(badName.status).toBe(400);
      expect(badName.json.error.issues[0].path).toBe('name');
      await expectNothingLeft(before);
    });

    it('refuses without a session (401); another user never sees the import', async () => {
      const zip = makeZip([{ name: 'package.json', data: '{"dependencies":{"remotion":"4"}}' }]);
      const before = await projectIds();
      const anonymous = await upload(zip, 'a.zip', { cookie: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.json.error.code).toBe('unauthenticated');
      const forged = await upload(zip, 'a.zip', { cookie: 'cutroom_session=not-a-session' });
      expect(forged.status).toBe(401);
      await expectNothingLeft(before);

      const mine = await upload(zip, 'mine.zip');
      expect(mine.status).toBe(201);
      const other = await server.signup();
      expect(await projectIds(other.cookie)).toEqual([]);
      const peek = await server.request('GET', `/api/projects/${mine.json.project.id}`, { cookie: other.cookie });
      expect(peek.status).toBe(404);
      const archive = await fetch(server.baseUrl + projectArchivePath(mine.json.project.id), { headers: { cookie: other.cookie } });
      expect(archive.status).toBe(404);
    });

    it('refuses a request from another origin (403), before reading it', async () => {
      const form = new FormData();
      form.append('file', new Blob([makeZip([{ name: 'package.json', data: '{}' }])]), 'a.zip');
      const response = await fetch(server.baseUrl + projectImportPath, { method: 'POST', headers: { origin: 'https://evil.example', cookie: owner.cookie }, body: form });
      expect(response.status).toBe(403);
      expect((await response.json()).error.code).toBe('forbidden_origin');
    });
  });

  describe('git', () => {
    it('imports a repository over HTTP from a local git server: its latest files, no history', async () => {
      const url = await git.addRepository('film', project);
      const response = await importGit({ gitUrl: url });
      expect(response.status, response.text).toBe(201);
      expect(response.json.project.name).toBe('film');
      expect(await versionFiles(response.json.project.id)).toEqual(expected);
      const versions = await server.request('GET', `/api/projects/${response.json.project.id}/versions`, { cookie: owner.cookie });
      expect(versions.json.versions).toHaveLength(1);
      expect(versions.json.versions[0].message).toBe(`Import ${url}`);
      expect(git.requests.some((line) => line.includes('git-upload-pack'))).toBe(true);
      expect(await readdir(path.join(server.dataDir, 'imports'))).toEqual([]);
    });

    it('takes a name, and refuses a repository that holds a symlink', async () => {
      const url = await git.addRepository('linked', project, async (work) => {
        await symlink('/etc/passwd', path.join(work, 'public', 'passwd'));
      });
      const before = await projectIds();
      const response = await importGit({ gitUrl: url, name: 'Linked' });
      expect(response.status, response.text).toBe(400);
      expect(response.json.error.code).toBe('import_entry_refused');
      expect(response.json.error.message).toMatch(/"public\/passwd" is a symbolic link/);
      await expectNothingLeft(before);
    });

    it('does not follow a redirect (it could lead anywhere), stops a clone that hangs or grows past the limit, and runs two of a user’s at once', async () => {
      const url = await git.addRepository('redirected', project);
      const before = await projectIds();
      const stalled: http.ServerResponse[] = [];
      const trap = http.createServer((request, response) => {
        if (request.url?.startsWith('/redirect/')) {
          response.writeHead(302, { location: `${url}${request.url.slice('/redirect'.length).replace(/^\/[^/?]*/, '')}` });
          response.end();
        } else {
          stalled.push(response);
        }
      });
      await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
      const trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}`;
      try {
        const served = git.requests.length;
        const redirected = await importGit({ gitUrl: `${trapUrl}/redirect/film.git` });
        expect(redirected.status, redirected.text).toBe(400);
        expect(redirected.json.error.code).toBe('import_git_failed');
        expect(git.requests.length).toBe(served);

        // Two imports that hang are all one user may run at once: a third waits its turn (429).
        const started = Date.now();
        const hanging = [importGit({ gitUrl: `${trapUrl}/hang/film.git` }), importGit({ gitUrl: `${trapUrl}/hang/film.git` })];
        await expect.poll(() => stalled.length).toBe(2);
        const third = await importGit({ gitUrl: `${trapUrl}/hang/film.git` });
        expect(third.status, third.text).toBe(429);
        expect(third.json.error.code).toBe('rate_limited');
        for (const hung of await Promise.all(hanging)) {
          expect(hung.status, hung.text).toBe(400);
          expect(hung.json.error).toMatchObject({ code: 'import_git_failed', message: expect.stringMatching(/longer than 3 s/) });
        }
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        for (const response of stalled) response.destroy();
        trap.closeAllConnections();
        trap.close();
      }

      const big = await git.addRepository('big', project, async (work) => {
        await writeFile(path.join(work, 'public', 'noise.bin'), randomBytes(limits.archiveBytes + MiB));
      });
      const tooBig = await importGit({ gitUrl: big });
      expect(tooBig.status, tooBig.text).toBe(413);
      expect(tooBig.json.error.code).toBe('import_too_large');
      await expectNothingLeft(before);
    });

    it('refuses a repository that is not there, typed', async () => {
      const before = await projectIds();
      const response = await importGit({ gitUrl: `${git.baseUrl}/missing.git` });
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe('import_git_failed');
      await expectNothingLeft(before);
    });

    const refusedUrls = [
      'file:///etc',
      `file://${project}`,
      'ssh://git@github.com/remotion-dev/template-helloworld.git',
      'git@github.com:remotion-dev/template-helloworld.git',
      'git://github.com/remotion-dev/template-helloworld.git',
      'ext::sh -c touch% /tmp/pwned',
      '--upload-pack=touch /tmp/pwned',
      '-u touch /tmp/pwned',
      'https://user:secret@github.com/remotion-dev/template-helloworld.git',
      'https://token@github.com/remotion-dev/template-helloworld.git',
      'https://10.0.0.1/repo.git',
      'https://169.254.169.254/latest/meta-data',
      '/etc/passwd',
      'not a url',
    ];
    for (const gitUrl of refusedUrls) {
      it(`refuses ${gitUrl} with a typed 400`, async () => {
        const before = await projectIds();
        const response = await importGit({ gitUrl });
        expect(response.status, response.text).toBe(400);
        expect(response.json.error.code, response.text).toBe('import_git_url_refused');
        await expectNothingLeft(before);
      });
    }

    it('refuses a body that is neither a form nor {gitUrl}', async () => {
      const response = await importGit({ url: 'https://example.com/x.git' });
      expect(response.status).toBe(400);
      expect(response.json.error.code).toBe('validation_failed');
    });
  });
});

/** PROJECTS_MAX_PER_USER: an import is a project like any other. */
describe('imports and the project limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ environment: { PROJECTS_MAX_PER_USER: '1' } });
  });
  afterAll(async () => server?.close());

  it('refuses an import past the limit with too_many_projects, leaving nothing', async () => {
    const { cookie } = await server.signup();
    expect((await server.request('POST', '/api/projects', { cookie, body: { name: 'The one' } })).status).toBe(201);
    const form = new FormData();
    form.append('file', new Blob([makeZip([{ name: 'package.json', data: '{"dependencies":{"remotion":"4"}}' }])]), 'b.zip');
    const response = await fetch(server.baseUrl + projectImportPath, { method: 'POST', headers: { origin: server.baseUrl, cookie }, body: form });
    expect(response.status).toBe(409);
    expect((await response.json()).error.code).toBe('too_many_projects');
    expect((await server.request('GET', '/api/projects', { cookie })).json.projects).toHaveLength(1);
    expect(await readdir(path.join(server.dataDir, 'imports'))).toEqual([]);
    expect((await readdir(path.join(server.dataDir, 'repos'))).filter((name) => name.endsWith('.git') || name.startsWith('.tmp-'))).toHaveLength(1);
  });
});
