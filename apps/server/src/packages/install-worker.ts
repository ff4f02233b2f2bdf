/**
 * The install job, inside its wall (installer.ts starts it): pnpm, with install scripts
 * off, installs the manifest in `INSTALL_DIR` (a `package.json`, and the project's
 * lockfile when it had one) into `INSTALL_DIR/node_modules`, hard-linking every file from
 * the machine's store (`INSTALL_STORE`), so a package version is on the disk once.
 *
 * The wall has no network: the registry is reached through a port of the job's own
 * loopback piped, byte for byte, to the server's registry proxy (`INSTALL_REGISTRY_SOCKET`),
 * which talks to the npm registry and nothing else. pnpm's own configuration comes only
 * from the command line here: the job's home is empty and the manifest's folder holds no
 * `.npmrc`.
 *
 * With `INSTALL_LOCK_DIR` (the project's whole `package.json` and its `package-lock.json`),
 * npm then brings that lockfile up to date, as `npm install` would (the turn's version
 * keeps it).
 *
 * Exit code 0: installed. Otherwise pnpm's last lines are on stderr for the server to
 * report.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';

const need = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const dir = need('INSTALL_DIR');
const store = need('INSTALL_STORE');
const socketPath = need('INSTALL_REGISTRY_SOCKET');
const pnpm = need('INSTALL_PNPM');

/** A port of the job's loopback whose connections go to the registry proxy's socket. */
async function forwarder(): Promise<{ origin: string; close(): void }> {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect(socketPath);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  // A fixed port where the job has a loopback of its own (the wall): pnpm keys its metadata
  // cache by the registry's address, so a port that changed every job would cache nothing.
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  const fixed = Number(process.env.INSTALL_REGISTRY_PORT ?? 0);
  await listen(fixed).catch(() => listen(0));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { origin: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

function run(args: string[], cwd = dir, cli = pnpm): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const registry = await forwarder();
const common = [
  `--config.registry=${registry.origin}`,
  `--config.store-dir=${store}`,
  // Package metadata kept beside the store for the next install.
  `--config.cache-dir=${store}/../pnpm-cache`,
  '--config.update-notifier=false',
  '--config.fetch-retries=1',
];
let code = 0;
// A project's npm lockfile pins its versions: pnpm takes them over (`pnpm import`).
if (existsSync(`${dir}/package-lock.json`) && !existsSync(`${dir}/pnpm-lock.yaml`)) code = await run(['import', ...common]);
if (code === 0) {
  code = await run([
    'install',
    ...common,
    // Cached metadata used as it is when it has what is asked for (a registry round trip
    // per package is most of a warm install).
    '--prefer-offline',
    '--ignore-scripts',
    '--config.node-linker=hoisted',
    '--config.package-import-method=hardlink',
    '--config.auto-install-peers=false',
    '--config.strict-peer-dependencies=false',
    '--config.side-effects-cache=false',
    '--config.confirm-modules-purge=false',
    '--config.verify-store-integrity=true',
    '--no-frozen-lockfile',
    // Always resolve from the registry, the lockfile's versions only preferred: a lockfile
    // that matches package.json is otherwise installed as it says, and the project writes
    // it (a `link:`, a `file:` folder, a directory or git resolution would bring whatever
    // the wall can read, or a link out of the install, into the install).
    '--config.prefer-frozen-lockfile=false',
    '--reporter=append-only',
  ]);
}
// The project's own npm lockfile, brought up to date with its package.json (every package
// it names, as `npm install` would write it: only the registry's metadata is read).
const lockDir = process.env.INSTALL_LOCK_DIR;
const npm = process.env.INSTALL_NPM;
const publicRegistry = process.env.INSTALL_REGISTRY_PUBLIC;
if (code === 0 && lockDir && npm && publicRegistry) {
  code = await run(
    [
      'install',
      '--package-lock-only',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--update-notifier=false',
      '--loglevel=error',
      // No configuration but this command line (files that do not exist, in the job's empty home).
      `--globalconfig=${need('HOME')}/no-global-npmrc`,
      `--userconfig=${need('HOME')}/no-user-npmrc`,
      `--registry=${registry.origin}`,
      `--cache=${need('INSTALL_NPM_CACHE')}`,
    ],
    lockDir,
    npm,
  );
  if (code === 0) {
    // Tarball URLs as the registry names them, not as the proxy in this job did.
    const file = `${lockDir}/package-lock.json`;
    writeFileSync(file, readFileSync(file, 'utf8').split(registry.origin).join(publicRegistry));
  }
}
registry.close();
process.exit(code);
