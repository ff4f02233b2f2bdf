import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AgentEvent } from '@cutroom/protocol';
import { loadScenario, startScriptedModelServer, testProjectDir, type ScriptedModelServer } from '@cutroom/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAiSdkRunner } from './ai-sdk-runner.js';
import { createClaudeRunner } from './claude-runner.js';
import type { AgentRunner } from './runner.js';

const scenarioFile = path.resolve(import.meta.dirname, '..', '..', 'testkit', 'scenarios', 'other-layout.json');

/**
 * Both runners on a project that is not shaped like the template: the entry point in
 * `remotion/` (named by `remotion.config.ts`), JavaScript, another Root name. The model
 * (scripted) learns the layout by reading it, adds a composition, and adds a package to
 * `package.json`; the runner lets it, since these are the project's files.
 */
describe.each(['claude-agent-sdk', 'ai-sdk'] as const)('the %s runner on a project of another layout', (kind) => {
  let dir = '';
  let workspace = '';
  let model: ScriptedModelServer;
  let runner: AgentRunner;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), `other-layout-${kind}-`));
    workspace = path.join(dir, 'work');
    await cp(testProjectDir('config-entry'), workspace, { recursive: true });
    model = await startScriptedModelServer({ scenario: await loadScenario(scenarioFile) });
    runner =
      kind === 'claude-agent-sdk'
        ? createClaudeRunner({ workspace, stateDir: path.join(dir, 'state'), endpoint: { wire: 'anthropic', baseUrl: model.url } })
        : createAiSdkRunner({ workspace, stateDir: path.join(dir, 'state'), endpoint: { wire: 'openai', baseUrl: `${model.url}/v1`, model: 'scripted' } }, { maxRetries: 0 });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.close();
    await model?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const turn = async (prompt: string) => {
    const events: AgentEvent[] = [];
    const result = await runner.turn(prompt, (event) => events.push(AgentEvent.parse(event)));
    const actions = events.flatMap((event) => (event.kind === 'action' && event.action.status !== 'running' ? [event.action] : []));
    return { result, actions };
  };

  it('reads the layout, then adds a composition to its Root', async () => {
    const { result, actions } = await turn('Make a tall version');
    expect(result).toEqual({ status: 'done' });
    // The first two reads run side by side (they may finish in either order).
    expect(actions.map((action) => `${action.path}: ${action.status}`).sort()).toEqual([
      'package.json: done',
      'remotion.config.ts: done',
      'remotion/Videos.jsx: done',
      'remotion/Videos.jsx: done',
    ]);
    expect(actions.at(-1)).toMatchObject({ tool: 'edit', path: 'remotion/Videos.jsx' });
    expect(await readFile(path.join(workspace, 'remotion', 'Videos.jsx'), 'utf8')).toContain('<Composition id="wipe-tall"');
  });

  it('adds a package to package.json', async () => {
    const { result, actions } = await turn('Use transitions between the wipes');
    expect(result).toEqual({ status: 'done' });
    expect(actions.at(-1)).toMatchObject({ path: 'package.json', status: 'done' });
    const manifest = JSON.parse(await readFile(path.join(workspace, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(manifest.dependencies['@remotion/transitions']).toBe('4.0.527');
  });
});
