import { type AgentRunner, type RunnerOptions, createRunner } from '@cutroom/agent';
import type { AgentStart, Prompt, SandboxToServer } from '@cutroom/protocol';

/** A cancelled turn that has not ended after this long is ended by replacing the agent. */
const CANCEL_LIMIT_MS = 5_000;

/**
 * The agent's side of the bridge: starts the runner the server asks for (once the
 * sandbox belongs to a project), runs one turn at a time and streams what the agent
 * does back as `agent_message`, then `complete`. The server queues further messages;
 * a prompt that arrives while a turn runs is answered with a failed `complete`.
 */
export function createAgentHost(settings: { workspace: string; stateDir: string; send: (message: SandboxToServer) => void }) {
  const { send } = settings;
  let runner: AgentRunner | null = null;
  let options: (RunnerOptions & { name: AgentStart['runner'] }) | null = null;
  let running: string | null = null;
  const log = (message: string, detail?: unknown) => console.error(`agent: ${message}`, detail ?? '');

  function launch(resumeSessionId?: string) {
    if (!options) return null;
    const next = createRunner(options.name, { ...options, ...(resumeSessionId ? { resumeSessionId } : {}) });
    next.onSessionId((agentSessionId) => send({ type: 'session_id', agentSessionId }));
    runner = next;
    return next;
  }

  return {
    async start(message: AgentStart) {
      if (runner) return log('agent:start ignored: the agent is already started');
      options = {
        name: message.runner,
        workspace: settings.workspace,
        stateDir: settings.stateDir,
        endpoint: message.endpoint,
        resumeSessionId: message.resumeSessionId,
        shell: message.shell ?? false,
        log,
      };
      await launch()
        ?.start()
        .catch((error: unknown) => log('the agent could not be started', error));
    },

    async prompt(message: Prompt) {
      const { turnId } = message;
      if (!runner) return send({ type: 'complete', turnId, status: 'failed', error: 'The agent was not started.' });
      if (running) return send({ type: 'complete', turnId, status: 'failed', error: 'Another turn is still running.' });
      running = turnId;
      const current = runner;
      try {
        const result = await current.turn(message.text, (event) => {
          if (running === turnId) send({ type: 'agent_message', turnId, event });
        });
        if (running === turnId) send({ type: 'complete', turnId, status: result.status, ...(result.error ? { error: result.error.slice(0, 4_000) } : {}) });
      } catch (error) {
        log('the turn failed', error);
        if (running === turnId) send({ type: 'complete', turnId, status: 'failed', error: 'The agent failed.' });
      } finally {
        if (running === turnId) running = null;
      }
    },

    cancel(turnId: string) {
      if (running !== turnId || !runner) return;
      const stuck = runner;
      stuck.cancel();
      // An agent that does not stop is replaced: the turn ends now, and the next one goes
      // on with the same conversation in a fresh agent process.
      setTimeout(() => {
        if (running !== turnId || runner !== stuck) return;
        log('the agent did not stop; replacing it');
        running = null;
        send({ type: 'complete', turnId, status: 'cancelled' });
        const sessionId = stuck.sessionId() ?? undefined;
        void stuck.close().catch(() => {});
        void launch(sessionId)
          ?.start()
          .catch((error: unknown) => log('the agent could not be restarted', error));
      }, CANCEL_LIMIT_MS).unref();
    },

    async close() {
      await runner?.close();
    },
  };
}
