import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { nodeModulesDir } from '../exports/render-job-files.js';
import { type InstallRequest, type Installer, createInstaller } from './installer.js';
import { PackagesError, REMOTION_VERSION } from './manifest.js';

const run = promisify(execFile);
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

const isRoot = process.getuid?.() === 0;
/** A uid that is neither the server's, the install user's nor any sandbox's: "another user". */
const STRANGER_UID = 1_234_567;

/** What a project asks for: two packages to install, and three that Cutroom provides or no video imports. */
const MANIFEST = {
  name: 'film',
  private: true,
  dependencies: { 'is-number': '^7.0.0', '@remotion/shapes': '^4.0.0', remotion: '4.0.100', react: '18.0.0' },
  devDependencies: { typescript: '5' },
};

/** The version a package has in an install. */
async function versionOf(nodeModules: string, name: string): Promise<string> {
  return (JSON.parse(await readFile(path.join(nodeModules, name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Every path under `dir` (not following links), relative to it. */
async function tree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder)) {
      const full = path.join(folder, entry);
      found.push(path.relative(dir, full));
      if ((await lstat(full)).isDirectory()) await walk(full);
    }
  };
  await walk(dir);
  return found.sort();
}

/** `install()` as a promise even when it refuses at once (it validates the manifest before it returns one). */
const attempt = (installer: Installer, request: InstallRequest) => Promise.resolve().then(() => installer.install(request));

/**
 * The installer with everything real: pnpm, the npm registry (through the registry proxy,
 * the install's one way out), bubblewrap where it works here, and a packages folder of
 * its own (its store starts empty).
 */
describe('the installer, for real', () => {
  let scratch: string;
  let packagesDir: string;
  let installer: Installer;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-installer-'));
    packagesDir = path.join(scratch, 'packages');
    installer = createInstaller({ dataDir: scratch, packagesDir, logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('installs what package.json names, without what Cutroom provides or no video imports, read-only to everyone else', async () => {
    const first = await installer.install({ packageJson: JSON.stringify(MANIFEST, null, 2) });
    expect(first.ran).toBe(true);
    expect(first.key).toMatch(/^[0-9a-f]{32}$/);
    expect(first.nodeModules).toBe(path.join(packagesDir, 'installs', first.key, 'node_modules'));
    const nodeModules = first.nodeModules!;
    expect(installer.installed(first.key)).toBe(nodeModules);

    expect(await versionOf(nodeModules, 'is-number')).toMatch(/^7\./);
    // Every Remotion package at the version Cutroom renders with, whatever was asked.
    expect(REMOTION_VERSION).toBe('4.0.527');
    expect(await versionOf(nodeModules, '@remotion/shapes')).toBe(REMOTION_VERSION);
    // Cutroom's own copies serve the project (one React, one Remotion on the page); tooling is left out.
    for (const name of ['remotion', 'react', 'react-dom', 'typescript']) expect(existsSync(path.join(nodeModules, name)), name).toBe(false);
    // pnpm's bookkeeping and command links are not part of what is shared.
    for (const name of ['.bin', '.pnpm', '.modules.yaml']) expect(existsSync(path.join(nodeModules, name)), name).toBe(false);

    // No file or folder of it is writable by group or others.
    const entries = await tree(nodeModules);
    expect(entries.length).toBeGreaterThan(5);
    const writable: string[] = [];
    for (const entry of entries) {
      const info = await lstat(path.join(nodeModules, entry));
      if (!info.isSymbolicLink() && (info.mode & 0o022) !== 0) writable.push(`${entry} ${(info.mode & 0o777).toString(8)}`);
    }
    expect(writable).toEqual([]);
    // And, where users can be switched, another user really cannot change it.
    if (isRoot && existsSync('/usr/bin/setpriv')) {
      const index = path.join(nodeModules, 'is-number', 'index.js');
      const before = await readFile(index, 'utf8');
      const tried = spawnSync(
        '/usr/bin/setpriv',
        [`--reuid=${STRANGER_UID}`, `--regid=${STRANGER_UID}`, '--clear-groups', '--', 'sh', '-c', `echo x >> '${index}' || exit 3; echo y > '${path.dirname(index)}/added.js' || exit 4`],
        { encoding: 'utf8' },
      );
      expect(tried.status, tried.stderr).toBe(3);
      expect(tried.stderr).toMatch(/Permission denied/);
      expect(await readFile(index, 'utf8')).toBe(before);
      expect(existsSync(path.join(path.dirname(index), 'added.js'))).toBe(false);
    }
  });

  it('reuses an install: the same request, or one that reduces to the same packages, runs nothing', async () => {
    const packageJson = JSON.stringify(MANIFEST, null, 2);
    const first = await installer.install({ packageJson });
    const again = await installer.install({ packageJson });
    expect(again).toEqual({ key: first.key, nodeModules: first.nodeModules, ran: false });
    // Written otherwise, with other provided and tooling packages and another Remotion
    // package range: the same install.
    const rewritten = JSON.stringify({
      devDependencies: { '@remotion/shapes': '4.0.0', eslint: '^9.0.0' },
      dependencies: { react: '19.0.0', 'is-number': '^7.0.0', 'react-dom': '19.0.0' },
    });
    expect(await installer.install({ packageJson: rewritten })).toEqual({ key: first.key, nodeModules: first.nodeModules, ran: false });
    // Asked twice at once: one install answers both.
    const other = JSON.stringify({ dependencies: { 'is-odd': '^3.0.0' } });
    const [one, two] = await Promise.all([installer.install({ packageJson: other }), installer.install({ packageJson: other })]);
    expect(one.ran).toBe(true);
    expect(two).toBe(one);
    expect(await versionOf(one.nodeModules!, 'is-odd')).toBe('3.0.1');
  });

  it("honours the project's package-lock.json: the pinned version, not the newest in range", async () => {
    // ms ^2.0.0 resolves to 2.1.x today; the project's lockfile pins 2.0.0.
    const project = path.join(scratch, 'npm-project');
    await mkdir(project, { recursive: true });
    const manifest = (range: string) => JSON.stringify({ name: 'film', version: '1.0.0', private: true, dependencies: { ms: range, typescript: '5' } }, null, 2);
    const npm = (args: string[]) => run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', ...args], { cwd: project });
    await writeFile(path.join(project, 'package.json'), manifest('2.0.0'));
    await npm([]);
    // The range widened: npm keeps the locked version, which still satisfies it.
    await writeFile(path.join(project, 'package.json'), manifest('^2.0.0'));
    await npm([]);
    const packageJson = await readFile(path.join(project, 'package.json'), 'utf8');
    const lockText = await readFile(path.join(project, 'package-lock.json'), 'utf8');
    const lock = JSON.parse(lockText) as { packages: Record<string, { version?: string; dependencies?: Record<string, string> }> };
    expect(lock.packages['']?.dependencies?.ms).toBe('^2.0.0');
    expect(lock.packages['node_modules/ms']?.version).toBe('2.0.0');

    const locked = await installer.install({ packageJson, lockfile: { name: 'package-lock.json', text: lockText } });
    expect(locked.ran).toBe(true);
    expect(await versionOf(locked.nodeModules!, 'ms')).toBe('2.0.0');
    expect(existsSync(path.join(locked.nodeModules!, 'typescript'))).toBe(false);
    // The lockfile is part of what names the install.
    const unlocked = await installer.install({ packageJson });
    expect(unlocked.key).not.toBe(locked.key);
    expect(await versionOf(unlocked.nodeModules!, 'ms')).toMatch(/^2\.1\./);
  });

  it("honours the project's overrides of its packages' dependencies (npm's, pnpm's)", async () => {
    // is-odd 3.0.1 depends on is-number ^6.0.0.
    const plain = await installer.install({ packageJson: JSON.stringify({ dependencies: { 'is-odd': '3.0.1' } }) });
    expect(await versionOf(plain.nodeModules!, 'is-number')).toBe('6.0.0');
    const npmStyle = await installer.install({ packageJson: JSON.stringify({ dependencies: { 'is-odd': '3.0.1' }, overrides: { 'is-odd': { 'is-number': '7.0.0' } } }) });
    expect(npmStyle.key).not.toBe(plain.key);
    expect(await versionOf(npmStyle.nodeModules!, 'is-number')).toBe('7.0.0');
    const pnpmStyle = await installer.install({ packageJson: JSON.stringify({ dependencies: { 'is-odd': '3.0.1' }, pnpm: { overrides: { 'is-number': '7.0.0' } } }) });
    expect(await versionOf(pnpmStyle.nodeModules!, 'is-number')).toBe('7.0.0');
    // One that would leave the registry is refused before anything runs.
    const refused = await attempt(installer, { packageJson: JSON.stringify({ dependencies: { 'is-odd': '3.0.1' }, overrides: { 'is-number': 'file:/etc' } }) }).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(PackagesError);
    expect((refused as PackagesError).code).toBe('package_refused');
  });

  it("honours the project's pnpm-lock.yaml", async () => {
    const project = path.join(scratch, 'pnpm-project');
    await mkdir(project, { recursive: true });
    const manifest = (range: string) => JSON.stringify({ name: 'film', private: true, dependencies: { ms: range } }, null, 2);
    await writeFile(path.join(project, 'package.json'), manifest('2.0.0'));
    await run(process.execPath, [path.join(nodeModulesDir, 'pnpm', 'bin', 'pnpm.cjs'), 'install', '--lockfile-only', '--ignore-scripts', `--config.store-dir=${path.join(scratch, 'pnpm-store')}`], {
      cwd: project,
    });
    // The range widened by hand, in both files: the lock still pins 2.0.0.
    const lockText = (await readFile(path.join(project, 'pnpm-lock.yaml'), 'utf8')).replace('specifier: 2.0.0', 'specifier: ^2.0.0');
    expect(lockText).toContain('specifier: ^2.0.0');
    expect(lockText).toContain('ms@2.0.0');
    const locked = await installer.install({ packageJson: manifest('^2.0.0'), lockfile: { name: 'pnpm-lock.yaml', text: lockText } });
    expect(await versionOf(locked.nodeModules!, 'ms')).toBe('2.0.0');
  });

  it('a package that cannot be installed: install_failed, naming the package, with no path of the server', async () => {
    const missing = 'cutroom-no-such-package-zz9';
    const jobsBefore = await tree(path.join(packagesDir, 'jobs'));
    const error = await attempt(installer, { packageJson: JSON.stringify({ dependencies: { [missing]: '^1.0.0', 'is-number': '^7.0.0' } }) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PackagesError);
    expect((error as PackagesError).code).toBe('install_failed');
    const message = (error as PackagesError).message;
    expect(message).toContain('could not be installed');
    expect(message).toContain(missing);
    for (const leak of [scratch, packagesDir, os.tmpdir() + path.sep, '/jobs/', '/work/', 'registry.sock']) expect(message, message).not.toContain(leak);
    // Nor the job's own loopback (its registry forwarder).
    expect(message).not.toMatch(/127\.0\.0\.1|localhost/);
    // Its job folder is gone, and nothing was kept as an install.
    expect(await tree(path.join(packagesDir, 'jobs'))).toEqual(jobsBefore);
    const installs = await readdir(path.join(packagesDir, 'installs'));
    for (const key of installs) expect(existsSync(path.join(packagesDir, 'installs', key, '.done')), key).toBe(true);
  });

  it('refuses every dependency that is not a registry version before anything runs', async () => {
    const refusedSpecs = {
      'file:../x': 'file:../x',
      'git+https': 'git+https://github.com/user/repo.git',
      github: 'github:user/repo',
      shorthand: 'user/repo',
      url: 'https://example.com/evil-1.0.0.tgz',
      link: 'link:..',
      workspace: 'workspace:*',
      'npm alias of a file': 'npm:evil@file:x',
      'npm alias of a url': 'npm:evil@https://example.com/x.tgz',
      'git ssh': 'git+ssh://git@github.com/user/repo.git',
      'absolute path': '/etc',
      'relative path': '../../x',
      'home path': '~/x',
    };
    // A packages folder of its own, to see that nothing at all is made there.
    const emptyDir = path.join(scratch, 'untouched');
    await mkdir(emptyDir);
    const untouched = createInstaller({ dataDir: emptyDir, packagesDir: emptyDir, logger: pino({ level: 'silent' }) });
    for (const [label, spec] of Object.entries(refusedSpecs)) {
      for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
        const error = await attempt(untouched, { packageJson: JSON.stringify({ [field]: { 'is-number': '^7.0.0', 'evil-dep': spec } }) }).catch((caught: unknown) => caught);
        expect(error, `${label} in ${field}`).toBeInstanceOf(PackagesError);
        expect((error as PackagesError).code, label).toBe('package_refused');
        expect((error as PackagesError).message, label).toContain('evil-dep');
      }
    }
    // Names that are not npm names (a path out of node_modules among them).
    for (const name of ['../../etc', '@scope/../../x', 'UPPER', '.hidden', 'a/b/c', '']) {
      const error = await attempt(untouched, { packageJson: JSON.stringify({ dependencies: { [name]: '^1.0.0' } }) }).catch((caught: unknown) => caught);
      expect((error as PackagesError).code, name).toBe('package_refused');
    }
    expect(await readdir(emptyDir)).toEqual([]);
  });
});
