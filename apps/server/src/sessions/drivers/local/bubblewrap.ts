import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { SETPRIV, switchUserArguments } from './sandbox-users.js';

/**
 * bubblewrap: the wall of the local driver's sandboxes (and of its renders). Run by the
 * sandbox's own uid (setpriv drops to it first), so the namespaces are a user namespace's
 * and the process has no capability anywhere: `--unshare-all` takes the network (only its
 * own loopback is left), PIDs, IPC, UTS and cgroup views; the root is empty but for
 * read-only binds of the system, the runtime and its packages, a private sized `/tmp`, and
 * the read-write folders it is given. `--die-with-parent` ends it with its parent.
 */
export const BWRAP = '/usr/bin/bwrap';

/** A uid no sandbox draws (they start at 200000), for the probe. */
export const PROBE_UID = 199_999;

let probed: boolean | undefined;

/**
 * Whether bubblewrap is installed and can make its namespaces here (probed once). Probed
 * the way sandboxes run it: as an unprivileged user (a server that runs as root switches
 * to one first), so a kernel that refuses user namespaces shows here, not at the first
 * session.
 */
export function bubblewrapWorks(): boolean {
  if (probed !== undefined) return probed;
  if (!existsSync(BWRAP)) return (probed = false);
  const probe = [BWRAP, '--unshare-all', '--die-with-parent', '--ro-bind', '/usr', '/usr', ...systemLinks(), '--proc', '/proc', '--dev', '/dev', '--', '/usr/bin/true'];
  let command = probe;
  if (existsSync(SETPRIV)) command = [SETPRIV, ...(process.getuid?.() === 0 ? switchUserArguments(PROBE_UID) : ['--no-new-privs']), '--', ...probe];
  try {
    execFileSync(command[0]!, command.slice(1), { stdio: 'ignore', timeout: 10_000 });
    probed = true;
  } catch {
    probed = false;
  }
  return probed;
}

/**
 * What the local driver's sandboxes are walled in by here, and, when it is nothing, the
 * one warning that says what is missing and how to fix it (logged at start).
 */
export function localConfinement(): { confinement: 'bubblewrap' | 'none'; warning?: string } {
  if (bubblewrapWorks()) return { confinement: 'bubblewrap' };
  const installed = existsSync(BWRAP);
  const missing = installed
    ? 'bubblewrap is installed but cannot create its namespaces here (user namespaces are off, or the server runs in a container that forbids them)'
    : 'bubblewrap is not installed';
  const fix = installed ? 'allow unprivileged user namespaces (see docs/security.md)' : `${INSTALL_BUBBLEWRAP} (see docs/security.md)`;
  return {
    confinement: 'none',
    warning: `${missing}: sandboxes run UNCONFINED, with the server's network (127.0.0.1: the database, other services) and its view of the disk. Fine for trying Cutroom on your own projects; never run it for strangers like this. Fix: ${fix}.`,
  };
}

/** The command that installs bubblewrap, for the messages that say it is missing. */
export const INSTALL_BUBBLEWRAP = 'apt-get install -y bubblewrap';

/** `/bin`, `/lib`… as the host has them: links into `/usr` on a merged-usr system, else read-only binds. */
function systemLinks(): string[] {
  const args: string[] = [];
  for (const name of ['/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32']) {
    let info;
    try {
      info = lstatSync(name);
    } catch {
      continue;
    }
    if (info.isSymbolicLink()) args.push('--symlink', path.join('usr', path.basename(name)), name);
    else args.push('--ro-bind', name, name);
  }
  return args;
}

/** Files of `/etc` that programs in the sandbox read (name lookup, fonts, the dynamic loader); never the rest. */
const ETC_FILES = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/fonts', '/etc/localtime', '/etc/alternatives', '/etc/nsswitch.conf', '/etc/mime.types', '/etc/ssl/openssl.cnf', '/etc/chromium.d', '/etc/chromium'];

export type BubblewrapOptions = {
  /** Host folders the sandbox may write (its own folder), bound at the same path. */
  readWrite: string[];
  /** Host paths it may read (the runtime, its packages, the shared cache), at the same path. */
  readOnly: string[];
  /** Size of its private `/tmp`, in bytes. */
  tmpBytes: number;
  /** Its working folder (inside one of the binds). */
  cwd: string;
  /** Folders inside the read-write ones that it may only read (its view of the project's packages). */
  readOnlyInside?: string[];
};

/**
 * The `bwrap … --` prefix of a command line. Paths inside are the host's (bound at the
 * same place), so the runtime and its error messages name the same files either way.
 */
export function bubblewrapArguments(options: BubblewrapOptions): string[] {
  const args = [
    BWRAP,
    '--unshare-all',
    // No user namespaces inside: a namespace of its own would give project code root over a
    // network stack of its own, the usual way into kernel bugs (bwrap ≥ 0.8).
    '--unshare-user',
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/usr',
    '/usr',
    ...systemLinks(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(options.tmpBytes),
    '--tmpfs',
    '/tmp',
  ];
  for (const file of ETC_FILES) if (existsSync(file)) args.push('--ro-bind', file, file);
  for (const file of options.readOnly) if (existsSync(file)) args.push('--ro-bind', file, file);
  for (const folder of options.readWrite) args.push('--bind', folder, folder);
  for (const folder of options.readOnlyInside ?? []) args.push('--ro-bind', folder, folder);
  args.push('--chdir', options.cwd, '--');
  return args;
}
