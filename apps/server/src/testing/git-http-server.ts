import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFileOffLoopOrThrow } from '../exec-off-loop.js';

const gitEnvironment = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: '/nonexistent',
  LANG: 'C',
};

const git = (args: string[], cwd?: string) =>
  execFileOffLoopOrThrow('git', ['-c', 'user.name=Test', '-c', 'user.email=test@localhost', '-c', 'init.defaultBranch=main', ...args], {
    ...(cwd ? { cwd } : {}),
    env: gitEnvironment,
  });

/**
 * A git server for tests, on 127.0.0.1: `git http-backend` (git's smart HTTP, as hosts
 * serve it) behind a small Node HTTP server, each request one CGI run. `addRepository`
 * commits a folder's files as a bare repo it serves at `/<name>.git`.
 */
export async function startGitHttpServer() {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cutroom-git-http-'));
  const requests: string[] = [];

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push(`${request.method} ${url.pathname}${url.search}`);
    const child = spawn('git', ['http-backend'], {
      env: {
        ...gitEnvironment,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: request.method ?? 'GET',
        CONTENT_TYPE: request.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        GIT_PROTOCOL: String(request.headers['git-protocol'] ?? ''),
        HTTP_CONTENT_ENCODING: String(request.headers['content-encoding'] ?? ''),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    request.pipe(child.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        response.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else response.setHeader(name, value);
      }
      response.statusCode = status;
      response.write(head.subarray(end + 4));
    });
    child.on('close', () => response.end());
    child.on('error', () => {
      response.statusCode = 500;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    baseUrl,
    requests,
    /** Commits the files of `folder` (plus `extra` files, written by `prepare`) as `<name>.git`; returns its URL. */
    async addRepository(name: string, folder: string, prepare?: (work: string) => Promise<void>) {
      const work = await mkdtemp(path.join(os.tmpdir(), 'cutroom-git-work-'));
      try {
        await cp(folder, work, { recursive: true });
        await prepare?.(work);
        await git(['init', '--quiet'], work);
        await git(['add', '--all'], work);
        await git(['commit', '--quiet', '--message', 'First'], work);
        // A second commit: a shallow clone must bring only the latest.
        await git(['commit', '--quiet', '--allow-empty', '--message', 'Second'], work);
        await git(['clone', '--quiet', '--bare', work, path.join(root, `${name}.git`)]);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
      return `${baseUrl}/${name}.git`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

export type GitHttpServer = Awaited<ReturnType<typeof startGitHttpServer>>;
