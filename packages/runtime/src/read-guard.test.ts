import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const guardModule = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'read-guard.js');

/**
 * In a child process (the guard patches `fs` process-wide): every reading API of `fs`,
 * as Vite and its plugins call it (default import, named ESM import, promises, streams,
 * listings), on a file inside the allowed folder, one outside, and a symlink out.
 */
const script = `
import fs from 'node:fs';
import { readFile as namedReadFile } from 'node:fs';
import { readFile as promiseReadFile } from 'node:fs/promises';
const { createReadGuard, installReadGuard } = await import(process.env.GUARD);
installReadGuard(createReadGuard({ folders: [process.env.INSIDE] }));
const results = {};
const attempt = async (name, work) => { try { const value = await work(); results[name] = String(value).includes('SECRET') ? 'leaked' : 'read'; } catch (error) { results[name] = error.code ?? 'error'; } };
for (const [label, file] of [['inside', process.env.INSIDE + '/ok.txt'], ['outside', process.env.OUTSIDE + '/secret.txt'], ['link', process.env.INSIDE + '/link.txt']]) {
  await attempt(label + ':readFileSync', () => fs.readFileSync(file, 'utf8'));
  await attempt(label + ':readFile', () => new Promise((resolve, reject) => fs.readFile(file, 'utf8', (error, text) => (error ? reject(error) : resolve(text)))));
  await attempt(label + ':namedReadFile', () => new Promise((resolve, reject) => namedReadFile(file, 'utf8', (error, text) => (error ? reject(error) : resolve(text)))));
  await attempt(label + ':promises.readFile', () => promiseReadFile(file, 'utf8'));
  await attempt(label + ':promises.open', async () => { const handle = await fs.promises.open(file); try { return (await handle.readFile()).toString(); } finally { await handle.close(); } });
  await attempt(label + ':openSync', () => { const fd = fs.openSync(file, 'r'); try { return fs.readFileSync(fd, 'utf8'); } finally { fs.closeSync(fd); } });
  await attempt(label + ':createReadStream', () => new Promise((resolve, reject) => { let text = ''; fs.createReadStream(file).on('data', (chunk) => (text += chunk)).on('end', () => resolve(text)).on('error', reject); }));
  await attempt(label + ':url', () => fs.readFileSync(new URL('file://' + file), 'utf8'));
}
await attempt('outside:readdirSync', () => fs.readdirSync(process.env.OUTSIDE).join(',').replace('secret', 'SECRET'));
await attempt('outside:promises.readdir', async () => (await fs.promises.readdir(process.env.OUTSIDE)).join(',').replace('secret', 'SECRET'));
console.log(JSON.stringify(results));
`;

describe('read guard', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'cutroom-read-guard-'));
  const inside = path.join(root, 'inside');
  const outside = path.join(root, 'outside');
  mkdirSync(inside);
  mkdirSync(outside);
  writeFileSync(path.join(inside, 'ok.txt'), 'fine');
  writeFileSync(path.join(outside, 'secret.txt'), 'SECRET');
  symlinkSync(path.join(outside, 'secret.txt'), path.join(inside, 'link.txt'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('refuses, through every reading API of fs, files whose real path is outside the allowed folders', () => {
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH, GUARD: guardModule, INSIDE: inside, OUTSIDE: outside },
      encoding: 'utf8',
    });
    const results = JSON.parse(output) as Record<string, string>;
    for (const [name, result] of Object.entries(results)) {
      if (name.startsWith('inside:')) expect(result, name).toBe('read');
      else expect(result, name).toBe('ENOENT');
    }
    expect(Object.keys(results).filter((name) => name.startsWith('outside:'))).toHaveLength(10);
  });
});
