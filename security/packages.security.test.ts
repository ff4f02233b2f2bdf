import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { MAX_PACKAGE_LOCKFILE_BYTES, MAX_PACKAGE_MANIFEST_BYTES, SandboxToServer, decodeMessage } from '@cutroom/protocol';
import { templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serverRoot } from '../apps/server/src/exports/render-job-files.js';
import { type InstallRequest, type Installer, type ProjectInstall, createInstaller } from '../apps/server/src/packages/installer.js';
import { PackagesError, installManifest } from '../apps/server/src/packages/manifest.js';
import { bubblewrapWorks } from '../apps/server/src/sessions/drivers/local/bubblewrap.js';
import { type LocalDriver, createLocalDriver } from '../apps/server/src/sessions/drivers/local/local-driver.js';
import { STARTUP_MS, collect } from '../apps/server/src/sessions/drivers/testing/drivers-under-test.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

/** The registry's is-number 7.0.0 and is-odd 3.0.1 (is-number 6.0.0 under it), as the registry has them. */
const INTEGRITY = {
  isNumber7: 'sha512-41Cifkg6e8TylSpdtTpeLVMqvSBEVzTttHvERD741+pnZ8ANv0004MRL43QKPDlK9cGvNp6NZWZUBlbGXYxxng==',
  isOdd3: 'sha512-CQpnWPrDwmP1+SMHXZhtLtJv90yiyVfluGsX5iNCVkrhQtU3TQHsUWPG9wkdk9Lgd5yNpAg9jQEo90CBaXgWMA==',
};
/** An integrity nothing has, for entries that must not be refused for having none. */
const MADE_UP_INTEGRITY = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;
/** The server's built code: never in a sandbox's view (a sandbox reads Node, the packages and its own folder). */
const SERVER_CODE = path.join(serverRoot, 'dist');
/** A path that, from wherever the install job runs, leads to `target` (enough `..` to reach `/`). */
const fromAnywhere = (target: string) => `${'../'.repeat(24)}${target.replace(/^\/+/, '')}`;

/** A pnpm lockfile (v9) as pnpm would write it for the installer's manifest, with `body` for importers, packages and snapshots. */
const pnpmLock = (body: string) => `lockfileVersion: '9.0'

settings:
  autoInstallPeers: false
  excludeLinksFromLockfile: false

overrides:
  remotion: 4.0.527

${body.trim()}
`;

/** The pnpm lockfile of `{"is-number": "^7.0.0"}` whose one entry is `key` resolved by `resolution`. */
const isNumberLockedTo = (version: string, resolution: string) =>
  pnpmLock(`
importers:

  .:
    dependencies:
      is-number:
        specifier: ^7.0.0
        version: ${version}

packages:

  is-number@${version}:
    resolution: ${resolution}

snapshots:

  is-number@${version}: {}
`);

/** An npm lockfile of `{"is-number": "^7.0.0"}` whose entry for it is `entry` (plus `extra` entries). */
const npmLock = (entry: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify(
    {
      name: 'film',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name: 'film', version: '1.0.0', dependencies: { 'is-number': '^7.0.0' } }, 'node_modules/is-number': entry, ...extra },
    },
    null,
    2,
  );

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** What an install holds: every path with its kind and content (a link's target), not following links. */
async function fingerprint(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string) => {
    for (const entry of (await readdir(folder)).sort()) {
      const full = path.join(folder, entry);
      const relative = path.relative(dir, full);
      const info = await lstat(full);
      if (info.isSymbolicLink()) found.push(`${relative} -> ${await readlink(full)}`);
      else if (info.isDirectory()) {
        found.push(`${relative}/`);
        await walk(full);
      } else found.push(`${relative} ${sha256(await readFile(full))}`);
    }
  };
  await walk(dir);
  return found;
}

/** `install()` as a promise that settles with the install or the error, whether it refuses at once or later. */
const outcome = (installer: Installer, request: InstallRequest): Promise<ProjectInstall | Error> =>
  Promise.resolve()
    .then(() => installer.install(request))
    .catch((error: unknown) => error as Error);

/**
 * A project's own packages, attacked as a hostile project would (issue 11): the lockfile
 * and package.json are the project's, so its author chooses every byte of them. What must
 * hold: an install reaches the npm registry and nothing else (not the server's loopback,
 * not its disk), runs no package's code, and what it installs can be changed by no
 * sandbox, not even the one that asked for it.
 */
describe("a project's packages under attack", () => {
  let scratch: string;
  let packagesDir: string;
  let installer: Installer;
  /** A server on the machine's loopback, where no install may ever reach. */
  let bait: http.Server;
  let baitPort: number;
  const baitRequests: string[] = [];
  /** What the registry's packages look like installed, by the manifest that asked for them. */
  const reference = new Map<string, string[]>();

  const isNumberOnly = JSON.stringify({ name: 'film', private: true, dependencies: { 'is-number': '^7.0.0' } });
  const isOddOnly = JSON.stringify({ name: 'film', private: true, dependencies: { 'is-odd': '^3.0.0' } });

  /**
   * The attack came to nothing: the install failed (its own error, nothing else), or it
   * installed exactly what the registry has for the manifest, with no link out of it.
   */
  async function expectRegistryOnly(attack: string, packageJson: string, result: ProjectInstall | Error) {
    if (result instanceof Error) {
      expect(result, `${attack}: ${result.stack}`).toBeInstanceOf(PackagesError);
      expect(['install_failed', 'package_refused'], attack).toContain((result as PackagesError).code);
      return;
    }
    expect(result.nodeModules, attack).not.toBeNull();
    const installed = await fingerprint(result.nodeModules!);
    expect(installed.filter((line) => line.includes(' -> ')), `${attack}: links`).toEqual([]);
    expect(installed, attack).toEqual(reference.get(packageJson));
  }

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cutroom-packages-attack-'));
    packagesDir = path.join(scratch, 'packages');
    installer = createInstaller({ dataDir: scratch, packagesDir, logger: pino({ level: 'silent' }) });
    bait = http.createServer((request, response) => {
      baitRequests.push(`${request.method} ${request.url}`);
      response.end('bait');
    });
    await new Promise<void>((resolve) => bait.listen(0, '127.0.0.1', resolve));
    const address = bait.address();
    baitPort = typeof address === 'object' && address ? address.port : 0;
    for (const packageJson of [isNumberOnly, isOddOnly]) {
      const clean = await installer.install({ packageJson });
      reference.set(packageJson, await fingerprint(clean.nodeModules!));
    }
    expect(reference.get(isNumberOnly)).toEqual(expect.arrayContaining(['is-number/', expect.stringMatching(/^is-number\/index\.js [0-9a-f]{64}$/)]));
  });
  afterAll(async () => {
    await new Promise((resolve) => bait?.close(resolve));
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  describe('a. a lockfile that resolves packages anywhere but the registry', () => {
    const pnpmAttacks: [string, string, () => string][] = [
      ['a tarball on the server’s loopback', isNumberOnly, () => isNumberLockedTo('7.0.0', `{integrity: ${MADE_UP_INTEGRITY}, tarball: http://127.0.0.1:${baitPort}/evil.tgz}`)],
      ['a tarball that is a file of the server', isNumberOnly, () => isNumberLockedTo('7.0.0', `{integrity: ${MADE_UP_INTEGRITY}, tarball: file:///etc/passwd}`)],
      [
        'a git repository on the server’s loopback',
        isNumberOnly,
        () => isNumberLockedTo(`git+http://127.0.0.1:${baitPort}/evil.git#0123456789abcdef0123456789abcdef01234567`, `{type: git, repo: 'http://127.0.0.1:${baitPort}/evil.git', commit: 0123456789abcdef0123456789abcdef01234567}`),
      ],
      ['a folder of the server (its built code)', isNumberOnly, () => isNumberLockedTo(`file:${fromAnywhere(SERVER_CODE)}`, `{directory: ${fromAnywhere(SERVER_CODE)}, type: directory}`)],
      ['a registry-looking entry resolved to a folder of the server', isNumberOnly, () => isNumberLockedTo('7.0.0', `{directory: ${fromAnywhere(SERVER_CODE)}, type: directory}`)],
      [
        'a link to /etc',
        isNumberOnly,
        () =>
          pnpmLock(`
importers:

  .:
    dependencies:
      is-number:
        specifier: ^7.0.0
        version: link:/etc
`),
      ],
      [
        'a relative link out of the install',
        isNumberOnly,
        () =>
          pnpmLock(`
importers:

  .:
    dependencies:
      is-number:
        specifier: ^7.0.0
        version: link:${fromAnywhere('etc')}
`),
      ],
      [
        'a dependency of a registry package resolved to a folder of the server',
        isOddOnly,
        () =>
          pnpmLock(`
importers:

  .:
    dependencies:
      is-odd:
        specifier: ^3.0.0
        version: 3.0.1

packages:

  is-number@file:${fromAnywhere(SERVER_CODE)}:
    resolution: {directory: ${fromAnywhere(SERVER_CODE)}, type: directory}

  is-odd@3.0.1:
    resolution: {integrity: ${INTEGRITY.isOdd3}}
    engines: {node: '>=4'}

snapshots:

  is-number@file:${fromAnywhere(SERVER_CODE)}: {}

  is-odd@3.0.1:
    dependencies:
      is-number: file:${fromAnywhere(SERVER_CODE)}
`),
      ],
      [
        'a dependency of a registry package linked to /etc',
        isOddOnly,
        () =>
          pnpmLock(`
importers:

  .:
    dependencies:
      is-odd:
        specifier: ^3.0.0
        version: 3.0.1

packages:

  is-odd@3.0.1:
    resolution: {integrity: ${INTEGRITY.isOdd3}}
    engines: {node: '>=4'}

snapshots:

  is-odd@3.0.1:
    dependencies:
      is-number: link:/etc
`),
      ],
    ];

    it.each(pnpmAttacks)('pnpm-lock.yaml: %s', async (attack, packageJson, lockfile) => {
      const result = await outcome(installer, { packageJson, lockfile: { name: 'pnpm-lock.yaml', text: lockfile() } });
      await expectRegistryOnly(attack, packageJson, result);
      expect(baitRequests).toEqual([]);
    });

    const npmAttacks: [string, () => string][] = [
      ['resolved to a tarball on the server’s loopback', () => npmLock({ version: '7.0.0', resolved: `http://127.0.0.1:${baitPort}/evil.tgz`, integrity: MADE_UP_INTEGRITY })],
      ['resolved to a file of the server', () => npmLock({ version: '7.0.0', resolved: 'file:///etc/passwd', integrity: INTEGRITY.isNumber7 })],
      ['resolved to a git repository on the server’s loopback', () => npmLock({ version: '7.0.0', resolved: `git+http://127.0.0.1:${baitPort}/evil.git#0123456789abcdef0123456789abcdef01234567` })],
      ['a version that is a folder of the server', () => npmLock({ version: `file:${fromAnywhere(SERVER_CODE)}`, resolved: `file:${fromAnywhere(SERVER_CODE)}` })],
      [
        'a link to a folder of the server',
        () => npmLock({ resolved: fromAnywhere(SERVER_CODE), link: true }, { [fromAnywhere(SERVER_CODE)]: { name: 'is-number', version: '7.0.0' } }),
      ],
    ];

    it.each(npmAttacks)('package-lock.json: %s', async (attack, lockfile) => {
      const result = await outcome(installer, { packageJson: isNumberOnly, lockfile: { name: 'package-lock.json', text: lockfile() } });
      await expectRegistryOnly(attack, isNumberOnly, result);
      expect(baitRequests).toEqual([]);
    });

    it("package.json's own overrides pointing off the registry are refused before anything runs; its settings are not honoured", async () => {
      const evil = `file:${fromAnywhere(SERVER_CODE)}`;
      // Overrides reach the install (manifest.ts): one that leaves the registry, in any of
      // the three spellings, is refused with its name, and nothing runs.
      for (const overrides of [
        { overrides: { 'is-number': evil } },
        { overrides: { 'is-odd': { 'is-number': evil } } },
        { overrides: { 'is-number': '$is-number' }, dependencies: { 'is-number': evil } },
        { resolutions: { 'is-number': `http://127.0.0.1:${baitPort}/evil.tgz` } },
        { resolutions: { '**/is-number': 'git+ssh://git@127.0.0.1/evil.git' } },
        { pnpm: { overrides: { 'is-number': 'link:/etc' } } },
        { pnpm: { overrides: { 'a>is-number': `npm:is-number@file:${fromAnywhere('etc')}` } } },
      ]) {
        const packageJson = JSON.stringify({ name: 'film', private: true, dependencies: { 'is-number': '^7.0.0' }, ...overrides });
        const result = await outcome(installer, { packageJson });
        expect(result, JSON.stringify(overrides)).toBeInstanceOf(PackagesError);
        expect((result as PackagesError).code).toBe('package_refused');
      }
      // pnpm's other settings (patches, a package manager) are not part of what is installed.
      const packageJson = JSON.stringify({
        name: 'film',
        private: true,
        dependencies: { 'is-number': '^7.0.0' },
        pnpm: { patchedDependencies: { 'is-number@7.0.0': fromAnywhere('etc/passwd') }, onlyBuiltDependencies: ['is-number'] },
        packageManager: 'pnpm@8.0.0',
      });
      expect(installManifest(packageJson).key).toBe(installManifest(isNumberOnly).key);
      const result = await outcome(installer, { packageJson });
      await expectRegistryOnly('settings', isNumberOnly, result);
      expect(baitRequests).toEqual([]);
    });

    it('left the shared store as the registry has it: the first install is unchanged', async () => {
      for (const [packageJson, expected] of reference) {
        const again = await installer.install({ packageJson });
        expect(again.ran).toBe(false);
        expect(await fingerprint(again.nodeModules!)).toEqual(expected);
      }
      expect(baitRequests).toEqual([]);
    });
  });

  it('b. no install script runs: not a package’s, not the project’s, whatever package.json allows', async () => {
    // esbuild's postinstall (`node install.js`) replaces its JavaScript launcher,
    // bin/esbuild, with the native binary of @esbuild/<platform> (a hard link of it): the
    // launcher still being JavaScript says the script never ran. (pnpm 10 would not run it
    // unless allowed either; the installer passes --ignore-scripts and the manifest it
    // installs carries no permission of the project's.)
    const packageJson = JSON.stringify({
      name: 'film',
      private: true,
      dependencies: { esbuild: '0.28.1' },
      scripts: { preinstall: 'echo evil', postinstall: 'echo evil', prepare: 'echo evil' },
      pnpm: { onlyBuiltDependencies: ['esbuild'], neverBuiltDependencies: [], dangerouslyAllowAllBuilds: true },
    });
    // The manifest installed says nothing of scripts or build permissions.
    expect(installManifest(packageJson).text).not.toMatch(/scripts|BuiltDependencies|dangerously|evil/);
    const result = await installer.install({ packageJson });
    const launcher = await readFile(path.join(result.nodeModules!, 'esbuild', 'bin', 'esbuild'));
    expect(launcher.subarray(0, 4).toString('latin1')).not.toBe('\x7fELF');
    expect(launcher.toString('utf8', 0, 20)).toMatch(/^#!\/usr\/bin\/env node/);
  });

  describe('c. from inside a sandbox, the installed packages cannot be changed', () => {
    let driver: LocalDriver;
    let unwalled: LocalDriver;
    let install: ProjectInstall;
    let installFiles: string[];

    beforeAll(async () => {
      install = await installer.install({ packageJson: isNumberOnly });
      installFiles = await fingerprint(install.nodeModules!);
      const settings = {
        sharedCacheDir: path.join(os.tmpdir(), 'cutroom-test-vite-deps'),
        templateDir: templateProjectDir,
        logger: pino({ level: 'silent' }),
        limits: { memoryMb: 1_024, pids: 300, cpus: 1.5, diskMb: 512 },
        readyTimeoutMs: STARTUP_MS,
      };
      driver = createLocalDriver({ ...settings, sandboxesDir: path.join(scratch, 'sandboxes') });
      // The same attacks without bubblewrap: the files' owner and modes hold on their own.
      unwalled = createLocalDriver({ ...settings, sandboxesDir: path.join(scratch, 'sandboxes-unwalled'), bubblewrap: false });
    });
    afterAll(async () => {
      for (const each of [driver, unwalled]) await each?.close?.();
    });

    const cases = [
      { name: 'bubblewrap (the installs read-only in its view)', walled: true },
      { name: 'no bubblewrap (the sandbox user has no right to them)', walled: false },
    ];

    it.for(cases)('$name', async ({ walled }, { skip }) => {
      // Where bubblewrap cannot run, sandboxes are not walled in by it: only the second case applies.
      if (walled && !bubblewrapWorks()) skip();
      const which = walled ? driver : unwalled;
      const sandbox = await which.start();
      try {
        expect(sandbox.confinement).toBe(walled ? 'bubblewrap' : 'none');
        await which.setPackages!(sandbox.id, install);
        const dir = path.join(scratch, walled ? 'sandboxes' : 'sandboxes-unwalled', sandbox.id);
        const workspace = path.join(dir, 'workspace');
        const packages = path.join(dir, 'packages');
        const inside = (script: string) => collect(which.spawnInside(sandbox.id, ['sh', '-c', script]), 30_000);

        // What the project sees: its node_modules is the install.
        const seen = await inside(`readlink ${workspace}/node_modules; cat ${workspace}/node_modules/is-number/package.json`);
        expect(seen.code, seen.stderr).toBe(0);
        expect(seen.stdout).toContain('../packages/current');
        expect(seen.stdout).toContain('"name": "is-number"');
        // The sandbox's own files are its to write (the attacks below fail for their target, not for a broken wall).
        const own = await inside(`echo mine > ${workspace}/mine.txt && cat ${workspace}/mine.txt`);
        expect(own.code, own.stderr).toBe(0);

        if (walled) {
          // The sandbox's view of the installs is a read-only mount (whatever the files' modes say).
          const mounts = await inside('cat /proc/self/mountinfo');
          const mount = mounts.stdout.split('\n').find((line) => line.split(' ')[4] === packages);
          expect(mount, mounts.stdout).toBeDefined();
          expect(mount!.split(' ')[5]!.split(',')).toContain('ro');
        }
        // Files not the sandbox user's, in folders not its own; in bubblewrap, on a read-only mount too.
        const refused = /Permission denied|Operation not permitted|Read-only file system|Invalid cross-device link/;
        const attacks = [
          `echo evil >> ${workspace}/node_modules/is-number/index.js`,
          `echo evil > ${workspace}/node_modules/is-number/evil.js`,
          `rm ${workspace}/node_modules/is-number/index.js`,
          `chmod 666 ${workspace}/node_modules/is-number/index.js`,
          `mv ${workspace}/node_modules/is-number ${workspace}/node_modules/was-is-number`,
          `echo evil > ${packages}/current/is-number/index.js`,
          `touch ${packages}/evil`,
          `ln -sfn /tmp ${packages}/current`,
          `mv ${packages}/current ${packages}/old`,
          `rm -r ${packages}/${install.key}`,
          `mkdir ${packages}/${install.key}/node_modules/evil`,
          // A hard link of an installed file into the sandbox's own folder, to write it there.
          `ln ${packages}/current/is-number/index.js ${workspace}/hard-link.js && echo evil >> ${workspace}/hard-link.js`,
        ];
        for (const attack of attacks) {
          const result = await inside(attack);
          expect(result.code, `${attack} succeeded`).not.toBe(0);
          expect(result.stderr, attack).toMatch(refused);
        }

        // Its own node_modules link is its own to replace: by a folder of its making, or a
        // link elsewhere. That changes its own view only.
        const replaced = await inside(
          [
            `rm ${workspace}/node_modules`,
            `mkdir -p ${workspace}/node_modules/is-number`,
            `echo 'module.exports = "evil";' > ${workspace}/node_modules/is-number/index.js`,
            `cat ${workspace}/node_modules/is-number/index.js`,
          ].join(' && '),
        );
        expect(replaced.code, replaced.stderr).toBe(0);
        expect(replaced.stdout).toContain('evil');
        const relinked = await inside(`rm -r ${workspace}/node_modules && ln -s ${packages}/${install.key}/node_modules/is-number ${workspace}/node_modules && echo evil >> ${workspace}/node_modules/index.js`);
        expect(relinked.code).not.toBe(0);
        expect(relinked.stderr).toMatch(refused);

        // Nothing of the install changed on the host: not its files, not the sandbox's view of it.
        expect(await fingerprint(install.nodeModules!)).toEqual(installFiles);
        expect(await fingerprint(path.join(packages, 'current'))).toEqual(installFiles);
        expect(await readlink(path.join(packages, 'current'))).toBe(`${install.key}/node_modules`);
        expect((await readdir(packages)).sort()).toEqual([install.key, 'current', 'empty'].sort());
      } finally {
        await which.destroy(sandbox.id);
      }
    });
  });

  describe('d. packages:wanted from the sandbox: the bridge takes only what fits the protocol', () => {
    const wanted = (fields: Record<string, unknown>) => JSON.stringify({ type: 'packages:wanted', ...fields });

    it('takes a package.json and a lockfile of the two kinds', () => {
      expect(decodeMessage(SandboxToServer, wanted({ packageJson: '{}' }))).toEqual({ type: 'packages:wanted', packageJson: '{}' });
      expect(decodeMessage(SandboxToServer, wanted({ packageJson: null }))).toEqual({ type: 'packages:wanted', packageJson: null });
      for (const name of ['pnpm-lock.yaml', 'package-lock.json']) {
        expect(decodeMessage(SandboxToServer, wanted({ packageJson: '{}', lockfile: { name, text: 'x' } }))).not.toBeNull();
      }
      expect(decodeMessage(SandboxToServer, wanted({ packageJson: 'x'.repeat(MAX_PACKAGE_MANIFEST_BYTES) }))).not.toBeNull();
    });

    it.each([
      ['a package.json over the limit', { packageJson: 'x'.repeat(MAX_PACKAGE_MANIFEST_BYTES + 1) }],
      ['a package.json that is no string', { packageJson: { dependencies: { 'is-number': '^7.0.0' } } }],
      ['a package.json that is a number', { packageJson: 7 }],
      ['no package.json at all', {}],
      ['a lockfile over the limit', { packageJson: '{}', lockfile: { name: 'pnpm-lock.yaml', text: 'x'.repeat(MAX_PACKAGE_LOCKFILE_BYTES + 1) } }],
      ['a lockfile named .npmrc', { packageJson: '{}', lockfile: { name: '.npmrc', text: 'registry=http://127.0.0.1:1/' } }],
      ['a lockfile named with a path', { packageJson: '{}', lockfile: { name: '../../pnpm-lock.yaml', text: 'x' } }],
      ['a lockfile named yarn.lock', { packageJson: '{}', lockfile: { name: 'yarn.lock', text: 'x' } }],
      ['a lockfile with no text', { packageJson: '{}', lockfile: { name: 'pnpm-lock.yaml' } }],
      ['a lockfile whose text is no string', { packageJson: '{}', lockfile: { name: 'pnpm-lock.yaml', text: ['x'] } }],
      ['a lockfile with a field more', { packageJson: '{}', lockfile: { name: 'pnpm-lock.yaml', text: 'x', path: '/etc/passwd' } }],
      ['a field more (a registry of its choosing)', { packageJson: '{}', registry: 'http://127.0.0.1:1/' }],
      ['a field more (an .npmrc)', { packageJson: '{}', npmrc: 'ignore-scripts=false' }],
    ])('refuses %s', (_label, fields) => {
      expect(decodeMessage(SandboxToServer, wanted(fields))).toBeNull();
    });

    it('a package.json that fits the frame in characters but not the installer in bytes is refused before anything runs', () => {
      // 200 000 characters of two bytes each: within the frame's count, over the installer's bytes.
      const packageJson = JSON.stringify({ description: 'é'.repeat(200_000), dependencies: { 'is-number': '^7.0.0' } });
      expect(decodeMessage(SandboxToServer, wanted({ packageJson }))).not.toBeNull();
      expect(() => installManifest(packageJson)).toThrow(expect.objectContaining({ code: 'manifest_invalid' }) as unknown as Error);
    });
  });
});
