import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentStateStore } from './agent-state.js';

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
    await store.save('p1', sandbox);

    const next = path.join(dir, 'sandbox-2', 'agent');
    await store.restore('p1', next);
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
    await store.save('p2', evil);
    const restored = path.join(dir, 'sandbox-4', 'agent');
    await store.restore('p2', restored);
    expect(existsSync(path.join(restored, 'claude', 'projects', 'x', 'stolen.jsonl'))).toBe(false);

    await store.remove('p1');
    const empty = path.join(dir, 'sandbox-5', 'agent');
    await store.restore('p1', empty);
    expect(existsSync(path.join(empty, 'claude'))).toBe(false);
  });
});
