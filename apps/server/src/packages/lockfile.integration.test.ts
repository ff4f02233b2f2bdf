import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Installer, createInstaller } from './installer.js';

const run = promisify(execFile);
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

/**
 * A project's npm lockfile follows its package.json: an install of a package.json that
 * names a package its package-lock.json lacks brings the lockfile up to date (as `npm
 * install` would write it, tarball URLs of the registry, never of the job's proxy); an
 * up-to-date one is left as it is.
 */
describe('the project’s package-lock.json', () => {
  let scratch: string;
  let installer: Installer;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-lockfile-'));
    installer = createInstaller({ dataDir: scratch, packagesDir: path.join(scratch, 'packages'), logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('is brought up to date when package.json names a package it lacks, and left alone when it is', async () => {
    // The lockfile of the project as it was: is-number only, pinned to 7.0.0.
    const before = path.join(scratch, 'before');
    await run('mkdir', ['-p', before]);
    await writeFile(path.join(before, 'package.json'), JSON.stringify({ name: 'film', private: true, dependencies: { 'is-number': '^7.0.0' } }, null, 2));
    await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', 'is-number@7.0.0'], { cwd: before });
    await writeFile(path.join(before, 'package.json'), JSON.stringify({ name: 'film', private: true, dependencies: { 'is-number': '^7.0.0' } }, null, 2));
    const stale = await readFile(path.join(before, 'package-lock.json'), 'utf8');
    expect(stale).not.toContain('lodash.camelcase');

    // The agent added a package to package.json.
    const packageJson = JSON.stringify({ name: 'film', private: true, dependencies: { 'is-number': '^7.0.0', 'lodash.camelcase': '^4.3.0' } }, null, 2);
    const first = await installer.install({ packageJson, lockfile: { name: 'package-lock.json', text: stale } });
    expect(first.ran).toBe(true);
    expect(first.lockfile).toBeDefined();
    const lock = JSON.parse(first.lockfile!) as { packages: Record<string, { version?: string; resolved?: string }> };
    expect(lock.packages['node_modules/lodash.camelcase']?.version).toMatch(/^4\./);
    // Its pin is kept (7.0.0, not the newest 7.x), here and in the install.
    expect(lock.packages['node_modules/is-number']?.version).toBe('7.0.0');
    expect(JSON.parse(await readFile(path.join(first.nodeModules!, 'is-number', 'package.json'), 'utf8')).version).toBe('7.0.0');
    // Tarball URLs name the registry, never the proxy inside the job.
    expect(first.lockfile).not.toMatch(/127\.0\.0\.1|localhost/);
    for (const entry of Object.values(lock.packages)) if (entry.resolved) expect(entry.resolved).toMatch(/^https:\/\//);

    // Asked again: the same answer, from the install kept.
    const again = await installer.install({ packageJson, lockfile: { name: 'package-lock.json', text: stale } });
    expect(again).toMatchObject({ ran: false, key: first.key, lockfile: first.lockfile });

    // With the lockfile up to date there is nothing to change.
    const settled = await installer.install({ packageJson, lockfile: { name: 'package-lock.json', text: first.lockfile! } });
    expect(settled.lockfile).toBeUndefined();
  });
});
