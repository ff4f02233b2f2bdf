import type { AgentRunner } from '@cutroom/agent';
import type { SandboxToServer } from '@cutroom/protocol';
import { describe, expect, it, vi } from 'vitest';

// The way to the model opens when the test says so; the runner answers every turn "done".
const forwarder = vi.hoisted(() => ({ open: null as null | (() => void) }));
vi.mock('./model-forwarder.js', () => ({
  startModelForwarder: () =>
    new Promise((resolve) => {
      forwarder.open = () => resolve({ origin: 'http://127.0.0.1:1', close: async () => {} });
    }),
}));
vi.mock('@cutroom/agent', () => ({
  createRunner: (): AgentRunner => ({
    name: 'ai-sdk',
    start: async () => {},
    turn: async () => ({ status: 'done' }),
    cancel: () => {},
    sessionId: () => null,
    onSessionId: () => {},
    close: async () => {},
  }),
}));

const { createAgentHost } = await import('./agent-host.js');

const start = { type: 'agent:start', runner: 'ai-sdk', endpoint: { wire: 'anthropic', socket: true, path: '/m/token' } } as const;

describe('the agent host', () => {
  it('runs a prompt sent right behind agent:start once the agent is up, instead of refusing it', async () => {
    const sent: SandboxToServer[] = [];
    const host = createAgentHost({ workspace: '/w', stateDir: '/s', modelSocketPath: '/sock/model.sock', send: (message) => sent.push(message) });
    void host.start(start);
    const prompt = host.prompt({ type: 'prompt', turnId: 't1', text: 'Hello' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent).toEqual([]);
    forwarder.open!();
    await prompt;
    expect(sent).toEqual([{ type: 'complete', turnId: 't1', status: 'done' }]);
  });

  it('still refuses a prompt when no agent was asked for', async () => {
    const sent: SandboxToServer[] = [];
    const host = createAgentHost({ workspace: '/w', stateDir: '/s', send: (message) => sent.push(message) });
    await host.prompt({ type: 'prompt', turnId: 't2', text: 'Hello' });
    expect(sent).toEqual([{ type: 'complete', turnId: 't2', status: 'failed', error: 'The agent was not started.' }]);
  });
});
