import { type AgentRunner, createRunner } from '@cutroom/agent';
import type { AgentStart, Prompt, SandboxToServer } from '@cutroom/protocol';

/**
 * The agent's side of the bridge: starts the runner the server asks for (once the
 * sandbox belongs to a project), runs one turn at a time and streams what the agent
 * does back as `agent_message`, then `complete`. The server queues further messages;
 * a prompt that arrives while a turn runs is answered with a failed `complete`.
 */
export function createAgentHost(settings: { workspace: string; stateDir: string; send: (message: SandboxToServer) => void }) {
  const { send } = settings;
  let runner: AgentRunner | null = null;
  let running: string | null = null;
  const log = (message: string, detail?: unknown) => console.error(`agent: ${message}`, detail ?? '');

  return {
    async start(message: AgentStart) {
      if (runner) return log('agent:start ignored: the agent is already started');
      runner = createRunner(message.runner, {
        workspace: settings.workspace,
        stateDir: settings.stateDir,
        endpoint: message.endpoint,
        resumeSessionId: message.resumeSessionId,
        shell: message.shell ?? false,
        log,
      });
      runner.onSessionId((agentSessionId) => send({ type: 'session_id', agentSessionId }));
      await runner.start().catch((error: unknown) => log('the agent could not be started', error));
    },

    async prompt(message: Prompt) {
      const { turnId } = message;
      if (!runner) return send({ type: 'complete', turnId, status: 'failed', error: 'The agent was not started.' });
      if (running) return send({ type: 'complete', turnId, status: 'failed', error: 'Another turn is still running.' });
      running = turnId;
      try {
        const result = await runner.turn(message.text, (event) => send({ type: 'agent_message', turnId, event }));
        send({ type: 'complete', turnId, status: result.status, ...(result.error ? { error: result.error.slice(0, 4_000) } : {}) });
      } catch (error) {
        log('the turn failed', error);
        send({ type: 'complete', turnId, status: 'failed', error: 'The agent failed.' });
      } finally {
        running = null;
      }
    },

    cancel(turnId: string) {
      if (running === turnId) runner?.cancel();
    },

    async close() {
      await runner?.close();
    },
  };
}
