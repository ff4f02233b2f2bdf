import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { templateProjectDir } from '@cutroom/template';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../repos/git.js';
import { createLocalDriver } from '../sessions/drivers/local/local-driver.js';
import { isAlive, waitFor } from '../testing/processes.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { recoverSandboxWork } from './recovery.js';

/** A server that died mid-turn: the next start saves what the working copy held. */
describe('recovery after a crash', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.close());

  it("commits a crashed sandbox's working copy and answers every unanswered message, naming the version", async () => {
    const owner = await server.signupWithProject('Crashed');
    const settings = {
      sandboxesDir: path.join(server.dataDir, 'sandboxes'),
      sharedCacheDir: path.join(os.tmpdir(), 'cutroom-test-vite-deps'),
      templateDir: templateProjectDir,
      logger: pino({ level: 'silent' }),
      // A loaded machine (CI, parallel suites) may take long to start a runtime.
      readyTimeoutMs: 300_000,
    };
    // The earlier server: a session's sandbox with the project checked out, mid-turn.
    const earlier = createLocalDriver(settings);
    const sandbox = await earlier.start();
    await earlier.label(sandbox.id, { projectId: owner.projectId, ownerId: owner.user.id });
    const latest = await server.repos.archive(owner.projectId);
    await earlier.writeFiles(sandbox.id, 'workspace', latest.tar, { replace: true });
    // The agent's edit, made where the local driver keeps the working copy (DATA_DIR/sandboxes/<id>/workspace).
    const scene = path.join(settings.sandboxesDir, sandbox.id, 'workspace', 'src', 'scenes', 'TitleScene.tsx');
    await writeFile(scene, (await readFile(scene, 'utf8')).replace('Your video starts here', 'Half-way through a turn'));
    // An answered turn, then the turn the crash cut (its reply was never saved) and one queued behind it.
    const add = (role: 'user' | 'assistant', content: string) => server.store.messages.add({ id: crypto.randomUUID(), projectId: owner.projectId, role, content });
    await add('user', 'Hello');
    await add('user', 'Change the title');
    await add('assistant', 'Hello to you.');
    await add('user', 'Then make it blue');
    // A warm-pool sandbox, never given to a project: nothing to recover.
    const spare = await earlier.start();

    // The next server's start.
    const next = createLocalDriver(settings);
    const reaped = await next.reap((orphan) => recoverSandboxWork({ store: server.store, repos: server.repos, logger: pino({ level: 'silent' }) }, orphan));
    expect(reaped.sort()).toEqual([sandbox.id, spare.id].sort());
    await waitFor(() => !isAlive(sandbox.pid!) && !isAlive(spare.pid!));
    expect(existsSync(path.join(settings.sandboxesDir, sandbox.id))).toBe(false);

    const project = (await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json;
    const saved = await git(['--git-dir', server.repos.repoPath(owner.projectId), 'show', `${project.project.currentVersion}:src/scenes/TitleScene.tsx`]);
    expect(saved).toContain('Half-way through a turn');
    const version: string = project.project.currentVersion;
    const [cut, queued] = project.messages.slice(-2);
    expect(cut).toMatchObject({ role: 'assistant', status: 'failed', version });
    expect(cut.content).toContain(`The server restarted during this turn; what the agent had written was saved as version ${version.slice(0, 7)}.`);
    expect(cut.content).not.toMatch(/send (it|the message) again/i);
    expect(queued).toMatchObject({ role: 'assistant', status: 'failed', version: null });
    expect(queued.content).toContain('Then make it blue');
  });
});
