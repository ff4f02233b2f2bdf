/**
 * A session's sandbox asks for its project's packages (`packages:wanted`, at the hand-over
 * and after each change of `package.json` or the lockfile): the installer installs them,
 * the driver shows the install to the sandbox, and the sandbox hears `packages:ready`, or
 * why the install failed, which the preview shows and the agent gets like any preview
 * error. Only the latest request of a sandbox is answered (an agent that edits
 * `package.json` three times in a row gets one answer, for the last).
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import tar from 'tar-stream';
import type { PackagesWanted, ServerToSandbox } from '@cutroom/protocol';
import { PackagesError } from '../packages/manifest.js';
import type { Installer, ProjectInstall } from '../packages/installer.js';
import type { SandboxDriver } from './drivers/driver.js';

export type SessionPackages = ReturnType<typeof createSessionPackages>;

/** A tar stream of one file (the driver's way into a working copy). */
function singleFileTar(name: string, text: string): Readable {
  const pack = tar.pack();
  pack.entry({ name, mode: 0o644 }, Buffer.from(text));
  pack.finalize();
  return pack as unknown as Readable;
}

export function createSessionPackages(options: { installer: Installer; driver: SandboxDriver; logger: Logger }) {
  const { installer, driver, logger } = options;
  const sandboxes = new Map<string, { request: number; shown: string; pending: Promise<void> }>();

  async function want(sandboxId: string, wanted: PackagesWanted, send: (message: ServerToSandbox) => void): Promise<void> {
    if (!driver.setPackages) {
      send({ type: 'packages:ready', key: 'none' });
      return;
    }
    const state = sandboxes.get(sandboxId) ?? { request: 0, shown: 'none', pending: Promise.resolve() };
    sandboxes.set(sandboxId, state);
    const request = ++state.request;
    const latest = () => sandboxes.get(sandboxId) === state && state.request === request;
    const work = (async () => {
      try {
        const install: ProjectInstall = wanted.packageJson === null ? { key: 'none', nodeModules: null, ran: false } : await installer.install({ packageJson: wanted.packageJson, ...(wanted.lockfile ? { lockfile: wanted.lockfile } : {}) });
        if (!latest()) return;
        await driver.setPackages?.(sandboxId, install);
        if (!latest()) return;
        // The project's npm lockfile, now up to date with its package.json: into the working
        // copy, so the turn's version keeps it (the runtime reports it and is answered again).
        if (install.lockfile) await driver.writeFiles(sandboxId, 'workspace', singleFileTar('package-lock.json', install.lockfile));
        if (!latest()) return;
        state.shown = install.key;
        send({ type: 'packages:ready', key: install.key });
      } catch (error) {
        if (!latest()) return;
        if (!(error instanceof PackagesError)) logger.error({ err: error, sandboxId }, 'could not install a project’s packages');
        const reason = error instanceof PackagesError ? error.message : 'The packages in package.json could not be installed (the server could not run the install; its log says why).';
        send({ type: 'packages:ready', key: state.shown, error: reason.slice(0, 4_000) });
      }
    })();
    state.pending = work;
    return work;
  }

  return {
    want,
    /** Settles when the sandbox's latest request is answered. */
    settled: (sandboxId: string) => sandboxes.get(sandboxId)?.pending ?? Promise.resolve(),
    forget: (sandboxId: string) => void sandboxes.delete(sandboxId),
  };
}
