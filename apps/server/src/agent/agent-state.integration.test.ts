import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { packDirectory, unpackArchive } from '@cutroom/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentStateStore, createAgentStateStore } from './agent-state.js';

/** As a driver moves them: the sandbox's agent folder out as a tar, the saved state in as one. */
const readArea = (folder: string) => packDirectory(folder);
async function restoreInto(store: AgentStateStore, projectId: string, folder: string) {
  await mkdir(folder, { recursive: true });
  const tar = await store.archive(projectId);
  if (tar) await unpackArchive(folder, tar, { replace: true, maxFileBytes: 1e9, maxTotalBytes: 1e9 });
}

describe('agent state kept with the project', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'agent-state-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('saves only conversations, restores them into a new sandbox, and never follows a symlink out', async () => {
    const store = createAgentStateStore(path.join(dir, 'store'));
    const sandbox = path.join(dir, 'sandbox-1', 'agent');
    await mkdir(path.join(sandbox, 'claude', 'projects', '-work'), { recursive: true });
    await writeFile(path.join(sandbox, 'claude', 'projects', '-work', 'abc.jsonl'), '{"turn":1}\n');
    await writeFile(path.join(sandbox, 'claude', 'settings.json'), '{}');
    await mkdir(path.join(sandbox, 'ai-sdk'), { recursive: true });
    await writeFile(path.join(sandbox, 'ai-sdk', 'def.json'), '[]');
    expect(await store.save('p1', readArea(sandbox))).toEqual([]);

    const next = path.join(dir, 'sandbox-2', 'agent');
    await restoreInto(store, 'p1', next);
    expect(await readFile(path.join(next, 'claude', 'projects', '-work', 'abc.jsonl'), 'utf8')).toBe('{"turn":1}\n');
    expect(existsSync(path.join(next, 'ai-sdk', 'def.json'))).toBe(true);
    expect(existsSync(path.join(next, 'claude', 'settings.json'))).toBe(false);

    // A sandbox that made its state folder a link to somewhere else gets nothing from there.
    const secrets = path.join(dir, 'secrets', 'projects', 'x');
    await mkdir(secrets, { recursive: true });
    await writeFile(path.join(secrets, 'stolen.jsonl'), 'secret');
    const evil = path.join(dir, 'sandbox-3', 'agent');
    await mkdir(evil, { recursive: true });
    await symlink(path.join(dir, 'secrets'), path.join(evil, 'claude'));
    await store.save('p2', readArea(evil));
    const restored = path.join(dir, 'sandbox-4', 'agent');
    await restoreInto(store, 'p2', restored);
    expect(existsSync(path.join(restored, 'claude', 'projects', 'x', 'stolen.jsonl'))).toBe(false);

    await store.remove('p1');
    const empty = path.join(dir, 'sandbox-5', 'agent');
    await restoreInto(store, 'p1', empty);
    expect(existsSync(path.join(empty, 'claude'))).toBe(false);
    expect(await store.archive('p1')).toBeNull();
  });

  it('refuses a hostile archive and keeps the conversation it had', async () => {
    const store = createAgentStateStore(path.join(dir, 'store-hostile'));
    const sandbox = path.join(dir, 'sandbox-h', 'agent');
    await mkdir(path.join(sandbox, 'ai-sdk'), { recursive: true });
    await writeFile(path.join(sandbox, 'ai-sdk', 'kept.json'), '[1]');
    await store.save('p3', readArea(sandbox));
    const { pack } = await import('tar-stream');
    const hostile = pack();
    hostile.entry({ name: 'ai-sdk/../../escaped.json' }, 'x');
    hostile.finalize();
    await expect(store.save('p3', hostile as unknown as Readable)).rejects.toThrow(/leads out/);
    expect(existsSync(path.join(dir, 'escaped.json'))).toBe(false);
    const next = path.join(dir, 'sandbox-h2', 'agent');
    await restoreInto(store, 'p3', next);
    expect(await readFile(path.join(next, 'ai-sdk', 'kept.json'), 'utf8')).toBe('[1]');
  });
});
