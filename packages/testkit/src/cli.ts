#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadScenario } from './scenario.js';
import { type RecordedRequest, startServer } from './scripted-model-server.js';

/**
 * Serves a scenario file as a model provider, to run Cutroom by hand without one:
 *   node packages/testkit/dist/cli.js --scenario packages/testkit/scenarios/demo.json
 */

const USAGE = 'Usage: cutroom-scripted-model --scenario <file.json> [--port 9999] [--host 127.0.0.1]\n';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      scenario: { type: 'string' },
      port: { type: 'string', default: '9999' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!args.scenario) fail('Missing --scenario.');
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`Invalid --port: ${args.port}`);

let scenario;
try {
  scenario = await loadScenario(args.scenario);
} catch (error) {
  fail((error as Error).message);
}

function logRequest(request: RecordedRequest): void {
  const took = request.finishedAt === undefined ? '' : ` ${Math.round(request.finishedAt - request.receivedAt)} ms`;
  const turn = request.userText ? ` "${request.userText.slice(0, 60).replaceAll('\n', ' ')}"` : '';
  const rule = request.rule === null ? 'fallback' : `/${request.rule}/`;
  process.stdout.write(`${request.wire} ${request.path}${turn} -> ${rule} step ${request.step}${took}\n`);
}

const server = await startServer({ scenario, port, host: args.host }, { onFinished: logRequest }).catch((error: unknown) =>
  fail(`Cannot listen on ${args.host}:${port}: ${(error as Error).message}`),
);

process.stdout.write(`Scripted model server on ${server.url} (scenario ${args.scenario})

Point Cutroom at it:
  Claude Agent SDK runner:  ANTHROPIC_BASE_URL=${server.url} ANTHROPIC_API_KEY=scripted npm start
  AI SDK runner:            AGENT_RUNNER=ai-sdk OPENAI_BASE_URL=${server.url}/v1 MODEL=scripted npm start

Ctrl-C stops it.
`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
