import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROTOCOL_VERSION, RestoreVersionResponse, VersionDiffResponse, VersionListResponse } from '@cutroom/protocol';
import { type ScriptedModelServer, startScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantPreviewCookie } from '../testing/preview-cookie.js';
import { type TestServer, startTestServer } from '../testing/test-server.js';
import { type TestClient, connectClient } from '../testing/ws-client.js';

const TITLE_FILE = 'src/scenes/TitleScene.tsx';
const ORIGINAL_TITLE = 'Your video starts here';

async function setTitle(workspace: string, title: string) {
  const file = path.join(workspace, TITLE_FILE);
  await writeFile(file, (await readFile(file, 'utf8')).replace(/title = '[^']*'/, `title = '${title}'`));
}

/** The history routes on a real server: real git, real PGlite. */
describe('history over HTTP', () => {
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  let workspace = '';
  /** Oldest first: the template, then two versions the agent made. */
  const made: string[] = [];
  const versionsUrl = (query = '') => `/api/projects/${owner.projectId}/versions${query}`;
  const expectError = (response: { status: number; json: any; text: string }, status: number, code: string) => {
    expect(response.status, response.text).toBe(status);
    expect(response.json?.error?.code, response.text).toBe(code);
    expect(response.json.error.message).toEqual(expect.any(String));
  };

  beforeAll(async () => {
    server = await startTestServer();
    owner = await server.signupWithProject('History');
    workspace = path.join(server.dataDir, 'work');
    await mkdir(workspace);
    made.push(await server.repos.checkout(owner.projectId, workspace));
    for (const title of ['First change', 'Second change']) {
      await setTitle(workspace, title);
      const commit = await server.repos.commitWorkspace(owner.projectId, workspace, { message: `Make the title say ${title}`, author: 'agent' });
      made.push(commit.version);
    }
  });
  afterAll(async () => server?.close());

  it('lists versions newest first, in pages', async () => {
    const response = await server.request('GET', versionsUrl(), { cookie: owner.cookie });
    expect(response.status, response.text).toBe(200);
    const page = VersionListResponse.parse(response.json);
    expect(page.currentVersion).toBe(made[2]);
    expect(page.nextBefore).toBeNull();
    expect(page.versions.map((version) => version.id)).toEqual([...made].reverse());
    expect(page.versions[0]).toMatchObject({ author: 'agent', message: 'Make the title say Second change', parentId: made[1], files: [{ path: TITLE_FILE, change: 'modified' }] });
    expect(page.versions[2]).toMatchObject({ author: 'user', message: 'Create project from the template', parentId: null });

    const first = VersionListResponse.parse((await server.request('GET', versionsUrl('?limit=2'), { cookie: owner.cookie })).json);
    expect(first.versions.map((version) => version.id)).toEqual([made[2], made[1]]);
    expect(first.nextBefore).toBe(made[1]);
    const second = VersionListResponse.parse((await server.request('GET', versionsUrl(`?limit=2&before=${first.nextBefore}`), { cookie: owner.cookie })).json);
    expect(second.versions.map((version) => version.id)).toEqual([made[0]]);
    expect(second.nextBefore).toBeNull();
  });

  it('refuses bad queries (validation_failed) and cursors that are not versions (not_found)', async () => {
    for (const query of ['?limit=0', '?limit=101', '?limit=abc', '?limit=', '?limit=1.5', '?before=abc', `?before=${made[0]!.toUpperCase()}`, '?limit=1&limit=2', '?page=2']) {
      const response = await server.request('GET', versionsUrl(query), { cookie: owner.cookie });
      expectError(response, 400, 'validation_failed');
      expect(response.json.error.issues.length).toBeGreaterThan(0);
    }
    const unknown = await server.request('GET', versionsUrl(`?before=${'e'.repeat(40)}`), { cookie: owner.cookie });
    expectError(unknown, 404, 'not_found');
    expect(unknown.json.error.message).toBe('That version was not found.');
  });

  it('diffs a version against its parent or another version', async () => {
    const response = await server.request('GET', `${versionsUrl()}/${made[2]}/diff`, { cookie: owner.cookie });
    expect(response.status, response.text).toBe(200);
    const diff = VersionDiffResponse.parse(response.json);
    expect(diff).toMatchObject({ version: made[2], against: made[1], truncated: false });
    expect(diff.files).toHaveLength(1);
    expect(diff.files[0]).toMatchObject({ path: TITLE_FILE, change: 'modified', binary: false, truncated: false });
    expect(diff.files[0]!.patch).toContain("-  title = 'First change',\n+  title = 'Second change',");

    const against = VersionDiffResponse.parse((await server.request('GET', `${versionsUrl()}/${made[2]}/diff?against=${made[0]}`, { cookie: owner.cookie })).json);
    expect(against.against).toBe(made[0]);
    expect(against.files[0]!.patch).toContain(`-  title = '${ORIGINAL_TITLE}',`);

    const root = VersionDiffResponse.parse((await server.request('GET', `${versionsUrl()}/${made[0]}/diff`, { cookie: owner.cookie })).json);
    expect(root.against).toBeNull();
    expect(root.files.length).toBeGreaterThan(3);

    expectError(await server.request('GET', `${versionsUrl()}/${made[2]}/diff?against=nope`, { cookie: owner.cookie }), 400, 'validation_failed');
    expectError(await server.request('GET', `${versionsUrl()}/${made[2]}/diff?other=1`, { cookie: owner.cookie }), 400, 'validation_failed');
    expectError(await server.request('GET', `${versionsUrl()}/${made[2]}/diff?against=${'e'.repeat(40)}`, { cookie: owner.cookie }), 404, 'not_found');
  });

  it('bad or unknown version ids in the path are not_found', async () => {
    for (const id of ['abc', made[0]!.toUpperCase(), `${made[0]}0`, 'e'.repeat(40), '..%2f..%2f']) {
      expectError(await server.request('GET', `${versionsUrl()}/${id}/diff`, { cookie: owner.cookie }), 404, 'not_found');
      expectError(await server.request('POST', `${versionsUrl()}/${id}/restore`, { cookie: owner.cookie }), 404, 'not_found');
    }
  });

  it("another user's project is not found on every history route, and nothing is restored", async () => {
    const intruder = await server.signup();
    const current = (await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json.project.currentVersion;
    expectError(await server.request('GET', versionsUrl(), { cookie: intruder.cookie }), 404, 'not_found');
    expectError(await server.request('GET', `${versionsUrl()}/${made[1]}/diff`, { cookie: intruder.cookie }), 404, 'not_found');
    expectError(await server.request('POST', `${versionsUrl()}/${made[0]}/restore`, { cookie: intruder.cookie }), 404, 'not_found');
    expectError(await server.request('GET', versionsUrl(), {}), 401, 'unauthenticated');
    expect(await server.repos.versions.current(owner.projectId)).toBe(made[2]);
    expect((await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json.project.currentVersion).toBe(current);
  });

  it('restores a version (the project follows), says when nothing had to change, and undoes', async () => {
    const response = await server.request('POST', `${versionsUrl()}/${made[0]}/restore`, { cookie: owner.cookie });
    expect(response.status, response.text).toBe(200);
    const restored = RestoreVersionResponse.parse(response.json);
    expect(restored.restored).toBe(true);
    expect(restored.version).toMatchObject({ author: 'restore', restoredFrom: made[0], parentId: made[2], message: 'Restore "Create project from the template"' });
    expect(restored.project.currentVersion).toBe(restored.version.id);
    const project = (await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json.project;
    expect(project.currentVersion).toBe(restored.version.id);
    const list = VersionListResponse.parse((await server.request('GET', versionsUrl('?limit=1'), { cookie: owner.cookie })).json);
    expect(list.versions[0]).toEqual(restored.version);
    expect(list.currentVersion).toBe(restored.version.id);

    const again = RestoreVersionResponse.parse((await server.request('POST', `${versionsUrl()}/${made[0]}/restore`, { cookie: owner.cookie })).json);
    expect(again).toMatchObject({ restored: false, version: { id: restored.version.id } });

    // Undo: restore the current version's parent.
    const undo = RestoreVersionResponse.parse((await server.request('POST', `${versionsUrl()}/${restored.version.parentId}/restore`, { cookie: owner.cookie })).json);
    expect(undo).toMatchObject({ restored: true, version: { author: 'restore', restoredFrom: made[2], parentId: restored.version.id } });
    expect(undo.project.currentVersion).toBe(undo.version.id);
    const diff = VersionDiffResponse.parse((await server.request('GET', `${versionsUrl()}/${undo.version.id}/diff`, { cookie: owner.cookie })).json);
    expect(diff.files[0]!.patch).toContain("+  title = 'Second change',");
  });
});

/** A restore while the project is open: its working copy and preview follow; a running turn refuses it. */
describe('restore with a live session', () => {
  let model: ScriptedModelServer;
  let server: TestServer;
  let owner: { cookie: string; projectId: string };
  let client: TestClient;
  let ready: { previewUrl: string };
  let workspace = '';
  let first = '';

  beforeAll(async () => {
    model = await startScriptedModelServer({
      scenario: { rules: [{ match: 'slowly', steps: [{ text: 'One. Two. Three. Four. Five. Six. Seven. Eight.', delayMs: 300 }] }], fallback: [{ text: 'Done.' }] },
    });
    server = await startTestServer({ environment: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'scripted' }, sessions: { graceMs: 5_000, poolSize: 0 } });
    owner = await server.signupWithProject('Live history');
    first = (await server.request('GET', `/api/projects/${owner.projectId}`, { cookie: owner.cookie })).json.project.currentVersion;
    client = await connectClient(server.baseUrl, owner.cookie);
    client.send({ type: 'session:start', projectId: owner.projectId, protocolVersion: PROTOCOL_VERSION });
    ready = await client.next((message) => message.type === 'session:ready');
    const sandboxId = new URL(ready.previewUrl).pathname.split('/')[2]!;
    workspace = path.join(server.dataDir, 'sandboxes', sandboxId, 'workspace');
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
    await model?.close();
  });

  it("brings the session's working copy and its preview to the restored version", async () => {
    await setTitle(workspace, 'Edited in the sandbox');
    const edited = await server.repos.commitWorkspace(owner.projectId, workspace, { message: 'Make the title say Edited in the sandbox', author: 'agent' });
    expect(edited.changed).toBe(true);
    const previewModule = `${new URL(ready.previewUrl).origin}${new URL(ready.previewUrl).pathname}@fs${workspace}/${TITLE_FILE}`;
    const cookie = await grantPreviewCookie(ready.previewUrl);
    expect((await fetch(ready.previewUrl.split('?')[0]!, { headers: { cookie } })).status).toBe(200);
    expect(await (await fetch(previewModule, { headers: { cookie } })).text()).toContain('Edited in the sandbox');

    const response = await server.request('POST', `/api/projects/${owner.projectId}/versions/${first}/restore`, { cookie: owner.cookie });
    expect(response.status, response.text).toBe(200);
    const restored = RestoreVersionResponse.parse(response.json);
    expect(restored.version.parentId).toBe(edited.version);

    const text = await readFile(path.join(workspace, TITLE_FILE), 'utf8');
    expect(text).toContain(`title = '${ORIGINAL_TITLE}'`);
    const served = await (await fetch(previewModule, { headers: { cookie } })).text();
    expect(served).toContain(ORIGINAL_TITLE);
    expect(served).not.toContain('Edited in the sandbox');
    // The next turn's commit finds nothing to save: it does not undo the restore.
    expect(await server.repos.commitWorkspace(owner.projectId, workspace, { message: 'nothing', author: 'agent' })).toEqual({
      version: restored.version.id,
      changed: false,
      skipped: [],
    });
    expect(server.sessions!.list()[0]!.state).toBe('running');
  });

  it('refuses a restore while an agent turn runs (version_conflict), and takes it once the turn is over', async () => {
    const target = (await server.repos.versions.list(owner.projectId, { limit: 2 })).versions[1]!.id;
    client.send({ type: 'message:send', text: 'Count slowly', clientMessageId: 'slow' });
    const saved = await client.next((message) => message.type === 'message:saved' && message.clientMessageId === 'slow');
    const turn = await client.next((message) => message.type === 'agent:turn' && message.userMessageId === saved.message.id);
    const refused = await server.request('POST', `/api/projects/${owner.projectId}/versions/${target}/restore`, { cookie: owner.cookie });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json.error).toEqual({ code: 'version_conflict', message: 'The agent is working on this project; wait for its turn to finish or cancel it.' });
    await client.next((message) => message.type === 'agent:complete' && message.turnId === turn.turnId);

    const accepted = await server.request('POST', `/api/projects/${owner.projectId}/versions/${target}/restore`, { cookie: owner.cookie });
    expect(accepted.status, accepted.text).toBe(200);
    expect(await readFile(path.join(workspace, TITLE_FILE), 'utf8')).toContain("title = 'Edited in the sandbox'");
  });
});
