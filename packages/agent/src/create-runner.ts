import type { AgentRunnerName } from '@cutroom/protocol';
import { createAiSdkRunner } from './ai-sdk-runner.js';
import { createClaudeRunner } from './claude-runner.js';
import type { AgentRunner, RunnerOptions } from './runner.js';

/** The runner named by AGENT_RUNNER. */
export function createRunner(name: AgentRunnerName, options: RunnerOptions): AgentRunner {
  return name === 'ai-sdk' ? createAiSdkRunner(options) : createClaudeRunner(options);
}
