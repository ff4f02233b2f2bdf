/**
 * Importing a project from a git repository by its URL. Only `https://` (and, behind an
 * explicit test setting, plain `http://` to this machine's loopback): no `file:`, `ssh`,
 * `git://`, `ext::`, no option-like values, no credentials. The host's addresses are
 * resolved and checked here (no private, loopback or link-local address), then pinned
 * for git (`http.curloptResolve`), and redirects are not followed, so a name that
 * resolves elsewhere the second time, or a server that redirects, cannot point the clone
 * at the server's own network. The clone is bare, shallow, one branch, no tags, no
 * hooks, no prompts, with a time and size limit; its files then come out through
 * `git archive` and go through the same checks as an uploaded archive (links refused…).
 */
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { mkdir, readdir, lstat, writeFile } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { AppError } from '../errors.js';
import { gitStream, spawnGit } from '../repos/git.js';
import { BYTE_EXACT_ATTRIBUTES } from '../repos/project-repos.js';
import { type ImportLimits, createImportWriter, hasControlCharacter, importErrors, readTar, withoutControlCharacters } from './project-import.js';

/** How often the clone's size on disk is measured against the limit (the limits' `archiveBytes`). */
const SIZE_CHECK_MS = 200;

export type GitImportOptions = {
  /**
   * Allow `http://` and `https://` to loopback addresses (127.0.0.0/8, ::1, localhost).
   * For tests, which serve a repository from this machine; never in production
   * (IMPORT_GIT_ALLOW_LOOPBACK).
   */
  allowLoopback?: boolean;
};

const refused = (why: string) => new AppError('import_git_url_refused', `That repository URL was refused: ${why}.`, 400);

/**
 * Addresses a clone must never reach: private, shared, loopback, link-local, multicast,
 * reserved. (BlockList checks an IPv4-mapped IPv6 address, `::ffff:10.0.0.1`, against
 * the IPv4 ranges itself.)
 */
const forbidden = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv6');
}
const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

const family = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');
const isLoopback = (address: string) => loopback.check(address, family(address));
const isForbidden = (address: string) => forbidden.check(address, family(address));

export type CheckedGitUrl = {
  /** The URL as git gets it (normalized). */
  url: string;
  /** `http.curloptResolve` entries pinning the host to the addresses checked here. */
  resolve: string[];
  /** Allowed as plain http (loopback, test setting). */
  http: boolean;
  /** The repository's name, from the URL's last segment (`repo.git` → `repo`). */
  name: string;
};

/**
 * Checks a repository URL given by a user and resolves its host. Refuses
 * (`import_git_url_refused`) anything but an `https://` URL of a public host without
 * credentials (and, with `allowLoopback`, an `http(s)://` URL of a loopback address).
 */
export async function checkGitUrl(raw: string, options: GitImportOptions = {}, resolveHost = lookup): Promise<CheckedGitUrl> {
  const text = raw.trim();
  if (text.startsWith('-')) throw refused('it looks like a git option, not a URL');
  if (/\s/.test(text) || hasControlCharacter(text)) throw refused('it holds spaces or control characters');
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(text)) throw refused('git transport helpers (such as ext::) are not allowed; use an https:// URL');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    if (/^[^/@\s]+@[^/:\s]+:/.test(text)) throw refused('it is an SSH address; only https:// URLs can be imported');
    throw refused('it is not a URL; paste the repository’s https:// address');
  }
  const plainHttp = url.protocol === 'http:';
  if (url.protocol !== 'https:' && !(plainHttp && options.allowLoopback)) {
    throw refused(`only https:// URLs can be imported, not ${url.protocol.replace(/:$/, '')}://`);
  }
  if (url.username || url.password) throw refused('it holds a user name or password; import a public repository, without credentials in the URL');
  if (!url.hostname) throw refused('it names no host');
  url.hash = '';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolveHost(host, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch {
      throw new AppError('import_git_failed', `The host ${host} could not be found.`, 400);
    }
    if (addresses.length === 0) throw new AppError('import_git_failed', `The host ${host} could not be found.`, 400);
  }
  const allLoopback = addresses.every(isLoopback);
  if (options.allowLoopback && allLoopback) {
    // The test setting: this machine only.
  } else {
    if (plainHttp) throw refused('only https:// URLs can be imported');
    if (addresses.some(isForbidden)) throw refused(`${host} is a private, loopback or reserved address`);
  }
  const port = url.port || (plainHttp ? '80' : '443');
  const pinned = addresses.map((address) => (isIP(address) === 6 ? `[${address}]` : address)).join(',');
  const segments = url.pathname.split('/').filter(Boolean);
  const name = decodeURIComponentSafe(segments.at(-1) ?? host).replace(/\.git$/i, '') || host;
  return { url: url.href, resolve: isIP(host) ? [] : [`${host}:${port}:${pinned}`], http: plainHttp, name };
}

function decodeURIComponentSafe(text: string) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Bytes under a folder (files only, links not followed). */
async function folderBytes(folder: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) total += await folderBytes(full);
    else total += (await lstat(full).catch(() => null))?.size ?? 0;
  }
  return total;
}

/** Git's message for people, without control characters, short. */
function gitMessage(stderr: string) {
  const lines = stderr
    .split('\n')
    .map((line) => withoutControlCharacters(line).trim())
    .filter((line) => line && !line.startsWith('hint:'));
  const fatal = lines.find((line) => line.startsWith('fatal:')) ?? lines.at(-1) ?? '';
  return fatal.replace(/^fatal:\s*/, '').slice(0, 300);
}

/** Clones `checked.url` (bare, shallow) into `bare`, within the time (`cloneMs`) and size (`archiveBytes`) limits. */
async function clone(checked: CheckedGitUrl, bare: string, limits: ImportLimits) {
  const config = [
    '-c', 'protocol.allow=never',
    '-c', 'protocol.https.allow=always',
    ...(checked.http ? ['-c', 'protocol.http.allow=always'] : []),
    '-c', 'http.followRedirects=false',
    // A transfer that stalls ends on its own too (below 1 KB/s for 20 s), even if this process is gone.
    '-c', 'http.lowSpeedLimit=1000',
    '-c', 'http.lowSpeedTime=20',
    '-c', 'credential.helper=',
    '-c', 'transfer.fsckObjects=true',
    '-c', 'core.askPass=',
    ...checked.resolve.flatMap((entry) => ['-c', `http.curloptResolve=${entry}`]),
  ];
  const { child, stop: kill } = spawnGit([...config, 'clone', '--bare', '--depth', '1', '--no-tags', '--single-branch', '--quiet', '--', checked.url, bare], {
    env: { GIT_TERMINAL_PROMPT: '0', GIT_PROTOCOL_FROM_USER: '0', GIT_ASKPASS: '/bin/false', SSH_ASKPASS: '/bin/false' },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    if (stderr.length < 8_000) stderr += text;
  });
  child.stdout?.resume();
  let stopped: AppError | null = null;
  const stop = (error: AppError) => {
    stopped ??= error;
    kill();
  };
  const timeoutMs = limits.cloneMs;
  const timer = setTimeout(
    () => stop(new AppError('import_git_failed', `Cloning the repository took longer than ${Math.round(timeoutMs / 1000)} s, so it was stopped.`, 400)),
    timeoutMs,
  );
  let measuring = false;
  const sizer = setInterval(() => {
    if (measuring) return;
    measuring = true;
    void folderBytes(bare)
      .then((bytes) => {
        if (bytes > limits.archiveBytes) stop(importErrors.tooLarge(limits.archiveBytes, 'The repository’s files and history'));
      })
      .finally(() => {
        measuring = false;
      });
  }, SIZE_CHECK_MS);
  try {
    // 'exit', not 'close': a helper git started may hold the pipes open a moment longer.
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    // Its last words (the error) may still be in the pipe.
    if (child.stderr && !child.stderr.destroyed) await Promise.race([once(child.stderr, 'close'), delay(500)]).catch(() => {});
    if (stopped) throw stopped;
    if (code !== 0) throw new AppError('import_git_failed', `The repository could not be cloned: ${gitMessage(stderr) || `git exited with ${code}`}.`, 400);
    // The last moments of a clone are not always seen by the timer.
    if ((await folderBytes(bare)) > limits.archiveBytes) throw importErrors.tooLarge(limits.archiveBytes, 'The repository’s files and history');
  } finally {
    clearTimeout(timer);
    clearInterval(sizer);
    // Whatever git started is gone with it, whatever happened.
    kill();
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
}

/**
 * Clones the repository into `work/clone.git` and reads its default branch's files into
 * `root` (an empty folder), through `git archive` and the archive checks.
 */
export async function readGitRepository(checked: CheckedGitUrl, work: string, root: string, limits: ImportLimits) {
  const bare = path.join(work, 'clone.git');
  await clone(checked, bare, limits);
  // No attribute of the repository's own may change or leave out what the archive holds.
  await mkdir(path.join(bare, 'info'), { recursive: true });
  await writeFile(path.join(bare, 'info', 'attributes'), BYTE_EXACT_ATTRIBUTES);
  const writer = createImportWriter(root, limits);
  const tar = gitStream(['--git-dir', bare, 'archive', '--format=tar', 'HEAD']);
  try {
    await readTar(tar, writer, limits);
  } catch (error) {
    if (error instanceof AppError && error.code === 'import_not_archive') {
      throw new AppError('import_git_failed', 'The repository’s files could not be read (is it empty?).', 400);
    }
    throw error;
  }
  return writer.stats;
}
