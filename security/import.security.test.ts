import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { projectImportPath } from '@cutroom/protocol';
import { makeTarGz, makeZip, testProjectDir } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHttpServer, startGitHttpServer } from '../apps/server/src/testing/git-http-server.js';
import { type RunningServer, startServer } from '../e2e/harness.js';
import { callApi, signUp } from './attacker.js';

const MiB = 1024 * 1024;
const pkg = { name: 'package.json', data: '{"dependencies":{"remotion":"4.0.527"}}' };

/**
 * A zip bomb of the overlapping kind (Fifield's "better zip bomb", without the quoting):
 * `count` central directory records, each a file of its own name, all pointing at the
 * same local entry. Every entry on its own inflates at a harmless ratio (`data` packs
 * about 7 to 1); together they are `count` times the archive.
 */
function overlappingZip(count: number, data: Buffer): Buffer {
  const packed = deflateRawSync(data, { level: 9 });
  const checksum = crc32(data);
  const localName = Buffer.from('public/0.bin');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(checksum, 14);
  local.writeUInt32LE(packed.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(localName.length, 26);
  const head = Buffer.concat([local, localName, packed]);
  // The package.json, a real entry after the shared one.
  const manifest = makeZip([pkg], { store: true });
  const manifestLocal = manifest.subarray(0, manifest.readUInt32LE(manifest.length - 22 + 16));
  const records: Buffer[] = [];
  const record = (name: Buffer, offset: number, sizes: { packed: number; size: number; crc: number; method: number }) => {
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(sizes.method, 10);
    central.writeUInt32LE(sizes.crc, 16);
    central.writeUInt32LE(sizes.packed, 20);
    central.writeUInt32LE(sizes.size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    records.push(central, name);
  };
  const manifestData = Buffer.from(pkg.data);
  record(Buffer.from('package.json'), head.length, { packed: manifestData.length, size: manifestData.length, crc: crc32(manifestData), method: 0 });
  for (let index = 0; index < count; index++) record(Buffer.from(`public/${index}.bin`), 0, { packed: packed.length, size: data.length, crc: checksum, method: 8 });
  const directory = Buffer.concat(records);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count + 1, 8);
  end.writeUInt16LE(count + 1, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(head.length + manifestLocal.length, 16);
  return Buffer.concat([head, manifestLocal, directory, end]);
}

/**
 * Project import as an attacker sends it (issue 11, item 5), against the built server with
 * its real limits and without the loopback test setting: bombs, paths that lead out,
 * links, and git URLs meant to run commands or reach the server's own network.
 */
describe('project import', () => {
  let server: RunningServer;
  let git: GitHttpServer;
  let cookie: string;
  /** Paths an attack would create if it worked. */
  const canary = (label: string) => path.join(os.tmpdir(), `cutroom-pwned-${label}-${randomBytes(4).toString('hex')}`);

  const upload = async (archive: Buffer, filename = 'attack.zip', headers: Record<string, string> = {}) => {
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(archive)]), filename);
    const response = await fetch(server.baseUrl + projectImportPath, { method: 'POST', headers: { origin: server.baseUrl, cookie, ...headers }, body: form });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined, text };
  };
  const importGit = (gitUrl: string) => callApi(server, 'POST', projectImportPath, { cookie, body: { gitUrl } });

  const expectNothingLeft = async () => {
    expect((await callApi(server, 'GET', '/api/projects', { cookie })).json.projects).toEqual([]);
    expect(await readdir(path.join(server.dataDir, 'imports'))).toEqual([]);
    expect((await readdir(path.join(server.dataDir, 'repos'))).filter((name) => name.endsWith('.git') || name.startsWith('.tmp-'))).toEqual([]);
  };

  beforeAll(async () => {
    server = await startServer({ SESSION_POOL_SIZE: '0' });
    git = await startGitHttpServer();
    cookie = (await signUp(server)).cookie;
  });
  afterAll(async () => {
    await server?.stop();
    await git?.close();
  });

  it('refuses a classic zip bomb (40 MiB of zeros in 40 KB) before inflating it', async () => {
    const bomb = makeZip([pkg, { name: 'public/zeros.bin', data: Buffer.alloc(40 * MiB) }]);
    expect(bomb.length).toBeLessThan(100_000);
    const response = await upload(bomb);
    expect(response.status, response.text).toBe(413);
    expect(response.json.error.code).toBe('import_compression_ratio');
    await expectNothingLeft();
  });

  it('refuses an overlapping zip bomb whose entries each look harmless', async () => {
    const letters = Buffer.from(randomBytes(MiB).map((byte) => 97 + (byte & 1)));
    const bomb = overlappingZip(300, letters);
    expect(bomb.length).toBeLessThan(MiB);
    const response = await upload(bomb);
    expect(response.status, response.text).toBe(413);
    expect(response.json.error.code).toBe('import_compression_ratio');
    await expectNothingLeft();
  });

  it('refuses a tar.gz bomb as it streams', async () => {
    const response = await upload(makeTarGz([pkg, { name: 'public/zeros.bin', data: Buffer.alloc(40 * MiB) }]), 'bomb.tar.gz');
    expect(response.status, response.text).toBe(413);
    expect(response.json.error.code).toBe('import_compression_ratio');
    await expectNothingLeft();
  });

  it('writes nothing outside its folder: .., absolute paths, links and files through links', async () => {
    const relative = canary('relative');
    const absolute = canary('absolute');
    const linkTarget = canary('link');
    const up = '../'.repeat(20);
    const attacks = [
      makeZip([pkg, { name: `${up}${relative.slice(1)}`, data: 'pwned' }]),
      makeZip([pkg, { name: absolute, data: 'pwned' }]),
      makeZip([pkg, { name: `src\\${up.replace(/\//g, '\\')}${relative.slice(1)}`, data: 'pwned' }]),
      makeZip([pkg, { name: 'escape', type: 'symlink', linkname: path.dirname(linkTarget) }, { name: `escape/${path.basename(linkTarget)}`, data: 'pwned' }]),
      makeTarGz([pkg, { name: `${up}${relative.slice(1)}`.slice(-100), data: 'pwned' }]),
      makeTarGz([pkg, { name: absolute, data: 'pwned' }]),
      makeTarGz([pkg, { name: 'escape', type: 'symlink', linkname: path.dirname(linkTarget) }, { name: `escape/${path.basename(linkTarget)}`, data: 'pwned' }]),
      makeTarGz([pkg, { name: 'shadow', type: 'hard link', linkname: '/etc/shadow' }]),
      makeTarGz([pkg, { name: 'tty', type: 'character device' }]),
    ];
    for (const [index, archive] of attacks.entries()) {
      const response = await upload(archive, index < 4 ? 'attack.zip' : 'attack.tar.gz');
      expect(response.status, `${index}: ${response.text}`).toBe(400);
      expect(response.json.error.code, `${index}`).toBe('import_entry_refused');
    }
    for (const file of [relative, absolute, linkTarget]) expect(existsSync(file), file).toBe(false);
    await expectNothingLeft();
  });

  it('refuses git URLs that would run a command, read the server’s files or reach its own network, before any connection', async () => {
    const repository = await git.addRepository('film', testProjectDir('folders-and-stills'));
    const port = new URL(git.baseUrl).port;
    const commandCanary = canary('git-command');
    const refused = [
      repository,
      `https://127.0.0.1:${port}/film.git`,
      `https://localhost:${port}/film.git`,
      `https://[::1]:${port}/film.git`,
      `https://[::ffff:127.0.0.1]:${port}/film.git`,
      `https://0x7f.1:${port}/film.git`,
      `https://2130706433:${port}/film.git`,
      'https://169.254.169.254/latest/meta-data/',
      'https://10.0.0.1/repo.git',
      `--upload-pack=touch ${commandCanary}`,
      `ext::sh -c touch% ${commandCanary}`,
      `file://${testProjectDir('folders-and-stills')}`,
      'file:///etc/passwd',
      'ssh://git@127.0.0.1/repo.git',
      `ssh://-oProxyCommand=touch%20${commandCanary}/repo.git`,
      'git://127.0.0.1/repo.git',
      'https://user:password@github.com/remotion-dev/template-helloworld.git',
    ];
    for (const gitUrl of refused) {
      const response = await importGit(gitUrl);
      expect(response.status, `${gitUrl}: ${response.text}`).toBe(400);
      expect(response.json.error.code, gitUrl).toBe('import_git_url_refused');
    }
    expect(git.requests).toEqual([]);
    expect(existsSync(commandCanary)).toBe(false);
    await expectNothingLeft();
  });

  it('refuses malformed and foreign uploads', async () => {
    const zip = makeZip([pkg]);
    for (const origin of ['https://evil.example', 'null']) {
      const response = await upload(zip, 'a.zip', { origin });
      expect(response.status, origin).toBe(403);
    }
    const twoFiles = new FormData();
    twoFiles.append('file', new Blob([new Uint8Array(zip)]), 'a.zip');
    twoFiles.append('file', new Blob([new Uint8Array(zip)]), 'b.zip');
    const response = await fetch(server.baseUrl + projectImportPath, { method: 'POST', headers: { origin: server.baseUrl, cookie }, body: twoFiles });
    expect(response.status).toBe(400);
    const truncated = await fetch(server.baseUrl + projectImportPath, {
      method: 'POST',
      headers: { origin: server.baseUrl, cookie, 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n\r\nPK',
    });
    expect(truncated.status).toBe(400);
    const text = await fetch(server.baseUrl + projectImportPath, { method: 'POST', headers: { origin: server.baseUrl, cookie, 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(415);
    await expectNothingLeft();
  });
});
