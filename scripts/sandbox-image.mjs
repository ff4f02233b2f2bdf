// `npm run sandbox:image`: builds the docker driver's sandbox image, cutroom-runtime:<version>,
// without a registry. It assembles a root filesystem from this machine (its Node, the
// libraries `ldd` names, Chromium and fonts, and the built app at /opt/cutroom) and
// imports it into the engine at DOCKER_HOST with `docker import`. The root `Dockerfile`
// builds the same layout on machines that can pull a Node image.
//
// An image whose `cutroom.content-hash` label matches what would be built is kept, so a
// rerun costs a few seconds. `--force` rebuilds anyway; `--hash` prints the content hash
// and stops. Run `npm run build` first.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { chmod, cp, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const image = process.env.SANDBOX_IMAGE || `cutroom-runtime:${version}`;
const dockerCli = process.env.DOCKER_CLI || 'docker';
const force = process.argv.includes('--force');

/** Where the app lives in the image; the docker driver runs `/opt/cutroom/packages/runtime/dist/main.js`. */
const APP = 'opt/cutroom';
/** The sandbox's user when the driver does not pick one (the driver usually does). */
const SANDBOX_UID = 10001;

/**
 * Packages the sandbox never loads: build, lint and test tools and the server's embedded
 * database. `@rspack` stays: @remotion/bundler requires it when it is loaded.
 */
const LEFT_OUT = new Set([
  'typescript',
  'playwright-core',
  '@electric-sql',
  'vitest',
  '@vitest',
  'eslint',
  '@eslint',
  '@eslint-community',
  'eslint-plugin-react-hooks',
  'typescript-eslint',
  '@typescript-eslint',
  '@types',
  '.cache',
  '.vite',
  '.vite-temp',
]);

/**
 * A shell and the common tools, from this machine: Node's `exec`, package scripts and the
 * agent's shell tool expect them. Nothing here is privileged (no setuid bits survive the
 * copy, and the sandbox runs with no-new-privileges anyway).
 */
const TOOLS = [
  'dash', 'cat', 'ls', 'stat', 'head', 'tail', 'sleep', 'tr', 'env', 'mkdir', 'rm', 'rmdir', 'cp', 'mv', 'touch', 'id',
  'wc', 'uname', 'date', 'dirname', 'basename', 'readlink', 'realpath', 'sort', 'uniq', 'cut', 'tee', 'test', 'true',
  'false', 'printf', 'echo', 'pwd', 'chmod', 'ln', 'du', 'df', 'grep', 'sed', 'find', 'xargs', 'diff', 'cmp', 'mktemp',
]
  .map((name) => `/usr/bin/${name}`)
  .filter((file) => existsSync(file));

const CHROMIUM_DIR = '/usr/lib/chromium';
/** Libraries Chromium loads with dlopen (NSS's modules), so `ldd` does not name them. */
const DLOPENED = ['libsoftokn3.so', 'libfreebl3.so', 'libfreeblpriv3.so', 'libnssckbi.so', 'libnssdbm3.so'].map(
  (name) => `/usr/lib/x86_64-linux-gnu/${name}`,
);

class ImageError extends Error {}

function fail(message) {
  console.error(`sandbox:image: ${message}`);
  process.exit(1);
}

function docker(args, options = {}) {
  return spawnSync(dockerCli, args, { encoding: 'utf8', ...options });
}

/** Every file under `folder` (symlinks not followed), relative paths, sorted. */
function walk(folder, skip = () => false, prefix = '') {
  const found = [];
  for (const entry of readdirSync(path.join(folder, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const relative = path.join(prefix, entry.name);
    if (skip(relative, entry)) continue;
    found.push(relative);
    if (entry.isDirectory()) found.push(...walk(folder, skip, relative));
  }
  return found;
}

const isLeftOut = (relative) => {
  const [first, second] = relative.split(path.sep);
  return LEFT_OUT.has(first) || (second !== undefined && LEFT_OUT.has(`${first}/${second}`));
};

/** The app's own folders that go into the image (small: hashed by content). */
function appSources() {
  const sources = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json'].filter((name) => existsSync(path.join(root, name)));
  // Each package's manifest and what it runs (dist, the template's project and Player
  // page, its own node_modules, its tsconfig that Vite reads); not its TypeScript sources.
  for (const name of readdirSync(path.join(root, 'packages'))) {
    for (const entry of readdirSync(path.join(root, 'packages', name))) {
      if (entry !== 'src') sources.push(path.join('packages', name, entry));
    }
  }
  // The render worker (apps/server/dist/exports) runs in a sandbox too.
  sources.push('apps/server/package.json', 'apps/server/tsconfig.json', 'apps/server/dist');
  return sources;
}

/** Native files (ELF) among `files`, so their libraries go into the image too. */
function elfFiles(base, files) {
  const found = [];
  for (const relative of files) {
    const file = path.join(base, relative);
    const info = lstatSync(file);
    if (!info.isFile() || info.size < 64) continue;
    if (!(info.mode & 0o111) && !/\.(node|so(\.\d+)*)$/.test(relative)) continue;
    const head = Buffer.alloc(4);
    const descriptor = openSync(file, 'r');
    try {
      readSync(descriptor, head, 0, 4, 0);
    } finally {
      closeSync(descriptor);
    }
    if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) found.push(file);
  }
  return found;
}

/** The shared libraries (and the dynamic loader) that `ldd` names for `binaries`. */
function libraries(binaries) {
  const found = new Set();
  const missing = new Set();
  for (const binary of binaries) {
    const result = spawnSync('ldd', [binary], { encoding: 'utf8' });
    if (result.status !== 0) continue; // static, or for another libc (a musl variant npm installed anyway)
    for (const line of result.stdout.split('\n')) {
      const resolved = line.match(/=>\s+(\/\S+)/);
      const loader = line.match(/^\s*(\/\S+)\s+\(/);
      // A library of the checkout itself (a native addon's $ORIGIN neighbour) comes with the app's files.
      if (resolved && resolved[1].startsWith(root + path.sep)) continue;
      if (resolved) found.add(resolved[1]);
      else if (loader) found.add(loader[1]);
      else if (line.includes('not found')) {
        // A library beside the binary is found at run time through its own $ORIGIN path.
        const name = line.trim().split(/\s/)[0];
        if (!existsSync(path.join(path.dirname(binary), name))) missing.add(`${line.trim()} (for ${binary})`);
      }
    }
  }
  return { found: [...found].sort(), missing: [...missing] };
}

/** Hard links where the temp folder shares a file system with the sources (no copying), a copy elsewhere. */
async function place(source, target) {
  await mkdir(path.dirname(target), { recursive: true });
  const info = lstatSync(source);
  if (info.isDirectory()) {
    const result = spawnSync('cp', ['-al', source, target]);
    if (result.status === 0) return;
    await rm(target, { recursive: true, force: true });
    await cp(source, target, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    return;
  }
  if (info.isSymbolicLink()) {
    await cp(source, target, { verbatimSymlinks: true });
    return;
  }
  try {
    await link(source, target);
  } catch {
    await cp(source, target, { preserveTimestamps: true });
  }
}

/** Copies a file as the path `ldd` printed (following its links), so the loader finds it where it looks. */
async function placeLibrary(rootfs, library) {
  const target = path.join(rootfs, library);
  if (existsSync(target)) return;
  await mkdir(path.dirname(target), { recursive: true });
  const result = spawnSync('cp', ['-L', '--preserve=mode,timestamps', library, target]);
  if (result.status !== 0) throw new ImageError(`could not copy ${library}: ${result.stderr}`);
}

async function assemble(rootfs, plan) {
  // Debian's merged /usr: /bin, /lib, /lib64 and /sbin are links into /usr.
  for (const folder of ['usr/bin', 'usr/lib', 'usr/lib64', 'usr/sbin', 'usr/local/bin', 'etc', 'opt', 'var/cache', 'proc', 'sys', 'dev', 'root']) {
    await mkdir(path.join(rootfs, folder), { recursive: true });
  }
  for (const name of ['bin', 'lib', 'lib64', 'sbin']) await symlink(`usr/${name}`, path.join(rootfs, name));

  await cp(process.execPath, path.join(rootfs, 'usr/bin/node'), { preserveTimestamps: true });
  // Node's debug symbols are about a fifth of its size and no use in a sandbox.
  spawnSync('strip', ['--strip-debug', path.join(rootfs, 'usr/bin/node')]);
  // A shell (dash as /bin/sh) and the common tools; copies, so no mode of the host's file travels.
  for (const tool of TOOLS) {
    const target = path.join(rootfs, tool.slice(1));
    await cp(tool, target);
    await chmod(target, 0o755);
  }
  await symlink('dash', path.join(rootfs, 'usr/bin/sh'));

  if (plan.chromium) {
    await place(CHROMIUM_DIR, path.join(rootfs, CHROMIUM_DIR.slice(1)));
    // Renders use the binary itself: Debian's /usr/bin/chromium is a shell script that needs coreutils.
    await symlink('../lib/chromium/chromium', path.join(rootfs, 'usr/bin/chromium'));
    for (const folder of ['/usr/share/fonts', '/etc/fonts', '/var/cache/fontconfig']) {
      if (existsSync(folder)) await place(folder, path.join(rootfs, folder.slice(1)));
    }
  }
  for (const library of plan.libraries) await placeLibrary(rootfs, library);

  const app = path.join(rootfs, APP);
  await mkdir(app, { recursive: true });
  for (const source of appSources()) await place(path.join(root, source), path.join(app, source));
  const modules = path.join(root, 'node_modules');
  for (const name of readdirSync(modules)) {
    if (LEFT_OUT.has(name)) continue;
    if (name.startsWith('@')) {
      for (const scoped of readdirSync(path.join(modules, name))) {
        if (!LEFT_OUT.has(`${name}/${scoped}`)) await place(path.join(modules, name, scoped), path.join(app, 'node_modules', name, scoped));
      }
    } else {
      await place(path.join(modules, name), path.join(app, 'node_modules', name));
    }
  }

  // Users by number only: the driver picks the sandbox's uid; these name the usual ones.
  await writeFile(
    path.join(rootfs, 'etc/passwd'),
    `root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:${SANDBOX_UID}:${SANDBOX_UID}:sandbox:/sandbox/home:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  await writeFile(path.join(rootfs, 'etc/group'), `root:x:0:\nsandbox:x:${SANDBOX_UID}:\nnogroup:x:65534:\n`);
  await writeFile(path.join(rootfs, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files\n');
  // The engine mounts its own over these; they must exist on a read-only root.
  for (const name of ['hosts', 'hostname', 'resolv.conf']) await writeFile(path.join(rootfs, 'etc', name), name === 'hosts' ? '127.0.0.1 localhost\n' : '');
  await chmod(path.join(rootfs, 'root'), 0o700);
  await mkdir(path.join(rootfs, 'tmp'), { recursive: true });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  // Mount points of the driver's binds (the root file system is read-only in a sandbox).
  for (const folder of ['sandbox/workspace', 'sandbox/agent', 'sandbox/home', 'sandbox/vite', 'sandbox/sock', 'cache/vite-deps']) {
    await mkdir(path.join(rootfs, folder), { recursive: true });
  }
}

/**
 * What decides the image's content: this script, the app's files (by content), the
 * installed packages (the lockfile and every file's path and size: `npm ci` rewrites
 * their times), and the machine's Node, libraries and Chromium (by path, size, time).
 */
function contentHash(plan) {
  const hash = createHash('sha256');
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const source of appSources()) {
    const full = path.join(root, source);
    const files = statSync(full).isDirectory() ? walk(full).map((relative) => path.join(source, relative)) : [source];
    for (const file of files) {
      const info = lstatSync(path.join(root, file));
      hash.update(`${file}\0`);
      if (info.isFile()) hash.update(readFileSync(path.join(root, file)));
      else if (info.isSymbolicLink()) hash.update(`-> ${execFileSync('readlink', [path.join(root, file)], { encoding: 'utf8' })}`);
    }
  }
  for (const file of plan.moduleFiles) {
    const info = lstatSync(path.join(root, 'node_modules', file));
    hash.update(`${file}\0${info.isFile() ? info.size : info.isSymbolicLink() ? 'link' : 'dir'}\n`);
  }
  const system = [process.execPath, ...TOOLS, ...plan.libraries];
  if (plan.chromium) system.push(...walk(CHROMIUM_DIR).map((relative) => path.join(CHROMIUM_DIR, relative)), ...walk('/usr/share/fonts').map((relative) => path.join('/usr/share/fonts', relative)));
  for (const file of system) {
    const info = statSync(file);
    hash.update(`${file}\0${info.size}\0${info.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 32);
}

function imageLabel() {
  const result = docker(['image', 'inspect', '--format', '{{index .Config.Labels "cutroom.content-hash"}}', image]);
  return result.status === 0 ? result.stdout.trim() : undefined;
}

async function main() {
  const started = Date.now();
  if (!existsSync(path.join(root, 'packages/runtime/dist/main.js'))) fail('packages/runtime/dist is missing: run `npm run build` first.');
  const engine = docker(['version', '--format', '{{.Server.Version}}']);
  if (engine.status !== 0) {
    fail(`no Docker engine answers at ${process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock'} (set DOCKER_HOST): ${(engine.stderr || engine.error?.message || '').trim()}`);
  }

  const modules = path.join(root, 'node_modules');
  const moduleFiles = walk(modules, (relative) => isLeftOut(relative));
  const chromium = existsSync(path.join(CHROMIUM_DIR, 'chromium'));
  if (!chromium) console.error('sandbox:image: Chromium is not installed (apt-get install chromium): the image will not be able to render.');
  const binaries = [process.execPath, ...TOOLS, ...elfFiles(modules, moduleFiles)];
  if (chromium) {
    binaries.push(...elfFiles(CHROMIUM_DIR, walk(CHROMIUM_DIR)), ...DLOPENED.filter((file) => existsSync(file)));
  }
  const { found, missing } = libraries(binaries);
  const plan = { chromium, moduleFiles, libraries: [...new Set([...found, ...DLOPENED.filter((file) => chromium && existsSync(file))])] };
  for (const line of missing) console.error(`sandbox:image: a library is missing on this machine: ${line}`);

  const hash = contentHash(plan);
  if (process.argv.includes('--hash')) {
    console.log(hash);
    return;
  }
  if (!force && imageLabel() === hash) {
    console.log(`sandbox:image: ${image} is up to date (content ${hash}), checked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return;
  }

  const previous = docker(['image', 'inspect', '--format', '{{.Id}}', image]).stdout?.trim();
  const rootfs = await mkdtemp(path.join(os.tmpdir(), 'cutroom-rootfs-'));
  try {
    await assemble(rootfs, plan);
    const changes = [
      `LABEL cutroom.content-hash=${hash}`,
      `LABEL cutroom.version=${version}`,
      'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      'ENV NODE_ENV=development',
      `USER ${SANDBOX_UID}:${SANDBOX_UID}`,
      'WORKDIR /sandbox',
      `CMD ["/usr/bin/node", "/${APP}/packages/runtime/dist/main.js"]`,
    ];
    // Owned by root inside the image, whoever built it; hard links stay links in the archive.
    const tar = spawn('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const importing = spawn(dockerCli, ['import', ...changes.flatMap((change) => ['--change', change]), '-', image], { stdio: ['pipe', 'pipe', 'inherit'] });
    tar.stdout.pipe(importing.stdin);
    const [tarCode, importCode] = await Promise.all([
      new Promise((resolve) => tar.on('close', resolve)),
      new Promise((resolve) => importing.on('close', resolve)),
    ]);
    if (tarCode !== 0) throw new ImageError(`tar exited with ${tarCode}`);
    if (importCode !== 0) throw new ImageError(`docker import exited with ${importCode}`);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
  // Images this one replaced stay behind untagged: remove those no container uses any more.
  if (previous) docker(['image', 'prune', '--force', '--filter', 'label=cutroom.content-hash']);
  const size = Number(docker(['image', 'inspect', '--format', '{{.Size}}', image]).stdout.trim());
  console.log(
    `sandbox:image: built ${image} (content ${hash}): ${(size / 1024 ** 2).toFixed(0)} MiB, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

main().catch((error) => fail(error instanceof ImageError ? error.message : (error?.stack ?? String(error))));
